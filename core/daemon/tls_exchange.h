/* The client side of a one-shot exchange over TLS, sans-IO: finish the handshake, let the caller
 * send its one request, then gather the one answer frame (u32 big-endian length + body, the
 * control protocol's framing). Shared by the join RPC (join_wire.c) and the gossip keyring fetch
 * (gossip_keyfetch.c); each keeps its own state around it. */
#ifndef PD_TLS_EXCHANGE_H
#define PD_TLS_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_wire.h"
#include "pki.h"

enum {
    PD_TLSX_MORE = 0,   /* wait for more bytes */
    PD_TLSX_READY = 1,  /* the handshake just completed: send the request, then step again */
    PD_TLSX_ANSWER = 2, /* *body / *blen: the answer (borrowed from the framer) */
};

/* One step with network bytes in (len may be 0); *taken: how many were consumed. handshaken: the
 * caller already saw PD_TLSX_READY. Returns a PD_TLSX_* value, or a negative code with the reason
 * in why (a sentence about "the manager"). */
int pd_tls_exchange_step(pd_pki_tls_t *tls, int handshaken, pd_ctl_framer_t *fr, const uint8_t *in, size_t len,
                         size_t *taken, const uint8_t **body, size_t *blen, char *why, size_t cap);

#endif
