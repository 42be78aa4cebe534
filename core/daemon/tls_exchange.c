/* One-shot TLS exchange, the client's side (tls_exchange.h). */
#include "tls_exchange.h"

#include <errno.h>
#include <stdio.h>

#include "pd_err.h"

int pd_tls_exchange_step(pd_pki_tls_t *tls, int handshaken, pd_ctl_framer_t *fr, const uint8_t *in, size_t len,
                         size_t *taken, const uint8_t **body, size_t *blen, char *why, size_t cap)
{
    *taken = 0;
    if (len > 0 && pd_pki_tls_feed(tls, in, len, taken) != 0) {
        snprintf(why, cap, "TLS input refused");
        return -PD_EMALFORMED;
    }
    if (!handshaken) {
        int rc = pd_pki_tls_handshake(tls);
        if (rc == -EAGAIN)
            return PD_TLSX_MORE;
        if (rc) {
            snprintf(why, cap, "TLS with the manager failed: %s", pd_pki_tls_why(tls));
            return rc;
        }
        return PD_TLSX_READY;
    }
    uint8_t buf[4096];
    size_t n = 0;
    int rc;
    while ((rc = pd_pki_tls_read(tls, buf, sizeof buf, &n)) == 0 && n > 0) {
        if (pd_ctl_framer_feed(fr, buf, n) != 0) {
            snprintf(why, cap, "the manager's answer is too large");
            return -PD_ETOOBIG;
        }
    }
    int got = pd_ctl_framer_next(fr, body, blen);
    if (got < 0) {
        snprintf(why, cap, "the manager's answer is not framed");
        return got;
    }
    if (got == 1) /* the answer may arrive together with the manager's close_notify */
        return PD_TLSX_ANSWER;
    if (rc != 0 && rc != -EAGAIN) {
        snprintf(why, cap, "the manager closed the connection: %s", pd_pki_tls_why(tls));
        return rc;
    }
    return PD_TLSX_MORE;
}
