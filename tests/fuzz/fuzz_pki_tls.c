/* Fuzz a TLS session fed by a hostile network ("garbage on 2377"). The first byte picks the mode:
 *   0  a server session gets the bytes as they are;
 *   1  a client session sends its ClientHello, then gets the bytes as the server's answer;
 *   2  a server session first gets a real ClientHello from our client, then the bytes.
 * Whatever comes in, a session must fail cleanly or wait: never crash, never finish a handshake
 * (the bytes carry no valid certificate of the fixed CA), never hand out plaintext. Keys are made
 * once from a fixed seed; every input gets a fresh DRBG with the same seed, so runs replay. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pki.h"

#define NOW_S 1764806400LL
#define FUZZ_MAX 65536

static pd_pki_ca_t ca;
static pd_pki_ident_t mgr, wrk;
static pd_clock_sim_t clk;

static void issue(pd_pki_ident_t *id, const char *node_id, pd_pki_role_t role, pd_pki_rng_t rng)
{
    char csr[PD_PKI_PEM_MAX], crt[PD_PKI_PEM_MAX];
    size_t csr_len = 0, crt_len = 0;
    const char *why = NULL;
    pd_pki_ident_init(id);
    if (pd_pki_ident_generate(id, rng) || pd_pki_ident_csr(id, node_id, rng, csr, sizeof csr, &csr_len) ||
        pd_pki_ca_sign_csr(&ca, csr, csr_len, node_id, role, NOW_S, 0, rng, crt, sizeof crt, &crt_len, &why) ||
        pd_pki_ident_set_cert(id, &ca, crt, crt_len, NOW_S, &why))
        abort();
}

static void setup_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    pd_pki_drbg_t d;
    if (pd_pki_drbg_init_seeded(&d, 1))
        abort();
    pd_pki_ca_init(&ca);
    if (pd_pki_ca_create(&ca, "fuzz", NOW_S, 0, pd_pki_drbg_rng(&d)))
        abort();
    issue(&mgr, "m00000000000000000000000a", PD_PKI_ROLE_MANAGER, pd_pki_drbg_rng(&d));
    issue(&wrk, "w00000000000000000000000b", PD_PKI_ROLE_WORKER, pd_pki_drbg_rng(&d));
    pd_pki_drbg_free(&d);
    pd_clock_sim_init(&clk, 0, (uint64_t)NOW_S * 1000u);
}

static uint8_t scratch[PD_PKI_TLS_BUF];

/* Feed in pieces (as TCP would), stepping the handshake after each. */
static void drive(pd_pki_tls_t *t, const uint8_t *data, size_t size)
{
    size_t off = 0;
    int rc = -EAGAIN;
    while (off < size) {
        size_t piece = size - off < 1500 ? size - off : 1500, taken = 0;
        if (pd_pki_tls_feed(t, data + off, piece, &taken) != 0)
            abort();
        off += taken;
        rc = pd_pki_tls_handshake(t);
        pd_pki_tls_drain(t, scratch, sizeof scratch);
        if (rc != -EAGAIN)
            break;
        if (taken == 0)
            break; /* input buffer full and the session waits: a caller would stop reading */
    }
    if (rc == 0)
        abort(); /* no certificate of ours can be in fuzzer bytes */
    size_t n = 0;
    int r = pd_pki_tls_read(t, scratch, sizeof scratch, &n);
    if (r == 0 || (rc != -EAGAIN && r != rc))
        abort();
    if (rc != -EAGAIN && pd_pki_tls_handshake(t) != rc)
        abort(); /* failures are sticky */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > FUZZ_MAX)
        return 0;
    setup_once();
    pd_pki_drbg_t d;
    if (pd_pki_drbg_init_seeded(&d, 2))
        abort();
    pd_pki_rng_t rng = pd_pki_drbg_rng(&d);
    pd_pki_tls_conf_t sc, cc;
    if (pd_pki_tls_conf_init(&sc, PD_PKI_TLS_SERVER, &ca, &mgr, &clk.base, rng) ||
        pd_pki_tls_conf_init(&cc, PD_PKI_TLS_CLIENT, &ca, &wrk, &clk.base, rng))
        abort();
    pd_pki_tls_t *s = calloc(1, sizeof *s), *c = calloc(1, sizeof *c);
    if (!s || !c || pd_pki_tls_init(s, &sc) || pd_pki_tls_init(c, &cc))
        abort();
    uint8_t mode = data[0];
    if (mode == 1) {
        if (pd_pki_tls_handshake(c) != -EAGAIN)
            abort();
        pd_pki_tls_drain(c, scratch, sizeof scratch);
        drive(c, data + 1, size - 1);
    } else if (mode == 2) {
        size_t taken = 0;
        if (pd_pki_tls_handshake(c) != -EAGAIN)
            abort();
        size_t n = pd_pki_tls_drain(c, scratch, sizeof scratch);
        if (pd_pki_tls_feed(s, scratch, n, &taken) || taken != n)
            abort();
        if (pd_pki_tls_handshake(s) != -EAGAIN)
            abort();
        pd_pki_tls_drain(s, scratch, sizeof scratch);
        drive(s, data + 1, size - 1);
    } else {
        drive(s, data + (mode == 0), size - (mode == 0));
    }
    pd_pki_tls_free(s);
    pd_pki_tls_free(c);
    free(s);
    free(c);
    pd_pki_tls_conf_free(&sc);
    pd_pki_tls_conf_free(&cc);
    pd_pki_drbg_free(&d);
    return 0;
}
