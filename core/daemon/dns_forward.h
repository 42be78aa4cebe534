/* The DNS forwarder: queries the answerer says to FORWARD go to upstream resolvers through c-ares
 * (ares_send of the client's bytes as they are), on the daemon's libuv loop (c-ares sockets under
 * uv_poll, one timer). The client's query id is restored in the reply (c-ares picks its own).
 *
 * Bounded: at most inflight_max queries upstream (beyond: SERVFAIL at once), a total deadline per
 * query (SERVFAIL when no upstream answered in time; c-ares is set to give up at about the same
 * time), and a fixed-size cache of replies (dns_cache.h) consulted before anything is sent.
 *
 * Upstreams: the configured list, else the nameservers of /etc/resolv.conf; our own listening
 * address is never one of them (a resolv.conf pointing at 127.0.0.11 would loop). */
#ifndef PD_DNS_FORWARD_H
#define PD_DNS_FORWARD_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "dns_cache.h"
#include "pd_log.h"

enum {
    PD_DNS_FWD_INFLIGHT_DEFAULT = 100, /* as Docker's resolver */
    PD_DNS_FWD_INFLIGHT_MAX = 4096,
    PD_DNS_FWD_TIMEOUT_MS_DEFAULT = 2000,
    PD_DNS_FWD_UPSTREAMS_MAX = 8,
    PD_DNS_FWD_TRY_MS_MIN = 50, /* shortest c-ares per-attempt timeout */
};

/* Who asked: handed back with the reply. */
typedef struct {
    uint8_t tcp;                  /* over TCP: conn/gen name the server's connection slot */
    uint32_t conn, gen;
    struct sockaddr_storage addr; /* over UDP: where the reply goes */
} pd_dns_client_t;

/* The reply (client's id restored; for a UDP client no longer than its UDP size, else cut to a
 * TC reply) or a SERVFAIL made here. reply is borrowed for the call. */
typedef void (*pd_dns_fwd_reply_fn)(void *ctx, const pd_dns_client_t *client, const uint8_t *reply,
                                    size_t len);

typedef struct {
    const char *const *upstreams; /* "IP[:PORT]" (port 53 when absent); none: /etc/resolv.conf */
    size_t n_upstreams;
    const char *self_host;        /* our listener, never used as an upstream */
    uint16_t self_port;
    uint32_t timeout_ms;          /* total per query; 0: default */
    uint32_t inflight_max;        /* 0: default */
    uint32_t cache_entries;       /* 0: default */
    const pd_log_t *log;
    pd_dns_fwd_reply_fn on_reply;
    void *ctx;
} pd_dns_fwd_config_t;

typedef struct {
    uint64_t forwarded;     /* sent upstream */
    uint64_t replies;       /* upstream answers relayed */
    uint64_t cache_hits;
    uint64_t servfail;      /* SERVFAIL made here (timeout, no upstream, refused, full) */
    uint64_t timeouts;      /* queries that hit the total deadline */
    uint64_t inflight_full; /* queries refused because inflight_max were upstream */
    uint64_t truncated;     /* replies cut to TC for a UDP client */
    uint32_t inflight;
    uint32_t upstreams;
} pd_dns_fwd_stats_t;

typedef struct pd_dns_fwd pd_dns_fwd_t;

/* 0, or a negative code with err saying why (c-ares init, a bad upstream). */
int pd_dns_fwd_start(uv_loop_t *loop, const pd_dns_fwd_config_t *cfg, pd_dns_fwd_t **out, char *err,
                     size_t errlen);
/* A query the answerer said to FORWARD. Returns 1 with a reply for the client in out (a cache
 * hit, or SERVFAIL: too many in flight, no upstream), 0 when it went upstream (on_reply follows,
 * exactly once, unless the forwarder is stopped first), or -PD_EMALFORMED (not a query: drop). */
int pd_dns_fwd_query(pd_dns_fwd_t *f, const uint8_t *query, size_t len, const pd_dns_client_t *client,
                     uint8_t *out, size_t out_cap, size_t *out_len);
/* Cancel every query (no reply callbacks) and close the handles. */
void pd_dns_fwd_stop(pd_dns_fwd_t *f);
/* After the loop ran the close callbacks (or after a failed start). */
void pd_dns_fwd_free(pd_dns_fwd_t *f);

const pd_dns_fwd_stats_t *pd_dns_fwd_stats(const pd_dns_fwd_t *f);
const pd_dns_cache_stats_t *pd_dns_fwd_cache_stats(const pd_dns_fwd_t *f);
/* The upstream list as "IP:PORT,..." (for logs). */
void pd_dns_fwd_upstreams(const pd_dns_fwd_t *f, char *out, size_t cap);

/* A reply to q with no records: rcode and extra flags (TC), echoing an OPT when q had one.
 * Returns its length, or 0 when cap is too small. Pure; shared with the server. */
size_t pd_dns_fwd_make_empty(const uint8_t *query, size_t len, uint8_t rcode, uint16_t flags,
                             uint8_t *out, size_t cap);

#endif
