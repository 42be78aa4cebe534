/* Endpoint table: owner liveness (hide / show / purge a node's entries) and reaping. These walk
 * every stored entry: membership changes are rare and ticks are slow (about one a second), and a
 * walk of PD_GTABLE_ENTRIES_MAX entries takes well under a millisecond. */
#include <string.h>

#include "gossip_table_int.h"
#include "pd_assert.h"
#include "pd_err.h"

static int is_self(const pd_gtable_t *t, const char *owner, size_t n)
{
    return n == t->node_len && memcmp(owner, t->node_id, n) == 0;
}

/* The cluster pseudo owner is never down: its entries outlive every node. */
static int is_cluster(const char *owner, size_t n)
{
    return n == sizeof PD_GTABLE_CLUSTER_OWNER - 1 && memcmp(owner, PD_GTABLE_CLUSTER_OWNER, n) == 0;
}

/* Tell watchers about every non-deleted entry of o (after its liveness flipped). */
static void notify_owner(pd_gtable_t *t, const gt_owner_t *o)
{
    for (gt_tab_t *b = t->tables_head; b; b = b->next) {
        for (gt_ent_t *e = b->head; e; e = e->next) {
            if (e->owner == o && !e->deleted)
                gt_notify(t, e);
        }
    }
}

int pd_gtable_owner_down(pd_gtable_t *t, const char *owner, uint64_t now_ms)
{
    PD_ASSERT(t && owner);
    size_t n = strlen(owner);
    if (n == 0 || n > PD_GTABLE_OWNER_MAX || is_self(t, owner, n) || is_cluster(owner, n))
        return -PD_EUSAGE;
    gt_owner_t *o;
    int rc = gt_owner_get(t, owner, n, &o);
    if (rc)
        return rc == -PD_ELIMIT ? gt_limit_hit(t, now_ms, "owners") : rc;
    if (o->down)
        return 0; /* keep the first time: the grace runs from the first report */
    o->down = 1;
    o->down_ms = now_ms;
    gt_reap_due(t, now_ms + t->owner_grace_ms);
    PD_DEBUG(t->log, "gtable owner down owner=%s entries=%u", o->id, o->refs);
    notify_owner(t, o);
    return 0;
}

int pd_gtable_owner_up(pd_gtable_t *t, const char *owner)
{
    PD_ASSERT(t && owner);
    size_t n = strlen(owner);
    if (n == 0 || n > PD_GTABLE_OWNER_MAX || is_self(t, owner, n) || is_cluster(owner, n))
        return -PD_EUSAGE;
    gt_owner_t *o = gt_owner_find(t, owner, n);
    if (!o || !o->down)
        return 0;
    o->down = 0;
    PD_DEBUG(t->log, "gtable owner up owner=%s entries=%u", o->id, o->refs);
    notify_owner(t, o);
    gt_owner_release(t, o, 0);
    return 0;
}

/* Drop every entry matching (o, or expired tombstones when now_ms given); events for visible
 * ones. Returns the number dropped. A reap walk also notes the deadlines of what it keeps. */
static size_t drop_where(pd_gtable_t *t, gt_owner_t *o, int reap, uint64_t now_ms)
{
    size_t dropped = 0;
    gt_tab_t *b = t->tables_head;
    while (b) {
        gt_tab_t *bnext = b->next;
        gt_ent_t *e = b->head;
        while (e) {
            gt_ent_t *enext = e->next;
            int hit = o ? e->owner == o
                        : (reap && e->deleted && e->reap_ms <= now_ms) ||
                              (reap && e->owner->down &&
                               now_ms >= e->owner->down_ms + t->owner_grace_ms);
            if (hit) {
                int was_visible = gt_visible(e);
                if (was_visible) {
                    e->deleted = 1; /* the event reports a delete */
                    gt_notify(t, e);
                }
                int last = (b->count == 1);
                gt_ent_drop(t, e);
                dropped++;
                if (last)
                    break; /* the table was freed with its last entry */
            } else if (reap) {
                if (e->deleted)
                    gt_reap_due(t, e->reap_ms);
                if (e->owner->down)
                    gt_reap_due(t, e->owner->down_ms + t->owner_grace_ms);
            }
            e = enext;
        }
        b = bnext;
    }
    return dropped;
}

size_t pd_gtable_owner_purge(pd_gtable_t *t, const char *owner)
{
    PD_ASSERT(t && owner);
    size_t n = strlen(owner);
    if (n == 0 || n > PD_GTABLE_OWNER_MAX || is_cluster(owner, n))
        return 0;
    gt_owner_t *o = gt_owner_find(t, owner, n);
    if (!o)
        return 0;
    o->refs++; /* hold the record while its entries go */
    size_t dropped = drop_where(t, o, 0, 0);
    o->refs--;
    gt_owner_release(t, o, 1);
    t->stats.reaped += dropped;
    return dropped;
}

/* Forget owners that have been down past the grace and hold no entries any more. */
static void reap_owners(pd_gtable_t *t, uint64_t now_ms)
{
    for (size_t i = 0; i < GT_OWNER_BUCKETS; i++) {
        gt_owner_t *o = t->obuckets[i];
        while (o) {
            gt_owner_t *next = o->hnext;
            if (o->down && o->refs == 0 && now_ms >= o->down_ms + t->owner_grace_ms)
                gt_owner_release(t, o, 1);
            else if (o->down)
                gt_reap_due(t, o->down_ms + t->owner_grace_ms);
            o = next;
        }
    }
}

size_t pd_gtable_tick(pd_gtable_t *t, uint64_t now_ms)
{
    PD_ASSERT(t);
    if (now_ms < t->next_reap_ms)
        return 0;
    t->next_reap_ms = UINT64_MAX; /* the walk lowers it to the earliest deadline it keeps */
    t->stats.tick_walks++;
    size_t dropped = drop_where(t, NULL, 1, now_ms);
    reap_owners(t, now_ms);
    t->stats.reaped += dropped;
    return dropped;
}
