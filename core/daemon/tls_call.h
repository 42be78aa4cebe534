/* One request and one answer over a fresh TLS connection to a manager (the libuv shell around
 * tls_exchange.h): connect, run the exchange (handshake, one frame each way), time out, close.
 * Used by the join RPC, the gossip keyring fetch and certificate renewal. */
#ifndef PD_TLS_CALL_H
#define PD_TLS_CALL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pki.h"
#include "tls_exchange.h"

typedef struct pd_tls_call pd_tls_call_t;

/* rc 0 and the answer's body, or an error with a sentence (the body is NULL). The call is freed
 * after done returns. */
typedef void (*pd_tls_call_done_fn)(void *ctx, int rc, const char *err, const uint8_t *body, size_t len);

/* Run the caller's exchange x (initialised, with its request) against addr "IP[:PORT]" (the port
 * defaults to 2377, the Raft port, where managers serve these RPCs). x is the caller's to free,
 * after done ran or after pd_tls_call_cancel. 0, or an error now (-PD_EUSAGE: bad address; no
 * memory) and done is not called. */
int pd_tls_call_run(uv_loop_t *loop, const char *addr, pd_tlsx_t *x, uint32_t timeout_ms, pd_tls_call_done_fn done,
                    void *ctx, pd_tls_call_t **out);
/* The same with an exchange of its own sending one frame with body. conf must stay alive until done
 * has run (its session count says so). */
int pd_tls_call_start(uv_loop_t *loop, const char *addr, pd_pki_tls_conf_t *conf, const void *body, size_t len,
                      size_t answer_max, uint32_t timeout_ms, pd_tls_call_done_fn done, void *ctx,
                      pd_tls_call_t **out);
/* The address called, as "IP:PORT" ("[IPv6]:PORT"). */
const char *pd_tls_call_peer(const pd_tls_call_t *c);
/* Stop without calling done (shutdown). */
void pd_tls_call_cancel(pd_tls_call_t *c);

#endif
