/* Sans-IO SWIM + Lifeguard membership core.
 *
 * The core never reads a clock, opens a socket or sleeps. Every input is a call carrying
 * (now_ms, rng, event): pd_swim_recv (a packet or stream message arrived), pd_swim_tick (time
 * passed), pd_swim_join / pd_swim_leave / pd_swim_set_meta / pd_swim_broadcast (local requests).
 * Each call appends to the outbox: packets to send, membership events, and the next deadline at
 * which pd_swim_tick must be called. The shell drains the outbox with pd_swim_ready, sends and
 * applies it, then calls pd_swim_advance; everything in the outbox is borrowed until then.
 *
 * Protocol (memberlist/Lifeguard): randomized round-robin probes (ping, then ping-req through
 * `indirect_checks` members with nacks, plus an optional TCP-fallback ping sent as a stream),
 * awareness-scaled probe interval/timeout, suspicion timeouts that shrink with independent
 * confirmations, buddy system, incarnation refutation, dissemination piggybacked on every UDP
 * packet (and periodic gossip), push/pull full-state sync over streams, graceful leave. */
#ifndef PD_SWIM_H
#define PD_SWIM_H

#include <stddef.h>
#include <stdint.h>

#include "pd_log.h"
#include "pd_rng.h"
#include "swim_wire.h"

typedef struct pd_swim pd_swim_t;

typedef struct {
    uint32_t probe_interval_ms;          /* 1000: one probe per interval (scaled by awareness) */
    uint32_t probe_timeout_ms;           /* 500: direct ack wait before going indirect (scaled) */
    uint32_t indirect_checks;            /* 3: ping-req relays per failed direct probe */
    uint32_t retransmit_mult;            /* 4: limit = mult * ceil(log10(N + 1)) */
    uint32_t retransmit_min;             /* 12: floor of that limit, so news from the first
                                          * seconds of a cluster (N tiny) still travels far */
    uint32_t suspicion_mult;             /* 4: min suspicion = mult * max(1, log10 N) * interval */
    uint32_t suspicion_max_timeout_mult; /* 6: max suspicion = min * this */
    uint32_t suspicion_confirmations;    /* 3: confirmations that bring the timeout to min */
    uint32_t awareness_max;              /* 8: awareness score in 0..max-1 */
    uint32_t gossip_interval_ms;         /* 200 */
    uint32_t gossip_nodes;               /* 3 */
    uint32_t gossip_to_dead_ms;          /* 30000: keep telling dead nodes, so they can refute */
    uint32_t pushpull_interval_ms;       /* 30000, times ceil(log2(N) - log2(32)) + 1 above 32;
                                          * plus one catch-up push/pull with a random member 1-3
                                          * probe intervals after our join succeeds. A periodic
                                          * one starts as a digest over UDP (sync); the full
                                          * exchange follows only if the digests differ */
    uint32_t pushpull_timeout_ms;        /* 10000: an unanswered push/pull is forgotten */
    uint32_t pushpull_max_inflight;      /* 16 outgoing (<= PD_SWIM_PUSHPULL_CONCURRENT_MAX) */
    uint32_t pushpull_accept_per_s;      /* 128 incoming requests answered per second */
    uint32_t dead_reap_ms;               /* 30000: dead/left members are forgotten after this */
    uint32_t packet_max;                 /* 1400: UDP compound budget (before the crypto frame) */
    uint32_t queue_max;                  /* PD_SWIM_QUEUE_MAX */
    uint8_t tcp_fallback;                /* 1: also ping over a stream when direct probe fails */
} pd_swim_config_t;

/* memberlist's LAN numbers (the values in the comments above). */
void pd_swim_config_default(pd_swim_config_t *cfg);
/* What peerd runs: the defaults with faster failure detection (see swim.c for the reasons). */
void pd_swim_config_lan(pd_swim_config_t *cfg);
/* 0, or -PD_EUSAGE (a zero interval, a cap out of range). */
int pd_swim_config_check(const pd_swim_config_t *cfg);

/* Delegate: how the embedding code (the endpoint table) rides on the membership protocol. Every
 * callback is optional (NULL) and is called synchronously from inside a pd_swim_* call; it must
 * not call back into the core except pd_swim_broadcast. */
typedef struct {
    void *ctx;
    /* Local user state for a push/pull (join: the sync is part of a join). Set *data and *len to a
     * buffer the delegate owns, valid until the next call; return 0, or <0 to send none. */
    int (*local_state)(void *ctx, int join, const uint8_t **data, size_t *len);
    /* A remote node's user state from a push/pull. */
    void (*merge_remote_state)(void *ctx, const uint8_t *data, size_t len, int join);
    /* A user broadcast (queued by pd_swim_broadcast on some node) arrived. It is not re-gossiped
     * by the core: the delegate re-queues it if its own rules (e.g. LWW) say it is news. */
    void (*notify_msg)(void *ctx, const uint8_t *data, size_t len);
    /* A node was declared dead or left (left=1): drop the entries it owns. */
    void (*notify_gone)(void *ctx, const char *node_id, int left);
    /* A digest of what local_state would send, equal on two nodes whose states are equal
     * whatever order they learnt things in. Without it (but with local_state) every periodic
     * push/pull is a full one. */
    uint64_t (*state_digest)(void *ctx);
} pd_swim_delegate_t;

/* ---- outbox ---- */
enum {
    PD_SWIM_PKT_STREAM = 1u << 0, /* send over the reliable stream (TCP), not a datagram */
};

typedef struct {
    pd_swim_addr_t addr;
    char node[PD_SWIM_ID_MAX + 1]; /* destination id when known, else "" */
    uint8_t *data;
    size_t len;
    uint32_t flags;
} pd_swim_packet_t;

typedef enum {
    PD_SWIM_EV_JOIN = 1,    /* a node we did not know (or had forgotten) is alive */
    PD_SWIM_EV_UPDATE,      /* an alive node changed its metadata or address */
    PD_SWIM_EV_SUSPECT,     /* a node is suspected of having failed */
    PD_SWIM_EV_DEAD,        /* a node was declared failed */
    PD_SWIM_EV_LEFT,        /* a node left gracefully */
    PD_SWIM_EV_ALIVE_AGAIN, /* a suspect refuted, or a dead/left node rejoined */
} pd_swim_event_type_t;

/* Metadata rides only on JOIN, UPDATE and ALIVE_AGAIN (where it may be new); it is a copy of
 * exactly meta_len bytes in the outbox, borrowed until pd_swim_advance. Other events have
 * meta_len 0 and meta NULL (pd_swim_member has the current value). */
typedef struct {
    uint8_t type; /* pd_swim_event_type_t */
    char node[PD_SWIM_ID_MAX + 1];
    pd_swim_addr_t addr;
    uint32_t inc;
    uint16_t meta_len;
    const uint8_t *meta;
} pd_swim_event_t;

typedef struct {
    const pd_swim_packet_t *packets;
    size_t n_packets;
    const pd_swim_event_t *events;
    size_t n_events;
    uint64_t next_deadline_ms; /* call pd_swim_tick at (or after) this time */
} pd_swim_ready_t;

/* ---- lifecycle and inputs ---- */
/* id: printable, 1..PD_SWIM_ID_MAX bytes. log/delegate may be NULL. */
int pd_swim_create(const pd_swim_config_t *cfg, const char *id, const pd_swim_addr_t *addr,
                   const uint8_t *meta, size_t meta_len, const pd_swim_delegate_t *delegate,
                   const pd_log_t *log, uint64_t now_ms, pd_swim_t **out);
void pd_swim_destroy(pd_swim_t *s);

/* Push/pull (join) with each seed address, as stream requests. */
int pd_swim_join(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *seeds, size_t n);
/* A datagram (flags 0) or a stream message (PD_SWIM_PKT_STREAM) from `from`. Returns 0 or the
 * decode error (also counted in stats); a bad packet never changes state. */
int pd_swim_recv(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *from,
                 const uint8_t *data, size_t len, uint32_t flags);
/* Run everything due at now_ms. */
int pd_swim_tick(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng);
/* Broadcast "left" for ourselves and stop probing; keep ticking until pd_swim_pending() is 0
 * (or a timeout) so the message spreads, then destroy. */
int pd_swim_leave(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng);
/* New metadata: bumps our incarnation and broadcasts alive. */
int pd_swim_set_meta(pd_swim_t *s, uint64_t now_ms, const uint8_t *meta, size_t len);
/* Queue a user broadcast; a later one with the same key supersedes it. */
int pd_swim_broadcast(pd_swim_t *s, const void *key, size_t key_len, const uint8_t *payload,
                      size_t len);

void pd_swim_ready(pd_swim_t *s, pd_swim_ready_t *out);
void pd_swim_advance(pd_swim_t *s);
uint64_t pd_swim_next_deadline_ms(const pd_swim_t *s);

/* ---- queries ---- */
typedef struct {
    char node[PD_SWIM_ID_MAX + 1];
    pd_swim_addr_t addr;
    uint32_t inc;
    uint8_t state; /* pd_swim_state_t */
    uint16_t meta_len;
    const uint8_t *meta; /* borrowed until the next call into the core */
    uint64_t state_change_ms;
} pd_swim_member_info_t;

int pd_swim_member(const pd_swim_t *s, const char *id, pd_swim_member_info_t *out);
/* Members in a given state (-1: all tracked, including self). */
uint32_t pd_swim_count(const pd_swim_t *s, int state);
/* Iterate: i in [0, pd_swim_count(s, -1)). */
int pd_swim_member_at(const pd_swim_t *s, uint32_t i, pd_swim_member_info_t *out);
int pd_swim_awareness(const pd_swim_t *s);
uint32_t pd_swim_incarnation(const pd_swim_t *s);
uint32_t pd_swim_pending(const pd_swim_t *s); /* queued broadcasts */

typedef struct {
    uint64_t rx_packets, rx_decode_errors, rx_unknown_type, rx_bad_version, rx_ignored;
    uint64_t probes, probe_acks, probe_failures, indirect_sent, fallback_sent, nacks_sent,
        nacks_recv, relays_dropped;
    uint64_t refutes, suspects_raised, deads_declared;
    uint64_t gossip_sent, pushpull_sent, pushpull_recv, pushpull_refused;
    uint64_t syncs_sent, syncs_differed; /* periodic digests, and those that found a difference */
    uint64_t queue_evicted, outbox_dropped, members_full;
} pd_swim_stats_t;

const pd_swim_stats_t *pd_swim_stats(const pd_swim_t *s);

#endif
