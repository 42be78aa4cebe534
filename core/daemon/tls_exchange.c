/* One-shot TLS exchange, the client's side (tls_exchange.h). */
#include "tls_exchange.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"

static pd_tlsx_state_t fail(pd_tlsx_t *x, int rc, const char *fmt, const char *detail)
{
    if (x->state == PD_TLSX_DONE || x->state == PD_TLSX_FAILED)
        return x->state;
    x->state = PD_TLSX_FAILED;
    x->rc = rc ? rc : -PD_EINTERNAL;
    snprintf(x->err, sizeof x->err, fmt, detail ? detail : pd_strerror(x->rc));
    return x->state;
}

int pd_tlsx_init(pd_tlsx_t *x, pd_pki_tls_conf_t *conf, size_t answer_max)
{
    memset(x, 0, sizeof *x);
    pd_ctl_framer_init(&x->framer, answer_max);
    x->tls = pd_calloc(1, sizeof *x->tls);
    if (!x->tls) {
        fail(x, -ENOMEM, "%s", NULL);
        return -ENOMEM;
    }
    int rc = pd_pki_tls_init(x->tls, conf);
    if (rc) {
        pd_free(x->tls);
        x->tls = NULL;
        fail(x, rc, "cannot set up TLS: %s", NULL);
        return rc;
    }
    pd_pki_tls_handshake(x->tls); /* queues the ClientHello */
    return 0;
}

int pd_tlsx_set_request(pd_tlsx_t *x, const void *body, size_t len)
{
    uint8_t *req = pd_malloc(len + 4);
    if (!req)
        return -ENOMEM;
    req[0] = (uint8_t)(len >> 24), req[1] = (uint8_t)(len >> 16), req[2] = (uint8_t)(len >> 8);
    req[3] = (uint8_t)len;
    memcpy(req + 4, body, len);
    pd_free(x->req);
    x->req = req;
    x->req_len = len + 4;
    return 0;
}

void pd_tlsx_set_hooks(pd_tlsx_t *x, pd_tlsx_request_fn request, pd_tlsx_answer_fn answer, void *ctx)
{
    x->request = request;
    x->answer = answer;
    x->hook_ctx = ctx;
}

static pd_tlsx_state_t send_request(pd_tlsx_t *x)
{
    char why[PD_TLSX_ERR_MAX] = "cannot send the request";
    int rc;
    if (x->request) {
        rc = x->request(x->hook_ctx, x->tls, why, sizeof why);
    } else {
        size_t w = 0;
        rc = pd_pki_tls_write(x->tls, x->req, x->req_len, &w);
        if (rc == 0 && w != x->req_len)
            rc = -PD_ETOOBIG;
    }
    if (rc)
        return fail(x, rc, "%s", why);
    x->state = PD_TLSX_WAIT;
    return x->state;
}

/* Collect what the session decrypted into the answer frame. */
static pd_tlsx_state_t gather(pd_tlsx_t *x)
{
    uint8_t buf[4096];
    size_t n = 0;
    int rc;
    while ((rc = pd_pki_tls_read(x->tls, buf, sizeof buf, &n)) == 0 && n > 0) {
        if (pd_ctl_framer_feed(&x->framer, buf, n) != 0)
            return fail(x, -PD_ETOOBIG, "%s", "the manager's answer is too large");
    }
    int got = pd_ctl_framer_next(&x->framer, &x->body, &x->blen);
    if (got < 0)
        return fail(x, got, "%s", "the manager's answer is not framed");
    if (got == 1) { /* the answer may arrive together with the manager's close_notify */
        char why[PD_TLSX_ERR_MAX] = "bad answer from the manager";
        if (x->answer && (rc = x->answer(x->hook_ctx, x->body, x->blen, why, sizeof why)) != 0)
            return fail(x, rc, "%s", why);
        x->state = PD_TLSX_DONE;
        pd_pki_tls_close(x->tls);
        return x->state;
    }
    if (rc != 0 && rc != -EAGAIN)
        return fail(x, rc, "the manager closed the connection: %s", pd_pki_tls_why(x->tls));
    return x->state;
}

pd_tlsx_state_t pd_tlsx_input(pd_tlsx_t *x, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (x->tls && (x->state == PD_TLSX_HANDSHAKE || x->state == PD_TLSX_WAIT)) {
        size_t taken = 0;
        if (len > 0 && pd_pki_tls_feed(x->tls, p, len, &taken) != 0)
            return fail(x, -PD_EMALFORMED, "%s", "TLS input refused");
        p += taken;
        len -= taken;
        if (x->state == PD_TLSX_HANDSHAKE) {
            int rc = pd_pki_tls_handshake(x->tls);
            if (rc && rc != -EAGAIN)
                return fail(x, rc, "TLS with the manager failed: %s", pd_pki_tls_why(x->tls));
            if (rc == 0 && send_request(x) != PD_TLSX_WAIT)
                return x->state;
        }
        if (x->state == PD_TLSX_WAIT && gather(x) != PD_TLSX_WAIT)
            return x->state;
        if (len == 0 || taken == 0)
            break;
    }
    return x->state;
}

size_t pd_tlsx_output(pd_tlsx_t *x, void *out, size_t cap)
{
    return x->tls ? pd_pki_tls_drain(x->tls, out, cap) : 0;
}

void pd_tlsx_abort(pd_tlsx_t *x, int rc, const char *why) { fail(x, rc, "%s", why); }

void pd_tlsx_free(pd_tlsx_t *x)
{
    if (x->tls) {
        pd_pki_tls_free(x->tls);
        pd_free(x->tls);
    }
    pd_ctl_framer_free(&x->framer);
    pd_free(x->req);
    memset(x, 0, sizeof *x);
}
