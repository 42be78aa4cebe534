/* core/store: the managers' replicated cluster store, the state machine that committed Raft
 * entries are applied to (SwarmKit's manager/state/store, Nomad's FSM). Sans-IO: it reads no clock
 * and draws no randomness, so the same entries give a byte-identical snapshot on every manager.
 *
 * Tables: cluster, node, service, task, secret, config, network. Each object is immutable once in a
 * table (an update replaces it) and reference-counted, so the watch ring can hold old versions:
 *   {kind, id, name, version, created_ms, updated_ms, spec, status, data}
 * version is the log index at which the object last changed; timestamps come from the leader inside
 * the entry. spec and status are msgpack (opaque except for validation hooks); data is raw bytes
 * (a secret's ciphertext, a config's payload). Lookups by id and, for node/service/secret/config/
 * network, by unique name are O(1); iteration is in creation order (identical on every manager).
 *
 * Writes are transactions: a list of create/update/delete ops applied atomically at a log index.
 * An update names the version it read (stale: -PD_ECONFLICT); a create of an existing id or name is
 * -PD_EEXISTS; an update/delete of a missing id is -PD_ENOTFOUND. Ops see the effects of earlier
 * ops in the same txn. Entry bytes and caps: store_wire.h. Snapshots: pd_store_snapshot_*.
 *
 * Borrowing: objects returned by lookups, iteration and the watch are valid until the next call
 * that changes the store (apply, restore, free); pd_store_obj_ref keeps one longer. */
#ifndef PD_STORE_H
#define PD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "pd_rng.h"

typedef enum {
    PD_STORE_CLUSTER = 0,
    PD_STORE_NODE,
    PD_STORE_SERVICE,
    PD_STORE_TASK,
    PD_STORE_SECRET,
    PD_STORE_CONFIG,
    PD_STORE_NETWORK,
    PD_STORE_KINDS, /* count; kinds are wire values, append only */
} pd_store_kind_t;

typedef enum {
    PD_STORE_OP_CREATE = 1,
    PD_STORE_OP_UPDATE = 2,
    PD_STORE_OP_DELETE = 3,
} pd_store_op_type_t;

/* A borrowed byte range (strings are not NUL-terminated here). */
typedef struct {
    const uint8_t *ptr;
    uint32_t len;
} pd_store_bytes_t;

/* One write. create: id, name, spec, status, data (version ignored). update: id, version read,
 * and the object's new name/spec/status/data (whole replacement). delete: id, and version (0 =
 * unconditional, else must match). */
typedef struct {
    uint8_t op;   /* pd_store_op_type_t */
    uint8_t kind; /* pd_store_kind_t */
    uint64_t version;
    pd_store_bytes_t id, name, spec, status, data;
} pd_store_op_t;

typedef struct {
    int64_t now_ms; /* the leader's clock when it built the txn: created/updated timestamps */
    const pd_store_op_t *ops;
    uint32_t n_ops;
} pd_store_txn_t;

typedef struct pd_store_obj pd_store_obj_t;
struct pd_store_obj {
    uint8_t kind;
    uint32_t id_len, name_len; /* id and name are also NUL-terminated */
    uint32_t spec_len, status_len, data_len;
    const char *id;
    const char *name;
    const uint8_t *spec, *status, *data;
    uint64_t version; /* log index of the last change */
    int64_t created_ms, updated_ms;
    /* private */
    uint32_t refs;
    pd_store_obj_t *prev, *next; /* creation order within the kind's table */
};

/* What happened to a committed entry that the store consumed (pd_store_apply returned 0). */
typedef struct {
    int rc;             /* 0 applied; else why the txn was rejected (state unchanged but index) */
    uint32_t failed_op; /* op that caused rc (0 when not about one op) */
    uint8_t type;       /* entry type byte (0 for an empty entry) */
    uint8_t skipped;    /* empty entry, or unknown type with the ignore bit: nothing to do */
} pd_store_result_t;

typedef struct {
    uint64_t hash_seed; /* keys the id/name hash tables (layout only; never affects results) */
    uint32_t watch_cap; /* events kept for subscribers; 0 = PD_STORE_WATCH_DEFAULT */
} pd_store_opts_t;

#define PD_STORE_WATCH_DEFAULT 4096u
#define PD_STORE_WATCH_MAX (1u << 20)

/* A validation hook for one kind, run on every op of that kind before a txn touches the state.
 * Must be deterministic (every manager runs it on the same entry). Return 0, or a negative code
 * that rejects the txn (reported in pd_store_result_t.rc). */
typedef int (*pd_store_validate_fn)(void *ctx, const pd_store_op_t *op);

typedef struct pd_store pd_store_t;

/* opts may be NULL. 0, -PD_EUSAGE, -ENOMEM. */
int pd_store_new(const pd_store_opts_t *opts, pd_store_t **out);
void pd_store_free(pd_store_t *s);
void pd_store_set_validator(pd_store_t *s, pd_store_kind_t kind, pd_store_validate_fn fn, void *ctx);

/* Apply one committed Raft entry (index, term, data as pd_raft_entry_t gives them). Empty data
 * (the leader's no-op) and conf-change entries (pass NULL, 0) only advance the applied index.
 * Returns 0 when the entry was consumed (applied index = index; outcome in *res, may be NULL), or,
 * leaving the store entirely unchanged:
 *   -ENOMEM            retry later (the node cannot move past this entry until it succeeds)
 *   -PD_EUNKNOWN_TYPE  a command this build does not know, without the ignore bit: FATAL for this
 *                      node (it must not apply later entries; upgrade it)
 *   -PD_ESTATE         index not above the applied index, or term below the applied term */
int pd_store_apply(pd_store_t *s, uint64_t index, uint64_t term, const void *data, size_t len,
                   pd_store_result_t *res);
/* Apply a decoded txn at index/term (same contract; pd_store_apply decodes and calls this). */
int pd_store_apply_txn(pd_store_t *s, uint64_t index, uint64_t term, const pd_store_txn_t *txn,
                       pd_store_result_t *res);

uint64_t pd_store_applied_index(const pd_store_t *s);
uint64_t pd_store_applied_term(const pd_store_t *s);
size_t pd_store_count(const pd_store_t *s, pd_store_kind_t kind);
const pd_store_obj_t *pd_store_get(const pd_store_t *s, pd_store_kind_t kind, const char *id, size_t len);
/* NULL for kinds without a name index (cluster, task) and for the empty name. */
const pd_store_obj_t *pd_store_get_by_name(const pd_store_t *s, pd_store_kind_t kind, const char *name,
                                           size_t len);
/* Iteration in creation order: for (o = first(s, k); o; o = next(o)). Only on objects that are in
 * the table now (not on objects kept from the watch after they changed). */
const pd_store_obj_t *pd_store_first(const pd_store_t *s, pd_store_kind_t kind);
const pd_store_obj_t *pd_store_next(const pd_store_obj_t *o);

const pd_store_obj_t *pd_store_obj_ref(const pd_store_obj_t *o);
void pd_store_obj_unref(const pd_store_obj_t *o);

const char *pd_store_kind_name(pd_store_kind_t kind); /* "service", ...; "?" if out of range */
int pd_store_kind_named(pd_store_kind_t kind);        /* has a unique name index */
/* Ids: 1..PD_STORE_ID_MAX bytes of [0-9a-zA-Z_.-]. pd_store_id_new makes a 25-char base36 id from
 * the caller's rng (the leader, when it builds a txn). */
int pd_store_id_valid(const void *id, size_t len);
void pd_store_id_new(pd_rng_t *rng, char out[26]);

/* Snapshot: all objects + applied index and term as msgpack (format in store_wire.h). The same
 * state always encodes to the same bytes. encode: 0, -PD_ETOOBIG, -ENOMEM (buffer from pd_malloc).
 * restore: only into an empty store (-PD_ESTATE); 0, -PD_EMALFORMED, -PD_ETRUNCATED, -PD_EVERSION,
 * -PD_ELIMIT, -ENOMEM; on error the store is left empty. Watch cursors from before a restore get
 * -PD_ELIMIT (resync). */
int pd_store_snapshot_encode(const pd_store_t *s, uint8_t **out, size_t *len_out);
int pd_store_snapshot_restore(pd_store_t *s, const void *data, size_t len);

/* Watch: every committed change, in apply order, in a bounded ring. A cursor is plain data owned
 * by the subscriber (any number of them). Resync = iterate the tables, then pd_store_watch_init. */
typedef enum {
    PD_STORE_EV_CREATED = 1,
    PD_STORE_EV_UPDATED = 2,
    PD_STORE_EV_DELETED = 3,
} pd_store_ev_type_t;

typedef struct {
    uint64_t seq;   /* event number, consecutive */
    uint64_t index; /* log index of the txn (== obj->version unless deleted) */
    uint8_t kind, op;
    const pd_store_obj_t *obj; /* new object; for a delete the object as it was (borrowed) */
} pd_store_event_t;

typedef struct {
    uint64_t next; /* seq of the next event to read */
} pd_store_watch_t;

/* Start at the current end of the stream (sees only later changes). */
void pd_store_watch_init(const pd_store_t *s, pd_store_watch_t *w);
/* 1 and *ev (borrowed, valid until the store next changes); 0 when caught up; -PD_ELIMIT when the
 * events this cursor needs were overwritten: resync. */
int pd_store_watch_next(const pd_store_t *s, pd_store_watch_t *w, pd_store_event_t *ev);
/* Events waiting for this cursor (0 if it fell behind). */
uint64_t pd_store_watch_pending(const pd_store_t *s, const pd_store_watch_t *w);

/* VIPs: one IPv4 virtual address per service name, from the cluster's VIP range, kept beside the
 * objects (not in the watch stream) and in snapshots. Written only by the VIP entries
 * (store_wire.h): ALLOC gives a name the lowest free address of the range (never the network or
 * broadcast address) and is a no-op when the name has one; RELEASE frees it. The range is fixed by
 * the first ALLOC the store applies (the entry carries the proposing leader's range; later entries'
 * ranges are ignored), so every manager computes the same addresses from the same log.
 * Addresses are host byte order. */
#define PD_STORE_VIPS_MAX 65536u     /* VIPs held at once */
#define PD_STORE_VIP_NAME_MAX 63u    /* a service name: one DNS label of [a-z0-9-] */
#define PD_STORE_VIP_PREFIX_MIN 8u   /* range sizes: /8 .. /30 */
#define PD_STORE_VIP_PREFIX_MAX 30u

typedef struct {
    uint32_t net; /* network address (host bits zero) */
    uint8_t prefix;
} pd_store_vip_range_t;

/* "A.B.C.D/P" with P in 8..30 and no host bits set: 0, or -PD_EUSAGE with why in err. */
int pd_store_vip_range_parse(const char *cidr, pd_store_vip_range_t *out, char *err, size_t errlen);
/* Is name a valid service name (1..63 of [a-z0-9-], no leading or trailing '-')? */
int pd_store_vip_name_valid(const char *name, size_t len);
/* The cluster's range: 0, or -PD_ENOTFOUND before the first allocation. */
int pd_store_vip_range(const pd_store_t *s, pd_store_vip_range_t *out);
/* 0 and *addr, or -PD_ENOTFOUND. */
int pd_store_vip_get(const pd_store_t *s, const char *name, size_t len, uint32_t *addr);
size_t pd_store_vip_count(const pd_store_t *s);
/* The i-th VIP in name order (i < count): name is NUL-terminated, borrowed like objects. */
void pd_store_vip_at(const pd_store_t *s, size_t i, const char **name, uint32_t *addr);

#endif
