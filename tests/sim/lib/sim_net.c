/* The simulated network: what happens to a message between pd_sim_send and on_message.
 *
 * At send time, in this order and all from the network rng stream: partition check, destination
 * up, one duplicate or not, then for each copy loss, delay (uniform or the latency callback), jitter
 * and clogs. A copy that survives becomes an event at now + delay. On arrival (sim_node.c) the
 * partition is checked again and the destination must still be in the same boot. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "sim_internal.h"

pd_sim_net_opts_t pd_sim_net_opts_default(void)
{
    return (pd_sim_net_opts_t){.latency_min_ms = 1, .latency_max_ms = 10};
}

void pd_sim_net_set(pd_sim_t *sim, const pd_sim_net_opts_t *net)
{
    PD_ASSERT(net->latency_min_ms <= net->latency_max_ms);
    sim->opts.net = *net;
}

pd_sim_net_opts_t pd_sim_net_get(const pd_sim_t *sim) { return sim->opts.net; }

/* ---- reachability --------------------------------------------------------------------------- */

bool pd_sim_net_blocked(const pd_sim_t *sim, uint32_t from, uint32_t to)
{
    uint32_t gf = sim->nodes[from].group, gt = sim->nodes[to].group;
    if (sim->group_block[gf] & (1ULL << gt))
        return true;
    const pd_sim_link_t *l = pd_sim_links_find(&sim->links, from, to);
    return l && l->blocked;
}

bool pd_sim_reachable(const pd_sim_t *sim, uint32_t from, uint32_t to)
{
    PD_SIM_CHECK_NODE(sim, from);
    PD_SIM_CHECK_NODE(sim, to);
    return !pd_sim_net_blocked(sim, from, to);
}

/* ---- sending -------------------------------------------------------------------------------- */

static uint64_t draw_delay(pd_sim_t *sim, uint32_t from, uint32_t to)
{
    const pd_sim_net_opts_t *net = &sim->opts.net;
    uint64_t d = net->latency_fn ? net->latency_fn(net->latency_ctx, &sim->net_rng, from, to)
                                 : pd_rng_range(&sim->net_rng, net->latency_min_ms, net->latency_max_ms);
    if (net->jitter_p > 0 && pd_rng_chance(&sim->net_rng, net->jitter_p)) {
        d += pd_rng_range(&sim->net_rng, 1, PD_MAX(net->jitter_max_ms, 1));
        sim->stats.jittered++;
    }
    return d;
}

static uint64_t clog_until(const pd_sim_t *sim, uint32_t from, uint32_t to)
{
    uint64_t until = PD_MAX(sim->nodes[from].clog_until, sim->nodes[to].clog_until);
    const pd_sim_link_t *l = pd_sim_links_find(&sim->links, from, to);
    if (l)
        until = PD_MAX(until, l->clog_until);
    return until;
}

/* Schedule one copy of the message; the loss draw happens here so each copy is lost or not on
 * its own. */
static int schedule_copy(pd_sim_t *sim, uint32_t from, uint32_t to, const void *data, size_t len)
{
    if (sim->opts.net.loss_p > 0 && pd_rng_chance(&sim->net_rng, sim->opts.net.loss_p)) {
        sim->stats.dropped_loss++;
        return 0;
    }
    uint64_t now = sim->clock.now;
    uint64_t delay = draw_delay(sim, from, to);
    uint64_t start = now, until = clog_until(sim, from, to);
    if (until > now) {
        start = until;
        sim->stats.clogged++;
    }
    if (sim->events.len >= sim->opts.events_max) {
        sim->stats.dropped_overflow++;
        return 0;
    }
    pd_sim_event_t *ev = pd_malloc(sizeof *ev + len);
    if (!ev)
        return -ENOMEM;
    *ev = (pd_sim_event_t){.kind = PD_SIM_EV_MSG, .from = from, .to = to,
                           .to_epoch = sim->nodes[to].epoch, .len = (uint32_t)len};
    if (len)
        memcpy(ev->data, data, len);
    uint64_t at = delay > PD_SIM_NEVER - 1 - start ? PD_SIM_NEVER - 1 : start + delay;
    int rc = pd_sim_evheap_push(&sim->events, at, sim->seq++, ev);
    if (rc < 0)
        pd_free(ev);
    return rc;
}

int pd_sim_send(pd_sim_t *sim, uint32_t from, uint32_t to, const void *data, size_t len)
{
    PD_SIM_CHECK_NODE(sim, from);
    PD_SIM_CHECK_NODE(sim, to);
    PD_ASSERT(data || len == 0);
    if (len > sim->opts.msg_max)
        return -PD_ETOOBIG;
    if (!sim->nodes[from].up)
        return -PD_ESTATE;
    sim->stats.sent++;
    if (pd_sim_net_blocked(sim, from, to)) {
        sim->stats.dropped_partition++;
        return 0;
    }
    if (!sim->nodes[to].up) {
        sim->stats.dropped_crash++;
        return 0;
    }
    bool dup = sim->opts.net.dup_p > 0 && pd_rng_chance(&sim->net_rng, sim->opts.net.dup_p);
    int rc = schedule_copy(sim, from, to, data, len);
    if (rc == 0 && dup) {
        sim->stats.duplicated++;
        rc = schedule_copy(sim, from, to, data, len);
    }
    return rc;
}

/* ---- partitions by group -------------------------------------------------------------------- */

void pd_sim_group_set(pd_sim_t *sim, uint32_t node, uint32_t group)
{
    PD_SIM_CHECK_NODE(sim, node);
    PD_ASSERT(group < PD_SIM_GROUPS_MAX);
    sim->nodes[node].group = (uint8_t)group;
}

uint32_t pd_sim_group(const pd_sim_t *sim, uint32_t node)
{
    PD_SIM_CHECK_NODE(sim, node);
    return sim->nodes[node].group;
}

void pd_sim_group_block(pd_sim_t *sim, uint32_t from_group, uint32_t to_group)
{
    PD_ASSERT(from_group < PD_SIM_GROUPS_MAX && to_group < PD_SIM_GROUPS_MAX);
    sim->group_block[from_group] |= 1ULL << to_group;
}

void pd_sim_group_unblock(pd_sim_t *sim, uint32_t from_group, uint32_t to_group)
{
    PD_ASSERT(from_group < PD_SIM_GROUPS_MAX && to_group < PD_SIM_GROUPS_MAX);
    sim->group_block[from_group] &= ~(1ULL << to_group);
}

static void split(pd_sim_t *sim, const uint32_t *nodes, size_t n)
{
    for (uint32_t i = 0; i < sim->opts.nodes; i++)
        sim->nodes[i].group = 0;
    for (size_t i = 0; i < n; i++)
        pd_sim_group_set(sim, nodes[i], 1);
    pd_sim_group_unblock(sim, 0, 1);
    pd_sim_group_unblock(sim, 1, 0);
}

void pd_sim_partition(pd_sim_t *sim, const uint32_t *nodes, size_t n)
{
    split(sim, nodes, n);
    pd_sim_group_block(sim, 0, 1);
    pd_sim_group_block(sim, 1, 0);
}

void pd_sim_partition_oneway(pd_sim_t *sim, const uint32_t *nodes, size_t n)
{
    split(sim, nodes, n);
    pd_sim_group_block(sim, 1, 0);
}

/* ---- per-link blocks and clogs -------------------------------------------------------------- */

static int link_set_blocked(pd_sim_t *sim, uint32_t from, uint32_t to, uint8_t blocked)
{
    PD_SIM_CHECK_NODE(sim, from);
    PD_SIM_CHECK_NODE(sim, to);
    pd_sim_link_t *l;
    if (!blocked) {
        l = pd_sim_links_find(&sim->links, from, to);
        if (l)
            l->blocked = 0;
        return 0;
    }
    int rc = pd_sim_links_get(&sim->links, from, to, &l);
    if (rc == 0)
        l->blocked = 1;
    return rc;
}

int pd_sim_link_block(pd_sim_t *sim, uint32_t from, uint32_t to)
{
    return link_set_blocked(sim, from, to, 1);
}

int pd_sim_link_unblock(pd_sim_t *sim, uint32_t from, uint32_t to)
{
    return link_set_blocked(sim, from, to, 0);
}

int pd_sim_link_block_both(pd_sim_t *sim, uint32_t a, uint32_t b)
{
    int rc = link_set_blocked(sim, a, b, 1);
    return rc < 0 ? rc : link_set_blocked(sim, b, a, 1);
}

int pd_sim_link_clog(pd_sim_t *sim, uint32_t from, uint32_t to, uint64_t until_ms)
{
    PD_SIM_CHECK_NODE(sim, from);
    PD_SIM_CHECK_NODE(sim, to);
    pd_sim_link_t *l;
    int rc = pd_sim_links_get(&sim->links, from, to, &l);
    if (rc == 0)
        l->clog_until = until_ms;
    return rc;
}

void pd_sim_node_clog(pd_sim_t *sim, uint32_t node, uint64_t until_ms)
{
    PD_SIM_CHECK_NODE(sim, node);
    sim->nodes[node].clog_until = until_ms;
}

void pd_sim_heal(pd_sim_t *sim)
{
    for (uint32_t i = 0; i < sim->opts.nodes; i++) {
        sim->nodes[i].group = 0;
        sim->nodes[i].clog_until = 0;
    }
    memset(sim->group_block, 0, sizeof sim->group_block);
    pd_sim_links_free(&sim->links);
}
