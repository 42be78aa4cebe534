/* Runs pd_swim cores as simulated nodes (tests/sim/lib/sim.h), addressed and framed as in
 * tests/sim/lib/sim_gossip.h. The world records membership events so tests can check safety (no
 * live node declared dead) and liveness (detection and convergence times), and counts the bytes
 * sent; the scale benchmark (tests/bench/gossip_sim) runs the same nodes. */
#ifndef TEST_SWIM_NODE_H
#define TEST_SWIM_NODE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_alloc.h"
#include "sim.h"
#include "sim_gossip.h"
#include "swim.h"
#include "swim_suspicion.h"

typedef struct {
    pd_swim_config_t cfg;
    uint32_t n;
    uint32_t seed_node;   /* everyone joins through this one, unless join_seeds > 1 */
    uint32_t join_seeds;  /* > 1: nodes below it join through seed_node, the rest through i % join_seeds */
    uint8_t no_join;      /* nodes boot alone; the caller joins them (the staged scale benchmark) */
    uint8_t *crashed;     /* nodes the test crashed (dead is a right answer for them) */
    uint64_t false_dead;  /* DEAD events about nodes that were not crashed */
    uint64_t left_seen, dead_seen;
    uint32_t watch;       /* a node whose failure we time */
    uint64_t watch_first_suspect_ms, watch_first_dead_ms, watch_last_dead_ms;
    uint32_t watch_dead_count; /* observers that declared `watch` dead */
    uint64_t udp_bytes, stream_bytes, udp_pkts, stream_pkts;
    uint8_t *buf; /* framing scratch shared by every node (one thread) */
    size_t cap;
    pd_sim_t *sim;
} sw_world_t;

typedef struct {
    pd_sim_t *sim;
    uint32_t idx;
    pd_swim_t *sw;
    pd_rng_t rng;
    sw_world_t *w;
} sw_node_t;

static inline void sw_flush(sw_node_t *nd)
{
    pd_swim_ready_t r;
    pd_swim_ready(nd->sw, &r);
    sw_world_t *w = nd->w;
    uint64_t now = pd_sim_now(nd->sim);
    for (size_t i = 0; i < r.n_events; i++) {
        const pd_swim_event_t *e = &r.events[i];
        if (e->type == PD_SWIM_EV_JOIN || e->type == PD_SWIM_EV_UPDATE || e->type == PD_SWIM_EV_ALIVE_AGAIN)
            continue; /* nothing to record (a join answer brings one join event per member) */
        uint32_t subj = pd_simg_subject(e->node);
        if (e->type == PD_SWIM_EV_DEAD) {
            w->dead_seen++;
            if (!w->crashed[subj])
                w->false_dead++;
        }
        if (e->type == PD_SWIM_EV_LEFT)
            w->left_seen++;
        if (subj == w->watch && e->type == PD_SWIM_EV_SUSPECT && !w->watch_first_suspect_ms)
            w->watch_first_suspect_ms = now;
        if (subj == w->watch && e->type == PD_SWIM_EV_DEAD) {
            if (!w->watch_first_dead_ms)
                w->watch_first_dead_ms = now;
            w->watch_last_dead_ms = now;
            w->watch_dead_count++;
        }
    }
    for (size_t i = 0; i < r.n_packets; i++) {
        const pd_swim_packet_t *p = &r.packets[i];
        int stream = (p->flags & PD_SWIM_PKT_STREAM) != 0;
        size_t sent = pd_simg_send(nd->sim, nd->idx, w->n, &p->addr, (uint8_t)p->flags, p->data, p->len,
                                   &w->buf, &w->cap);
        if (sent && stream)
            w->stream_bytes += p->len, w->stream_pkts++;
        else if (sent)
            w->udp_bytes += p->len, w->udp_pkts++;
    }
    pd_swim_advance(nd->sw);
}

static inline int sw_boot(pd_sim_t *sim, uint32_t node, uint64_t seed, pd_sim_disk_t *disk, void *ctx,
                          void **state_out)
{
    (void)disk;
    sw_world_t *w = ctx;
    sw_node_t *nd = pd_calloc(1, sizeof *nd);
    if (!nd)
        return -1;
    nd->sim = sim, nd->idx = node, nd->w = w;
    pd_rng_seed(&nd->rng, seed);
    char id[16];
    snprintf(id, sizeof id, "n%u", node);
    pd_swim_addr_t a = pd_simg_addr(node);
    int rc = pd_swim_create(&w->cfg, id, &a, NULL, 0, NULL, NULL, pd_sim_now(sim), &nd->sw);
    if (rc) {
        pd_free(nd);
        return rc;
    }
    if (node != w->seed_node && !w->no_join) {
        uint32_t via = w->join_seeds > 1 && node >= w->join_seeds ? node % w->join_seeds : w->seed_node;
        pd_swim_addr_t seedaddr = pd_simg_addr(via);
        pd_swim_join(nd->sw, pd_sim_now(sim), &nd->rng, &seedaddr, 1);
    }
    sw_flush(nd);
    *state_out = nd;
    return 0;
}

static inline void sw_on_message(void *st, uint64_t now_ms, uint32_t from, const uint8_t *data, size_t len)
{
    sw_node_t *nd = st;
    if (len < 1)
        return;
    pd_swim_addr_t fa = pd_simg_addr(from);
    pd_swim_recv(nd->sw, now_ms, &nd->rng, &fa, data + 1, len - 1, data[0]);
    sw_flush(nd);
}

static inline void sw_on_timer(void *st, uint64_t now_ms)
{
    sw_node_t *nd = st;
    pd_swim_tick(nd->sw, now_ms, &nd->rng);
    sw_flush(nd);
}

static inline uint64_t sw_next_deadline(void *st)
{
    return pd_swim_next_deadline_ms(((sw_node_t *)st)->sw);
}

static inline void sw_destroy(void *st)
{
    sw_node_t *nd = st;
    pd_swim_destroy(nd->sw);
    pd_free(nd);
}

static const pd_sim_node_ops_t sw_ops = {sw_boot, sw_on_message, sw_on_timer, sw_next_deadline, sw_destroy};

static inline pd_swim_t *sw_core(pd_sim_t *sim, uint32_t i)
{
    sw_node_t *nd = pd_sim_node_state(sim, i);
    return nd ? nd->sw : NULL;
}

/* Every up node sees exactly the up nodes as alive (and nothing suspect). */
static inline int sw_converged(pd_sim_t *sim, uint32_t n)
{
    uint32_t up = 0;
    for (uint32_t i = 0; i < n; i++)
        up += pd_sim_node_up(sim, i);
    for (uint32_t i = 0; i < n; i++) {
        pd_swim_t *sw = sw_core(sim, i);
        if (sw && (pd_swim_count(sw, PD_SWIM_ALIVE) != up || pd_swim_count(sw, PD_SWIM_SUSPECT) != 0))
            return 0;
    }
    return 1;
}

/* Run in 100 ms steps until converged or max_ms; returns the time converged or 0. */
static inline uint64_t sw_run_until_converged(pd_sim_t *sim, uint32_t n, uint64_t max_ms)
{
    while (pd_sim_now(sim) < max_ms) {
        pd_sim_run_until(sim, pd_sim_now(sim) + 100);
        if (sw_converged(sim, n))
            return pd_sim_now(sim);
    }
    return 0;
}

static inline pd_sim_t *sw_world_new(sw_world_t *w, uint32_t n, uint64_t seed, const pd_sim_net_opts_t *net)
{
    memset(w, 0, sizeof *w);
    pd_swim_config_default(&w->cfg);
    w->n = n;
    w->crashed = calloc(n, 1);
    w->watch = UINT32_MAX;
    pd_sim_opts_t o = pd_sim_opts_default(&sw_ops, n, seed);
    o.ctx = w;
    o.msg_max = PD_SWIM_PUSHPULL_MAX + 16; /* a full push/pull state is one message */
    if (net)
        o.net = *net;
    pd_sim_t *sim = NULL;
    if (pd_sim_new(&o, &sim) != 0)
        abort();
    w->sim = sim;
    return sim;
}

static inline void sw_world_free(sw_world_t *w)
{
    pd_sim_destroy(w->sim);
    free(w->crashed);
    pd_free(w->buf);
}

#endif
