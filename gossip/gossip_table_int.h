/* Internals of the endpoint table shared by gossip_table.c (store) and gossip_table_wire.c
 * (msgpack codec). Not part of the public API. */
#ifndef PD_GOSSIP_TABLE_INT_H
#define PD_GOSSIP_TABLE_INT_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip_table.h"

#define GT_TAB_BUCKETS 256
#define GT_OWNER_BUCKETS 256
#define GT_ENT_BUCKETS_MIN 64

typedef struct gt_owner {
    struct gt_owner *hnext;
    uint32_t refs; /* entries that point here */
    uint8_t down;
    uint64_t down_ms;
    uint64_t hash;
    size_t len;
    char id[];
} gt_owner_t;

struct gt_ent;

typedef struct gt_tab {
    struct gt_tab *hnext;
    struct gt_tab *prev, *next; /* every table, creation order */
    struct gt_ent *head, *tail; /* this table's entries, insertion order */
    uint32_t count;             /* stored entries */
    uint64_t hash;
    size_t len;
    char name[];
} gt_tab_t;

typedef struct gt_ent {
    struct gt_ent *hnext;
    struct gt_ent *prev, *next;
    gt_tab_t *tab;
    gt_owner_t *owner;
    uint8_t *value;
    uint32_t value_len;
    uint8_t deleted;
    uint64_t lamport;
    uint64_t reap_ms; /* tombstones only */
    uint64_t hash;
    size_t key_len;
    char key[];
} gt_ent_t;

/* A candidate version with borrowed, length-delimited strings (from the caller or a decoded
 * message). Tombstones carry no value. */
typedef struct {
    const char *table;
    size_t table_len;
    const char *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    const char *owner;
    size_t owner_len;
    uint64_t lamport;
    int deleted;
} gt_rec_t;

typedef struct {
    int used;
    char prefix[PD_GTABLE_TABLE_NAME_MAX + 1];
    size_t prefix_len;
    pd_gtable_watch_fn fn;
    void *ctx;
} gt_watch_t;

struct pd_gtable {
    char node_id[PD_GTABLE_OWNER_MAX + 1];
    size_t node_len;
    uint64_t tombstone_grace_ms, owner_grace_ms;
    uint32_t max_entries, max_tables, max_owners;
    const pd_log_t *log;
    uint8_t hkey[crypto_shorthash_KEYBYTES]; /* per-table random key: no hash flooding */
    gt_ent_t **ebuckets;
    size_t nebuckets, nentries;
    gt_tab_t *tbuckets[GT_TAB_BUCKETS];
    gt_tab_t *tables_head, *tables_tail;
    size_t ntables;
    gt_owner_t *obuckets[GT_OWNER_BUCKETS];
    size_t nowners;
    uint64_t clock;
    /* No tombstone or down owner's grace ends before this: a tick earlier has nothing to drop
     * and skips the walk over every entry (which cost a DNS server 0.3 ms every gossip tick with
     * 4,000 entries). Lowered by whatever sets a deadline, recomputed by each walk. */
    uint64_t next_reap_ms;
    gt_watch_t watch[PD_GTABLE_WATCHERS_MAX];
    pd_gtable_stats_t stats;
    pd_ratelimit_t limit_rl; /* one warning per PD_LOG_RATE_INTERVAL_MS about caps */
};

/* Check names, sizes and lamport of a candidate: 0, -PD_EUSAGE (empty / NUL inside) or
 * -PD_ELIMIT (over a cap). */
int gt_rec_check(const gt_rec_t *r);
/* Store r if it beats the stored version; *changed_out = 1 if it did. Witnessing the clock is
 * the caller's job. */
int gt_apply(pd_gtable_t *t, const gt_rec_t *r, uint64_t now_ms, int *changed_out);
/* Receive rule: clock = max(clock, lamport + 1). */
void gt_witness(pd_gtable_t *t, uint64_t lamport);
gt_ent_t *gt_find(const pd_gtable_t *t, const char *table, size_t tlen, const char *key, size_t klen);
int gt_visible(const gt_ent_t *e);
gt_owner_t *gt_owner_find(const pd_gtable_t *t, const char *id, size_t len);
/* Count a cap hit and warn (rate-limited). Returns -PD_ELIMIT. */
int gt_limit_hit(pd_gtable_t *t, uint64_t now_ms, const char *what);
/* Find or create (-PD_ELIMIT past max_owners, -ENOMEM). */
int gt_owner_get(pd_gtable_t *t, const char *id, size_t len, gt_owner_t **out);
/* Free the record if no entry uses it and (unless force) it is not marked down. */
void gt_owner_release(pd_gtable_t *t, gt_owner_t *o, int force);
/* Unlink and free an entry (and its table / owner records when they become unused). */
void gt_ent_drop(pd_gtable_t *t, gt_ent_t *e);
/* Fill a borrowed view; deleted = not visible. */
void gt_view(const gt_ent_t *e, pd_gtable_view_t *v);
/* Tell matching watchers about e's current visible state. */
void gt_notify(pd_gtable_t *t, const gt_ent_t *e);
/* Supersede key of (table, key). */
void gt_skey(const gt_ent_t *e, uint8_t out[PD_GTABLE_SKEY_LEN]);
/* A tombstone or a down owner's grace ends at when_ms: the next tick must not skip past it. */
static inline void gt_reap_due(pd_gtable_t *t, uint64_t when_ms)
{
    if (when_ms < t->next_reap_ms)
        t->next_reap_ms = when_ms;
}
/* Encode one stored entry as an update message. */
int gt_encode_update(const gt_ent_t *e, pd_gtable_msg_t *out);

#endif
