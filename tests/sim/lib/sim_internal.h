/* Private to tests/sim/lib: the simulator's structs and the functions its files share. */
#ifndef PD_SIM_INTERNAL_H
#define PD_SIM_INTERNAL_H

#include "pd_assert.h"
#include "sim.h"

#define PD_SIM_NO_POS UINT32_MAX
/* A node index out of range is a programmer error. */
#define PD_SIM_CHECK_NODE(sim, n) PD_ASSERT((n) < (sim)->opts.nodes)

typedef enum { PD_SIM_EV_MSG = 1, PD_SIM_EV_CALL = 2 } pd_sim_ev_kind_t;

/* One pending message or scheduled call; messages carry their bytes inline. */
typedef struct {
    uint8_t kind;
    uint32_t from, to;
    uint32_t to_epoch;       /* the destination's crash epoch when sent */
    uint32_t len;
    pd_sim_call_fn fn;
    void *arg;
    uint8_t data[];
} pd_sim_event_t;

/* A heap slot: the key inline so sifting never chases the pointer. */
typedef struct {
    uint64_t at;
    uint64_t seq;
    pd_sim_event_t *ev;
} pd_sim_slot_t;

/* Binary min-heap of events keyed by (at, seq). */
typedef struct {
    pd_sim_slot_t *v;
    size_t len, cap;
} pd_sim_evheap_t;

/* Indexed min-heap of node timers keyed by (timer_at, timer_seq), positions kept in the nodes. */
typedef struct {
    uint32_t *v;
    uint32_t len;
} pd_sim_timerheap_t;

typedef struct {
    void *state;            /* NULL while down */
    pd_sim_disk_t *disk;
    uint64_t timer_at;      /* PD_SIM_NEVER when unarmed */
    uint64_t timer_seq;
    uint64_t clog_until;    /* node-wide clog */
    uint32_t timer_pos;     /* index in the timer heap or PD_SIM_NO_POS */
    uint32_t epoch;         /* bumped by every crash */
    uint32_t boots;
    uint8_t up;
    uint8_t group;
} pd_sim_node_t;

/* Per-link faults: an open-addressing table keyed by (from, to). */
typedef struct {
    uint64_t key;
    uint64_t clog_until;
    uint8_t used;
    uint8_t blocked;
} pd_sim_link_t;

typedef struct {
    pd_sim_link_t *v;
    size_t len, cap; /* cap is 0 or a power of two */
} pd_sim_links_t;

struct pd_sim {
    pd_sim_opts_t opts;
    pd_clock_sim_t clock;
    pd_rng_t net_rng;       /* delays, loss, duplicates */
    pd_rng_t disk_rng;      /* crash outcomes */
    pd_rng_t user_rng;      /* pd_sim_rng */
    pd_rng_t buggify_rng;
    uint64_t seq;
    uint64_t trace;
    pd_sim_node_t *nodes;
    pd_sim_evheap_t events;
    pd_sim_timerheap_t timers;
    pd_sim_links_t links;
    uint64_t group_block[PD_SIM_GROUPS_MAX]; /* bit b of [a]: a -> b blocked */
    uint32_t in_node;       /* node whose callback is running, or PD_SIM_NO_POS */
    bool in_step;           /* an event is running: the loop and destroy are off limits */
    pd_sim_stats_t stats;
};

/* sim_queue.c */
int pd_sim_evheap_push(pd_sim_evheap_t *h, uint64_t at, uint64_t seq, pd_sim_event_t *ev);
pd_sim_slot_t pd_sim_evheap_pop(pd_sim_evheap_t *h);
void pd_sim_evheap_free(pd_sim_evheap_t *h);
int pd_sim_timerheap_init(pd_sim_timerheap_t *h, uint32_t nodes);
void pd_sim_timerheap_free(pd_sim_timerheap_t *h);
/* Insert, move or (at == PD_SIM_NEVER) remove node's timer. */
void pd_sim_timerheap_set(pd_sim_timerheap_t *h, pd_sim_node_t *nodes, uint32_t node, uint64_t at,
                          uint64_t seq);

/* sim_links.c */
pd_sim_link_t *pd_sim_links_find(const pd_sim_links_t *t, uint32_t from, uint32_t to);
int pd_sim_links_get(pd_sim_links_t *t, uint32_t from, uint32_t to, pd_sim_link_t **out);
void pd_sim_links_free(pd_sim_links_t *t);

/* sim_net.c */
bool pd_sim_net_blocked(const pd_sim_t *sim, uint32_t from, uint32_t to);

/* sim_node.c */
void pd_sim_node_deliver(pd_sim_t *sim, pd_sim_event_t *ev);
void pd_sim_node_fire_timer(pd_sim_t *sim, uint32_t node);
void pd_sim_node_teardown(pd_sim_t *sim, uint32_t node); /* destroy state, no disk crash */

/* sim_run.c */
void pd_sim_trace_mix(pd_sim_t *sim, const void *p, size_t n);
void pd_sim_trace_u64(pd_sim_t *sim, uint64_t v);

#endif
