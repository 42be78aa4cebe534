/* The DNS server shell (libuv): UDP and TCP listeners on one address (127.0.0.11:53 by default)
 * answering through pd_dns_answer from a name table the feed keeps in step with gossip; FORWARD
 * verdicts go to the c-ares forwarder.
 *
 * Hot path without allocation: UDP goes through udp_batch.h (a nonblocking socket under uv_poll,
 * up to 64 queries per recvmmsg answered into preallocated slots and sent back with one sendmmsg;
 * replies the socket cannot take now wait for writability, reading pauses meanwhile); TCP connections are a fixed pool of slots (bounded, idle ones closed) with their buffers
 * allocated once per slot, one query at a time per connection (pipelined queries wait in the read
 * buffer), 2-byte length framing. */
#ifndef PD_DNS_SERVER_H
#define PD_DNS_SERVER_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "dns_feed.h"
#include "gossip_table.h"
#include "pd_log.h"

enum {
    PD_DNS_TCP_CONNS_MAX = 64,
    PD_DNS_TCP_IDLE_MS = 10000,
    PD_DNS_TCP_QUERY_MAX = 4096, /* a longer TCP query frame closes the connection */
    PD_DNS_TCP_SWEEP_MS = 1000,
};

typedef struct {
    const char *listen;            /* "IP[:PORT]", port 53 when absent */
    const char *const *upstreams;  /* "IP[:PORT]"; none: /etc/resolv.conf */
    size_t n_upstreams;
    uint32_t ttl_s;                /* our answers' TTL */
    uint32_t timeout_ms;           /* forwarded queries: total deadline */
    pd_gtable_t *gtable;           /* endpoints to serve (NULL: none) */
    const pd_log_t *log;
} pd_dns_server_config_t;

typedef struct {
    uint64_t queries, udp_queries, tcp_queries;
    uint64_t answered;  /* by us, from the table */
    uint64_t nxdomain, servfail; /* replies sent with that rcode (ours and forwarded) */
    uint64_t dropped;   /* not a query, or a reply we could not send */
    uint64_t udp_batches;    /* recvmmsg calls that returned datagrams */
    uint64_t udp_send_waits; /* times the socket's send buffer was full (replies then wait) */
    uint64_t udp_errors;     /* socket errors while polling or receiving */
    uint64_t tcp_conns, tcp_refused, tcp_idle_closed;
    uint32_t tcp_open;
} pd_dns_server_stats_t;

typedef struct pd_dns_server pd_dns_server_t;

/* Binds and starts serving. On failure err names the address and *out is still set (handles may
 * be closing): call pd_dns_server_free after the loop has run. */
int pd_dns_server_start(uv_loop_t *loop, const pd_dns_server_config_t *cfg, pd_dns_server_t **out,
                        char *err, size_t errlen);
/* Stop answering, detach from the endpoint table (which must still exist), close every handle. */
void pd_dns_server_stop(pd_dns_server_t *s);
/* After the loop ran the close callbacks. */
void pd_dns_server_free(pd_dns_server_t *s);

pd_dns_feed_t *pd_dns_server_feed(pd_dns_server_t *s);
pd_dns_table_t *pd_dns_server_table(pd_dns_server_t *s);
/* Every counter (server, forwarder, cache, feed) as one flat msgpack map. */
void pd_dns_server_pack_stats(const pd_dns_server_t *s, msgpack_packer *pk);

#endif
