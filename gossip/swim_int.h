/* Internal state of the SWIM core, shared by swim.c (entry points, outbox), swim_members.c
 * (member table and the alive/suspect/dead rules), swim_probe.c (probe cycle) and swim_sync.c
 * (gossip, push/pull). Not part of the public API. */
#ifndef PD_SWIM_INT_H
#define PD_SWIM_INT_H

#include "swim.h"
#include "swim_awareness.h"
#include "swim_map.h"
#include "swim_queue.h"
#include "swim_slab.h"
#include "swim_suspicion.h"

/* One tracked member. Compact (56 bytes plus the id, in the member slab) because a node tracks
 * every member of the cluster: at N=10,000 that is 10,000 records per node, and a simulation
 * holds N of those tables. A suspicion lives in s->suspects, not here: few members have one. */
typedef struct {
    uint64_t state_change_ms;
    uint8_t *meta; /* pd_malloc'd, NULL when empty */
    pd_swim_addr_t addr;
    uint32_t inc;
    uint32_t probe_idx; /* position in s->nodes */
    int32_t susp_idx;   /* position in s->suspects, -1 when not suspected */
    uint32_t reap_seq;  /* matches the reap FIFO entry that may forget it (0: none) */
    uint16_t meta_len;
    uint8_t id_len;
    uint8_t state;
    char id[]; /* id_len bytes + NUL */
} swim_member_t;

/* A suspected member and its suspicion timer. */
typedef struct {
    swim_member_t *m;
    pd_swim_suspicion_t susp;
} swim_suspect_t;

typedef enum { PROBE_IDLE, PROBE_DIRECT, PROBE_INDIRECT } swim_probe_phase_t;

typedef struct {
    uint8_t nack, nack_sent;
    uint32_t local_seq, orig_seq;
    pd_swim_addr_t requester;
    uint64_t nack_deadline_ms, expire_ms;
} swim_relay_t;

typedef struct {
    uint32_t seq;
    uint8_t join;
    uint64_t deadline_ms;
} swim_pp_t;

/* Dead/left members in the order they died: reaping pops expired entries from the front, so it
 * costs O(changes), not O(members), per tick. An entry whose seq no longer matches its member's
 * reap_seq is stale (the member came back) and is skipped. */
typedef struct {
    swim_member_t *m;
    uint32_t seq;
    uint64_t at_ms;
} swim_reap_t;

struct pd_swim {
    pd_swim_config_t cfg;
    pd_log_t log;
    pd_swim_delegate_t dg;
    swim_member_t *self;
    uint8_t leaving;

    pd_swim_slab_t member_slab; /* every swim_member_t */
    swim_member_t **nodes; /* probe order; self included */
    uint32_t n_nodes, cap_nodes, probe_pos;
    uint32_t n_state[4]; /* members per pd_swim_state_t */
    uint32_t n_meta;     /* members with metadata (whose meta must be freed one by one) */
    pd_swim_map_t by_id;
    swim_suspect_t *suspects; /* dense; a member's susp_idx points here */
    uint32_t n_suspects, cap_suspects;

    pd_swim_queue_t queue;
    pd_swim_awareness_t aw;
    uint32_t seq;

    struct {
        uint8_t phase;
        swim_member_t *target;
        uint32_t seq, expected_nacks, nacks;
        uint64_t direct_deadline_ms, end_ms;
    } probe;
    swim_member_t *probe_soon; /* a suspect to probe at the next slot (confirmation probe) */
    uint64_t next_probe_ms, next_gossip_ms, next_pushpull_ms, next_reap_ms;

    swim_relay_t relays[PD_SWIM_RELAY_MAX]; /* dense: [0, n_relays) in use */
    uint32_t n_relays;
    swim_reap_t *reap; /* ring */
    uint32_t reap_head, reap_n, reap_cap, reap_seq;
    swim_pp_t pp[PD_SWIM_PUSHPULL_CONCURRENT_MAX];
    uint32_t n_pp;
    uint64_t pp_window_ms;
    pd_swim_addr_t seeds[PD_SWIM_SEEDS_MAX]; /* retried while we know nobody else */
    uint32_t n_seeds;
    uint64_t next_join_ms;
    uint32_t pp_window_count;
    uint8_t catchup_done;  /* the early push/pull after our join is scheduled */
    uint8_t catchup_armed; /* the next push/pull is a catch-up */
    uint32_t catchup_live; /* live members when the last catch-up was planned */
    uint32_t catchup_count;
    uint64_t catchup_delay_ms;
    uint8_t quiet_merge;  /* merging a join answer: learn, do not re-broadcast */
    /* Encoded member list of our last push/pull, reused while the table is unchanged. */
    uint8_t *pp_nodes;
    size_t pp_nodes_len, pp_nodes_cap;
    uint32_t pp_nodes_count;
    uint64_t pp_nodes_gen, pp_nodes_ms, members_gen; /* members_gen: bumped on any member change */
    uint64_t members_sum;             /* sum of the live members' digest hashes (swim_sync.c) */
    uint64_t members_sum_checked_gen; /* test builds: members_gen when the sum was last verified */

    /* Outbox. Packet bytes and event metadata live in one arena (out_buf) that is reused turn
     * after turn; offsets are turned into pointers by pd_swim_ready. No allocation per packet. */
    pd_swim_packet_t *out_pkts;
    size_t *out_pkt_off;
    uint32_t n_out_pkts, cap_out_pkts;
    pd_swim_event_t *out_evs;
    size_t *out_ev_off; /* SIZE_MAX: no metadata */
    uint32_t n_out_evs, cap_out_evs;
    uint8_t *out_buf;
    size_t out_len, out_cap;
    uint8_t *scratch; /* compound assembly: 2 * packet_max + 64 */
    pd_swim_bytes_t piggy[PD_SWIM_COMPOUND_MAX];
    pd_swim_msg_t *rx; /* decoded datagram, reused */

    pd_swim_stats_t stats;
};

/* swim.c: outbox and sending */
int pd_swim__emit_packet(pd_swim_t *s, const pd_swim_addr_t *to, const char *node, const uint8_t *data,
                         size_t len, uint32_t flags);
void pd_swim__emit_event(pd_swim_t *s, int type, const swim_member_t *m);
/* Room for n more events in the outbox (a hint before merging a big state: no regrowing). */
int pd_swim__reserve_events(pd_swim_t *s, uint32_t n);
/* Encode and send parts (each an encoded message) as one datagram, piggybacking queued
 * broadcasts in the space left. */
int pd_swim__send_udp(pd_swim_t *s, const pd_swim_addr_t *to, const char *node,
                      const pd_swim_bytes_t *parts, uint32_t n);
/* Encode m and send it alone (udp: with piggyback) or as a stream message. */
int pd_swim__send_msg(pd_swim_t *s, const pd_swim_addr_t *to, const char *node, const pd_swim_msg_t *m,
                      uint32_t flags);
/* Encode m and queue it for dissemination under the key of its subject node. */
int pd_swim__queue_msg(pd_swim_t *s, const pd_swim_msg_t *m);
uint32_t pd_swim__live(const pd_swim_t *s); /* alive + suspect: the cluster-size estimate */
uint32_t pd_swim__retransmit_limit(const pd_swim_t *s); /* for the current size, with the floor */
uint64_t pd_swim__scaled(const pd_swim_t *s, uint64_t base_ms);
uint32_t pd_swim__next_seq(pd_swim_t *s);

/* swim_members.c: member table and state rules */
int pd_swim__members_init(pd_swim_t *s);
void pd_swim__members_free(pd_swim_t *s);
swim_member_t *pd_swim__find(const pd_swim_t *s, const uint8_t *id, size_t len);
/* Room for n members (capped at PD_SWIM_MEMBERS_MAX) without regrowing: a hint, before merging
 * a state bigger than our table. 0 or -ENOMEM. */
int pd_swim__members_reserve(pd_swim_t *s, uint32_t n);
void pd_swim__remove(pd_swim_t *s, swim_member_t *m);
void pd_swim__shuffle(pd_swim_t *s, pd_rng_t *rng);
void pd_swim__on_alive(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_msg_t *a);
/* The same, with id_hash = pd_swim_hash(a->node) already computed. */
void pd_swim__on_alive_h(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_msg_t *a, uint64_t id_hash);
void pd_swim__on_suspect(pd_swim_t *s, uint64_t now_ms, const pd_swim_msg_t *m);
void pd_swim__on_dead(pd_swim_t *s, uint64_t now_ms, const pd_swim_msg_t *m);
/* Suspicion deadlines due at now become dead declarations. */
void pd_swim__suspicions_tick(pd_swim_t *s, uint64_t now_ms);
uint64_t pd_swim__suspicions_deadline(const pd_swim_t *s);
void pd_swim__refute(pd_swim_t *s, uint32_t accused_inc);
void pd_swim__reap(pd_swim_t *s, uint64_t now_ms);
int pd_swim__queue_alive_self(pd_swim_t *s);

/* swim_probe.c */
void pd_swim__probe_tick(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng);
void pd_swim__on_ping(pd_swim_t *s, const pd_swim_addr_t *from, const pd_swim_msg_t *m, uint32_t flags);
void pd_swim__on_ping_req(pd_swim_t *s, uint64_t now_ms, const pd_swim_addr_t *from,
                          const pd_swim_msg_t *m);
void pd_swim__on_ack(pd_swim_t *s, uint64_t now_ms, const pd_swim_msg_t *m);
void pd_swim__on_nack(pd_swim_t *s, const pd_swim_msg_t *m);
uint64_t pd_swim__probe_deadline(const pd_swim_t *s);
/* A suspicion about m came from someone else: probe m ourselves soon if we are one of the few
 * members picked to confirm it. */
void pd_swim__probe_confirm(pd_swim_t *s, uint64_t now_ms, swim_member_t *m);

/* swim_sync.c */
void pd_swim__gossip_tick(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng);
void pd_swim__pushpull_tick(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng);
int pd_swim__pushpull_send(pd_swim_t *s, uint64_t now_ms, const pd_swim_addr_t *to, const char *node,
                           int join);
void pd_swim__on_pushpull(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *from,
                          const pd_swim_msg_t *m);
uint64_t pd_swim__pushpull_deadline(const pd_swim_t *s);
/* A peer's periodic digest: start a full push/pull with it if our states differ. */
void pd_swim__on_sync(pd_swim_t *s, uint64_t now_ms, const pd_swim_addr_t *from, const pd_swim_msg_t *m);
/* Around any change of a member's state, incarnation, address or metadata (and its creation and
 * removal): take its share out of the digest before, put it back after. */
void pd_swim__digest_out(pd_swim_t *s, const swim_member_t *m);
void pd_swim__digest_in(pd_swim_t *s, const swim_member_t *m);
/* Join push/pulls to the seeds, repeated (with jitter) until someone else is known. */
int pd_swim__join_tick(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng);
uint64_t pd_swim__pushpull_interval(uint64_t base_ms, uint32_t n);
/* Pick up to k random members other than self and `not`, matching the filter. */
uint32_t pd_swim__pick(pd_swim_t *s, pd_rng_t *rng, uint64_t now_ms, uint32_t k, const swim_member_t *not,
                       int include_dead, swim_member_t **out);

#endif
