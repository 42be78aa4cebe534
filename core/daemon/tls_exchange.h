/* The client side of a one-shot exchange with a manager over TLS, sans-IO: handshake, one request,
 * one answer frame (u32 big-endian length + body, the control protocol's framing), then
 * close_notify. Network bytes in (pd_tlsx_input) and out (pd_tlsx_output); no sockets, no time.
 * Driven over libuv by tls_call.c; used by the join RPC (join_wire.c), the gossip keyring fetch
 * (gossip_keyfetch.c) and certificate renewal (ca_renew.c), which keep only their messages. */
#ifndef PD_TLS_EXCHANGE_H
#define PD_TLS_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_wire.h"
#include "pki.h"

#define PD_TLSX_ERR_MAX 320u

typedef enum {
    PD_TLSX_HANDSHAKE = 0,
    PD_TLSX_WAIT,   /* request sent; waiting for the answer */
    PD_TLSX_DONE,   /* body / blen: the answer (owned by the exchange's framer) */
    PD_TLSX_FAILED, /* rc, err */
} pd_tlsx_state_t;

/* Called once, when the handshake completes: write the request with pd_pki_tls_write (the peer's
 * identity is known by now). 0, or an error with a sentence in why. */
typedef int (*pd_tlsx_request_fn)(void *ctx, pd_pki_tls_t *tls, char *why, size_t cap);
/* Called once with the answer's body: 0 accepts it (DONE), an error with a sentence in why refuses
 * it (FAILED). */
typedef int (*pd_tlsx_answer_fn)(void *ctx, const uint8_t *body, size_t len, char *why, size_t cap);

typedef struct {
    pd_tlsx_state_t state;
    int rc;
    char err[PD_TLSX_ERR_MAX];
    pd_pki_tls_t *tls;  /* heap: ~75 KiB */
    pd_ctl_framer_t framer;
    uint8_t *req;       /* the framed request (pd_tlsx_set_request), or NULL with a request fn */
    size_t req_len;
    pd_tlsx_request_fn request;
    pd_tlsx_answer_fn answer;
    void *hook_ctx;
    const uint8_t *body;
    size_t blen;
} pd_tlsx_t;

/* conf stays alive until pd_tlsx_free. Queues the ClientHello. 0 or an error (err set); the
 * exchange must be freed either way. */
int pd_tlsx_init(pd_tlsx_t *x, pd_pki_tls_conf_t *conf, size_t answer_max);
/* The request: one frame with this body (copied), or what the request hook writes. */
int pd_tlsx_set_request(pd_tlsx_t *x, const void *body, size_t len);
/* A protocol's own steps (either may be NULL). */
void pd_tlsx_set_hooks(pd_tlsx_t *x, pd_tlsx_request_fn request, pd_tlsx_answer_fn answer, void *ctx);
/* Network bytes in (len may be 0); advances the exchange. Returns the state. */
pd_tlsx_state_t pd_tlsx_input(pd_tlsx_t *x, const void *data, size_t len);
/* Network bytes out (call after init and after every input). */
size_t pd_tlsx_output(pd_tlsx_t *x, void *out, size_t cap);
/* The connection failed, closed or timed out before DONE (nothing changes once finished; also
 * marks a zeroed exchange FAILED, for a protocol that fails before pd_tlsx_init). */
void pd_tlsx_abort(pd_tlsx_t *x, int rc, const char *why);
void pd_tlsx_free(pd_tlsx_t *x);

#endif
