/* Raft transport: pure frame codec, then the libuv shell (outbound connection per peer with
 * reconnect backoff, bounded queues; a listener with bounded connections and frame size). */
#include "raft_transport.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctl_wire.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "raft_node.h"

/* --- codec ---------------------------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) << 32 | get_u32(p + 4); }

size_t pd_rt_frame_hdr_encode(uint8_t out[PD_RT_LEN_PREFIX + PD_RT_HDR_LEN], uint8_t type, uint64_t from,
                              uint64_t to, size_t payload_len)
{
    put_u32(out, (uint32_t)(PD_RT_HDR_LEN + payload_len));
    out[4] = PD_RT_VERSION;
    out[5] = type;
    put_u64(out + 6, from);
    put_u64(out + 14, to);
    return PD_RT_LEN_PREFIX + PD_RT_HDR_LEN;
}

int pd_rt_frame_parse(const uint8_t *body, size_t len, pd_rt_frame_t *out)
{
    if (len < PD_RT_HDR_LEN)
        return -PD_ETRUNCATED;
    if (len > PD_RT_FRAME_MAX)
        return -PD_ETOOBIG;
    if (body[0] != PD_RT_VERSION)
        return -PD_EVERSION;
    if (body[1] < PD_RT_RAFT || body[1] > PD_RT_MEMBER)
        return -PD_EUNKNOWN_TYPE;
    uint64_t from = get_u64(body + 2), to = get_u64(body + 10);
    if (from == 0 || to == 0)
        return -PD_EMALFORMED;
    *out = (pd_rt_frame_t){.type = body[1], .from = from, .to = to, .payload = body + PD_RT_HDR_LEN,
                           .len = len - PD_RT_HDR_LEN};
    return 0;
}

int pd_rt_fwd_req_parse(const uint8_t *p, size_t len, pd_rt_fwd_req_t *out)
{
    if (len < PD_RT_FWD_REQ_FIXED)
        return -PD_ETRUNCATED;
    uint8_t kind = p[8];
    if (kind != PD_RT_FWD_WRITE && kind != PD_RT_FWD_READ)
        return -PD_EUNKNOWN_TYPE;
    if (kind == PD_RT_FWD_READ && len != PD_RT_FWD_REQ_FIXED)
        return -PD_EMALFORMED;
    if (kind == PD_RT_FWD_WRITE && len == PD_RT_FWD_REQ_FIXED)
        return -PD_EMALFORMED; /* a write carries an entry */
    *out = (pd_rt_fwd_req_t){.req_id = get_u64(p), .kind = kind, .data = p + PD_RT_FWD_REQ_FIXED,
                             .len = len - PD_RT_FWD_REQ_FIXED};
    return 0;
}

int pd_rt_fwd_resp_parse(const uint8_t *p, size_t len, pd_rt_fwd_resp_t *out)
{
    if (len < PD_RT_FWD_RESP_FIXED)
        return -PD_ETRUNCATED;
    if (len > PD_RT_FWD_RESP_FIXED + PD_RT_ERRTEXT_MAX)
        return -PD_ETOOBIG;
    int32_t rc = (int32_t)get_u32(p + 8);
    if (rc > 0)
        return -PD_EMALFORMED;
    *out = (pd_rt_fwd_resp_t){.req_id = get_u64(p), .rc = rc, .index = get_u64(p + 12),
                              .text = p + PD_RT_FWD_RESP_FIXED, .text_len = len - PD_RT_FWD_RESP_FIXED};
    return 0;
}

void pd_rt_fwd_req_hdr(uint8_t out[PD_RT_FWD_REQ_FIXED], uint64_t req_id, uint8_t kind)
{
    put_u64(out, req_id);
    out[8] = kind;
}

void pd_rt_fwd_resp_hdr(uint8_t out[PD_RT_FWD_RESP_FIXED], uint64_t req_id, int32_t rc, uint64_t index)
{
    put_u64(out, req_id);
    put_u32(out + 8, (uint32_t)rc);
    put_u64(out + 12, index);
}

/* --- shell ---------------------------------------------------------------------------------- */

typedef enum { PEER_DOWN = 0, PEER_CONNECTING, PEER_UP, PEER_CLOSING } peer_state_t;

typedef struct rt_frame {
    struct rt_frame *next;
    size_t len;
    uint8_t data[]; /* prefix + header + payload */
} rt_frame_t;

typedef struct {
    uv_write_t req;
    struct rt_peer *peer;
    rt_frame_t *f;
} rt_write_t;

typedef struct rt_peer {
    pd_rt_t *t;
    uint64_t id;
    char addr[PD_ADDR_MAX];
    int addr_changed;
    peer_state_t state;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t retry;
    uint32_t backoff_ms;
    rt_frame_t *head, *tail; /* waiting for a connection (and its TLS handshake) */
    uint32_t n_pending;
    size_t queued_bytes;     /* handed to uv_write, not yet done */
    pd_pki_tls_t *tls;       /* mutual TLS: the session of this connection */
    int tls_ready;           /* handshake done, the peer's certificate checked */
} rt_peer_t;

typedef struct rt_conn {
    uv_tcp_t tcp;
    pd_rt_t *t;
    pd_ctl_framer_t framer;
    struct rt_conn *next, *prev;
    int closing;
    pd_pki_tls_t *tls;
    int tls_ready;
    int anonymous;           /* no certificate: the join RPC only */
    int member_only;         /* a worker certificate: one member request only */
    int peer_manager;
    char peer_node[PD_NODE_ID_LEN + 1];
    int cert_rpc;            /* a certificate and ALPN PD_CERT_ALPN: the renewal RPC only */
    pd_pki_node_info_t peer; /* who the certificate named (renewal sessions) */
    int answered;            /* its one request was handed over */
    uint64_t serial;         /* names the connection for pd_rt_conn_reply */
    uint64_t peer_id;        /* Raft id of the certificate's node */
    uint64_t deadline_ms;    /* closed by the sweep when reached (0: none) */
    uv_shutdown_t shut;
} rt_conn_t;

struct pd_rt {
    uv_loop_t *loop;
    uint64_t self;
    pd_rt_recv_fn fn;
    pd_rt_lost_fn lost; /* or NULL */
    void *ctx;
    const pd_log_t *log;
    uv_tcp_t listener;
    int listening, stopped;
    rt_peer_t peers[PD_RT_PEERS_MAX];
    uint32_t n_peers;
    rt_conn_t *conns;
    uint32_t n_conns;
    pd_rt_stats_t stats;
    pd_rt_tls_t tls;         /* always: there is no plaintext mode (pd_rt_set_tls swaps it) */
    pd_rt_member_fn member_fn;
    void *member_ctx;
    pd_rt_cert_fn cert_fn;   /* or NULL: sessions asking for the renewal RPC are refused */
    void *cert_ctx;
    uint64_t conn_serials;
    uv_timer_t sweep;        /* closes connections past their deadline */
    int sweep_open;
};

static void peer_connect(rt_peer_t *p);
static void retry_cb(uv_timer_t *tm);

static void pending_free(rt_peer_t *p)
{
    while (p->head) {
        rt_frame_t *f = p->head;
        p->head = f->next;
        pd_free(f);
    }
    p->tail = NULL;
    p->n_pending = 0;
}

static void write_cb(uv_write_t *req, int status)
{
    rt_write_t *w = (rt_write_t *)req;
    if (w->peer)
        w->peer->queued_bytes -= w->f->len;
    pd_free(w->f);
    pd_free(w);
}

/* Bytes to a socket; p (or NULL for an inbound connection) counts them as queued. */
static int stream_write(uv_stream_t *s, rt_peer_t *p, const void *data, size_t len)
{
    rt_frame_t *f = pd_malloc(sizeof *f + len);
    rt_write_t *w = pd_malloc(sizeof *w);
    if (!f || !w) {
        pd_free(f);
        pd_free(w);
        return -ENOMEM;
    }
    f->next = NULL;
    f->len = len;
    memcpy(f->data, data, len);
    w->peer = p;
    w->f = f;
    if (p)
        p->queued_bytes += len;
    uv_buf_t buf = uv_buf_init((char *)f->data, (unsigned)len);
    if (uv_write(&w->req, s, &buf, 1, write_cb) != 0) {
        if (p)
            p->queued_bytes -= len;
        pd_free(f);
        pd_free(w);
        return -PD_ECLOSED;
    }
    return 0;
}

/* Whatever TLS has for the network, to the socket. */
static int tls_flush(pd_pki_tls_t *tls, uv_stream_t *s, rt_peer_t *p)
{
    uint8_t buf[16384 + 1024];
    size_t n;
    while ((n = pd_pki_tls_drain(tls, buf, sizeof buf)) > 0) {
        int rc = stream_write(s, p, buf, n);
        if (rc)
            return rc;
    }
    return 0;
}

/* Plaintext through TLS to the socket. */
static int tls_send(pd_pki_tls_t *tls, uv_stream_t *s, rt_peer_t *p, const uint8_t *data, size_t len)
{
    while (len > 0) {
        size_t w = 0;
        int rc = pd_pki_tls_write(tls, data, len, &w);
        if (rc == -EAGAIN && pd_pki_tls_pending(tls) > 0) {
            if ((rc = tls_flush(tls, s, p)) != 0)
                return rc;
            continue;
        }
        if (rc)
            return rc;
        data += w;
        len -= w;
        if ((rc = tls_flush(tls, s, p)) != 0)
            return rc;
    }
    return 0;
}

static void tls_drop(pd_pki_tls_t **tls)
{
    if (*tls) {
        pd_pki_tls_free(*tls);
        pd_free(*tls);
        *tls = NULL;
    }
}

static void peer_closed_cb(uv_handle_t *h)
{
    rt_peer_t *p = h->data;
    p->state = PEER_DOWN;
    tls_drop(&p->tls);
    p->tls_ready = 0;
    if (p->t->stopped)
        return;
    uint32_t delay = p->addr_changed ? 0 : p->backoff_ms;
    p->addr_changed = 0;
    p->backoff_ms = p->backoff_ms * 2 > PD_RT_BACKOFF_MAX_MS ? PD_RT_BACKOFF_MAX_MS : p->backoff_ms * 2;
    uv_timer_start(&p->retry, retry_cb, delay, 0);
}

static void peer_close(rt_peer_t *p)
{
    if (p->state == PEER_CONNECTING || p->state == PEER_UP) {
        p->state = PEER_CLOSING;
        uv_close((uv_handle_t *)&p->tcp, peer_closed_cb);
    }
}

static int peer_write(rt_peer_t *p, rt_frame_t *f)
{
    if (p->queued_bytes + f->len > PD_RT_QUEUE_BYTES_MAX)
        return -PD_ELIMIT;
    /* frame in, TLS records out; the frame is ours to free once sent */
    if (tls_send(p->tls, (uv_stream_t *)&p->tcp, p, f->data, f->len) != 0) {
        peer_close(p);
        return -PD_ECLOSED;
    }
    pd_free(f);
    return 0;
}

static void peer_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char sink[16384];
    *buf = uv_buf_init(sink, sizeof sink);
}

static int peer_ready(const rt_peer_t *p) { return p->state == PEER_UP && p->tls_ready; }

/* Frames queued while connecting go out once the connection (and its TLS) is up. */
static void peer_flush_pending(rt_peer_t *p)
{
    while (p->head && peer_ready(p)) {
        rt_frame_t *f = p->head;
        p->head = f->next;
        p->n_pending--;
        if (peer_write(p, f) != 0) {
            p->t->stats.frames_dropped++;
            pd_free(f);
        }
    }
    if (!p->head)
        p->tail = NULL;
}

/* TLS bytes from the peer we dialled: the handshake, then nothing but alerts. The server must show
 * a manager certificate naming the node we meant. */
static void peer_tls_input(rt_peer_t *p, const uint8_t *in, size_t left)
{
    pd_rt_t *t = p->t;
    for (int guard = 0; guard < 64 && p->state == PEER_UP; guard++) {
        size_t taken = 0;
        if (left > 0 && pd_pki_tls_feed(p->tls, in, left, &taken) != 0)
            break;
        in += taken;
        left -= taken;
        if (!p->tls_ready) {
            int rc = pd_pki_tls_handshake(p->tls);
            tls_flush(p->tls, (uv_stream_t *)&p->tcp, p);
            if (rc == 0) {
                pd_pki_node_info_t info;
                const char *bad = pd_pki_tls_peer(p->tls, &info) != 0 ? "no certificate"
                                  : info.role != PD_PKI_ROLE_MANAGER ? "a worker certificate"
                                  : pd_raft_node_id_from(info.node_id) != p->id ? "another node's certificate"
                                                                               : NULL;
                if (bad) {
                    t->stats.tls_refused++;
                    PD_WARN(t->log, "raft transport: peer %016llx at %s refused: %s", (unsigned long long)p->id,
                            p->addr, bad);
                    peer_close(p);
                    return;
                }
                p->tls_ready = 1;
                PD_DEBUG(t->log, "raft transport: TLS up to %s (%s)", info.node_id, p->addr);
                peer_flush_pending(p);
            } else if (rc != -EAGAIN) {
                t->stats.tls_refused++;
                PD_WARN(t->log, "raft transport: TLS to peer %016llx at %s failed: %s", (unsigned long long)p->id,
                        p->addr, pd_pki_tls_why(p->tls));
                peer_close(p);
                return;
            }
        }
        if (p->tls_ready) {
            uint8_t sink[4096];
            size_t n = 0;
            while (pd_pki_tls_read(p->tls, sink, sizeof sink, &n) == 0 && n > 0)
                ;
        }
        if (left == 0 || taken == 0)
            break;
    }
}

/* Outbound connections carry nothing back (but TLS records); a read notices the peer closing. A
 * close or reset by the far end means its process is gone or restarting: tell the owner at once. */
static void peer_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    rt_peer_t *p = s->data;
    if (nread > 0 && p->tls)  /* (no session: the handshake could not start) */
        peer_tls_input(p, (const uint8_t *)buf->base, (size_t)nread);
    if (nread >= 0)
        return;
    /* (a server that refused our certificate is not a peer gone: only a session that was up counts) */
    int by_peer = (nread == UV_EOF || nread == UV_ECONNRESET) && p->state == PEER_UP && !p->t->stopped &&
                  p->tls_ready;
    peer_close(p);
    if (by_peer && p->t->lost)
        p->t->lost(p->t->ctx, p->id);
}

static void connect_cb(uv_connect_t *req, int status)
{
    rt_peer_t *p = req->data;
    if (status == UV_ECANCELED || p->state != PEER_CONNECTING)
        return;
    if (status != 0) {
        PD_DEBUG(p->t->log, "raft transport connect failed peer=%016llx addr=%s err=%s",
                 (unsigned long long)p->id, p->addr, uv_err_name(status));
        peer_close(p);
        return;
    }
    p->state = PEER_UP;
    p->backoff_ms = PD_RT_BACKOFF_MIN_MS;
    p->t->stats.connects++;
    uv_tcp_nodelay(&p->tcp, 1);
    uv_read_start((uv_stream_t *)&p->tcp, peer_alloc_cb, peer_read_cb);
    p->tls = pd_calloc(1, sizeof *p->tls);
    if (!p->tls || pd_pki_tls_init(p->tls, p->t->tls.client) != 0) {
        peer_close(p);
        return;
    }
    pd_pki_tls_handshake(p->tls); /* the ClientHello */
    if (tls_flush(p->tls, (uv_stream_t *)&p->tcp, p) != 0)
        peer_close(p);
    /* pending frames wait for the handshake */
}

static void peer_connect(rt_peer_t *p)
{
    if (p->state != PEER_DOWN || p->t->stopped || !p->addr[0])
        return;
    char host[PD_ADDR_MAX];
    uint16_t port = 0;
    struct sockaddr_storage ss;
    if (pd_config_parse_hostport(p->addr, host, sizeof host, &port) != 0 || port == 0)
        return;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
        return;
    uv_tcp_init(p->t->loop, &p->tcp);
    p->tcp.data = p;
    p->creq.data = p;
    p->state = PEER_CONNECTING;
    if (uv_tcp_connect(&p->creq, &p->tcp, (struct sockaddr *)&ss, connect_cb) != 0)
        peer_close(p);
}

static void retry_cb(uv_timer_t *tm)
{
    rt_peer_t *p = tm->data;
    peer_connect(p);
}

static rt_peer_t *peer_find(pd_rt_t *t, uint64_t id)
{
    for (uint32_t i = 0; i < t->n_peers; i++)
        if (t->peers[i].id == id)
            return &t->peers[i];
    return NULL;
}

int pd_rt_set_peer(pd_rt_t *t, uint64_t id, const char *addr)
{
    if (t->stopped)
        return -PD_ESTATE;
    rt_peer_t *p = peer_find(t, id);
    if (!p) {
        if (t->n_peers == PD_RT_PEERS_MAX)
            return -PD_ELIMIT;
        p = &t->peers[t->n_peers++];
        memset(p, 0, sizeof *p);
        p->t = t;
        p->id = id;
        p->backoff_ms = PD_RT_BACKOFF_MIN_MS;
        uv_timer_init(t->loop, &p->retry);
        p->retry.data = p;
    }
    if (strcmp(p->addr, addr) == 0)
        return 0;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    if (p->state == PEER_DOWN) {
        uv_timer_stop(&p->retry);
        peer_connect(p);
    } else {
        p->addr_changed = 1;
        peer_close(p);
    }
    return 0;
}

int pd_rt_send(pd_rt_t *t, uint64_t to, uint8_t type, const void *a, size_t alen, const void *b, size_t blen)
{
    rt_peer_t *p = peer_find(t, to);
    if (!p || !p->addr[0] || t->stopped)
        return -PD_ENOTFOUND;
    if (PD_RT_HDR_LEN + alen + blen > PD_RT_FRAME_MAX)
        return -PD_ETOOBIG;
    size_t len = PD_RT_LEN_PREFIX + PD_RT_HDR_LEN + alen + blen;
    rt_frame_t *f = pd_malloc(sizeof *f + len);
    if (!f)
        return -ENOMEM;
    f->next = NULL;
    f->len = len;
    size_t off = pd_rt_frame_hdr_encode(f->data, type, t->self, to, alen + blen);
    if (alen)
        memcpy(f->data + off, a, alen);
    if (blen)
        memcpy(f->data + off + alen, b, blen);
    int rc;
    if (peer_ready(p)) {
        rc = peer_write(p, f);
    } else if (p->n_pending < PD_RT_PENDING_FRAMES_MAX) {
        if (p->tail)
            p->tail->next = f;
        else
            p->head = f;
        p->tail = f;
        p->n_pending++;
        rc = 0;
        if (p->state == PEER_DOWN && !uv_is_active((uv_handle_t *)&p->retry))
            peer_connect(p);
    } else {
        rc = -PD_ELIMIT;
    }
    if (rc) {
        pd_free(f);
        t->stats.frames_dropped++;
        return rc;
    }
    t->stats.frames_sent++;
    return 0;
}

int pd_rt_peer_connected(const pd_rt_t *t, uint64_t id)
{
    for (uint32_t i = 0; i < t->n_peers; i++)
        if (t->peers[i].id == id)
            return peer_ready(&t->peers[i]);
    return 0;
}

void pd_rt_set_lost_cb(pd_rt_t *t, pd_rt_lost_fn fn) { t->lost = fn; }

const pd_rt_stats_t *pd_rt_stats(const pd_rt_t *t) { return &t->stats; }

/* --- inbound --- */

static void conn_closed_cb(uv_handle_t *h)
{
    rt_conn_t *c = h->data;
    tls_drop(&c->tls);
    pd_ctl_framer_free(&c->framer);
    pd_free(c);
}

static void conn_close(rt_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    pd_rt_t *t = c->t;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->n_conns--;
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[64 * 1024];
    *buf = uv_buf_init(slab, sizeof slab);
}

static void conn_refused(rt_conn_t *c, const char *why, const char *detail);

/* Whole frames from the framer: Raft and forwarding, or an anonymous session's one join request. */
static void conn_frames(rt_conn_t *c)
{
    pd_rt_t *t = c->t;
    const uint8_t *body;
    size_t len;
    int rc;
    while (!c->closing && !t->stopped && (rc = pd_ctl_framer_next(&c->framer, &body, &len)) == 1) {
        if (c->anonymous || c->cert_rpc) {
            if (c->answered) { /* one request per session */
                t->stats.bad_frames++;
                conn_close(c);
                return;
            }
            c->answered = 1;
            if (c->anonymous)
                t->tls.join(t->tls.join_ctx, t, c->serial, body, len);
            else
                t->cert_fn(t->cert_ctx, t, c->serial, &c->peer, body, len);
            continue;
        }
        pd_rt_frame_t f;
        if (pd_rt_frame_parse(body, len, &f) != 0 || f.to != t->self || f.from != c->peer_id) {
            t->stats.bad_frames++;
            conn_close(c);
            return;
        }
        t->stats.frames_recv++;
        if (c->member_only && f.type != PD_RT_MEMBER) {
            conn_refused(c, "a worker certificate cannot take part in Raft", c->peer_node);
            return;
        }
        if (f.type == PD_RT_MEMBER) {
            if (!c->tls || !t->member_fn || c->answered) {
                t->stats.bad_frames++;
                conn_close(c);
                return;
            }
            c->answered = 1;
            t->member_fn(t->member_ctx, t, c->serial, c->peer_node, c->peer_manager, f.payload, f.len);
            continue;
        }
        t->fn(t->ctx, &f);
    }
    if (!c->closing && rc < 0) {
        t->stats.bad_frames++;
        conn_close(c);
    }
}

/* Log (rate-limited per reason: one flood does not hide another kind) and close. */
static void conn_refused(rt_conn_t *c, const char *why, const char *detail)
{
    pd_rt_t *t = c->t;
    t->stats.tls_refused++;
    static pd_ratelimit_t rl_tls, rl_role, rl_other;
    pd_ratelimit_t *rl = strncmp(why, "TLS handshake failed", 20) == 0 ? &rl_tls
                         : strncmp(why, "a worker", 8) == 0           ? &rl_role
                                                                      : &rl_other;
    uint64_t hidden = 0;
    if (pd_ratelimit_ok(rl, uv_now(t->loop), PD_LOG_RATE_INTERVAL_MS, &hidden))
        PD_WARN(t->log, "raft transport: refused a connection on the Raft port: %s%s%s suppressed=%llu", why,
                detail ? ": " : "", detail ? detail : "", (unsigned long long)hidden);
    tls_flush(c->tls, (uv_stream_t *)&c->tcp, NULL); /* the alert, if any */
    conn_close(c);
}

/* TLS bytes from an accepted connection: handshake (who is it?), then plaintext frames. */
static void conn_tls_input(rt_conn_t *c, const uint8_t *in, size_t left)
{
    pd_rt_t *t = c->t;
    for (int guard = 0; guard < 4096 && !c->closing; guard++) {
        size_t taken = 0;
        if (left > 0 && pd_pki_tls_feed(c->tls, in, left, &taken) != 0) {
            conn_refused(c, "TLS input refused", NULL);
            return;
        }
        in += taken;
        left -= taken;
        if (!c->tls_ready) {
            int rc = pd_pki_tls_handshake(c->tls);
            if (rc == -EAGAIN) {
                tls_flush(c->tls, (uv_stream_t *)&c->tcp, NULL);
                if (left == 0)
                    return;
                if (taken == 0) {
                    conn_refused(c, "TLS handshake stalled", NULL);
                    return;
                }
                continue;
            }
            if (rc) {
                conn_refused(c, "TLS handshake failed", pd_pki_tls_why(c->tls));
                return;
            }
            tls_flush(c->tls, (uv_stream_t *)&c->tcp, NULL);
            pd_pki_node_info_t info;
            if (pd_pki_tls_anonymous(c->tls)) {
                if (!t->tls.join) {
                    conn_refused(c, "no certificate", NULL);
                    return;
                }
                c->anonymous = 1;
            } else if (pd_pki_tls_peer(c->tls, &info) != 0) {
                conn_refused(c, "no verified certificate", NULL);
                return;
            } else if (pd_pki_tls_alpn(c->tls)) { /* asked for the renewal RPC (the only ALPN) */
                if (!t->cert_fn) {
                    conn_refused(c, "certificate renewal not served here", info.node_id);
                    return;
                }
                c->cert_rpc = 1;
                c->peer = info;
            } else if (info.role != PD_PKI_ROLE_MANAGER && !t->member_fn) {
                conn_refused(c, "a worker certificate cannot take part in Raft", info.node_id);
                return;
            } else {
                c->peer_id = pd_raft_node_id_from(info.node_id);
                c->peer_manager = info.role == PD_PKI_ROLE_MANAGER;
                c->member_only = !c->peer_manager; /* a worker: member requests, never Raft */
                snprintf(c->peer_node, sizeof c->peer_node, "%s", info.node_id);
            }
            c->tls_ready = 1;
            c->deadline_ms = c->anonymous || c->member_only || c->cert_rpc ? uv_now(t->loop) + PD_RT_ANON_MS : 0;
            t->stats.tls_accepted++;
        }
        uint8_t plain[16384];
        size_t n = 0;
        int rc;
        while ((rc = pd_pki_tls_read(c->tls, plain, sizeof plain, &n)) == 0 && n > 0) {
            if (pd_ctl_framer_feed(&c->framer, plain, n) != 0) {
                t->stats.bad_frames++;
                conn_close(c);
                return;
            }
        }
        if (rc != 0 && rc != -EAGAIN) {
            conn_close(c); /* close_notify, or a broken record */
            return;
        }
        conn_frames(c);
        if (left == 0 || c->closing)
            return;
        if (taken == 0) {
            conn_refused(c, "TLS input stalled", NULL);
            return;
        }
    }
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    rt_conn_t *c = s->data;
    if (c->closing || nread == 0)
        return;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    conn_tls_input(c, (const uint8_t *)buf->base, (size_t)nread);
}

static void on_accept(uv_stream_t *server, int status)
{
    pd_rt_t *t = server->data;
    if (status < 0 || t->stopped)
        return;
    rt_conn_t *c = pd_calloc(1, sizeof *c);
    if (!c)
        return;
    c->t = t;
    uv_tcp_init(t->loop, &c->tcp);
    c->tcp.data = c;
    pd_ctl_framer_init(&c->framer, PD_RT_FRAME_MAX);
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    t->n_conns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || t->n_conns > PD_RT_INBOUND_MAX) {
        t->stats.conn_refused++;
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1); /* handshake flights are several small writes */
    c->serial = ++t->conn_serials;
    c->deadline_ms = uv_now(t->loop) + PD_RT_HANDSHAKE_MS; /* slow or silent peers go */
    c->tls = pd_calloc(1, sizeof *c->tls);
    if (!c->tls || pd_pki_tls_init(c->tls, t->tls.server) != 0) {
        conn_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
}

static void sweep_cb(uv_timer_t *tm);

int pd_rt_start(uv_loop_t *loop, const char *listen_addr, uint64_t self_id, pd_rt_recv_fn fn, void *ctx,
                const pd_rt_tls_t *tls, const pd_log_t *log, pd_rt_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!tls || !tls->server || !tls->client) {
        snprintf(err, errlen, "the Raft transport runs mutual TLS only, and this node has no certificate");
        return -PD_EUSAGE;
    }
    pd_rt_t *t = pd_calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->loop = loop;
    t->self = self_id;
    t->fn = fn;
    t->ctx = ctx;
    t->log = log;
    t->tls = *tls;
    *out = t;
    uv_timer_init(loop, &t->sweep);
    t->sweep.data = t;
    t->sweep_open = 1;
    uv_timer_start(&t->sweep, sweep_cb, 500, 500);
    char host[PD_ADDR_MAX];
    uint16_t port = 0;
    struct sockaddr_storage ss;
    if (pd_config_parse_hostport(listen_addr, host, sizeof host, &port) != 0)
        return -PD_EUSAGE;
    if (port == 0)
        port = 2377;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
        return -PD_EUSAGE;
    uv_tcp_init(loop, &t->listener);
    t->listener.data = t;
    t->listening = 1;
    int rc = uv_tcp_bind(&t->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&t->listener, 64, on_accept);
    if (rc) {
        snprintf(err, errlen, "cannot listen for Raft on %s: %s", listen_addr, uv_strerror(rc));
        uv_close((uv_handle_t *)&t->listener, NULL);
        return rc;
    }
    return 0;
}

static void sweep_cb(uv_timer_t *tm)
{
    pd_rt_t *t = tm->data;
    uint64_t now = uv_now(t->loop);
    rt_conn_t *c = t->conns;
    while (c) {
        rt_conn_t *next = c->next;
        if (c->deadline_ms && now >= c->deadline_ms)
            conn_refused(c, c->tls_ready ? "join session too long" : "TLS handshake not finished in time", NULL);
        c = next;
    }
}

void pd_rt_set_member_rpc(pd_rt_t *t, pd_rt_member_fn fn, void *ctx)
{
    t->member_fn = fn;
    t->member_ctx = ctx;
}

int pd_rt_set_tls(pd_rt_t *t, const pd_rt_tls_t *tls)
{
    if (!tls || !tls->server || !tls->client)
        return -PD_EUSAGE;
    t->tls = *tls;
    return 0;
}

void pd_rt_set_cert_rpc(pd_rt_t *t, pd_rt_cert_fn fn, void *ctx)
{
    t->cert_fn = fn;
    t->cert_ctx = ctx;
}

static void conn_shut_cb(uv_shutdown_t *req, int status)
{
    conn_close(req->data);
}

int pd_rt_conn_reply(pd_rt_t *t, uint64_t conn, const void *data, size_t len)
{
    rt_conn_t *c = t->conns;
    while (c && c->serial != conn)
        c = c->next;
    if (!c || c->closing)
        return -PD_ENOTFOUND;
    uint8_t prefix[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    int rc = tls_send(c->tls, (uv_stream_t *)&c->tcp, NULL, prefix, sizeof prefix);
    if (rc == 0)
        rc = tls_send(c->tls, (uv_stream_t *)&c->tcp, NULL, data, len);
    if (rc == 0) {
        pd_pki_tls_close(c->tls);
        tls_flush(c->tls, (uv_stream_t *)&c->tcp, NULL);
    }
    /* the answer is written before the connection closes */
    c->shut.data = c;
    if (rc != 0 || uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, conn_shut_cb) != 0)
        conn_close(c);
    return rc;
}

void pd_rt_stop(pd_rt_t *t)
{
    if (!t || t->stopped)
        return;
    t->stopped = 1;
    if (t->sweep_open)
        uv_close((uv_handle_t *)&t->sweep, NULL);
    if (t->listening && !uv_is_closing((uv_handle_t *)&t->listener))
        uv_close((uv_handle_t *)&t->listener, NULL);
    while (t->conns)
        conn_close(t->conns);
    for (uint32_t i = 0; i < t->n_peers; i++) {
        rt_peer_t *p = &t->peers[i];
        peer_close(p);
        uv_close((uv_handle_t *)&p->retry, NULL);
        pending_free(p);
    }
}

void pd_rt_free(pd_rt_t *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->n_peers; i++) {
        pending_free(&t->peers[i]);
        tls_drop(&t->peers[i].tls);
    }
    pd_free(t);
}
