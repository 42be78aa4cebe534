/* Gossiped endpoint table (Docker NetworkDB style), sans-IO.
 *
 * Entries are (table, key) -> value bytes, each versioned by (Lamport time, owner node id). The
 * greater version wins: lamport first, then owner id (bytewise), then a tombstone over a value,
 * then the value bytes, so any two tables that saw the same updates hold the same state whatever
 * the order. A local write ticks the clock past both the clock and the entry it replaces; every
 * received version L moves the clock to max(clock, L + 1).
 *
 * Deletes are tombstones (they win by version like any write) reaped tombstone_grace_ms after they
 * were stored, by pd_gtable_tick. Reaping is what bounds the table; an update older than a reaped
 * tombstone that arrives later would come back, so the grace must exceed gossip convergence time.
 *
 * Owner liveness: pd_gtable_owner_down (membership says dead or left) hides every entry the owner
 * wrote; they stay stored but invisible (lookups, iteration, watchers see a delete). If the owner
 * refutes, pd_gtable_owner_up shows them again. After owner_grace_ms down, pd_gtable_tick drops
 * them for good (a node that returns later re-sends its entries by broadcast and push/pull), and a
 * node that restarted with a new identity/state is purged with pd_gtable_owner_purge. Entries of a
 * down owner are left out of the full state we send. An owner the table never heard about is alive.
 *
 * Wire (msgpack, see gossip_table_wire.c): an update is a map {v, type:"gt.upd", e:ENTRY}, a full
 * state is {v, type:"gt.state", clock, e:[ENTRY...]}, ENTRY = [table, key, value|nil, lamport,
 * owner, deleted]. Unknown map fields are ignored, extra ENTRY elements too; anything else
 * malformed is refused (and counted) before the table changes.
 *
 * Watchers (DNS, VIP balancer) get (table, key, value | deleted, owner) events synchronously and in
 * order, for every change to the visible view; a callback must not modify the table. Views handed
 * out (pd_gtable_get, iteration, events) are borrowed until the next call that mutates the table. */
#ifndef PD_GOSSIP_TABLE_H
#define PD_GOSSIP_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "pd_log.h"

/* Caps (defaults; a config may lower the counts). An update must fit one user broadcast (1024 B
 * in swim_wire.h) and a full state one push/pull user state (8 MiB). */
#define PD_GTABLE_TABLE_NAME_MAX 64
#define PD_GTABLE_KEY_MAX 128
#define PD_GTABLE_VALUE_MAX 512
#define PD_GTABLE_OWNER_MAX 64
#define PD_GTABLE_TABLES_MAX 1024
#define PD_GTABLE_ENTRIES_MAX 65536 /* stored entries, tombstones and hidden ones included */
#define PD_GTABLE_OWNERS_MAX 4096
#define PD_GTABLE_WATCHERS_MAX 16
#define PD_GTABLE_UPDATE_MAX 1024
#define PD_GTABLE_STATE_MAX (8u * 1024u * 1024u)
#define PD_GTABLE_SKEY_LEN 19 /* supersede key: "gt:" + 16-byte digest of (table, key) */
#define PD_GTABLE_LAMPORT_MAX (UINT64_C(1) << 62) /* larger received versions are malformed */
#define PD_GTABLE_WIRE_VERSION 1

#define PD_GTABLE_TOMBSTONE_GRACE_MS_DEFAULT 60000u
#define PD_GTABLE_OWNER_GRACE_MS_DEFAULT 60000u

typedef struct pd_gtable pd_gtable_t;

typedef struct {
    const char *node_id;          /* this node: owner of local writes (required) */
    uint64_t tombstone_grace_ms;  /* 0: default */
    uint64_t owner_grace_ms;      /* 0: default */
    uint32_t max_entries;         /* 0: PD_GTABLE_ENTRIES_MAX; never above it */
    uint32_t max_tables;          /* 0: PD_GTABLE_TABLES_MAX */
    uint32_t max_owners;          /* 0: PD_GTABLE_OWNERS_MAX */
    const pd_log_t *log;          /* NULL: pd_log_null */
} pd_gtable_config_t;

typedef struct {
    uint64_t applied;     /* local writes and remote versions that won */
    uint64_t stale;       /* remote versions that lost (or equalled) the stored one */
    uint64_t malformed;   /* updates / states refused by the decoder */
    uint64_t limit_hits;  /* writes refused by a cap (-PD_ELIMIT) */
    uint64_t reaped;      /* tombstones and dead owners' entries dropped */
    uint64_t events;      /* watch events delivered (all watchers) */
    uint64_t tick_walks;  /* ticks that walked the table (the rest had nothing due) */
} pd_gtable_stats_t;

/* One visible entry. Pointers are borrowed (see above); strings are NUL-terminated. */
typedef struct {
    const char *table;
    const char *key;
    const uint8_t *value; /* NULL with value_len 0 for a delete event */
    size_t value_len;
    const char *owner;
    uint64_t lamport;
    int deleted;          /* events only: the entry left the visible view */
} pd_gtable_view_t;

typedef void (*pd_gtable_watch_fn)(void *ctx, const pd_gtable_view_t *ev);
/* Return nonzero to stop the iteration (that value is returned by the foreach call). */
typedef int (*pd_gtable_iter_fn)(void *ctx, const pd_gtable_view_t *e);

/* An encoded update ready for the broadcast queue: a newer update with the same supersede key
 * replaces a queued older one. */
typedef struct {
    uint8_t data[PD_GTABLE_UPDATE_MAX];
    size_t len;
    uint8_t skey[PD_GTABLE_SKEY_LEN];
} pd_gtable_msg_t;

int pd_gtable_create(const pd_gtable_config_t *cfg, pd_gtable_t **out);
void pd_gtable_destroy(pd_gtable_t *t);

/* Local writes: owner = this node. msg_out (may be NULL) receives the update to broadcast.
 * Errors: -PD_EUSAGE (empty or NUL-containing name), -PD_ELIMIT (a name or value over its cap,
 * or the table/entry count at its cap; counted), -ENOMEM; nothing changes on error. pd_gtable_del of an absent or already deleted key is -PD_ENOTFOUND. */
int pd_gtable_put(pd_gtable_t *t, const char *table, const char *key, const void *value,
                  size_t value_len, uint64_t now_ms, pd_gtable_msg_t *msg_out);
int pd_gtable_del(pd_gtable_t *t, const char *table, const char *key, uint64_t now_ms,
                  pd_gtable_msg_t *msg_out);

/* Cluster-owned writes: the owner is PD_GTABLE_CLUSTER_OWNER, which no node id can equal (node
 * ids are [0-9a-z]; a table refuses it as its node id). Such entries are never hidden or purged by
 * owner liveness (owner_down/up refuse it, purge drops nothing), so they outlive every node; any
 * node may write them (the managers' leader does, for VIPs) and versions settle it as for any
 * entry: a later writer's Lamport time wins. Same errors as put/del. */
#define PD_GTABLE_CLUSTER_OWNER "@cluster"
int pd_gtable_put_cluster(pd_gtable_t *t, const char *table, const char *key, const void *value,
                          size_t value_len, uint64_t now_ms, pd_gtable_msg_t *msg_out);
int pd_gtable_del_cluster(pd_gtable_t *t, const char *table, const char *key, uint64_t now_ms,
                          pd_gtable_msg_t *msg_out);

/* Visible entry (not deleted, owner not down) or -PD_ENOTFOUND. */
int pd_gtable_get(const pd_gtable_t *t, const char *table, const char *key, pd_gtable_view_t *out);
/* Visible entries of one table in insertion order ("all live endpoints of service X"). */
int pd_gtable_foreach(const pd_gtable_t *t, const char *table, pd_gtable_iter_fn fn, void *ctx);
/* Visible entries of every table whose name starts with prefix ("" for all). */
int pd_gtable_foreach_prefix(const pd_gtable_t *t, const char *prefix, pd_gtable_iter_fn fn,
                             void *ctx);
/* Visible entries in one table. */
size_t pd_gtable_count(const pd_gtable_t *t, const char *table);
/* Stored entries (tombstones and hidden entries included). */
size_t pd_gtable_stored(const pd_gtable_t *t);
uint64_t pd_gtable_clock(const pd_gtable_t *t);
const pd_gtable_stats_t *pd_gtable_stats(const pd_gtable_t *t);

/* Watch tables whose name starts with prefix. -PD_ELIMIT when all slots are taken. */
int pd_gtable_watch(pd_gtable_t *t, const char *prefix, pd_gtable_watch_fn fn, void *ctx,
                    int *id_out);
int pd_gtable_unwatch(pd_gtable_t *t, int id);

/* Membership hooks. Calling down/up for this node is -PD_EUSAGE. */
int pd_gtable_owner_down(pd_gtable_t *t, const char *owner, uint64_t now_ms);
int pd_gtable_owner_up(pd_gtable_t *t, const char *owner);
/* Drop every entry of owner now (restarted node). Returns the number dropped. */
size_t pd_gtable_owner_purge(pd_gtable_t *t, const char *owner);

/* Reap expired tombstones and long-dead owners' entries. Returns the number dropped. Walks the
 * table only when a grace has ended since the last walk (stats.tick_walks), so calling it every
 * gossip tick costs nothing on a steady table. */
size_t pd_gtable_tick(pd_gtable_t *t, uint64_t now_ms);

/* Wire. decode+merge return 0 and *changed_out (updates that won) or a negative code with the
 * table unchanged (-PD_EMALFORMED, -PD_ETRUNCATED, -PD_EVERSION, -PD_EUNKNOWN_TYPE, -PD_ETOOBIG);
 * -PD_ELIMIT / -ENOMEM part-way through a state leave the entries merged so far (each is valid). */
int pd_gtable_merge_update(pd_gtable_t *t, const void *data, size_t len, uint64_t now_ms,
                           int *changed_out);
/* The same, and when the update won, fwd_out (may be NULL) receives it re-encoded from the stored
 * entry, ready to re-broadcast under its supersede key (only news is forwarded). */
int pd_gtable_merge_update_fwd(pd_gtable_t *t, const void *data, size_t len, uint64_t now_ms,
                               int *changed_out, pd_gtable_msg_t *fwd_out);
int pd_gtable_merge_state(pd_gtable_t *t, const void *data, size_t len, uint64_t now_ms,
                          size_t *changed_out);
/* Re-encode the stored version of (table, key) (a tombstone too) as an update; -PD_ENOTFOUND. */
int pd_gtable_encode_update(const pd_gtable_t *t, const char *table, const char *key,
                            pd_gtable_msg_t *out);
/* Full state into out[0..cap) (cap beyond PD_GTABLE_STATE_MAX is not used); -PD_ETOOBIG if it
 * does not fit. */
int pd_gtable_encode_state(const pd_gtable_t *t, void *out, size_t cap, size_t *len_out);
/* Digest of what pd_gtable_encode_state sends, over the entries' (table, key, version, deleted):
 * equal on two tables holding the same entries, whatever order they came in. */
uint64_t pd_gtable_state_digest(const pd_gtable_t *t);

#endif
