#include "gossip_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_buf.h"
#include "pd_err.h"

enum {
    STREAM_IDLE_MS = 10000,
    STREAMS_IN_MAX = 128,
    /* Unauthenticated bytes buffered across all streams; a peer trickling a huge frame on many
     * connections cannot pin more than this. */
    STREAM_BUFFERED_MAX = 64 * 1024 * 1024,
    JOIN_CHECK_MS = 2000,
    JOIN_BACKOFF_MAX_MS = 30000,
};

typedef struct stream_conn stream_conn_t;

struct pd_gossip_io {
    uv_loop_t *loop;
    pd_gagent_t *agent;
    pd_rng_t rng;
    pd_log_t log;
    uv_udp_t udp;
    uv_tcp_t tcp;
    uv_timer_t tick;
    uv_timer_t join_timer;
    uv_timer_t linger;
    pd_swim_addr_t seeds[16];
    size_t n_seeds;
    uint32_t join_attempts, join_retries;
    uint64_t join_backoff_ms;
    int joined;
    int stopping;
    int handles_open;
    stream_conn_t *streams;
    int n_streams_in;
    size_t stream_buffered; /* sum of stream buffer capacities */
    pd_gossip_io_config_t cfg;
    void (*done)(void *);
    void *done_ctx;
    struct {
        pd_gossip_io_member_fn fn;
        void *ctx;
    } member_watch[PD_GOSSIP_IO_MEMBER_WATCHERS];
};

struct stream_conn {
    uv_tcp_t tcp;
    uv_timer_t idle;
    pd_gossip_io_t *g;
    stream_conn_t *next, *prev;
    pd_swim_addr_t peer;
    uint8_t *buf; /* inbound: frames being read; outbound: the frame to write */
    size_t len, cap;
    int inbound;
    int handles;
    int closing;
    uv_connect_t connect;
};

/* ---------------------------------------------------------------- addresses */
int pd_swim_addr_from_sockaddr(const struct sockaddr *sa, pd_swim_addr_t *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        out->family = 4;
        memcpy(out->ip, &s4->sin_addr, 4);
        out->port = ntohs(s4->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        out->family = 6;
        memcpy(out->ip, &s6->sin6_addr, 16);
        out->port = ntohs(s6->sin6_port);
        return 0;
    }
    return -EAFNOSUPPORT;
}

static void to_sockaddr(const pd_swim_addr_t *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, a->ip, 16);
        s6->sin6_port = htons(a->port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, a->ip, 4);
        s4->sin_port = htons(a->port);
    }
}

int pd_swim_addr_parse(const char *s, uint16_t default_port, pd_swim_addr_t *out)
{
    char host[PD_ADDR_MAX];
    uint16_t port = 0;
    if (pd_config_parse_hostport(s, host, sizeof host, &port) != 0)
        return -PD_EUSAGE;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, host, out->ip) == 1)
        out->family = 4;
    else if (inet_pton(AF_INET6, host, out->ip) == 1)
        out->family = 6;
    else
        return -PD_EUSAGE;
    out->port = port ? port : default_port;
    return 0;
}

void pd_swim_addr_format(const pd_swim_addr_t *a, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->family == 4)
        inet_ntop(AF_INET, a->ip, ip, sizeof ip);
    else if (a->family == 6)
        inet_ntop(AF_INET6, a->ip, ip, sizeof ip);
    if (a->family == 6)
        snprintf(out, cap, "[%s]:%u", ip, a->port);
    else
        snprintf(out, cap, "%s:%u", ip, a->port);
}

uint64_t pd_gossip_io_now(pd_gossip_io_t *g) { return uv_now(g->loop); }
pd_gagent_t *pd_gossip_io_agent(pd_gossip_io_t *g) { return g->agent; }

/* ---------------------------------------------------------------- streams */
static void stream_free_cb(uv_handle_t *h)
{
    stream_conn_t *c = h->data;
    if (--c->handles == 0) {
        pd_gossip_io_t *g = c->g;
        g->stream_buffered -= c->cap;
        pd_free(c->buf);
        pd_free(c);
        if (--g->handles_open == 0 && g->done)
            g->done(g->done_ctx);
    }
}

static void stream_close(stream_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    pd_gossip_io_t *g = c->g;
    if (c->prev)
        c->prev->next = c->next;
    else
        g->streams = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->inbound)
        g->n_streams_in--;
    uv_close((uv_handle_t *)&c->tcp, stream_free_cb);
    uv_close((uv_handle_t *)&c->idle, stream_free_cb);
}

static stream_conn_t *stream_new(pd_gossip_io_t *g, int inbound)
{
    stream_conn_t *c = pd_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->g = g;
    c->inbound = inbound;
    uv_tcp_init(g->loop, &c->tcp);
    uv_timer_init(g->loop, &c->idle);
    c->tcp.data = c->idle.data = c;
    c->handles = 2;
    g->handles_open++;
    c->next = g->streams;
    if (g->streams)
        g->streams->prev = c;
    g->streams = c;
    if (inbound)
        g->n_streams_in++;
    return c;
}

static void idle_cb(uv_timer_t *t) { stream_close(t->data); }

static void flush(pd_gossip_io_t *g);

static void stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    stream_conn_t *c = h->data;
    if (c->cap - c->len < 65536) {
        size_t ncap = c->cap ? c->cap * 2 : 65536;
        if (ncap > PD_GCRYPTO_FRAME_MAX + 4 + 65536 ||
            c->g->stream_buffered + (ncap - c->cap) > STREAM_BUFFERED_MAX) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        uint8_t *nb = pd_realloc(c->buf, ncap);
        if (!nb) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->g->stream_buffered += ncap - c->cap;
        c->buf = nb;
        c->cap = ncap;
    }
    *buf = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

/* Stream bytes: u32 length + sealed frame, repeated. */
static void stream_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    stream_conn_t *c = s->data;
    pd_gossip_io_t *g = c->g;
    if (nread < 0 || (nread == 0 && buf->base == NULL && buf->len == 0 && c->cap)) {
        stream_close(c);
        return;
    }
    c->len += (size_t)nread;
    uv_timer_again(&c->idle);
    while (c->len >= 4) {
        uint32_t n = pd_get_u32(c->buf);
        if (n == 0 || n > PD_GCRYPTO_FRAME_MAX) {
            stream_close(c);
            return;
        }
        if (c->len < 4 + (size_t)n)
            break;
        pd_gagent_recv(g->agent, uv_now(g->loop), &g->rng, &c->peer, c->buf + 4, n, 1);
        memmove(c->buf, c->buf + 4 + n, c->len - 4 - n);
        c->len -= 4 + (size_t)n;
    }
    flush(g);
}

static void on_stream_conn(uv_stream_t *server, int status)
{
    pd_gossip_io_t *g = server->data;
    if (status < 0 || g->stopping)
        return;
    stream_conn_t *c = stream_new(g, 1);
    if (!c)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || g->n_streams_in > STREAMS_IN_MAX) {
        stream_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        pd_swim_addr_from_sockaddr((struct sockaddr *)&ss, &c->peer);
    uv_timer_start(&c->idle, idle_cb, STREAM_IDLE_MS, STREAM_IDLE_MS);
    uv_read_start((uv_stream_t *)&c->tcp, stream_alloc, stream_read);
}

typedef struct {
    uv_write_t req;
    stream_conn_t *c;
    uint8_t *buf;
} stream_write_t;

/* A reply written on an inbound connection ends it; an outbound request keeps its connection open
 * to read the reply (the responder closes when done, or the idle timer does). */
static void stream_write_done(uv_write_t *w, int status)
{
    stream_write_t *sw = (stream_write_t *)w;
    stream_conn_t *c = sw->c;
    pd_free(sw->buf);
    pd_free(sw);
    if (status < 0 || c->inbound)
        stream_close(c);
}

static int stream_write(stream_conn_t *c, const uint8_t *frame, size_t len)
{
    stream_write_t *sw = pd_calloc(1, sizeof *sw);
    uint8_t *buf = pd_malloc(len + 4);
    if (!sw || !buf) {
        pd_free(sw);
        pd_free(buf);
        return -ENOMEM;
    }
    pd_put_u32(buf, (uint32_t)len);
    memcpy(buf + 4, frame, len);
    sw->c = c;
    sw->buf = buf;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)(len + 4));
    int rc = uv_write(&sw->req, (uv_stream_t *)&c->tcp, &b, 1, stream_write_done);
    if (rc) {
        pd_free(buf);
        pd_free(sw);
    }
    return rc;
}

static void out_connected(uv_connect_t *req, int status)
{
    stream_conn_t *c = req->data;
    if (status < 0 || c->closing) {
        stream_close(c);
        return;
    }
    int rc = stream_write(c, c->buf, c->len);
    pd_free(c->buf); /* the frame was copied into the write; the buffer now collects the reply */
    c->g->stream_buffered -= c->cap;
    c->buf = NULL;
    c->len = c->cap = 0;
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, stream_alloc, stream_read);
    if (rc)
        stream_close(c);
}

static int same_addr(const pd_swim_addr_t *a, const pd_swim_addr_t *b)
{
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, a->family == 6 ? 16 : 4) == 0;
}

static void send_stream(pd_gossip_io_t *g, const pd_gagent_pkt_t *p)
{
    /* An answer to a request that arrived on a connection goes back on that connection. */
    for (stream_conn_t *c = g->streams; c; c = c->next) {
        if (c->inbound && !c->closing && same_addr(&c->peer, &p->to)) {
            if (stream_write(c, p->data, p->len) != 0)
                stream_close(c);
            return;
        }
    }
    stream_conn_t *c = stream_new(g, 0);
    if (!c)
        return;
    c->buf = pd_malloc(p->len);
    if (!c->buf) {
        stream_close(c);
        return;
    }
    memcpy(c->buf, p->data, p->len);
    c->len = c->cap = p->len;
    g->stream_buffered += c->cap;
    c->peer = p->to;
    struct sockaddr_storage ss;
    to_sockaddr(&p->to, &ss);
    c->connect.data = c;
    uv_timer_start(&c->idle, idle_cb, STREAM_IDLE_MS, 0);
    if (uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&ss, out_connected) != 0)
        stream_close(c);
}

/* ---------------------------------------------------------------- datagrams and the outbox */
static void log_event(pd_gossip_io_t *g, const pd_swim_event_t *ev)
{
    static const char *const names[] = {"?", "join", "update", "suspect", "dead", "left", "alive-again"};
    char addr[64];
    pd_swim_addr_format(&ev->addr, addr, sizeof addr);
    pd_log_level_t lvl = ev->type == PD_SWIM_EV_DEAD || ev->type == PD_SWIM_EV_SUSPECT ? PD_LOG_WARN : PD_LOG_INFO;
    pd_log(&g->log, lvl, "member %s peer=%s addr=%s incarnation=%u", ev->type < 7 ? names[ev->type] : "?",
           ev->node, addr, ev->inc);
}

static void tick_cb(uv_timer_t *t);

static void flush(pd_gossip_io_t *g)
{
    pd_gagent_ready_t r;
    pd_gagent_ready(g->agent, &g->rng, &r);
    for (size_t i = 0; i < r.n_pkts; i++) {
        const pd_gagent_pkt_t *p = &r.pkts[i];
        if (g->stopping && g->handles_open == 0)
            break;
        if (p->stream) {
            send_stream(g, p);
            continue;
        }
        struct sockaddr_storage ss;
        to_sockaddr(&p->to, &ss);
        uv_buf_t b = uv_buf_init((char *)p->data, (unsigned)p->len);
        uv_udp_try_send(&g->udp, &b, 1, (struct sockaddr *)&ss); /* UDP: a drop is a lost packet */
    }
    for (size_t i = 0; i < r.n_events; i++) {
        log_event(g, &r.events[i]);
        for (size_t w = 0; w < PD_GOSSIP_IO_MEMBER_WATCHERS; w++) {
            if (g->member_watch[w].fn)
                g->member_watch[w].fn(g->member_watch[w].ctx, &r.events[i]);
        }
    }
    int changed = r.n_events > 0;
    uint64_t now = uv_now(g->loop);
    uint64_t due = r.next_deadline_ms > now ? r.next_deadline_ms - now : 0;
    pd_gagent_advance(g->agent);
    if (!uv_is_closing((uv_handle_t *)&g->tick))
        uv_timer_start(&g->tick, tick_cb, due ? due : 1, 0);
    if (changed && g->cfg.on_change)
        g->cfg.on_change(g->cfg.ctx);
}

void pd_gossip_io_flush(pd_gossip_io_t *g) { flush(g); }

int pd_gossip_io_watch_members(pd_gossip_io_t *g, pd_gossip_io_member_fn fn, void *ctx)
{
    for (size_t w = 0; w < PD_GOSSIP_IO_MEMBER_WATCHERS; w++) {
        if (!g->member_watch[w].fn) {
            g->member_watch[w].fn = fn;
            g->member_watch[w].ctx = ctx;
            return 0;
        }
    }
    return -PD_ELIMIT;
}

void pd_gossip_io_unwatch_members(pd_gossip_io_t *g, pd_gossip_io_member_fn fn, void *ctx)
{
    for (size_t w = 0; w < PD_GOSSIP_IO_MEMBER_WATCHERS; w++) {
        if (g->member_watch[w].fn == fn && g->member_watch[w].ctx == ctx)
            g->member_watch[w].fn = NULL;
    }
}

static void tick_cb(uv_timer_t *t)
{
    pd_gossip_io_t *g = t->data;
    pd_gagent_tick(g->agent, uv_now(g->loop), &g->rng);
    flush(g);
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[65536];
    *buf = uv_buf_init(slab, sizeof slab);
}

static void udp_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from, unsigned flags)
{
    pd_gossip_io_t *g = u->data;
    if (nread <= 0 || !from || (flags & UV_UDP_PARTIAL))
        return;
    pd_swim_addr_t a;
    if (pd_swim_addr_from_sockaddr(from, &a) != 0)
        return;
    pd_gagent_recv(g->agent, uv_now(g->loop), &g->rng, &a, (const uint8_t *)buf->base, (size_t)nread, 0);
    flush(g);
}

/* ---------------------------------------------------------------- join with backoff */
static void join_cb(uv_timer_t *t)
{
    pd_gossip_io_t *g = t->data;
    if (g->stopping)
        return;
    if (pd_swim_count(pd_gagent_swim(g->agent), PD_SWIM_ALIVE) > 1) {
        if (!g->joined)
            PD_INFO(&g->log, "joined cluster members=%u attempts=%u",
                    pd_swim_count(pd_gagent_swim(g->agent), PD_SWIM_ALIVE), g->join_attempts);
        g->joined = 1;
        return;
    }
    if (g->join_attempts >= g->join_retries) {
        char why[160];
        snprintf(why, sizeof why, "could not join any of %zu seed address(es) after %u attempts", g->n_seeds,
                 g->join_attempts);
        PD_ERROR(&g->log, "%s", why);
        if (g->cfg.on_fatal)
            g->cfg.on_fatal(g->cfg.ctx, why);
        return;
    }
    g->join_attempts++;
    PD_INFO(&g->log, "joining seeds=%zu attempt=%u/%u", g->n_seeds, g->join_attempts, g->join_retries);
    pd_gagent_join(g->agent, uv_now(g->loop), &g->rng, g->seeds, g->n_seeds);
    flush(g);
    /* Check a little later; back off exponentially between attempts. */
    uint64_t wait = JOIN_CHECK_MS + g->join_backoff_ms;
    g->join_backoff_ms = g->join_backoff_ms ? PD_MIN(g->join_backoff_ms * 2, (uint64_t)JOIN_BACKOFF_MAX_MS) : 1000;
    uv_timer_start(&g->join_timer, join_cb, wait, 0);
}

static int bind_sockets(pd_gossip_io_t *g, const char *host, uint16_t port, char *err, size_t errlen)
{
    pd_swim_addr_t a;
    char hp[PD_ADDR_MAX + 8];
    snprintf(hp, sizeof hp, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    if (pd_swim_addr_parse(hp, port, &a) != 0) {
        snprintf(err, errlen, "gossip bind address '%s' is not an IP", host);
        return -PD_EUSAGE;
    }
    struct sockaddr_storage ss;
    to_sockaddr(&a, &ss);
    int rc = uv_udp_bind(&g->udp, (struct sockaddr *)&ss, UV_UDP_REUSEADDR);
    if (rc == 0)
        rc = uv_udp_recv_start(&g->udp, udp_alloc, udp_recv);
    if (rc) {
        snprintf(err, errlen, "cannot bind gossip UDP %s: %s", hp, uv_strerror(rc));
        return rc;
    }
    rc = uv_tcp_bind(&g->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&g->tcp, 128, on_stream_conn);
    if (rc) {
        snprintf(err, errlen, "cannot listen on gossip TCP %s: %s", hp, uv_strerror(rc));
        return rc;
    }
    return 0;
}

static void handle_closed(uv_handle_t *h)
{
    pd_gossip_io_t *g = h->data;
    if (--g->handles_open == 0 && g->done)
        g->done(g->done_ctx);
}

static void close_all(pd_gossip_io_t *g)
{
    uv_close((uv_handle_t *)&g->udp, handle_closed);
    uv_close((uv_handle_t *)&g->tcp, handle_closed);
    uv_close((uv_handle_t *)&g->tick, handle_closed);
    uv_close((uv_handle_t *)&g->join_timer, handle_closed);
    uv_close((uv_handle_t *)&g->linger, handle_closed);
    while (g->streams)
        stream_close(g->streams);
}

static int parse_seeds(pd_gossip_io_t *g, const pd_gossip_io_config_t *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->n_join; i++) {
        if (g->n_seeds == sizeof g->seeds / sizeof g->seeds[0]) {
            snprintf(err, errlen, "too many --join addresses (at most %zu)", sizeof g->seeds / sizeof g->seeds[0]);
            return -PD_EUSAGE;
        }
        if (pd_swim_addr_parse(cfg->join[i], 7946, &g->seeds[g->n_seeds]) != 0) {
            snprintf(err, errlen, "--join '%s' is not IP[:PORT]", cfg->join[i]);
            return -PD_EUSAGE;
        }
        g->n_seeds++;
    }
    return 0;
}

int pd_gossip_io_start(uv_loop_t *loop, const pd_gossip_io_config_t *cfg, pd_gossip_io_t **out, char *err,
                       size_t errlen)
{
    pd_gossip_io_t *g = pd_calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->loop = loop;
    g->cfg = *cfg;
    g->log = cfg->log ? *cfg->log : pd_log_null;
    g->log.subsys = "gossip";
    g->join_retries = cfg->join_retries ? cfg->join_retries : 10;
    pd_rng_seed(&g->rng, pd_rng_os_seed());
    int rc = parse_seeds(g, cfg, err, errlen);
    pd_gagent_config_t ac;
    pd_gagent_config_default(&ac);
    pd_swim_config_lan(&ac.swim); /* faster failure detection than memberlist's LAN numbers */
    ac.node_id = cfg->node_id;
    ac.keyring = cfg->keyring;
    ac.allow_plaintext = cfg->allow_plaintext;
    ac.meta = cfg->meta;
    ac.meta_len = cfg->meta_len;
    ac.log = &g->log;
    char adv[PD_ADDR_MAX + 8];
    snprintf(adv, sizeof adv, strchr(cfg->advertise_host, ':') ? "[%s]:%u" : "%s:%u", cfg->advertise_host, cfg->port);
    if (rc == 0 && pd_swim_addr_parse(adv, cfg->port, &ac.addr) != 0) {
        snprintf(err, errlen, "advertise address '%s' is not an IP", cfg->advertise_host);
        rc = -PD_EUSAGE;
    }
    if (rc == 0 && (rc = pd_gagent_create(&ac, uv_now(loop), &g->agent)) != 0)
        snprintf(err, errlen, "cannot start gossip: %s", pd_strerror(rc));
    if (rc) {
        pd_free(g);
        return rc;
    }
    uv_udp_init(loop, &g->udp);
    uv_tcp_init(loop, &g->tcp);
    uv_timer_init(loop, &g->tick);
    uv_timer_init(loop, &g->join_timer);
    uv_timer_init(loop, &g->linger);
    g->udp.data = g->tcp.data = g->tick.data = g->join_timer.data = g->linger.data = g;
    g->handles_open = 5;
    rc = bind_sockets(g, cfg->bind_host, cfg->port, err, errlen);
    if (rc) {
        g->stopping = 1;
        close_all(g); /* g and the agent are freed by the caller's stop path */
        *out = g;
        return rc;
    }
    PD_INFO(&g->log, "gossip listening bind=%s port=%u advertise=%s encrypted=%s", cfg->bind_host, cfg->port, adv,
            pd_gcrypto_encrypting(&(pd_gcrypto_t){.keyring = pd_gagent_keyring(g->agent)}) ? "yes" : "NO (plaintext)");
    if (g->n_seeds)
        uv_timer_start(&g->join_timer, join_cb, 0, 0);
    flush(g);
    *out = g;
    return 0;
}

static void linger_cb(uv_timer_t *t)
{
    pd_gossip_io_t *g = t->data;
    close_all(g);
}

void pd_gossip_io_stop(pd_gossip_io_t *g, uint32_t linger_ms, void (*done)(void *ctx), void *ctx)
{
    g->done = done;
    g->done_ctx = ctx;
    if (g->stopping) {
        if (g->handles_open == 0 && done)
            done(ctx);
        return;
    }
    g->stopping = 1;
    uv_timer_stop(&g->join_timer);
    if (linger_ms && pd_gagent_leave(g->agent, uv_now(g->loop), &g->rng) == 0) {
        flush(g);
        uv_timer_start(&g->linger, linger_cb, linger_ms, 0);
        return;
    }
    close_all(g);
}

void pd_gossip_io_free(pd_gossip_io_t *g)
{
    if (!g)
        return;
    pd_gagent_destroy(g->agent);
    pd_free(g);
}
