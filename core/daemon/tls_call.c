/* One TLS request/answer over libuv: the connection, the timer, the bytes (see tls_call.h). */
#include "tls_call.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "raft_node.h"

struct pd_tls_call {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t timer;
    int handles;            /* open libuv handles; freed when both closed */
    int finished;
    char addr[PD_ADDR_MAX + 8];
    pd_tlsx_t *x;           /* &own, or the caller's */
    pd_tlsx_t own;
    pd_tls_call_done_fn done;
    void *ctx;
};

static void closed_cb(uv_handle_t *h)
{
    pd_tls_call_t *c = h->data;
    if (--c->handles > 0)
        return;
    if (c->x == &c->own)
        pd_tlsx_free(&c->own);
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

static void finish(pd_tls_call_t *c)
{
    if (c->finished)
        return;
    c->finished = 1;
    pd_tlsx_t *x = c->x;
    if (x->state == PD_TLSX_DONE)
        c->done(c->ctx, 0, NULL, x->body, x->blen);
    else
        c->done(c->ctx, x->rc ? x->rc : -PD_EINTERNAL, x->err, NULL, 0);
    call_close(c);
}

/* The connection failed: say which manager, then finish. */
static void fail(pd_tls_call_t *c, int rc, const char *fmt, const char *detail)
{
    char why[PD_TLSX_ERR_MAX];
    snprintf(why, sizeof why, fmt, c->addr, detail ? detail : "");
    pd_tlsx_abort(c->x, rc, why);
    finish(c);
}

typedef struct {
    uv_write_t req;
    uint8_t data[];
} call_write_t;

static void write_cb(uv_write_t *req, int status) { pd_free(req); }

/* Send what the exchange has queued; then finish if it has. */
static void flush(pd_tls_call_t *c)
{
    uint8_t buf[8192];
    size_t n;
    while ((n = pd_tlsx_output(c->x, buf, sizeof buf)) > 0) {
        call_write_t *w = pd_malloc(sizeof *w + n);
        if (!w)
            return fail(c, -ENOMEM, "out of memory talking to the manager at %s%s", NULL);
        memcpy(w->data, buf, n);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
            pd_free(w);
            return fail(c, -PD_ECLOSED, "cannot send to the manager at %s%s", NULL);
        }
    }
    if (c->x->state == PD_TLSX_DONE || c->x->state == PD_TLSX_FAILED)
        finish(c);
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
        return fail(c, -PD_ECLOSED, "the manager at %s closed the connection%s", NULL);
    pd_tlsx_input(c->x, buf->base, (size_t)nread);
    flush(c);
}

static void connect_cb(uv_connect_t *req, int status)
{
    pd_tls_call_t *c = req->data;
    if (c->finished || status == UV_ECANCELED)
        return;
    if (status != 0)
        return fail(c, -PD_ECLOSED, "cannot reach the manager at %s: %s", uv_strerror(status));
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    flush(c); /* the ClientHello */
}

static void timeout_cb(uv_timer_t *t)
{
    pd_tls_call_t *c = t->data;
    fail(c, -PD_ETIMEOUT, "no answer in time from the manager at %s%s", NULL);
}

/* A call with its address resolved, not yet connected; NULL on a bad address (*rc set). */
static pd_tls_call_t *call_new(const char *addr, struct sockaddr_storage *ss, int *rc)
{
    char host[PD_ADDR_MAX];
    uint16_t port = 0;
    if (pd_config_parse_hostport(addr, host, sizeof host, &port) != 0)
        port = 0, host[0] = '\0';
    if (!port)
        port = PD_RN_RAFT_PORT;
    if (!host[0] || (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) != 0 &&
                     uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) != 0)) {
        *rc = -PD_EUSAGE;
        return NULL;
    }
    pd_tls_call_t *c = pd_calloc(1, sizeof *c);
    if (!c) {
        *rc = -ENOMEM;
        return NULL;
    }
    snprintf(c->addr, sizeof c->addr, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    return c;
}

static int call_connect(uv_loop_t *loop, pd_tls_call_t *c, const struct sockaddr_storage *ss, uint32_t timeout_ms,
                        pd_tls_call_done_fn done, void *ctx, pd_tls_call_t **out)
{
    c->done = done;
    c->ctx = ctx;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c->timer.data = c->creq.data = c;
    c->handles = 2;
    uv_timer_start(&c->timer, timeout_cb, timeout_ms, 0);
    if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)ss, connect_cb) != 0) {
        call_close(c);
        return -PD_ECLOSED;
    }
    *out = c;
    return 0;
}

int pd_tls_call_run(uv_loop_t *loop, const char *addr, pd_tlsx_t *x, uint32_t timeout_ms, pd_tls_call_done_fn done,
                    void *ctx, pd_tls_call_t **out)
{
    struct sockaddr_storage ss;
    int rc = 0;
    pd_tls_call_t *c = call_new(addr, &ss, &rc);
    if (!c)
        return rc;
    c->x = x;
    return call_connect(loop, c, &ss, timeout_ms, done, ctx, out);
}

int pd_tls_call_start(uv_loop_t *loop, const char *addr, pd_pki_tls_conf_t *conf, const void *body, size_t len,
                      size_t answer_max, uint32_t timeout_ms, pd_tls_call_done_fn done, void *ctx,
                      pd_tls_call_t **out)
{
    struct sockaddr_storage ss;
    int rc = 0;
    pd_tls_call_t *c = call_new(addr, &ss, &rc);
    if (!c)
        return rc;
    c->x = &c->own;
    if ((rc = pd_tlsx_init(&c->own, conf, answer_max)) != 0 || (rc = pd_tlsx_set_request(&c->own, body, len)) != 0) {
        pd_tlsx_free(&c->own);
        pd_free(c);
        return rc;
    }
    return call_connect(loop, c, &ss, timeout_ms, done, ctx, out);
}

const char *pd_tls_call_peer(const pd_tls_call_t *c) { return c->addr; }

void pd_tls_call_cancel(pd_tls_call_t *c)
{
    if (c && !c->finished)
        call_close(c);
}
