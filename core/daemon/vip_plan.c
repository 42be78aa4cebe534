/* The VIP reconciler's rounds (see vip_plan.h): diff store against gossip, bounded and with one
 * proposal in flight per name. */
#include "vip_plan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"

typedef struct {
    char name[PD_STORE_VIP_NAME_MAX + 1];
    uint64_t since_ms;
} absent_t;

struct pd_vip_plan {
    pd_vip_plan_config_t cfg;
    uint64_t term;
    uint64_t retry_at_ms;
    char inflight[PD_VIP_PLAN_INFLIGHT_MAX][PD_STORE_VIP_NAME_MAX + 1];
    absent_t *absent; /* VIPs seen without endpoints, and since when (store name order) */
    size_t nabsent;
};

int pd_vip_plan_new(const pd_vip_plan_config_t *cfg, pd_vip_plan_t **out)
{
    if (!cfg || cfg->range.prefix < PD_STORE_VIP_PREFIX_MIN || cfg->range.prefix > PD_STORE_VIP_PREFIX_MAX ||
        cfg->proposals_per_round == 0 || cfg->proposals_per_round > PD_VIP_PLAN_INFLIGHT_MAX)
        return -PD_EUSAGE;
    pd_vip_plan_t *p = pd_calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->cfg = *cfg;
    *out = p;
    return 0;
}

void pd_vip_plan_free(pd_vip_plan_t *p)
{
    if (!p)
        return;
    pd_free(p->absent);
    pd_free(p);
}

/* ---- in flight ------------------------------------------------------------------------------------ */

static int inflight_has(const pd_vip_plan_t *p, const char *name)
{
    for (unsigned i = 0; i < PD_VIP_PLAN_INFLIGHT_MAX; i++)
        if (p->inflight[i][0] && strcmp(p->inflight[i], name) == 0)
            return 1;
    return 0;
}

/* Mark name in flight: 0, or -PD_ELIMIT when every slot is taken. */
static int inflight_add(pd_vip_plan_t *p, const char *name)
{
    for (unsigned i = 0; i < PD_VIP_PLAN_INFLIGHT_MAX; i++) {
        if (!p->inflight[i][0]) {
            snprintf(p->inflight[i], sizeof p->inflight[i], "%s", name);
            return 0;
        }
    }
    return -PD_ELIMIT;
}

size_t pd_vip_plan_inflight(const pd_vip_plan_t *p)
{
    size_t n = 0;
    for (unsigned i = 0; i < PD_VIP_PLAN_INFLIGHT_MAX; i++)
        n += p->inflight[i][0] != 0;
    return n;
}

void pd_vip_plan_done(pd_vip_plan_t *p, const char *name, int alloc, int rc, uint64_t now_ms)
{
    for (unsigned i = 0; i < PD_VIP_PLAN_INFLIGHT_MAX; i++)
        if (strcmp(p->inflight[i], name) == 0)
            p->inflight[i][0] = '\0';
    if (alloc && rc)
        p->retry_at_ms = now_ms + p->cfg.retry_ms;
}

/* ---- a round ---------------------------------------------------------------------------------------- */

typedef struct {
    pd_vip_plan_t *p;
    const pd_store_t *st;
    pd_vip_act_t *out;
    size_t cap, n;
    unsigned budget; /* proposals left this round */
    pd_store_vip_range_t range;
    char last[PD_GTABLE_TABLE_NAME_MAX + 1];
} round_t;

static pd_vip_act_t *act_add(round_t *r, uint8_t type, const char *name)
{
    if (r->n == r->cap)
        return NULL;
    pd_vip_act_t *a = &r->out[r->n++];
    memset(a, 0, sizeof *a);
    a->type = type;
    snprintf(a->name, sizeof a->name, "%s", name);
    return a;
}

static int store_value_is(const pd_gtable_view_t *v, uint32_t addr)
{
    char ip[INET_ADDRSTRLEN];
    struct in_addr a = {.s_addr = htonl(addr)};
    inet_ntop(AF_INET, &a, ip, sizeof ip);
    return v->value_len == strlen(ip) && memcmp(v->value, ip, v->value_len) == 0 &&
           strcmp(v->owner, PD_GTABLE_CLUSTER_OWNER) == 0;
}

static int unpublish_one(void *ctx, const pd_gtable_view_t *e)
{
    round_t *r = ctx;
    uint32_t addr;
    if (pd_store_vip_get(r->st, e->key, strlen(e->key), &addr) == 0)
        return 0;
    return act_add(r, PD_VIP_ACT_UNPUBLISH, e->key) == NULL;
}

static void publish(round_t *r, const pd_gtable_t *gt)
{
    for (size_t i = 0; i < pd_store_vip_count(r->st) && r->n < r->cap; i++) {
        const char *name;
        uint32_t addr;
        pd_gtable_view_t v;
        pd_store_vip_at(r->st, i, &name, &addr);
        if (pd_gtable_get(gt, PD_VIP_PLAN_TABLE, name, &v) == 0 && store_value_is(&v, addr))
            continue;
        act_add(r, PD_VIP_ACT_PUBLISH, name)->addr = addr;
    }
    pd_gtable_foreach(gt, PD_VIP_PLAN_TABLE, unpublish_one, r);
}

static int propose(round_t *r, uint8_t type, const char *name)
{
    if (r->budget == 0 || r->n == r->cap || inflight_has(r->p, name) || inflight_add(r->p, name) != 0)
        return 0;
    pd_vip_act_t *a = act_add(r, type, name);
    a->range = r->range;
    r->budget--;
    return 1;
}

static int alloc_one(void *ctx, const pd_gtable_view_t *e)
{
    round_t *r = ctx;
    if (strcmp(r->last, e->table) == 0)
        return 0; /* entries come grouped by table: same service as before */
    snprintf(r->last, sizeof r->last, "%s", e->table);
    const char *name = e->table + strlen(PD_VIP_PLAN_SVC_PREFIX);
    size_t len = strlen(name);
    uint32_t addr;
    if (pd_store_vip_name_valid(name, len) && pd_store_vip_get(r->st, name, len, &addr) != 0)
        propose(r, PD_VIP_ACT_ALLOC, name);
    return r->budget == 0 || r->n == r->cap;
}

static uint64_t absent_since(const pd_vip_plan_t *p, const char *name, uint64_t now_ms)
{
    for (size_t i = 0; i < p->nabsent; i++)
        if (strcmp(p->absent[i].name, name) == 0)
            return p->absent[i].since_ms;
    return now_ms;
}

/* Rebuild the absent list from the store and gossip; propose releases past the grace. */
static int release(round_t *r, const pd_gtable_t *gt, uint64_t now_ms)
{
    pd_vip_plan_t *p = r->p;
    size_t count = pd_store_vip_count(r->st), n = 0;
    absent_t *next = count ? pd_malloc(count * sizeof *next) : NULL;
    if (count && !next)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        const char *name;
        uint32_t addr;
        char table[PD_GTABLE_TABLE_NAME_MAX + 1];
        pd_store_vip_at(r->st, i, &name, &addr);
        snprintf(table, sizeof table, PD_VIP_PLAN_SVC_PREFIX "%s", name);
        if (pd_gtable_count(gt, table) > 0)
            continue;
        snprintf(next[n].name, sizeof next[n].name, "%s", name);
        next[n].since_ms = absent_since(p, name, now_ms);
        if (now_ms - next[n].since_ms >= p->cfg.grace_ms)
            propose(r, PD_VIP_ACT_RELEASE, name);
        n++;
    }
    pd_free(p->absent);
    p->absent = next;
    p->nabsent = n;
    return 0;
}

int pd_vip_plan_range_differs(const pd_vip_plan_t *p, const pd_store_t *st)
{
    pd_store_vip_range_t r;
    return pd_store_vip_range(st, &r) == 0 && (r.net != p->cfg.range.net || r.prefix != p->cfg.range.prefix);
}

int pd_vip_plan_tick(pd_vip_plan_t *p, uint64_t now_ms, uint64_t term, const pd_store_t *st,
                     const pd_gtable_t *gt, pd_vip_act_t *out, size_t cap)
{
    if (term != p->term) { /* leadership moved: grace counts start over, old proposals are lost */
        p->term = term;
        p->nabsent = 0;
        p->retry_at_ms = 0;
        memset(p->inflight, 0, sizeof p->inflight);
    }
    if (term == 0)
        return 0;
    round_t r = {.p = p, .st = st, .out = out, .cap = cap, .budget = p->cfg.proposals_per_round,
                 .range = p->cfg.range};
    pd_store_vip_range(st, &r.range); /* the cluster's, once fixed */
    publish(&r, gt);
    if (now_ms >= p->retry_at_ms)
        pd_gtable_foreach_prefix(gt, PD_VIP_PLAN_SVC_PREFIX, alloc_one, &r);
    int rc = release(&r, gt, now_ms);
    return rc ? rc : (int)r.n;
}
