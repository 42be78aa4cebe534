/* The leader's VIP loop, the shell around vip_plan: a timer, Raft proposals for ALLOC/RELEASE and
 * gossip writes for PUBLISH/UNPUBLISH. */
#include "vip_alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gossip_io.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "raft_node.h"
#include "store_wire.h"
#include "vip_plan.h"
#include "vip_value.h"

struct pd_vip_alloc {
    pd_daemon_t *d;
    uv_timer_t timer;
    int open, stopped, range_warned;
    uint64_t term;
    pd_vip_plan_t *plan;
    pd_vip_act_t acts[PD_VIP_PLAN_ROUND_ACTS_MAX];
    uint64_t seen[3];      /* what the last planning round saw (quiet_since) */
    uint64_t planned_ms;   /* when it ran */
    int acted;             /* it returned actions: plan again next tick */
    pd_gtable_t *watched;  /* the gossip table our watchers are on (NULL without gossip: not leading) */
    int watch_svc, watch_vip;
    uint64_t changes;      /* table changes a round could act on (on_svc_change, on_vip_change) */
};

/* A planning round scans every service (milliseconds with a thousand of them, a stall of this
 * node's DNS answers); on a quiet cluster skip it: same term, store and table changes as the last
 * round, which acted on nothing, and nothing timed due yet (pd_vip_plan_due: a grace, a retry).
 * A round still runs every PD_VIP_IDLE_PLAN_MS as a backstop for a change none of these shows. */
#define PD_VIP_IDLE_PLAN_MS 60000u

/* Endpoints come and go all the time, but a round only cares whether a service has any: count an
 * endpoint change when its service has at most one left (the event may come before or after the
 * entry leaves the count; one too many only costs a round). */
static void on_svc_change(void *ctx, const pd_gtable_view_t *ev)
{
    pd_vip_alloc_t *va = ctx;
    if (pd_gtable_count(va->watched, ev->table) <= 1)
        va->changes++;
}

static void on_vip_change(void *ctx, const pd_gtable_view_t *ev)
{
    pd_vip_alloc_t *va = ctx;
    if (strcmp(ev->table, PD_VIP_PLAN_TABLE) == 0)
        va->changes++;
}

/* 0, or the table's -PD_ELIMIT when its watcher slots are all taken. */
static int watch_table(pd_vip_alloc_t *va)
{
    pd_gtable_t *gt = va->d->gossip ? pd_gagent_table(pd_gossip_io_agent(va->d->gossip)) : NULL;
    if (!gt)
        return 0;
    int rc = pd_gtable_watch(gt, PD_VIP_PLAN_SVC_PREFIX, on_svc_change, va, &va->watch_svc);
    if (rc)
        return rc;
    if ((rc = pd_gtable_watch(gt, PD_VIP_PLAN_TABLE, on_vip_change, va, &va->watch_vip)) != 0) {
        pd_gtable_unwatch(gt, va->watch_svc);
        return rc;
    }
    va->watched = gt;
    return 0;
}

static int quiet_since(pd_vip_alloc_t *va, uint64_t term, const pd_store_t *st, uint64_t now)
{
    uint64_t cur[3] = {term, st ? pd_store_applied_index(st) : 0, va->changes};
    int same = !va->acted && memcmp(cur, va->seen, sizeof cur) == 0 && now < pd_vip_plan_due(va->plan) &&
               now - va->planned_ms < PD_VIP_IDLE_PLAN_MS;
    if (!same) {
        memcpy(va->seen, cur, sizeof cur);
        va->planned_ms = now;
    }
    return same;
}

static void on_tick(uv_timer_t *t);

/* Raft's answer for one of our entries. Nobody waits on a control connection: no reply. */
static int on_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                   msgpack_packer *pk, char *err, size_t errlen)
{
    (void)tok, (void)pk, (void)errlen;
    pd_vip_alloc_t *va = d->vip;
    const char *what = arg; /* "a<name>" or "r<name>", NUL-terminated */
    if (!va || arg_len < 2)
        return PD_CTL_LATER;
    int alloc = what[0] == 'a';
    pd_vip_plan_done(va->plan, what + 1, alloc, rc, uv_now(d->loop));
    if (rc == -PD_ELIMIT && alloc)
        PD_WARN(&d->log, "vip: no VIP for service %s: the VIP range is full", what + 1);
    else if (rc && rc != -PD_ENOTFOUND)
        PD_WARN(&d->log, "vip: %s %s failed err=%s %s", alloc ? "allocation for" : "release of", what + 1,
                pd_strerror(rc), err);
    else if (rc == 0)
        PD_INFO(&d->log, "vip: %s %s", alloc ? "allocated for" : "released", what + 1);
    if (rc == 0 && !va->stopped) /* publish the change now rather than a tick later */
        uv_timer_start(&va->timer, on_tick, 0, PD_VIP_TICK_MS);
    return PD_CTL_LATER;
}

static void propose(pd_vip_alloc_t *va, const pd_vip_act_t *a)
{
    int alloc = a->type == PD_VIP_ACT_ALLOC;
    uint8_t *e = NULL;
    size_t n = 0;
    char arg[PD_GTABLE_KEY_MAX + 2], err[256] = "";
    int rc = alloc ? pd_store_wire_encode_vip_alloc(a->name, &a->range, &e, &n)
                   : pd_store_wire_encode_vip_release(a->name, &e, &n);
    if (rc == 0) {
        snprintf(arg, sizeof arg, "%c%s", alloc ? 'a' : 'r', a->name);
        pd_ctl_token_t none = {0};
        rc = pd_raft_node_write(va->d, &none, e, n, on_done, arg, strlen(arg) + 1, err, sizeof err);
        pd_free(e);
    }
    if (rc != PD_CTL_LATER) {
        PD_WARN(&va->d->log, "vip: cannot propose %s of %s err=%s %s", alloc ? "allocation" : "release", a->name,
                pd_strerror(rc), err);
        pd_vip_plan_done(va->plan, a->name, alloc, rc, uv_now(va->d->loop));
    }
}

static void gossip_write(pd_vip_alloc_t *va, const pd_vip_act_t *a)
{
    pd_gagent_t *ag = pd_gossip_io_agent(va->d->gossip);
    uint64_t now = pd_gossip_io_now(va->d->gossip);
    char ip[INET_ADDRSTRLEN] = "";
    int rc;
    if (a->type == PD_VIP_ACT_PUBLISH) {
        uint8_t val[PD_VIP_VALUE_MAX];
        size_t len = pd_vip_value_encode(a->addr, a->term, val);
        struct in_addr in = {.s_addr = htonl(a->addr)};
        inet_ntop(AF_INET, &in, ip, sizeof ip);
        rc = pd_gagent_put_cluster(ag, now, PD_VIP_TABLE, a->name, val, len);
    } else {
        rc = pd_gagent_del_cluster(ag, now, PD_VIP_TABLE, a->name);
    }
    if (rc)
        PD_WARN(&va->d->log, "vip: cannot %s %s err=%s", a->type == PD_VIP_ACT_PUBLISH ? "publish" : "withdraw",
                a->name, pd_strerror(rc));
    else
        PD_DEBUG(&va->d->log, "vip: %s %s %s", a->type == PD_VIP_ACT_PUBLISH ? "published" : "withdrew", a->name, ip);
}

static void on_tick(uv_timer_t *t)
{
    pd_vip_alloc_t *va = t->data;
    pd_daemon_t *d = va->d;
    uint64_t term = va->stopped || !d->gossip ? 0 : pd_raft_node_leader_term(d);
    const pd_store_t *st = pd_raft_node_store(d);
    if (term && term != va->term)
        PD_INFO(&d->log, "vip: leading (term %llu), reconciling VIPs", (unsigned long long)term);
    va->term = term;
    if (term && pd_vip_plan_range_differs(va->plan, st) && !va->range_warned++)
        PD_WARN(&d->log, "vip: --vip-range %s differs from the cluster's range (fixed by the first VIP); "
                         "using the cluster's", d->cfg.vip_range);
    if (quiet_since(va, term, st, uv_now(d->loop)))
        return;
    int n = pd_vip_plan_tick(va->plan, uv_now(d->loop), term, st,
                             term ? pd_gagent_table(pd_gossip_io_agent(d->gossip)) : NULL, va->acts,
                             PD_VIP_PLAN_ROUND_ACTS_MAX);
    int wrote = 0;
    va->acted = n > 0;
    for (int i = 0; i < n; i++) {
        const pd_vip_act_t *a = &va->acts[i];
        if (a->type == PD_VIP_ACT_ALLOC || a->type == PD_VIP_ACT_RELEASE) {
            propose(va, a);
        } else {
            gossip_write(va, a);
            wrote = 1;
        }
    }
    if (wrote)
        pd_gossip_io_flush(d->gossip);
}

int pd_vip_alloc_start(pd_daemon_t *d, char *err, size_t errlen)
{
    pd_vip_plan_config_t pc = {.grace_ms = (uint64_t)d->cfg.vip_grace_s * 1000u,
                               .proposals_per_round = PD_VIP_PROPOSALS_PER_TICK,
                               .retry_ms = PD_VIP_RETRY_MS};
    int rc = pd_store_vip_range_parse(d->cfg.vip_range, &pc.range, err, errlen);
    if (rc)
        return rc;
    pd_vip_alloc_t *va = pd_calloc(1, sizeof *va);
    if (!va)
        return -ENOMEM;
    rc = pd_vip_plan_new(&pc, &va->plan);
    if (rc) {
        pd_free(va);
        snprintf(err, errlen, "vip: cannot start: %s", pd_strerror(rc));
        return rc;
    }
    va->d = d;
    if ((rc = watch_table(va)) != 0) {
        pd_vip_plan_free(va->plan);
        pd_free(va);
        snprintf(err, errlen, "vip: cannot watch the gossip table: %s", pd_strerror(rc));
        return rc;
    }
    d->vip = va;
    uv_timer_init(d->loop, &va->timer);
    va->timer.data = va;
    va->open = 1;
    uv_timer_start(&va->timer, on_tick, PD_VIP_TICK_MS, PD_VIP_TICK_MS);
    return 0;
}

void pd_vip_alloc_stop(pd_daemon_t *d)
{
    pd_vip_alloc_t *va = d->vip;
    if (!va || va->stopped)
        return;
    va->stopped = 1;
    if (va->watched) {
        pd_gtable_unwatch(va->watched, va->watch_svc);
        pd_gtable_unwatch(va->watched, va->watch_vip);
        va->watched = NULL;
    }
    if (va->open)
        uv_close((uv_handle_t *)&va->timer, NULL);
}

void pd_vip_alloc_free(pd_daemon_t *d)
{
    pd_vip_alloc_t *va = d->vip;
    if (!va)
        return;
    pd_vip_plan_free(va->plan);
    pd_free(va);
    d->vip = NULL;
}
