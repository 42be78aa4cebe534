/* The leader's VIP loop (see vip_alloc.h): compare gossip's service names with the store's VIPs,
 * propose allocations and releases through Raft, publish the store's VIPs into gossip. */
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

#define SVC_PREFIX "svc/"

typedef struct {
    char name[PD_STORE_VIP_NAME_MAX + 1];
    uint64_t since_ms;
} absent_t;

struct pd_vip_alloc {
    pd_daemon_t *d;
    uv_timer_t timer;
    int open, stopped;
    pd_store_vip_range_t cfg_range;
    uint64_t term; /* the term we lead in, 0 when not leading */
    char inflight[PD_VIP_INFLIGHT_MAX][PD_STORE_VIP_NAME_MAX + 1];
    uint64_t retry_ms; /* no allocation before this (after a refusal) */
    int range_warned;
    absent_t *absent; /* VIPs whose service has no endpoint, and since when */
    size_t nabsent, absent_cap;
};

/* ---- proposals in flight ------------------------------------------------------------------------ */

static int inflight_has(const pd_vip_alloc_t *va, const char *name)
{
    for (unsigned i = 0; i < PD_VIP_INFLIGHT_MAX; i++)
        if (va->inflight[i][0] && strcmp(va->inflight[i], name) == 0)
            return 1;
    return 0;
}

static char *inflight_slot(pd_vip_alloc_t *va)
{
    for (unsigned i = 0; i < PD_VIP_INFLIGHT_MAX; i++)
        if (!va->inflight[i][0])
            return va->inflight[i];
    return NULL;
}

static void inflight_drop(pd_vip_alloc_t *va, const char *name)
{
    for (unsigned i = 0; i < PD_VIP_INFLIGHT_MAX; i++)
        if (strcmp(va->inflight[i], name) == 0)
            va->inflight[i][0] = '\0';
}

/* Raft's answer for one of our entries. Nobody waits on a control connection: no reply. */
static int on_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                   msgpack_packer *pk, char *err, size_t errlen)
{
    (void)tok, (void)pk, (void)errlen;
    pd_vip_alloc_t *va = d->vip;
    const char *what = arg; /* "a<name>" or "r<name>", NUL-terminated */
    if (!va || arg_len < 2)
        return PD_CTL_LATER;
    inflight_drop(va, what + 1);
    if (rc == -PD_ELIMIT && what[0] == 'a') {
        PD_WARN(&d->log, "vip: no VIP for service %s: the VIP range is full", what + 1);
        va->retry_ms = uv_now(d->loop) + PD_VIP_RETRY_MS;
    } else if (rc && rc != -PD_ENOTFOUND) {
        PD_WARN(&d->log, "vip: %s %s failed err=%s %s", what[0] == 'a' ? "allocation for" : "release of", what + 1,
                pd_strerror(rc), err);
        va->retry_ms = uv_now(d->loop) + PD_VIP_RETRY_MS;
    } else if (rc == 0) {
        PD_INFO(&d->log, "vip: %s %s", what[0] == 'a' ? "allocated for" : "released", what + 1);
    }
    return PD_CTL_LATER;
}

static int propose(pd_vip_alloc_t *va, int alloc, const char *name, const pd_store_vip_range_t *r)
{
    char *slot = inflight_slot(va);
    if (!slot)
        return -PD_ELIMIT;
    uint8_t *e = NULL;
    size_t n = 0;
    int rc = alloc ? pd_store_wire_encode_vip_alloc(name, r, &e, &n) : pd_store_wire_encode_vip_release(name, &e, &n);
    if (rc)
        return rc;
    char arg[PD_STORE_VIP_NAME_MAX + 2], err[256] = "";
    snprintf(arg, sizeof arg, "%c%s", alloc ? 'a' : 'r', name);
    pd_ctl_token_t none = {0};
    snprintf(slot, PD_STORE_VIP_NAME_MAX + 1, "%s", name); /* before: the answer may come at once */
    rc = pd_raft_node_write(va->d, &none, e, n, on_done, arg, strlen(arg) + 1, err, sizeof err);
    pd_free(e);
    if (rc != PD_CTL_LATER) {
        inflight_drop(va, name);
        return rc;
    }
    return 0;
}

/* ---- allocation: service names without a VIP ------------------------------------------------------ */

typedef struct {
    pd_vip_alloc_t *va;
    const pd_store_t *st;
    pd_store_vip_range_t range;
    char last[PD_GTABLE_TABLE_NAME_MAX + 1];
    unsigned budget;
} scan_t;

static int scan_one(void *ctx, const pd_gtable_view_t *e)
{
    scan_t *sc = ctx;
    if (strcmp(sc->last, e->table) == 0)
        return 0; /* same service as the previous entry */
    snprintf(sc->last, sizeof sc->last, "%s", e->table);
    const char *name = e->table + strlen(SVC_PREFIX);
    uint32_t addr;
    size_t len = strlen(name);
    if (!pd_store_vip_name_valid(name, len) || pd_store_vip_get(sc->st, name, len, &addr) == 0 ||
        inflight_has(sc->va, name))
        return 0;
    if (propose(sc->va, 1, name, &sc->range) == 0)
        sc->budget--;
    return sc->budget == 0;
}

/* ---- release: VIPs whose service has been gone for the grace ---------------------------------------- */

static uint64_t absent_since(pd_vip_alloc_t *va, const char *name, uint64_t now, absent_t *next, size_t *n)
{
    uint64_t since = now;
    for (size_t i = 0; i < va->nabsent; i++)
        if (strcmp(va->absent[i].name, name) == 0)
            since = va->absent[i].since_ms;
    snprintf(next[*n].name, sizeof next[*n].name, "%s", name);
    next[(*n)++].since_ms = since;
    return since;
}

static void releases(pd_vip_alloc_t *va, const pd_store_t *st, pd_gtable_t *gt, uint64_t now, unsigned *budget)
{
    size_t count = pd_store_vip_count(st);
    absent_t *next = count ? pd_malloc(count * sizeof *next) : NULL;
    size_t n = 0;
    if (count && !next)
        return;
    uint64_t grace = (uint64_t)va->d->cfg.vip_grace_s * 1000u;
    for (size_t i = 0; i < count; i++) {
        const char *name;
        uint32_t addr;
        char table[PD_GTABLE_TABLE_NAME_MAX + 1];
        pd_store_vip_at(st, i, &name, &addr);
        snprintf(table, sizeof table, SVC_PREFIX "%s", name);
        if (pd_gtable_count(gt, table) > 0)
            continue; /* endpoints: not absent (a re-registration inside the grace keeps the VIP) */
        uint64_t since = absent_since(va, name, now, next, &n);
        if (now - since >= grace && *budget && !inflight_has(va, name) && propose(va, 0, name, NULL) == 0)
            (*budget)--;
    }
    pd_free(va->absent);
    va->absent = next;
    va->nabsent = n;
    va->absent_cap = count;
}

/* ---- publish: the store's VIPs into gossip --------------------------------------------------------- */

typedef struct {
    const pd_store_t *st;
    char stale[PD_VIP_PUBLISH_MAX][PD_GTABLE_KEY_MAX + 1];
    unsigned n;
} stale_t;

static int find_stale(void *ctx, const pd_gtable_view_t *e)
{
    stale_t *s = ctx;
    uint32_t addr;
    if (pd_store_vip_get(s->st, e->key, strlen(e->key), &addr) == 0)
        return 0;
    snprintf(s->stale[s->n++], sizeof s->stale[0], "%s", e->key);
    return s->n == PD_VIP_PUBLISH_MAX;
}

static void publish(pd_vip_alloc_t *va, const pd_store_t *st)
{
    pd_gagent_t *ag = pd_gossip_io_agent(va->d->gossip);
    pd_gtable_t *gt = pd_gagent_table(ag);
    uint64_t now = pd_gossip_io_now(va->d->gossip);
    unsigned writes = 0;
    for (size_t i = 0; i < pd_store_vip_count(st) && writes < PD_VIP_PUBLISH_MAX; i++) {
        const char *name;
        uint32_t addr;
        pd_store_vip_at(st, i, &name, &addr);
        char ip[INET_ADDRSTRLEN];
        struct in_addr a = {.s_addr = htonl(addr)};
        inet_ntop(AF_INET, &a, ip, sizeof ip);
        pd_gtable_view_t v;
        if (pd_gtable_get(gt, PD_VIP_TABLE, name, &v) == 0 && v.value_len == strlen(ip) &&
            memcmp(v.value, ip, v.value_len) == 0 && strcmp(v.owner, PD_GTABLE_CLUSTER_OWNER) == 0)
            continue;
        int rc = pd_gagent_put_cluster(ag, now, PD_VIP_TABLE, name, ip, strlen(ip));
        if (rc)
            PD_WARN(&va->d->log, "vip: cannot publish %s=%s err=%s", name, ip, pd_strerror(rc));
        writes++;
    }
    stale_t *s = pd_malloc(sizeof *s);
    if (s) {
        s->st = st;
        s->n = 0;
        pd_gtable_foreach(gt, PD_VIP_TABLE, find_stale, s);
        for (unsigned i = 0; i < s->n; i++, writes++)
            pd_gagent_del_cluster(ag, now, PD_VIP_TABLE, s->stale[i]);
        pd_free(s);
    }
    if (writes)
        pd_gossip_io_flush(va->d->gossip);
}

/* ---- the tick ---------------------------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    pd_vip_alloc_t *va = t->data;
    pd_daemon_t *d = va->d;
    uint64_t term = pd_raft_node_leader_term(d);
    if (va->stopped || !d->gossip || term == 0) {
        va->term = 0;
        return;
    }
    uint64_t now = uv_now(d->loop);
    if (term != va->term) { /* newly leading: the grace of absent services starts over */
        PD_INFO(&d->log, "vip: leading (term %llu), reconciling VIPs", (unsigned long long)term);
        va->term = term;
        va->nabsent = 0;
        va->retry_ms = 0;
    }
    const pd_store_t *st = pd_raft_node_store(d);
    pd_gtable_t *gt = pd_gagent_table(pd_gossip_io_agent(d->gossip));
    scan_t sc = {.va = va, .st = st, .range = va->cfg_range, .budget = PD_VIP_PROPOSALS_PER_TICK};
    pd_store_vip_range_t r;
    if (pd_store_vip_range(st, &r) == 0) {
        if ((r.net != sc.range.net || r.prefix != sc.range.prefix) && !va->range_warned++)
            PD_WARN(&d->log, "vip: --vip-range %s differs from the cluster's range (fixed by the first VIP); "
                             "using the cluster's", d->cfg.vip_range);
        sc.range = r;
    }
    if (now >= va->retry_ms)
        pd_gtable_foreach_prefix(gt, SVC_PREFIX, scan_one, &sc);
    releases(va, st, gt, now, &sc.budget);
    st = pd_raft_node_store(d); /* a proposal may have applied at once (one manager) */
    publish(va, st);
}

/* ---- lifecycle --------------------------------------------------------------------------------------- */

int pd_vip_alloc_start(pd_daemon_t *d, char *err, size_t errlen)
{
    pd_vip_alloc_t *va = pd_calloc(1, sizeof *va);
    if (!va)
        return -ENOMEM;
    int rc = pd_store_vip_range_parse(d->cfg.vip_range, &va->cfg_range, err, errlen);
    if (rc) {
        pd_free(va);
        return rc;
    }
    va->d = d;
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
    if (va->open)
        uv_close((uv_handle_t *)&va->timer, NULL);
}

void pd_vip_alloc_free(pd_daemon_t *d)
{
    pd_vip_alloc_t *va = d->vip;
    if (!va)
        return;
    pd_free(va->absent);
    pd_free(va);
    d->vip = NULL;
}
