/* Node lifecycle (boot, crash, restart), node timers, and the calls into a node's code.
 *
 * Each node has a crash epoch. A message records the destination's epoch when it is sent and is
 * dropped on arrival if the epoch moved: that is how a crash loses everything in flight to the
 * node without searching the event queue. */
#include <errno.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "sim_internal.h"

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Each (seed, node, boot) gets its own rng seed, so a restart does not replay the last boot. */
static uint64_t boot_seed(const pd_sim_t *sim, uint32_t node, uint32_t boot)
{
    uint64_t x = mix64(sim->opts.seed ^ 0x6a09e667f3bcc909ULL);
    x = mix64(x + (uint64_t)node * 0x9e3779b97f4a7c15ULL);
    return mix64(x + (uint64_t)boot * 0xbb67ae8584caa73bULL);
}

static void trace_node_event(pd_sim_t *sim, uint8_t kind, uint32_t node, uint32_t extra)
{
    pd_sim_trace_mix(sim, &kind, 1);
    pd_sim_trace_u64(sim, sim->clock.now);
    pd_sim_trace_u64(sim, ((uint64_t)node << 32) | extra);
}

/* After any callback: let next_deadline re-arm the timer. */
static void after_callback(pd_sim_t *sim, uint32_t node)
{
    pd_sim_node_t *n = &sim->nodes[node];
    if (n->up && sim->opts.ops->next_deadline)
        pd_sim_set_timer(sim, node, sim->opts.ops->next_deadline(n->state));
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int pd_sim_node_start(pd_sim_t *sim, uint32_t node)
{
    PD_SIM_CHECK_NODE(sim, node);
    pd_sim_node_t *n = &sim->nodes[node];
    if (n->up)
        return -PD_ESTATE;
    uint32_t boot = n->boots + 1;
    void *state = NULL;
    n->up = 1; /* so boot may already send and set its timer */
    uint32_t prev = sim->in_node;
    sim->in_node = node;
    int rc = sim->opts.ops->boot(sim, node, boot_seed(sim, node, boot), n->disk, sim->opts.ctx,
                                 &state);
    sim->in_node = prev;
    PD_ASSERT(rc <= 0);
    if (rc < 0) {
        n->up = 0;
        n->epoch++; /* whatever was sent to the failed boot is lost */
        pd_sim_timerheap_set(&sim->timers, sim->nodes, node, PD_SIM_NEVER, 0);
        sim->stats.boot_failures++;
        return rc;
    }
    n->state = state;
    n->boots = boot;
    sim->stats.boots++;
    trace_node_event(sim, 'B', node, boot);
    after_callback(sim, node);
    return 0;
}

int pd_sim_start_all(pd_sim_t *sim)
{
    for (uint32_t i = 0; i < sim->opts.nodes; i++) {
        if (sim->nodes[i].up)
            continue;
        int rc = pd_sim_node_start(sim, i);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void pd_sim_node_teardown(pd_sim_t *sim, uint32_t node)
{
    pd_sim_node_t *n = &sim->nodes[node];
    PD_ASSERT(n->up);
    PD_ASSERT(sim->in_node != node); /* a node must not crash itself from its own callback */
    void *state = n->state;
    n->up = 0; /* destroy cannot send from a dead node */
    n->state = NULL;
    n->epoch++;
    pd_sim_timerheap_set(&sim->timers, sim->nodes, node, PD_SIM_NEVER, 0);
    sim->opts.ops->destroy(state);
}

int pd_sim_node_crash(pd_sim_t *sim, uint32_t node)
{
    PD_SIM_CHECK_NODE(sim, node);
    if (!sim->nodes[node].up)
        return -PD_ESTATE;
    pd_sim_node_teardown(sim, node);
    pd_sim_disk_crash(sim->nodes[node].disk, &sim->disk_rng);
    sim->stats.crashes++;
    trace_node_event(sim, 'C', node, sim->nodes[node].epoch);
    return 0;
}

int pd_sim_node_restart(pd_sim_t *sim, uint32_t node) { return pd_sim_node_start(sim, node); }

bool pd_sim_node_up(const pd_sim_t *sim, uint32_t node)
{
    PD_SIM_CHECK_NODE(sim, node);
    return sim->nodes[node].up;
}

void *pd_sim_node_state(const pd_sim_t *sim, uint32_t node)
{
    PD_SIM_CHECK_NODE(sim, node);
    return sim->nodes[node].state;
}

pd_sim_disk_t *pd_sim_node_disk(pd_sim_t *sim, uint32_t node)
{
    PD_SIM_CHECK_NODE(sim, node);
    return sim->nodes[node].disk;
}

uint32_t pd_sim_node_boots(const pd_sim_t *sim, uint32_t node)
{
    PD_SIM_CHECK_NODE(sim, node);
    return sim->nodes[node].boots;
}

/* ---- timers and scheduled calls ------------------------------------------------------------- */

void pd_sim_set_timer(pd_sim_t *sim, uint32_t node, uint64_t at_ms)
{
    PD_SIM_CHECK_NODE(sim, node);
    if (at_ms != PD_SIM_NEVER) {
        PD_ASSERT(sim->nodes[node].up);
        at_ms = PD_MAX(at_ms, sim->clock.now);
    }
    pd_sim_timerheap_set(&sim->timers, sim->nodes, node, at_ms, sim->seq++);
}

uint64_t pd_sim_timer(const pd_sim_t *sim, uint32_t node)
{
    PD_SIM_CHECK_NODE(sim, node);
    const pd_sim_node_t *n = &sim->nodes[node];
    return n->timer_pos == PD_SIM_NO_POS ? PD_SIM_NEVER : n->timer_at;
}

int pd_sim_schedule(pd_sim_t *sim, uint64_t at_ms, pd_sim_call_fn fn, void *arg)
{
    PD_ASSERT(fn);
    if (sim->events.len >= sim->opts.events_max)
        return -PD_ELIMIT;
    pd_sim_event_t *ev = pd_malloc(sizeof *ev);
    if (!ev)
        return -ENOMEM;
    *ev = (pd_sim_event_t){.kind = PD_SIM_EV_CALL, .fn = fn, .arg = arg};
    int rc = pd_sim_evheap_push(&sim->events, PD_MAX(at_ms, sim->clock.now), sim->seq++, ev);
    if (rc < 0)
        pd_free(ev);
    return rc;
}

/* ---- calls into the node -------------------------------------------------------------------- */

void pd_sim_node_deliver(pd_sim_t *sim, pd_sim_event_t *ev)
{
    pd_sim_node_t *n = &sim->nodes[ev->to];
    if (!n->up || n->epoch != ev->to_epoch) {
        sim->stats.dropped_crash++;
        return;
    }
    if (pd_sim_net_blocked(sim, ev->from, ev->to)) {
        sim->stats.dropped_partition++;
        return;
    }
    sim->stats.delivered++;
    sim->stats.bytes_delivered += ev->len;
    trace_node_event(sim, 'M', ev->from, ev->to);
    pd_sim_trace_u64(sim, ev->len);
    pd_sim_trace_mix(sim, ev->data, ev->len);
    uint32_t prev = sim->in_node;
    sim->in_node = ev->to;
    sim->opts.ops->on_message(n->state, sim->clock.now, ev->from, ev->data, ev->len);
    sim->in_node = prev;
    after_callback(sim, ev->to);
}

void pd_sim_node_fire_timer(pd_sim_t *sim, uint32_t node)
{
    pd_sim_node_t *n = &sim->nodes[node];
    PD_ASSERT(n->up);
    PD_ASSERT(sim->opts.ops->on_timer); /* a node set a timer it cannot handle */
    sim->stats.timers++;
    trace_node_event(sim, 'T', node, 0);
    uint32_t prev = sim->in_node;
    sim->in_node = node;
    sim->opts.ops->on_timer(n->state, sim->clock.now);
    sim->in_node = prev;
    after_callback(sim, node);
}
