/* A client of the certificate renewal RPC for e2e tests: mutual TLS on the Raft port with the
 * certificate in a data dir (ALPN pd-cert/1), one renewal request, the answer printed.
 *   cert_probe DATADIR IP:PORT [NODE_ID]
 *       a new key and a CSR naming NODE_ID (default: the data dir's own node id); prints
 *       "ok SERIAL NOT_AFTER ROLE" for a certificate, or "refused: WHY". Nothing is written.
 * Exit 0 when a certificate came back, 1 otherwise. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "cert_wire.h"
#include "pd_err.h"
#include "pki.h"
#include "tls_call.h"

static int result = 1;
static pd_pki_ca_t root, prev;

static int read_file(const char *dir, const char *name, char *buf, size_t cap, size_t *len, int key)
{
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (pd_pki_file_read(path, buf, cap, len, key, err, sizeof err) != 0) {
        printf("refused: %s\n", err);
        return -1;
    }
    return 0;
}

static void done(void *ctx, int rc, const char *err, const uint8_t *body, size_t len)
{
    static pd_cert_resp_t resp;
    const char *why = NULL;
    if (rc) {
        printf("refused: %s\n", err);
        return;
    }
    if (pd_cert_resp_decode(body, len, &resp, &why) != 0) {
        printf("refused: bad answer: %s\n", why);
        return;
    }
    if (resp.rc) {
        printf("refused: %s\n", resp.err);
        return;
    }
    pd_pki_node_info_t info;
    if (pd_pki_cert_verify(&root, resp.cert, resp.cert_len, (int64_t)time(NULL), &info, &why) != 0 &&
        (!prev.crt.raw.len || pd_pki_cert_verify(&prev, resp.cert, resp.cert_len, (int64_t)time(NULL), &info, &why) != 0)) {
        printf("refused: the certificate does not verify: %s\n", why);
        return;
    }
    printf("ok %s %lld %s %s\n", info.serial, (long long)info.not_after_s, pd_pki_role_name(info.role), info.node_id);
    result = 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: cert_probe DATADIR IP:PORT [NODE_ID]\n");
        return 2;
    }
    static char bundle[PD_CERT_BUNDLE_MAX], key[PD_PKI_PEM_MAX], crt[PD_PKI_PEM_MAX];
    size_t blen = 0, klen = 0, clen = 0;
    const char *why = NULL;
    pd_pki_drbg_t drbg;
    pd_pki_ident_t id, fresh;
    pd_pki_tls_conf_t conf;
    pd_pki_ca_init(&root);
    pd_pki_ca_init(&prev);
    pd_pki_ident_init(&id);
    pd_pki_ident_init(&fresh);
    if (pd_pki_drbg_init(&drbg) != 0 || read_file(argv[1], "ca.crt", bundle, sizeof bundle, &blen, 0) ||
        read_file(argv[1], "node.key", key, sizeof key, &klen, 1) ||
        read_file(argv[1], "node.crt", crt, sizeof crt, &clen, 0))
        return 1;
    pd_pki_rng_t rng = pd_pki_drbg_rng(&drbg);
    if (pd_pki_ca_load_bundle(&root, &prev, bundle, blen, &why) != 0 || pd_pki_ident_load_key(&id, key, klen, &why) != 0 ||
        (pd_pki_ident_set_cert(&id, &root, crt, clen, (int64_t)time(NULL), &why) != 0 &&
         pd_pki_ident_set_cert(&id, &prev, crt, clen, (int64_t)time(NULL), &why) != 0)) {
        printf("refused: %s\n", why);
        return 1;
    }
    const pd_pki_ca_t *own = pd_pki_ca_signed(&root, crt, clen) == 1 ? &root : &prev;
    if (pd_pki_tls_conf_init(&conf, PD_PKI_TLS_CLIENT, own, &id, &pd_clock_real, rng) != 0 ||
        (prev.crt.raw.len && pd_pki_tls_conf_add_ca(&conf, own == &root ? &prev : &root) != 0) ||
        pd_pki_tls_conf_set_alpn(&conf, PD_CERT_ALPN) != 0)
        return 1;
    static pd_cert_req_t req;
    const char *node_id = argc == 4 ? argv[3] : id.info.node_id;
    if (pd_pki_ident_generate(&fresh, rng) != 0 ||
        pd_pki_ident_csr(&fresh, node_id, rng, req.csr, sizeof req.csr, &req.csr_len) != 0) {
        printf("refused: cannot make a CSR for '%s'\n", node_id);
        return 1;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pd_cert_req_encode(&req, &sb);
    uv_loop_t *loop = uv_default_loop();
    pd_tls_call_t *call;
    if (pd_tls_call_start(loop, argv[2], &conf, sb.data, sb.size, PD_CERT_MSG_MAX, 5000, done, NULL, &call) != 0) {
        printf("refused: cannot connect to %s\n", argv[2]);
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    msgpack_sbuffer_destroy(&sb);
    pd_pki_tls_conf_free(&conf);
    pd_pki_ident_free(&fresh);
    pd_pki_ident_free(&id);
    pd_pki_ca_free(&root);
    pd_pki_ca_free(&prev);
    pd_pki_drbg_free(&drbg);
    uv_loop_close(loop);
    return result;
}
