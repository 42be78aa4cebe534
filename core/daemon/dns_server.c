/* DNS over UDP and TCP on the daemon's loop; see dns_server.h. */
#include "dns_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "dns_answer.h"
#include "dns_classify.h"
#include "dns_forward.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "pd_rng.h"
#include "udp_batch.h"

_Static_assert(PD_UDP_DGRAM_MAX >= PD_DNS_UDP_MAX, "a UDP reply slot holds the largest UDP answer");
_Static_assert(PD_UDP_BATCH <= 64, "udp_prefetch keeps a 64-bit mask of the batch");

enum { TCP_RX_CAP = 2 + PD_DNS_TCP_QUERY_MAX, TCP_TX_CAP = 2 + PD_DNS_MSG_MAX };

typedef struct {
    uv_tcp_t tcp;
    uv_write_t wreq;
    pd_dns_server_t *s;
    uint32_t idx, gen;
    uint8_t used, closing, busy, reading;
    uint64_t last_ms;
    size_t rx_len;
    uint8_t rx[TCP_RX_CAP];
    uint8_t *tx; /* TCP_TX_CAP, allocated the first time the slot is used */
} conn_t;

struct pd_dns_server {
    uv_loop_t *loop;
    pd_log_t log;
    pd_dns_table_t *table;
    pd_dns_feed_t *feed;
    pd_dns_fwd_t *fwd;
    pd_dns_config_t acfg;
    pd_rng_t rng;
    pd_udp_batch_t *ub; /* the UDP socket and its slots */
    uv_poll_t udp_poll;
    int udp_events;     /* what udp_poll waits for */
    uv_tcp_t tcp;
    uv_timer_t sweep;
    int udp_open, tcp_open, sweep_open, stopping;
    conn_t *conns;
    pd_dns_server_stats_t st;
    char listen[PD_ADDR_MAX + 8];
};

pd_dns_feed_t *pd_dns_server_feed(pd_dns_server_t *s) { return s->feed; }
pd_dns_table_t *pd_dns_server_table(pd_dns_server_t *s) { return s->table; }

static void count_reply(pd_dns_server_t *s, const uint8_t *reply)
{
    uint8_t rcode = reply[3] & PD_DNS_F_RCODE;
    s->st.nxdomain += rcode == PD_DNS_R_NXDOMAIN;
    s->st.servfail += rcode == PD_DNS_R_SERVFAIL;
}

/* ---- UDP ------------------------------------------------------------------------------------ */

/* One wakeup reads at most this many batches, then yields to the loop (which polls again at once
 * if more is queued: uv_poll is level-triggered), so a flood cannot starve gossip and timers. */
enum { UDP_BATCHES_PER_WAKEUP = 8 };

static void udp_sent(void *ctx, const uint8_t *reply) { count_reply(ctx, reply); }

/* Slot i's query: answered into its reply buffer, handed to the forwarder, or dropped. */
static void udp_query(pd_dns_server_t *s, unsigned i)
{
    pd_udp_batch_t *b = s->ub;
    const uint8_t *q = pd_udp_batch_data(b, i);
    size_t n = pd_udp_batch_len(b, i), len = 0;
    s->st.queries++;
    s->st.udp_queries++;
    if (pd_udp_batch_cut(b, i)) {
        s->st.dropped++;
        return;
    }
    pd_dns_verdict_t v = pd_dns_answer(s->table, q, n, PD_DNS_UDP, &s->rng, &s->acfg, b->tx[i],
                                       PD_UDP_DGRAM_MAX, &len);
    if (v == PD_DNS_ANSWERED) {
        s->st.answered++;
        pd_udp_batch_reply(b, i, len);
        return;
    }
    if (v == PD_DNS_FORWARD) {
        const struct sockaddr *peer = pd_udp_batch_peer(b, i);
        pd_dns_client_t c = {.tcp = 0};
        memcpy(&c.addr, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                         : sizeof(struct sockaddr_in));
        int rc = pd_dns_fwd_query(s->fwd, q, n, &c, b->tx[i], PD_UDP_DGRAM_MAX, &len);
        if (rc == 1 && len)
            pd_udp_batch_reply(b, i, len);
        else if (rc < 0)
            s->st.dropped++;
        return;
    }
    s->st.dropped++;
}

/* Before answering a batch, start the table loads of all its queries (bucket, service, tasks:
 * each stage over the batch), so their cache misses overlap rather than stall query by query. */
static void udp_prefetch(pd_dns_server_t *s, unsigned n)
{
    uint32_t hash[PD_UDP_BATCH];
    uint64_t have = 0;
    for (unsigned i = 0; i < n; i++) {
        if (pd_dns_query_service_hash(pd_udp_batch_data(s->ub, i), pd_udp_batch_len(s->ub, i),
                                      &hash[i]))
            have |= 1ull << i;
    }
    for (unsigned stage = 0; stage < 3; stage++) {
        for (unsigned i = 0; i < n; i++) {
            if (have >> i & 1)
                pd_dns_table_prefetch(s->table, hash[i], stage);
        }
    }
}

static void udp_on_io(uv_poll_t *h, int status, int events);

/* Watch for readability, or for writability while replies wait for room. */
static int udp_watch(pd_dns_server_t *s, int events)
{
    if (s->udp_events == events)
        return 0;
    int rc = uv_poll_start(&s->udp_poll, events, udp_on_io);
    if (rc == 0)
        s->udp_events = events;
    else
        s->st.udp_errors++;
    return rc;
}

/* Replies still queued: 1 (the poll now waits for writability), 0 when all went. */
static int udp_flush(pd_dns_server_t *s)
{
    if (pd_udp_batch_flush(s->ub, udp_sent, s) == -EAGAIN) {
        s->st.udp_send_waits++;
        (void)udp_watch(s, UV_WRITABLE);
        return 1;
    }
    s->st.dropped += s->ub->send_errors;
    s->ub->send_errors = 0;
    return 0;
}

static void udp_on_io(uv_poll_t *h, int status, int events)
{
    pd_dns_server_t *s = h->data;
    if (s->stopping)
        return;
    if (status < 0) {
        /* libuv stopped the poll on POLLERR: clear the socket error and watch again */
        s->st.udp_errors++;
        int err = pd_udp_batch_take_error(s->ub);
        PD_WARN(&s->log, "dns udp: socket error: %s", pd_strerror(err ? err : status));
        s->udp_events = 0;
        (void)udp_watch(s, pd_udp_batch_pending(s->ub) ? UV_WRITABLE : UV_READABLE);
        return;
    }
    if (pd_udp_batch_pending(s->ub) && udp_flush(s))
        return;
    (void)udp_watch(s, UV_READABLE);
    for (unsigned k = 0; k < UDP_BATCHES_PER_WAKEUP; k++) {
        int n = pd_udp_batch_recv(s->ub);
        if (n <= 0) {
            s->st.udp_errors += n < 0;
            return;
        }
        s->st.udp_batches++;
        if (n > 1)
            udp_prefetch(s, (unsigned)n);
        for (unsigned i = 0; i < (unsigned)n; i++)
            udp_query(s, i);
        if (udp_flush(s))
            return;
        /* A short batch emptied the queue: back to the poll rather than a recvmmsg that would
         * only say EAGAIN (one syscall fewer per wakeup when traffic is light). */
        if (n < PD_UDP_BATCH)
            return;
    }
}

/* A forwarded query's reply, sent on its own; a full socket buffer drops it (as UDP may). */
static void udp_reply(pd_dns_server_t *s, const struct sockaddr *to, const uint8_t *reply, size_t len)
{
    if (pd_udp_batch_sendto(s->ub, to, reply, len) < 0) {
        s->st.dropped++;
        return;
    }
    count_reply(s, reply);
}

/* ---- TCP ------------------------------------------------------------------------------------ */

static void conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    c->used = 0;
    c->closing = 0;
    c->s->st.tcp_open--;
}

static void conn_close(conn_t *c)
{
    if (c->closing || !c->used)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void conn_process(conn_t *c);

static void write_done(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    c->busy = 0;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->last_ms = uv_now(c->s->loop);
    conn_process(c);
}

/* The reply is in c->tx + 2. */
static void conn_write(conn_t *c, size_t len)
{
    pd_put_u16(c->tx, (uint16_t)len);
    count_reply(c->s, c->tx + 2);
    c->busy = 1;
    c->wreq.data = c;
    uv_buf_t b = uv_buf_init((char *)c->tx, (unsigned)(len + 2));
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, write_done) != 0) {
        c->busy = 0;
        conn_close(c);
    }
}

/* One framed query; returns 0 to go on, -1 when the connection is closing. */
static int conn_query(conn_t *c, const uint8_t *q, size_t qlen)
{
    pd_dns_server_t *s = c->s;
    s->st.queries++;
    s->st.tcp_queries++;
    size_t len = 0;
    pd_dns_verdict_t v = pd_dns_answer(s->table, q, qlen, PD_DNS_TCP, &s->rng, &s->acfg, c->tx + 2,
                                       TCP_TX_CAP - 2, &len);
    if (v == PD_DNS_ANSWERED) {
        s->st.answered++;
        conn_write(c, len);
        return c->closing ? -1 : 0;
    }
    int rc = -1;
    if (v == PD_DNS_FORWARD) {
        pd_dns_client_t cl = {.tcp = 1, .conn = c->idx, .gen = c->gen};
        rc = pd_dns_fwd_query(s->fwd, q, qlen, &cl, c->tx + 2, TCP_TX_CAP - 2, &len);
        if (rc == 1 && len)
            conn_write(c, len);
        else if (rc == 0)
            c->busy = 1; /* until the forwarder calls back */
    }
    if (rc < 0) {
        s->st.dropped++;
        conn_close(c);
    }
    return c->closing ? -1 : 0;
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    *buf = uv_buf_init((char *)c->rx + c->rx_len, (unsigned)(TCP_RX_CAP - c->rx_len));
}

static void conn_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = st->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->rx_len += (size_t)n;
    c->last_ms = uv_now(c->s->loop);
    conn_process(c);
}

/* Answer whole frames while the connection is free; read only while there is room. */
static void conn_process(conn_t *c)
{
    while (!c->busy && !c->closing && c->rx_len >= 2) {
        size_t flen = pd_get_u16(c->rx);
        if (flen < PD_DNS_HDR_LEN || flen > PD_DNS_TCP_QUERY_MAX) {
            c->s->st.dropped++;
            conn_close(c);
            return;
        }
        if (c->rx_len < 2 + flen)
            break;
        if (conn_query(c, c->rx + 2, flen) < 0)
            return;
        c->rx_len -= 2 + flen;
        memmove(c->rx, c->rx + 2 + flen, c->rx_len);
    }
    if (c->closing)
        return;
    if (c->rx_len == TCP_RX_CAP && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    } else if (c->rx_len < TCP_RX_CAP && !c->reading) {
        c->reading = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) == 0;
    }
}

static void refused_closed(uv_handle_t *h) { pd_free(h); }

static void tcp_refuse(pd_dns_server_t *s, uv_stream_t *server)
{
    s->st.tcp_refused++;
    uv_tcp_t *t = pd_malloc(sizeof *t);
    if (!t)
        return; /* the connection waits in the backlog */
    uv_tcp_init(s->loop, t);
    uv_accept(server, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, refused_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    pd_dns_server_t *s = server->data;
    if (status < 0 || s->stopping)
        return;
    conn_t *c = NULL;
    for (uint32_t i = 0; i < PD_DNS_TCP_CONNS_MAX && !c; i++) {
        if (!s->conns[i].used)
            c = &s->conns[i];
    }
    if (c && !c->tx)
        c->tx = pd_malloc(TCP_TX_CAP);
    if (!c || !c->tx) {
        tcp_refuse(s, server);
        return;
    }
    c->used = 1;
    c->gen++;
    c->busy = c->closing = 0;
    c->rx_len = 0;
    c->last_ms = uv_now(s->loop);
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    s->st.tcp_conns++;
    s->st.tcp_open++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) == 0;
    if (!c->reading)
        conn_close(c);
}

static void sweep_cb(uv_timer_t *t)
{
    pd_dns_server_t *s = t->data;
    uint64_t now = uv_now(s->loop);
    for (uint32_t i = 0; i < PD_DNS_TCP_CONNS_MAX; i++) {
        conn_t *c = &s->conns[i];
        if (c->used && !c->closing && !c->busy && now - c->last_ms >= PD_DNS_TCP_IDLE_MS) {
            s->st.tcp_idle_closed++;
            conn_close(c);
        }
    }
}

/* ---- forwarded replies ---------------------------------------------------------------------- */

static void on_forward_reply(void *ctx, const pd_dns_client_t *cl, const uint8_t *reply, size_t len)
{
    pd_dns_server_t *s = ctx;
    if (s->stopping)
        return;
    if (!cl->tcp) {
        udp_reply(s, (const struct sockaddr *)&cl->addr, reply, len);
        return;
    }
    conn_t *c = cl->conn < PD_DNS_TCP_CONNS_MAX ? &s->conns[cl->conn] : NULL;
    if (!c || !c->used || c->closing || c->gen != cl->gen || len > TCP_TX_CAP - 2) {
        s->st.dropped++; /* the client hung up meanwhile */
        return;
    }
    memcpy(c->tx + 2, reply, len);
    conn_write(c, len);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static int parse_listen(const char *spec, struct sockaddr_storage *ss, char *desc, size_t dlen)
{
    char host[PD_ADDR_MAX];
    uint16_t port = 0;
    if (pd_config_parse_hostport(spec, host, sizeof host, &port) != 0)
        return -PD_EUSAGE;
    port = port ? port : 53;
    snprintf(desc, dlen, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    if (strchr(host, ':'))
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

static int listen_fail(pd_dns_server_t *s, const char *proto, int rc, char *err, size_t errlen)
{
    snprintf(err, errlen, "cannot serve DNS on %s (%s): %s; pass --dns-addr IP[:PORT] for another "
             "address, or --no-dns", s->listen, proto, uv_strerror(rc));
    return rc;
}

static void udp_closed(uv_handle_t *h)
{
    pd_dns_server_t *s = h->data;
    pd_udp_batch_close(s->ub);
}

static int open_listeners(pd_dns_server_t *s, const struct sockaddr *sa, char *err, size_t errlen)
{
    int rc = pd_udp_batch_open(s->ub, sa);
    if (rc)
        return listen_fail(s, "udp", rc, err, errlen);
    rc = uv_poll_init(s->loop, &s->udp_poll, s->ub->fd);
    if (rc) {
        pd_udp_batch_close(s->ub);
        return listen_fail(s, "udp", rc, err, errlen);
    }
    s->udp_poll.data = s;
    s->udp_open = 1;
    rc = udp_watch(s, UV_READABLE);
    if (rc)
        return listen_fail(s, "udp", rc, err, errlen);
    if (s->ub->rcvbuf < PD_UDP_RCVBUF)
        PD_WARN(&s->log, "dns udp: receive buffer %d bytes, asked for %d (net.core.rmem_max caps it "
                "without root): bursts beyond it are dropped by the kernel", s->ub->rcvbuf,
                PD_UDP_RCVBUF);
    uv_tcp_init(s->loop, &s->tcp);
    s->tcp.data = s;
    s->tcp_open = 1;
    rc = uv_tcp_bind(&s->tcp, sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->tcp, 128, on_connection);
    if (rc)
        return listen_fail(s, "tcp", rc, err, errlen);
    uv_timer_init(s->loop, &s->sweep);
    s->sweep.data = s;
    s->sweep_open = 1;
    uv_timer_start(&s->sweep, sweep_cb, PD_DNS_TCP_SWEEP_MS, PD_DNS_TCP_SWEEP_MS);
    return 0;
}

static int make_core(pd_dns_server_t *s, const pd_dns_server_config_t *cfg, char *err, size_t errlen)
{
    pd_dns_config_default(&s->acfg);
    s->acfg.ttl_s = cfg->ttl_s > PD_DNS_TTL_MAX_S ? PD_DNS_TTL_MAX_S : cfg->ttl_s;
    pd_rng_seed(&s->rng, pd_rng_os_seed());
    s->conns = pd_calloc(PD_DNS_TCP_CONNS_MAX, sizeof *s->conns);
    s->ub = pd_calloc(1, sizeof *s->ub);
    if (s->ub)
        s->ub->fd = -1;
    int rc = s->conns && s->ub ? pd_dns_table_new(NULL, &s->table) : -ENOMEM;
    if (rc == 0)
        rc = pd_dns_feed_new(s->table, &s->log, &s->feed);
    if (rc) {
        snprintf(err, errlen, "DNS: out of memory");
        return rc;
    }
    for (uint32_t i = 0; i < PD_DNS_TCP_CONNS_MAX; i++) {
        s->conns[i].s = s;
        s->conns[i].idx = i;
    }
    if (cfg->gtable && (rc = pd_dns_feed_attach(s->feed, cfg->gtable)) != 0) {
        snprintf(err, errlen, "DNS: cannot watch the endpoint table: %s", pd_strerror(rc));
        return rc;
    }
    return 0;
}

static int start(pd_dns_server_t *s, uv_loop_t *loop, const pd_dns_server_config_t *cfg, char *err,
                 size_t errlen)
{
    s->loop = loop;
    s->log = cfg->log ? *cfg->log : pd_log_null;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (parse_listen(cfg->listen, &ss, s->listen, sizeof s->listen) != 0) {
        snprintf(err, errlen, "--dns-addr '%s' is not IP[:PORT]", cfg->listen);
        return -PD_EUSAGE;
    }
    int rc = make_core(s, cfg, err, errlen);
    if (rc)
        return rc;
    char host[PD_ADDR_MAX];
    uint16_t port = 0;
    pd_config_parse_hostport(cfg->listen, host, sizeof host, &port);
    pd_dns_fwd_config_t fc = {
        .upstreams = cfg->upstreams,
        .n_upstreams = cfg->n_upstreams,
        .self_host = host,
        .self_port = port ? port : 53,
        .timeout_ms = cfg->timeout_ms,
        .log = &s->log,
        .on_reply = on_forward_reply,
        .ctx = s,
    };
    rc = pd_dns_fwd_start(loop, &fc, &s->fwd, err, errlen);
    if (rc)
        return rc;
    rc = open_listeners(s, (const struct sockaddr *)&ss, err, errlen);
    if (rc)
        return rc;
    char ups[512];
    pd_dns_fwd_upstreams(s->fwd, ups, sizeof ups);
    PD_INFO(&s->log, "dns serving addr=%s upstreams=%s ttl_s=%u timeout_ms=%u udp_rcvbuf=%d%s "
            "udp_sndbuf=%d", s->listen, ups[0] ? ups : "none", s->acfg.ttl_s, cfg->timeout_ms,
            s->ub->rcvbuf, s->ub->forced ? " (forced)" : "", s->ub->sndbuf);
    return 0;
}

int pd_dns_server_start(uv_loop_t *loop, const pd_dns_server_config_t *cfg, pd_dns_server_t **out,
                        char *err, size_t errlen)
{
    pd_dns_server_t *s = pd_calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "DNS: out of memory");
        return -ENOMEM;
    }
    *out = s;
    int rc = start(s, loop, cfg, err, errlen);
    if (rc)
        pd_dns_server_stop(s);
    return rc;
}

void pd_dns_server_stop(pd_dns_server_t *s)
{
    if (!s || s->stopping)
        return;
    s->stopping = 1;
    if (s->feed)
        pd_dns_feed_detach(s->feed);
    pd_dns_fwd_stop(s->fwd);
    if (s->udp_open)
        uv_close((uv_handle_t *)&s->udp_poll, udp_closed);
    if (s->tcp_open)
        uv_close((uv_handle_t *)&s->tcp, NULL);
    if (s->sweep_open)
        uv_close((uv_handle_t *)&s->sweep, NULL);
    s->udp_open = s->tcp_open = s->sweep_open = 0;
    for (uint32_t i = 0; s->conns && i < PD_DNS_TCP_CONNS_MAX; i++)
        conn_close(&s->conns[i]);
}

void pd_dns_server_free(pd_dns_server_t *s)
{
    if (!s)
        return;
    pd_dns_fwd_free(s->fwd);
    pd_dns_feed_free(s->feed);
    pd_dns_table_free(s->table);
    for (uint32_t i = 0; s->conns && i < PD_DNS_TCP_CONNS_MAX; i++)
        pd_free(s->conns[i].tx);
    pd_free(s->conns);
    if (s->ub)
        pd_udp_batch_close(s->ub); /* never polled: not closed by udp_closed */
    pd_free(s->ub);
    pd_free(s);
}

void pd_dns_server_pack_stats(const pd_dns_server_t *s, msgpack_packer *pk)
{
    const pd_dns_server_stats_t *st = &s->st;
    const pd_dns_fwd_stats_t *fw = pd_dns_fwd_stats(s->fwd);
    const pd_dns_cache_stats_t *ca = pd_dns_fwd_cache_stats(s->fwd);
    const pd_dns_feed_stats_t *fe = pd_dns_feed_stats(s->feed);
    msgpack_pack_map(pk, 31);
    pd_mp_pack_kv_u64(pk, "queries", st->queries);
    pd_mp_pack_kv_u64(pk, "udp_queries", st->udp_queries);
    pd_mp_pack_kv_u64(pk, "tcp_queries", st->tcp_queries);
    pd_mp_pack_kv_u64(pk, "answered", st->answered);
    pd_mp_pack_kv_u64(pk, "forwarded", fw->forwarded);
    pd_mp_pack_kv_u64(pk, "cache_hits", fw->cache_hits);
    pd_mp_pack_kv_u64(pk, "nxdomain", st->nxdomain);
    pd_mp_pack_kv_u64(pk, "servfail", st->servfail);
    pd_mp_pack_kv_u64(pk, "dropped", st->dropped);
    pd_mp_pack_kv_u64(pk, "upstream_replies", fw->replies);
    pd_mp_pack_kv_u64(pk, "upstream_timeouts", fw->timeouts);
    pd_mp_pack_kv_u64(pk, "upstream_inflight", fw->inflight);
    pd_mp_pack_kv_u64(pk, "upstream_inflight_full", fw->inflight_full);
    pd_mp_pack_kv_u64(pk, "upstreams", fw->upstreams);
    pd_mp_pack_kv_u64(pk, "truncated_forwarded", fw->truncated);
    pd_mp_pack_kv_u64(pk, "cache_entries", ca->entries);
    pd_mp_pack_kv_u64(pk, "cache_evictions", ca->evictions);
    pd_mp_pack_kv_u64(pk, "udp_batches", st->udp_batches);
    pd_mp_pack_kv_u64(pk, "udp_send_waits", st->udp_send_waits);
    pd_mp_pack_kv_u64(pk, "udp_errors", st->udp_errors);
    pd_mp_pack_kv_u64(pk, "udp_rcvbuf", s->ub && s->ub->fd >= 0 ? (uint64_t)s->ub->rcvbuf : 0);
    pd_mp_pack_kv_u64(pk, "udp_sndbuf", s->ub && s->ub->fd >= 0 ? (uint64_t)s->ub->sndbuf : 0);
    pd_mp_pack_kv_u64(pk, "udp_rcvbuf_forced", s->ub ? (uint64_t)s->ub->forced : 0);
    pd_mp_pack_kv_u64(pk, "tcp_conns", st->tcp_conns);
    pd_mp_pack_kv_u64(pk, "tcp_open", st->tcp_open);
    pd_mp_pack_kv_u64(pk, "tcp_refused", st->tcp_refused);
    pd_mp_pack_kv_u64(pk, "tcp_idle_closed", st->tcp_idle_closed);
    pd_mp_pack_kv_u64(pk, "services", pd_dns_table_service_count(s->table));
    pd_mp_pack_kv_u64(pk, "nodes", pd_dns_table_node_count(s->table));
    pd_mp_pack_kv_u64(pk, "feed_events", fe->events);
    pd_mp_pack_kv_u64(pk, "feed_errors", fe->bad_values + fe->table_errors);
}
