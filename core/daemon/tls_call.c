/* One TLS request/answer: the connection, the handshake, one frame each way (see tls_call.h). */
#include "tls_call.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctl_wire.h"
#include "pd_alloc.h"
#include "pd_err.h"

struct pd_tls_call {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t timer;
    int handles;            /* open libuv handles; freed when both closed */
    int finished;
    char addr[PD_ADDR_MAX + 8];
    pd_pki_tls_t *tls;
    int sent;
    pd_ctl_framer_t framer;
    uint8_t *req;           /* length prefix + body */
    size_t req_len;
    pd_tls_call_done_fn done;
    void *ctx;
};

static void closed_cb(uv_handle_t *h)
{
    pd_tls_call_t *c = h->data;
    if (--c->handles > 0)
        return;
    if (c->tls) {
        pd_pki_tls_free(c->tls);
        pd_free(c->tls);
    }
    pd_ctl_framer_free(&c->framer);
    pd_free(c->req);
    pd_free(c);
}

static void call_close(pd_tls_call_t *c)
{
    c->finished = 1;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, closed_cb);
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, closed_cb);
}

static void finish(pd_tls_call_t *c, int rc, const char *err, const uint8_t *body, size_t len)
{
    if (c->finished)
        return;
    c->finished = 1;
    c->done(c->ctx, rc, err, body, len);
    call_close(c);
}

static void fail(pd_tls_call_t *c, int rc, const char *what, const char *detail)
{
    char err[256];
    snprintf(err, sizeof err, "%s %s%s%s", what, c->addr, detail ? ": " : "", detail ? detail : "");
    finish(c, rc, err, NULL, 0);
}

typedef struct {
    uv_write_t req;
    uint8_t data[];
} call_write_t;

static void write_cb(uv_write_t *req, int status) { pd_free(req); }

static int flush(pd_tls_call_t *c)
{
    uint8_t buf[8192];
    size_t n;
    while ((n = pd_pki_tls_drain(c->tls, buf, sizeof buf)) > 0) {
        call_write_t *w = pd_malloc(sizeof *w + n);
        if (!w)
            return -ENOMEM;
        memcpy(w->data, buf, n);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
            pd_free(w);
            return -PD_ECLOSED;
        }
    }
    return 0;
}

/* Advance with whatever arrived: handshake, send the request once, collect the answer frame. */
static void advance(pd_tls_call_t *c, const uint8_t *in, size_t left)
{
    for (int guard = 0; guard < 1024 && !c->finished; guard++) {
        size_t taken = 0;
        if (left > 0) {
            pd_pki_tls_feed(c->tls, in, left, &taken);
            in += taken;
            left -= taken;
        }
        int rc = pd_pki_tls_handshake(c->tls);
        if (rc == -EAGAIN) {
            if (flush(c) != 0)
                return fail(c, -PD_ECLOSED, "cannot send to", NULL);
            if (left == 0)
                return;
            continue;
        }
        if (rc)
            return fail(c, rc, "TLS with", pd_pki_tls_why(c->tls));
        if (!c->sent) {
            size_t w = 0;
            if (pd_pki_tls_write(c->tls, c->req, c->req_len, &w) != 0 || w != c->req_len)
                return fail(c, -PD_ETOOBIG, "cannot send the request to", NULL);
            c->sent = 1;
        }
        if (flush(c) != 0)
            return fail(c, -PD_ECLOSED, "cannot send to", NULL);
        uint8_t buf[4096];
        size_t n = 0;
        while ((rc = pd_pki_tls_read(c->tls, buf, sizeof buf, &n)) == 0 && n > 0) {
            if (pd_ctl_framer_feed(&c->framer, buf, n) != 0)
                return fail(c, -PD_ETOOBIG, "answer too large from", NULL);
        }
        const uint8_t *body;
        size_t blen;
        int fr = pd_ctl_framer_next(&c->framer, &body, &blen);
        if (fr == 1)
            return finish(c, 0, NULL, body, blen);
        if (fr < 0)
            return fail(c, fr, "unframed answer from", NULL);
        if (rc != 0 && rc != -EAGAIN)
            return fail(c, rc, "connection closed by", pd_pki_tls_why(c->tls));
        if (left == 0 || taken == 0)
            return;
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[16384];
    *buf = uv_buf_init(slab, sizeof slab);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    pd_tls_call_t *c = s->data;
    if (c->finished || nread == 0)
        return;
    if (nread < 0)
        return fail(c, -PD_ECLOSED, "connection closed by", NULL);
    advance(c, (const uint8_t *)buf->base, (size_t)nread);
}

static void connect_cb(uv_connect_t *req, int status)
{
    pd_tls_call_t *c = req->data;
    if (c->finished || status == UV_ECANCELED)
        return;
    if (status != 0)
        return fail(c, -PD_ECLOSED, "cannot reach", uv_strerror(status));
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    advance(c, NULL, 0); /* the ClientHello */
}

static void timeout_cb(uv_timer_t *t)
{
    pd_tls_call_t *c = t->data;
    fail(c, -PD_ETIMEOUT, "no answer in time from", NULL);
}

int pd_tls_call_start(uv_loop_t *loop, const char *addr, pd_pki_tls_conf_t *conf, const void *body, size_t len,
                      size_t answer_max, uint32_t timeout_ms, pd_tls_call_done_fn done, void *ctx,
                      pd_tls_call_t **out)
{
    char host[PD_ADDR_MAX];
    uint16_t port = 0;
    struct sockaddr_storage ss;
    if (pd_config_parse_hostport(addr, host, sizeof host, &port) != 0 || port == 0 ||
        (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
         uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0))
        return -PD_EUSAGE;
    pd_tls_call_t *c = pd_calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->tls = pd_calloc(1, sizeof *c->tls);
    c->req = pd_malloc(len + 4);
    if (!c->tls || !c->req || pd_pki_tls_init(c->tls, conf) != 0) {
        pd_free(c->tls);
        pd_free(c->req);
        pd_free(c);
        return -ENOMEM;
    }
    c->req[0] = (uint8_t)(len >> 24), c->req[1] = (uint8_t)(len >> 16), c->req[2] = (uint8_t)(len >> 8);
    c->req[3] = (uint8_t)len;
    memcpy(c->req + 4, body, len);
    c->req_len = len + 4;
    pd_ctl_framer_init(&c->framer, answer_max);
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    c->done = done;
    c->ctx = ctx;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c->timer.data = c->creq.data = c;
    c->handles = 2;
    uv_timer_start(&c->timer, timeout_cb, timeout_ms, 0);
    if (uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss, connect_cb) != 0) {
        call_close(c);
        return -PD_ECLOSED;
    }
    *out = c;
    return 0;
}

void pd_tls_call_cancel(pd_tls_call_t *c)
{
    if (c && !c->finished)
        call_close(c);
}
