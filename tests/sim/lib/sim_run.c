/* The simulator object and its event loop: create and destroy, take the next event in (time, seq)
 * order from the event heap or the timer heap, move the clock, run it; the run controls; the trace
 * hash and the counters. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_buggify.h"
#include "pd_err.h"
#include "sim_internal.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define WALL_EPOCH_DEFAULT_MS 1767225600000ULL /* 2026-01-01T00:00:00Z */

/* ---- trace hash ----------------------------------------------------------------------------- */

/* FNV-style, eight bytes a step (every delivered message goes through here: byte-wise it was a
 * few percent of a large run). Words are read little-endian by hand: the same hash on any host. */
void pd_sim_trace_mix(pd_sim_t *sim, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = sim->trace;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--)
            w = w << 8 | b[i + (size_t)k];
        h = (h ^ w) * FNV_PRIME;
        h ^= h >> 29;
    }
    for (; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    sim->trace = h;
}

void pd_sim_trace_u64(pd_sim_t *sim, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i)); /* fixed byte order: the hash is the same on any host */
    pd_sim_trace_mix(sim, b, sizeof b);
}

uint64_t pd_sim_trace_hash(const pd_sim_t *sim) { return sim->trace; }
const pd_sim_stats_t *pd_sim_stats(const pd_sim_t *sim) { return &sim->stats; }

/* ---- create and destroy --------------------------------------------------------------------- */

pd_sim_opts_t pd_sim_opts_default(const pd_sim_node_ops_t *ops, uint32_t nodes, uint64_t seed)
{
    return (pd_sim_opts_t){
        .seed = seed,
        .nodes = nodes,
        .ops = ops,
        .net = pd_sim_net_opts_default(),
        .epoch_ms = WALL_EPOCH_DEFAULT_MS,
    };
}

static bool opts_valid(const pd_sim_opts_t *o)
{
    const pd_sim_node_ops_t *ops = o->ops;
    return ops && ops->boot && ops->on_message && ops->destroy && o->nodes > 0 &&
           o->nodes <= PD_SIM_NODES_MAX && o->net.latency_min_ms <= o->net.latency_max_ms &&
           o->net.loss_p >= 0 && o->net.loss_p <= 1 && o->net.dup_p >= 0 && o->net.dup_p <= 1 &&
           o->msg_max <= UINT32_MAX;
}

/* Independent rng streams from one seed: changing how much one consumer draws never shifts
 * another's numbers. */
static void seed_streams(pd_sim_t *sim)
{
    uint64_t s = sim->opts.seed;
    pd_rng_seed(&sim->net_rng, s ^ 0x4e45544e45544e45ULL);
    pd_rng_seed(&sim->disk_rng, s ^ 0x4449534b4449534bULL);
    pd_rng_seed(&sim->user_rng, s ^ 0x5553455255534552ULL);
    pd_rng_seed(&sim->buggify_rng, s ^ 0x4255474755474755ULL);
}

static int alloc_nodes(pd_sim_t *sim)
{
    uint32_t n = sim->opts.nodes;
    sim->nodes = pd_calloc(n, sizeof *sim->nodes);
    if (!sim->nodes)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        sim->nodes[i].timer_pos = PD_SIM_NO_POS;
        sim->nodes[i].timer_at = PD_SIM_NEVER;
        int rc = pd_sim_disk_new(&sim->nodes[i].disk);
        if (rc < 0)
            return rc;
    }
    return pd_sim_timerheap_init(&sim->timers, n);
}

int pd_sim_new(const pd_sim_opts_t *opts, pd_sim_t **out)
{
    if (!opts_valid(opts))
        return -PD_EUSAGE;
    pd_sim_t *sim = pd_calloc(1, sizeof *sim);
    if (!sim)
        return -ENOMEM;
    sim->opts = *opts;
    if (!sim->opts.msg_max)
        sim->opts.msg_max = PD_SIM_MSG_MAX;
    if (!sim->opts.events_max)
        sim->opts.events_max = PD_SIM_EVENTS_MAX;
    sim->in_node = PD_SIM_NO_POS;
    sim->trace = FNV_OFFSET;
    pd_clock_sim_init(&sim->clock, opts->start_ms, opts->epoch_ms);
    seed_streams(sim);
    int rc = alloc_nodes(sim);
    if (rc < 0) {
        pd_sim_destroy(sim);
        return rc;
    }
#ifdef PD_SIMULATION
    if (opts->buggify_enable_p > 0)
        pd_buggify_enable(&sim->buggify_rng, opts->buggify_enable_p, opts->buggify_fire_p);
#endif
    *out = sim;
    return 0;
}

void pd_sim_destroy(pd_sim_t *sim)
{
    if (!sim)
        return;
#ifdef PD_SIMULATION
    if (sim->opts.buggify_enable_p > 0)
        pd_buggify_enable(NULL, 0, 0);
#endif
    PD_ASSERT(!sim->in_step); /* not from inside a callback or a scheduled call */
    for (uint32_t i = 0; sim->nodes && i < sim->opts.nodes; i++) {
        if (sim->nodes[i].up)
            pd_sim_node_teardown(sim, i);
    }
    for (uint32_t i = 0; sim->nodes && i < sim->opts.nodes; i++)
        pd_sim_disk_free(sim->nodes[i].disk);
    pd_sim_evheap_free(&sim->events);
    pd_sim_timerheap_free(&sim->timers);
    pd_sim_links_free(&sim->links);
    pd_free(sim->nodes);
    pd_free(sim);
}

/* ---- getters -------------------------------------------------------------------------------- */

uint64_t pd_sim_seed(const pd_sim_t *sim) { return sim->opts.seed; }
uint32_t pd_sim_nodes(const pd_sim_t *sim) { return sim->opts.nodes; }
uint64_t pd_sim_now(const pd_sim_t *sim) { return sim->clock.now; }
pd_clock_t *pd_sim_clock(pd_sim_t *sim) { return &sim->clock.base; }
pd_rng_t *pd_sim_rng(pd_sim_t *sim) { return &sim->user_rng; }
size_t pd_sim_pending(const pd_sim_t *sim) { return sim->events.len + sim->timers.len; }

/* ---- the loop ------------------------------------------------------------------------------- */

/* Which heap holds the next event: 1 events, 2 timers, 0 none. */
static int next_source(const pd_sim_t *sim, uint64_t *at)
{
    bool has_ev = sim->events.len > 0, has_tm = sim->timers.len > 0;
    if (!has_ev && !has_tm)
        return 0;
    if (has_ev && has_tm) {
        const pd_sim_slot_t *e = &sim->events.v[0];
        const pd_sim_node_t *t = &sim->nodes[sim->timers.v[0]];
        bool ev_first = e->at < t->timer_at || (e->at == t->timer_at && e->seq < t->timer_seq);
        *at = ev_first ? e->at : t->timer_at;
        return ev_first ? 1 : 2;
    }
    *at = has_ev ? sim->events.v[0].at : sim->nodes[sim->timers.v[0]].timer_at;
    return has_ev ? 1 : 2;
}

uint64_t pd_sim_next_event_ms(const pd_sim_t *sim)
{
    uint64_t at = PD_SIM_NEVER;
    return next_source(sim, &at) ? at : PD_SIM_NEVER;
}

static void run_event(pd_sim_t *sim, pd_sim_event_t *ev)
{
    if (ev->kind == PD_SIM_EV_MSG) {
        pd_sim_node_deliver(sim, ev);
    } else {
        PD_ASSERT(ev->kind == PD_SIM_EV_CALL);
        uint8_t kind = 'S';
        pd_sim_trace_mix(sim, &kind, 1);
        pd_sim_trace_u64(sim, sim->clock.now);
        sim->stats.calls++;
        ev->fn(sim, ev->arg);
    }
    pd_free(ev);
}

int pd_sim_step(pd_sim_t *sim)
{
    PD_ASSERT(!sim->in_step); /* the loop is not re-entrant */
    if (sim->opts.steps_max && sim->stats.steps >= sim->opts.steps_max)
        return -PD_ELIMIT;
    uint64_t at = 0;
    int src = next_source(sim, &at);
    if (src == 0)
        return 0;
    PD_ASSERT(at >= sim->clock.now); /* time never runs backwards */
    pd_clock_sim_set(&sim->clock, at);
    sim->stats.steps++;
    sim->in_step = true;
    if (src == 1) {
        run_event(sim, pd_sim_evheap_pop(&sim->events).ev);
    } else {
        uint32_t node = sim->timers.v[0];
        pd_sim_timerheap_set(&sim->timers, sim->nodes, node, PD_SIM_NEVER, 0);
        pd_sim_node_fire_timer(sim, node);
    }
    sim->in_step = false;
    return 1;
}

/* Move the clock forward to t (a finite time) after the run stopped short of it. */
static void clock_reach(pd_sim_t *sim, uint64_t t_ms)
{
    if (t_ms != PD_SIM_NEVER)
        pd_clock_sim_set(&sim->clock, t_ms);
}

int pd_sim_run_until(pd_sim_t *sim, uint64_t t_ms)
{
    while (pd_sim_next_event_ms(sim) <= t_ms) {
        int rc = pd_sim_step(sim);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
    }
    clock_reach(sim, t_ms);
    return 0;
}

int pd_sim_run_until_quiet(pd_sim_t *sim, uint64_t max_ms)
{
    for (;;) {
        uint64_t next = pd_sim_next_event_ms(sim);
        if (next == PD_SIM_NEVER)
            return 0;
        if (next > max_ms) {
            clock_reach(sim, max_ms);
            return -PD_ETIMEOUT;
        }
        int rc = pd_sim_step(sim);
        if (rc < 0)
            return rc;
    }
}

int pd_sim_run_until_pred(pd_sim_t *sim, uint64_t max_ms, pd_sim_pred_fn done, void *ctx)
{
    PD_ASSERT(done);
    while (!done(sim, ctx)) {
        uint64_t next = pd_sim_next_event_ms(sim);
        if (next == PD_SIM_NEVER || next > max_ms) {
            clock_reach(sim, max_ms);
            return -PD_ETIMEOUT;
        }
        int rc = pd_sim_step(sim);
        if (rc < 0)
            return rc;
    }
    return 0;
}
