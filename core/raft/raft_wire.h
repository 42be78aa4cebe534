/* Raft messages on the wire: one msgpack map per message, {"v": version, "t": type, ...} with
 * short keys. Unknown keys are ignored, unknown types and versions rejected. The decoder is pure
 * and bounded: input goes through pd_mp_unpack (validated before msgpack-c allocates), counts and
 * sizes are capped below, and entries must be consecutive after the message's index.
 *
 * Keys: f from, to, tm term, i index, lt log_term, c commit, r reject, h reject_hint, x ctx,
 * fl flags, so snapshot offset, e entries [[term, index, type, bin], ...], s snapshot meta {i, t, cv [voters],
 * cl [learners]}, sd data (bin), sf done. */
#ifndef PD_RAFT_WIRE_H
#define PD_RAFT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define PD_RAFT_WIRE_VERSION 1u
#define PD_RAFT_WIRE_ENTRIES_MAX 1024u          /* entries in one append */
#define PD_RAFT_WIRE_MSG_MAX (8u * 1024u * 1024u) /* bytes of one encoded message */
#define PD_RAFT_WIRE_SNAP_MAX (256u << 20)        /* snapshot offset bound */

/* A decoded message. msg's entries and snapshot data point into mem (one allocation). */
typedef struct {
    pd_raft_msg_t msg;
    void *mem;
} pd_raft_wire_msg_t;

/* Encode into a new buffer (pd_malloc; free with pd_free). 0, -PD_ETOOBIG, -PD_EMALFORMED
 * (type out of range or too many entries), -ENOMEM. */
int pd_raft_wire_encode(const pd_raft_msg_t *m, uint8_t **out, size_t *len_out);
/* 0 (free with pd_raft_wire_msg_free), -PD_EMALFORMED, -PD_ETRUNCATED, -PD_ETOOBIG,
 * -PD_EVERSION, -PD_EUNKNOWN_TYPE, -ENOMEM. *out untouched on error. */
int pd_raft_wire_decode(const uint8_t *data, size_t len, pd_raft_wire_msg_t *out);
void pd_raft_wire_msg_free(pd_raft_wire_msg_t *w);
/* Field-by-field equality of what the wire carries for the message's type (tests, fuzzer). */
int pd_raft_wire_msg_equal(const pd_raft_msg_t *a, const pd_raft_msg_t *b);

#endif
