/* One request and one answer over a fresh mutual-TLS connection (libuv shell): connect, handshake
 * with the given client config, send one frame (u32 big-endian length + body), read one frame,
 * close. Used by certificate renewal (the answer's frame may arrive with the server's close). */
#ifndef PD_TLS_CALL_H
#define PD_TLS_CALL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pki.h"

typedef struct pd_tls_call pd_tls_call_t;

/* rc 0 and the answer's body, or an error with a sentence (the body is NULL). The call is freed
 * after done returns. */
typedef void (*pd_tls_call_done_fn)(void *ctx, int rc, const char *err, const uint8_t *body, size_t len);

/* addr "IP:PORT". conf must stay alive until done has run (its session count says so). 0, or an
 * error now (bad address, no memory) and done is not called. */
int pd_tls_call_start(uv_loop_t *loop, const char *addr, pd_pki_tls_conf_t *conf, const void *body, size_t len,
                      size_t answer_max, uint32_t timeout_ms, pd_tls_call_done_fn done, void *ctx,
                      pd_tls_call_t **out);
/* Stop without calling done (shutdown). */
void pd_tls_call_cancel(pd_tls_call_t *c);

#endif
