/* Service VIP reconciler, sans-IO: what the managers' leader must do about VIPs, from the store
 * (VIPs and range, as applied) and the gossip table (service endpoints "svc/<name>" and the
 * published VIPs "vip"). No clock, no Raft, no network: the caller passes now_ms and its term and
 * carries out the actions (vip_alloc.c).
 *
 * Each round (pd_vip_plan_tick), while leading:
 *   1. publish: a PUBLISH for every store VIP that gossip does not show with that address under
 *      the cluster owner, an UNPUBLISH for every visible "vip" entry the store does not hold (only
 *      what differs, so a steady cluster writes nothing; a new leader re-checks everything). An
 *      entry written in a higher term (vip_value.h) is left alone, and one name is written at most
 *      once per PD_VIP_PLAN_REWRITE_MS: two writers that disagree (separate Raft clusters sharing
 *      one gossip pool, a misconfiguration) cannot flood gossip;
 *   2. allocate: an ALLOC for each service name with visible endpoints and no VIP, unless one for
 *      that name is in flight (at most proposals_per_round per round, none before the retry time
 *      after a refusal);
 *   3. release: a RELEASE for a VIP whose service has had no endpoint for grace_ms (counted from
 *      the first round that saw it without one, and restarted on a new term, so a new leader never
 *      releases early; an endpoint inside the grace clears the count).
 * ALLOC/RELEASE names stay in flight until pd_vip_plan_done reports the proposal's outcome. */
#ifndef PD_VIP_PLAN_H
#define PD_VIP_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "dns_feed.h"
#include "gossip_table.h"
#include "store.h"

#define PD_VIP_PLAN_INFLIGHT_MAX 64u
#define PD_VIP_PLAN_ROUND_ACTS_MAX 256u /* actions one round may return */
#define PD_VIP_PLAN_REWRITE_MS 10000u   /* one name is written to gossip at most this often */
#define PD_VIP_PLAN_RECENT_MAX 1024u    /* recent writes remembered (beyond: the oldest is forgotten) */
#define PD_VIP_PLAN_SVC_PREFIX PD_DNS_FEED_TABLE_PREFIX /* the endpoints DNS serves */
#define PD_VIP_PLAN_TABLE PD_DNS_FEED_VIP_TABLE       /* the VIPs DNS serves */

typedef enum {
    PD_VIP_ACT_PUBLISH = 1, /* gossip "vip"/name = dotted addr, cluster-owned */
    PD_VIP_ACT_UNPUBLISH,   /* delete gossip "vip"/name */
    PD_VIP_ACT_ALLOC,       /* propose VIP_ALLOC(name, range) */
    PD_VIP_ACT_RELEASE,     /* propose VIP_RELEASE(name) */
} pd_vip_act_type_t;

typedef struct {
    uint8_t type; /* pd_vip_act_type_t */
    char name[PD_GTABLE_KEY_MAX + 1];
    uint32_t addr;               /* PUBLISH */
    uint64_t term;               /* PUBLISH: write the value with this term (vip_value.h) */
    pd_store_vip_range_t range;  /* ALLOC */
} pd_vip_act_t;

typedef struct {
    pd_store_vip_range_t range;       /* this manager's --vip-range (the store's wins once set) */
    uint64_t grace_ms;                /* a VIP outlives its last endpoint by this much */
    unsigned proposals_per_round;     /* ALLOC + RELEASE per round */
    uint64_t retry_ms;                /* no ALLOC for this long after a refused one */
} pd_vip_plan_config_t;

typedef struct pd_vip_plan pd_vip_plan_t;

/* 0, -PD_EUSAGE (bad range, zero proposals or above PD_VIP_PLAN_INFLIGHT_MAX), -ENOMEM. */
int pd_vip_plan_new(const pd_vip_plan_config_t *cfg, pd_vip_plan_t **out);
void pd_vip_plan_free(pd_vip_plan_t *p);

/* One round. term 0 = not leading: nothing to do, and the grace counts are dropped. Fills
 * out[0..cap) and returns the count (the rest waits for later rounds); -ENOMEM. */
int pd_vip_plan_tick(pd_vip_plan_t *p, uint64_t now_ms, uint64_t term, const pd_store_t *st,
                     const pd_gtable_t *gt, pd_vip_act_t *out, size_t cap);
/* A proposal's outcome (rc 0 applied, else refused or lost): the name is no longer in flight; a
 * refused ALLOC (range full, no quorum) holds allocations back for retry_ms. */
void pd_vip_plan_done(pd_vip_plan_t *p, const char *name, int alloc, int rc, uint64_t now_ms);
/* The earliest time a round could act on inputs that have not changed since the last round (a
 * grace, the retry hold-back or a rewrite interval ending); UINT64_MAX when none would, 0 before
 * the first round and after pd_vip_plan_done. A round that returned actions may have left some
 * for the next one (the per-round limits): the caller plans again after one regardless. */
uint64_t pd_vip_plan_due(const pd_vip_plan_t *p);
/* 1 when the store's range (fixed by the first VIP) differs from the configured one. */
int pd_vip_plan_range_differs(const pd_vip_plan_t *p, const pd_store_t *st);
size_t pd_vip_plan_inflight(const pd_vip_plan_t *p);

#endif
