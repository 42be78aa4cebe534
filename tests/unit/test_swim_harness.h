/* A tiny hand-driven network for SWIM unit tests: nodes "node<i>" at 10.0.<i/256>.<i%256>:7946,
 * instant delivery, per-link drops, crashed nodes, virtual time moved by the test. */
#ifndef TEST_SWIM_HARNESS_H
#define TEST_SWIM_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim.h"

#define H_MAX 16

typedef struct {
    pd_swim_t *sw[H_MAX];
    int n;
    uint64_t now;
    pd_rng_t rng;
    uint8_t down[H_MAX];
    uint8_t cut[H_MAX][H_MAX];       /* udp from -> to dropped */
    uint8_t cut_stream[H_MAX][H_MAX]; /* streams dropped */
    int ev[H_MAX][H_MAX];             /* last event node i saw about node j (0: none) */
    int ev_count[H_MAX][8];           /* events per type seen by node i */
    pd_swim_config_t cfg;
    uint64_t delivered;
} harness_t;

static inline pd_swim_addr_t h_addr(int i)
{
    pd_swim_addr_t a = {.family = 4, .ip = {10, 0, (uint8_t)(i / 256), (uint8_t)(i % 256)}, .port = 7946};
    return a;
}

static inline int h_index(const pd_swim_addr_t *a)
{
    return a->ip[2] * 256 + a->ip[3];
}

static inline void h_create(harness_t *h, int i, const pd_swim_delegate_t *dg)
{
    char id[16];
    snprintf(id, sizeof id, "node%d", i);
    pd_swim_addr_t a = h_addr(i);
    int rc = pd_swim_create(&h->cfg, id, &a, NULL, 0, dg, NULL, h->now, &h->sw[i]);
    if (rc)
        abort();
    h->down[i] = 0;
}

static inline void h_init(harness_t *h, int n, const pd_swim_config_t *cfg, uint64_t seed)
{
    memset(h, 0, sizeof *h);
    h->n = n;
    h->now = 1000;
    pd_rng_seed(&h->rng, seed);
    if (cfg)
        h->cfg = *cfg;
    else
        pd_swim_config_default(&h->cfg);
    for (int i = 0; i < n; i++)
        h_create(h, i, NULL);
}

static inline void h_free(harness_t *h)
{
    for (int i = 0; i < h->n; i++)
        pd_swim_destroy(h->sw[i]);
}

static inline int h_node_of(const char *id)
{
    return atoi(id + 4);
}

/* Deliver everything in flight (including what deliveries trigger) at the current time. */
static inline void h_deliver(harness_t *h)
{
    for (int round = 0; round < 1000; round++) {
        int moved = 0;
        for (int i = 0; i < h->n; i++) {
            if (h->down[i])
                continue;
            pd_swim_ready_t r;
            pd_swim_ready(h->sw[i], &r);
            for (size_t e = 0; e < r.n_events; e++) {
                int j = h_node_of(r.events[e].node);
                h->ev[i][j] = r.events[e].type;
                h->ev_count[i][r.events[e].type]++;
            }
            /* Copy the packets out: delivering may append to this node's outbox again. */
            size_t np = r.n_packets;
            pd_swim_packet_t *pk = malloc(np * sizeof *pk + 1);
            for (size_t p = 0; p < np; p++) {
                pk[p] = r.packets[p];
                pk[p].data = malloc(r.packets[p].len);
                memcpy(pk[p].data, r.packets[p].data, r.packets[p].len);
            }
            pd_swim_advance(h->sw[i]);
            pd_swim_addr_t src = h_addr(i);
            for (size_t p = 0; p < np; p++) {
                int j = h_index(&pk[p].addr);
                int stream = pk[p].flags & PD_SWIM_PKT_STREAM;
                int blocked = stream ? h->cut_stream[i][j] : h->cut[i][j];
                if (j < h->n && !h->down[j] && !blocked) {
                    pd_swim_recv(h->sw[j], h->now, &h->rng, &src, pk[p].data, pk[p].len, pk[p].flags);
                    h->delivered++;
                }
                free(pk[p].data);
                moved = 1;
            }
            free(pk);
        }
        if (!moved)
            return;
    }
}

/* Advance virtual time to t, ticking each node at its deadlines. */
static inline void h_run_until(harness_t *h, uint64_t t)
{
    h_deliver(h);
    for (;;) {
        uint64_t next = UINT64_MAX;
        for (int i = 0; i < h->n; i++) {
            if (!h->down[i]) {
                uint64_t d = pd_swim_next_deadline_ms(h->sw[i]);
                next = d < next ? d : next;
            }
        }
        if (next > t) {
            h->now = t;
            return;
        }
        h->now = next > h->now ? next : h->now;
        for (int i = 0; i < h->n; i++) {
            if (!h->down[i] && pd_swim_next_deadline_ms(h->sw[i]) <= h->now)
                pd_swim_tick(h->sw[i], h->now, &h->rng);
        }
        h_deliver(h);
    }
}

/* Everyone joins through node 0. */
static inline void h_join_all(harness_t *h)
{
    pd_swim_addr_t seed = h_addr(0);
    for (int i = 1; i < h->n; i++) {
        pd_swim_join(h->sw[i], h->now, &h->rng, &seed, 1);
        h_deliver(h);
    }
}

static inline int h_state(harness_t *h, int i, int j)
{
    char id[16];
    snprintf(id, sizeof id, "node%d", j);
    pd_swim_member_info_t info;
    if (pd_swim_member(h->sw[i], id, &info) != 0)
        return -1;
    return info.state;
}

static inline void h_cut_both(harness_t *h, int a, int b, int on)
{
    h->cut[a][b] = h->cut[b][a] = (uint8_t)on;
}

#endif
