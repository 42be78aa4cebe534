/* The VIP reconciler's rounds (see vip_plan.h): diff store against gossip, bounded and with one
 * proposal in flight per name. */
#include "vip_plan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "vip_value.h"

typedef struct {
    char name[PD_STORE_VIP_NAME_MAX + 1];
    uint64_t since_ms;
} absent_t;

typedef struct {
    char name[PD_GTABLE_KEY_MAX + 1];
    uint64_t at_ms;
} recent_t;

struct pd_vip_plan {
    pd_vip_plan_config_t cfg;
    recent_t recent[PD_VIP_PLAN_RECENT_MAX]; /* gossip writes, a ring */
    unsigned recent_next;
    uint64_t term;
    uint64_t retry_at_ms;
    char inflight[PD_VIP_PLAN_INFLIGHT_MAX][PD_STORE_VIP_NAME_MAX + 1];
    absent_t *absent; /* VIPs seen without endpoints, and since when (store name order) */
    size_t nabsent;
    uint64_t due_ms; /* pd_vip_plan_due */
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
    p->due_ms = 0;
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
    p->due_ms = 0; /* a name left flight: the next round may act on it */
}

uint64_t pd_vip_plan_due(const pd_vip_plan_t *p)
{
    return p->due_ms;
}

static void due_at(pd_vip_plan_t *p, uint64_t at_ms)
{
    if (at_ms < p->due_ms)
        p->due_ms = at_ms;
}

/* ---- recent gossip writes ------------------------------------------------------------------------ */

/* 1 when name was written less than PD_VIP_PLAN_REWRITE_MS ago; the round becomes due again when
 * that interval ends. */
static int recently_written(pd_vip_plan_t *p, const char *name, uint64_t now_ms)
{
    for (unsigned i = 0; i < PD_VIP_PLAN_RECENT_MAX; i++)
        if (p->recent[i].name[0] && now_ms - p->recent[i].at_ms < PD_VIP_PLAN_REWRITE_MS &&
            strcmp(p->recent[i].name, name) == 0) {
            due_at(p, p->recent[i].at_ms + PD_VIP_PLAN_REWRITE_MS);
            return 1;
        }
    return 0;
}

static void written(pd_vip_plan_t *p, const char *name, uint64_t now_ms)
{
    recent_t *r = &p->recent[p->recent_next];
    p->recent_next = (p->recent_next + 1) % PD_VIP_PLAN_RECENT_MAX;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->at_ms = now_ms;
}

/* ---- a round ---------------------------------------------------------------------------------------- */

typedef struct {
    pd_vip_plan_t *p;
    const pd_store_t *st;
    pd_vip_act_t *out;
    size_t cap, n;
    unsigned budget; /* proposals left this round */
    uint64_t now_ms, term;
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

/* What gossip shows for a VIP entry: 1 and its address and term when it is a well-formed
 * cluster-owned value, else 0. */
static int visible_vip(const pd_gtable_view_t *v, uint32_t *addr, uint64_t *term)
{
    return strcmp(v->owner, PD_GTABLE_CLUSTER_OWNER) == 0 &&
           pd_vip_value_decode(v->value, v->value_len, addr, term) == 0;
}

/* May this round write name? Not over a higher term's entry; and a name written less than
 * PD_VIP_PLAN_REWRITE_MS ago only when what gossip shows is this term's own value (our release
 * withdrawing our publish), not when another writer changed it since (contention). */
static int may_write(const round_t *r, const pd_gtable_view_t *v, const char *name)
{
    uint32_t addr;
    uint64_t term;
    int decoded = v && visible_vip(v, &addr, &term);
    if (decoded && term > r->term)
        return 0;
    return (decoded && term == r->term) || !recently_written(r->p, name, r->now_ms);
}

static int unpublish_one(void *ctx, const pd_gtable_view_t *e)
{
    round_t *r = ctx;
    uint32_t addr;
    if (pd_store_vip_get(r->st, e->key, strlen(e->key), &addr) == 0 || !may_write(r, e, e->key))
        return 0;
    if (!act_add(r, PD_VIP_ACT_UNPUBLISH, e->key))
        return 1;
    written(r->p, e->key, r->now_ms);
    return 0;
}

static void publish(round_t *r, const pd_gtable_t *gt)
{
    for (size_t i = 0; i < pd_store_vip_count(r->st) && r->n < r->cap; i++) {
        const char *name;
        uint32_t addr, shown;
        uint64_t term;
        pd_gtable_view_t v;
        pd_store_vip_at(r->st, i, &name, &addr);
        int have = pd_gtable_get(gt, PD_VIP_PLAN_TABLE, name, &v) == 0;
        if ((have && visible_vip(&v, &shown, &term) && shown == addr) || !may_write(r, have ? &v : NULL, name))
            continue;
        pd_vip_act_t *a = act_add(r, PD_VIP_ACT_PUBLISH, name);
        a->addr = addr;
        a->term = r->term;
        written(r->p, name, r->now_ms);
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
        else
            due_at(p, next[n].since_ms + p->cfg.grace_ms);
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
        memset(p->recent, 0, sizeof p->recent);
    }
    p->due_ms = UINT64_MAX;
    if (term == 0)
        return 0;
    round_t r = {.p = p, .st = st, .out = out, .cap = cap, .budget = p->cfg.proposals_per_round,
                 .range = p->cfg.range, .now_ms = now_ms, .term = term};
    pd_store_vip_range(st, &r.range); /* the cluster's, once fixed */
    publish(&r, gt);
    if (now_ms >= p->retry_at_ms)
        pd_gtable_foreach_prefix(gt, PD_VIP_PLAN_SVC_PREFIX, alloc_one, &r);
    else
        due_at(p, p->retry_at_ms);
    int rc = release(&r, gt, now_ms);
    return rc ? rc : (int)r.n;
}
