/* Store log entries and snapshots on the wire, and every cap the store enforces.
 *
 * Entry (the data of a committed Raft entry): [type byte][payload msgpack].
 *   The low 7 bits are the command; the high bit PD_STORE_ENTRY_IGNORE marks a command that an older
 *   manager which does not know it may skip (Nomad's IgnoreUnknownTypeFlag). An unknown command
 *   without the bit stops the node (pd_store_apply: -PD_EUNKNOWN_TYPE).
 *   0x01 NOOP  payload: nothing, or any one msgpack object (ignored)
 *   0x02 TXN   payload: {"t": now_ms, "ops": [op, ...]}
 *              op: {"o": op type, "k": kind, "id": str, "ver": u64, "n": str, "sp": bin spec,
 *                   "st": bin status, "d": bin data}; missing keys are empty/0, unknown keys ignored.
 *   0x03 VIP_ALLOC    payload: {"n": service name, "r": [range net u32, prefix]}
 *   0x04 VIP_RELEASE  payload: {"n": service name}
 *   The type byte is the version: a change that older managers must not silently ignore (a new
 *   key with meaning, a new op or kind) needs a new type, with the ignore bit only if skipping it
 *   is harmless (a hint, a cache fill), never for state every manager must hold alike.
 * Snapshot: {"v": 1, "i": applied index, "t": applied term,
 *            "o": [obj, ...],   kinds in order, each kind's objects in creation order
 *            "vr": [net u32, prefix] or nil,  the VIP range (v2)
 *            "va": [[name, addr u32], ...]}   VIPs in name order (v2)
 *   A v1 snapshot (no "vr"/"va") restores with no VIPs.
 *   obj: {"k", "id", "n", "ver", "c": created_ms, "u": updated_ms, "sp", "st", "d"}, all keys, in
 *   this order, so a state has exactly one encoding.
 * Decoding goes through pd_mp_unpack (validated before msgpack-c allocates). */
#ifndef PD_STORE_WIRE_H
#define PD_STORE_WIRE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define PD_STORE_SNAP_VERSION 2u

#define PD_STORE_ENTRY_NOOP 0x01u
#define PD_STORE_ENTRY_TXN 0x02u
#define PD_STORE_ENTRY_VIP_ALLOC 0x03u
#define PD_STORE_ENTRY_VIP_RELEASE 0x04u
#define PD_STORE_ENTRY_IGNORE 0x80u /* high bit: skip if unknown */
#define PD_STORE_ENTRY_TYPE_MASK 0x7fu

/* Caps. An entry must also fit the Raft proposal limit (pd_raft_config_t.max_msg_bytes). */
#define PD_STORE_ID_MAX 64u                        /* id bytes */
#define PD_STORE_NAME_MAX 253u                     /* name bytes (a hostname fits) */
#define PD_STORE_SPEC_MAX (64u * 1024u)            /* spec msgpack bytes */
#define PD_STORE_STATUS_MAX (64u * 1024u)          /* status msgpack bytes */
#define PD_STORE_DATA_MAX (512u * 1024u)           /* secret/config payload bytes */
#define PD_STORE_TXN_OPS_MAX 128u                  /* ops in one txn */
#define PD_STORE_ENTRY_MAX (1024u * 1024u)         /* bytes of one encoded entry */
#define PD_STORE_KIND_OBJECTS_MAX (1u << 20)       /* objects in one table */
#define PD_STORE_SNAP_MAX ((size_t)1 << 30)        /* bytes of one snapshot */

/* A decoded TXN payload: txn.ops points into ops, and ops' bytes into the unpacked msgpack (which
 * may point into the input; keep the input alive too). */
typedef struct {
    pd_store_txn_t txn;
    pd_store_op_t *ops;
    msgpack_unpacked up;
} pd_store_wire_txn_t;

/* Encode a TXN entry (type byte included) into a new pd_malloc buffer. Checks the static rules
 * (op and kind values, id and name syntax, caps, spec/status are msgpack). 0, -PD_EMALFORMED,
 * -PD_ELIMIT (too many ops), -PD_ETOOBIG, -ENOMEM. */
int pd_store_wire_encode_txn(const pd_store_txn_t *txn, uint8_t **out, size_t *len_out);
/* A NOOP entry (2 bytes: type, empty map). 0 or -ENOMEM. */
int pd_store_wire_encode_noop(uint8_t **out, size_t *len_out);
/* Decode a TXN payload (the bytes after the type byte). Only the shape is checked here; the store
 * checks the rules when it applies. 0 (free with pd_store_wire_txn_free), -PD_EMALFORMED,
 * -PD_ETRUNCATED, -PD_ELIMIT, -PD_ETOOBIG, -ENOMEM. *out untouched on error. */
int pd_store_wire_decode_txn(const void *payload, size_t len, pd_store_wire_txn_t *out);
void pd_store_wire_txn_free(pd_store_wire_txn_t *t);

/* VIP entries (type byte included) in a new pd_malloc buffer: 0, -PD_EUSAGE (bad name or range),
 * -ENOMEM. */
int pd_store_wire_encode_vip_alloc(const char *name, const pd_store_vip_range_t *range, uint8_t **out,
                                   size_t *len_out);
int pd_store_wire_encode_vip_release(const char *name, uint8_t **out, size_t *len_out);

/* Static checks of one op (what encode and apply both enforce): 0 or -PD_EMALFORMED/-PD_ETOOBIG. */
int pd_store_wire_op_check(const pd_store_op_t *op);
/* Field-by-field equality of two txns (tests, fuzzer). */
int pd_store_wire_txn_equal(const pd_store_txn_t *a, const pd_store_txn_t *b);


#endif
