/* Renewal and rotation pieces of the daemon: the certificate record, the roots' id, the rotation's
 * end condition, the expiry setting; and the renewal RPC (codec and the manager's decision). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ca_plan.h"
#include "cert_wire.h"
#include "pd_err.h"

#define NOW_S 1764806400LL
static const char *NODE_A = "a00000000000000000000000a";
static const char *NODE_B = "b00000000000000000000000b";

static void test_certrec(void **state)
{
    (void)state;
    pd_ca_certrec_t r = {.not_after_s = NOW_S + 40, .role = PD_PKI_ROLE_WORKER}, back;
    memset(r.issuer, 0xab, sizeof r.issuer);
    r.issuer[31] = 0x01;
    strcpy(r.serial, "4f00aa");
    char buf[PD_CA_CERTREC_MAX];
    size_t n = pd_ca_certrec_format(&r, buf, sizeof buf);
    assert_true(n > 64);
    assert_int_equal(pd_ca_certrec_parse(buf, n, &back), 0);
    assert_memory_equal(back.issuer, r.issuer, sizeof r.issuer);
    assert_string_equal(back.serial, "4f00aa");
    assert_int_equal(back.not_after_s, NOW_S + 40);
    assert_int_equal(back.role, PD_PKI_ROLE_WORKER);
    /* garbage, a short digest, upper-case hex, a bad role, embedded NUL: refused */
    assert_int_equal(pd_ca_certrec_parse("x", 1, &back), -PD_EMALFORMED);
    assert_int_equal(pd_ca_certrec_parse("", 0, &back), -PD_EMALFORMED);
    assert_int_equal(pd_ca_certrec_parse("abcd 01 5 worker", 16, &back), -PD_EMALFORMED);
    char bad[PD_CA_CERTREC_MAX];
    memcpy(bad, buf, n + 1);
    bad[0] = 'A';
    assert_int_equal(pd_ca_certrec_parse(bad, n, &back), -PD_EMALFORMED);
    memcpy(bad, buf, n + 1);
    memcpy(bad + n - 6, "leader", 6);
    assert_int_equal(pd_ca_certrec_parse(bad, n, &back), -PD_EMALFORMED);
    memcpy(bad, buf, n + 1);
    bad[3] = '\0';
    assert_int_equal(pd_ca_certrec_parse(bad, n, &back), -PD_EMALFORMED);
    assert_int_equal(pd_ca_certrec_format(&r, buf, 10), 0); /* too small: nothing */
}

static void test_roots_id(void **state)
{
    (void)state;
    uint8_t cur[PD_PKI_DIGEST_LEN], prev[PD_PKI_DIGEST_LEN];
    memset(cur, 0x11, sizeof cur);
    memset(prev, 0xee, sizeof prev);
    char a[PD_CA_ROOTS_ID_LEN + 1], b[PD_CA_ROOTS_ID_LEN + 1];
    pd_ca_roots_id(cur, prev, a);
    assert_string_equal(a, "1111111111111111:eeeeeeeeeeeeeeee");
    assert_int_equal(strlen(a), PD_CA_ROOTS_ID_LEN);
    pd_ca_roots_id(cur, NULL, b);
    assert_string_equal(b, "1111111111111111:-");
    assert_string_not_equal(a, b); /* dropping the old root changes the id: workers renew for it */
}

static void test_rotation_pending(void **state)
{
    (void)state;
    uint8_t cur[PD_PKI_DIGEST_LEN], old[PD_PKI_DIGEST_LEN];
    memset(cur, 1, sizeof cur);
    memset(old, 2, sizeof old);
    const char *first = "x";
    pd_ca_node_t nodes[] = {
        {.node_id = "m1", .live = 1, .manager = 1, .issuer = cur},
        {.node_id = "w1", .live = 1, .issuer = old},
        {.node_id = "w2", .live = 0, .issuer = old},     /* down: not waited for */
        {.node_id = "w3", .live = 1, .removed = 1},      /* removed: not waited for */
        {.node_id = "w4", .live = 1, .issuer = NULL},    /* nothing recorded: waited for */
    };
    assert_int_equal(pd_ca_rotation_pending(cur, nodes, 5, 0, &first), 2);
    assert_string_equal(first, "w1");
    nodes[1].issuer = cur;
    assert_int_equal(pd_ca_rotation_pending(cur, nodes, 5, 0, &first), 1);
    assert_string_equal(first, "w4");
    nodes[4].issuer = cur;
    assert_int_equal(pd_ca_rotation_pending(cur, nodes, 5, 0, &first), 0);
    assert_null(first);
    assert_int_equal(pd_ca_rotation_pending(cur, nodes, 0, 0, &first), 0); /* no nodes: done */
    /* managers wait for workers: a manager still on the old root does not count for them */
    nodes[0].issuer = old;
    assert_int_equal(pd_ca_rotation_pending(cur, nodes, 5, 0, &first), 1);
    assert_int_equal(pd_ca_rotation_pending(cur, nodes, 5, 1, &first), 0);
    nodes[1].issuer = old;
    assert_int_equal(pd_ca_rotation_pending(cur, nodes, 5, 1, &first), 1);
    assert_string_equal(first, "w1");
}

static void test_expiry_parse(void **state)
{
    (void)state;
    int64_t s = 0;
    assert_int_equal(pd_ca_expiry_parse("90d", &s), 0);
    assert_int_equal(s, 90 * 86400);
    assert_int_equal(pd_ca_expiry_parse("12h", &s), 0);
    assert_int_equal(s, 12 * 3600);
    assert_int_equal(pd_ca_expiry_parse("45m", &s), 0);
    assert_int_equal(s, 2700);
    assert_int_equal(pd_ca_expiry_parse("40s", &s), 0);
    assert_int_equal(s, 40);
    assert_int_equal(pd_ca_expiry_parse("3600", &s), 0);
    assert_int_equal(s, 3600);
    const char *bad[] = {"", "29s", "0", "-5m", "1y", "5dd", "d", "3651d", "99999999999999999999", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(pd_ca_expiry_parse(bad[i], &s), -PD_EUSAGE);
    assert_int_equal(pd_ca_expiry_parse(NULL, &s), -PD_EUSAGE);
}

/* --- the renewal RPC --- */
typedef struct {
    pd_pki_drbg_t drbg;
    pd_pki_ca_t ca;
    char bundle[PD_PKI_PEM_MAX];
    size_t bundle_len;
} ca_fixture_t;

static void fixture(ca_fixture_t *f)
{
    assert_int_equal(pd_pki_drbg_init_seeded(&f->drbg, 7), 0);
    pd_pki_ca_init(&f->ca);
    assert_int_equal(pd_pki_ca_create(&f->ca, "c0ffee", NOW_S, 0, pd_pki_drbg_rng(&f->drbg)), 0);
    assert_int_equal(pd_pki_ca_cert_pem(&f->ca, f->bundle, sizeof f->bundle, &f->bundle_len), 0);
}

static void csr_for(ca_fixture_t *f, const char *node_id, pd_cert_req_t *req)
{
    pd_pki_ident_t id;
    pd_pki_ident_init(&id);
    assert_int_equal(pd_pki_ident_generate(&id, pd_pki_drbg_rng(&f->drbg)), 0);
    assert_int_equal(pd_pki_ident_csr(&id, node_id, pd_pki_drbg_rng(&f->drbg), req->csr, sizeof req->csr,
                                      &req->csr_len), 0);
    pd_pki_ident_free(&id);
}

static void test_cert_answer(void **state)
{
    (void)state;
    ca_fixture_t f;
    fixture(&f);
    static pd_cert_req_t req;
    static pd_cert_resp_t resp, back;
    pd_pki_node_info_t peer = {.role = PD_PKI_ROLE_WORKER};
    strcpy(peer.node_id, NODE_A);
    pd_cert_policy_t p = {.signer = &f.ca, .bundle = f.bundle, .bundle_len = f.bundle_len, .validity_s = 40,
                          .now_s = NOW_S, .rng = pd_pki_drbg_rng(&f.drbg)};
    /* the peer's own id: a certificate, with the role of its record (a promotion rides along) */
    csr_for(&f, NODE_A, &req);
    p.record_role = PD_PKI_ROLE_MANAGER;
    assert_int_equal(pd_cert_answer(&req, &peer, &p, &resp), 0);
    pd_pki_node_info_t info;
    const char *why = NULL;
    assert_int_equal(pd_pki_cert_verify(&f.ca, resp.cert, resp.cert_len, NOW_S, &info, &why), 0);
    assert_string_equal(info.node_id, NODE_A);
    assert_int_equal(info.role, PD_PKI_ROLE_MANAGER);
    assert_int_equal(info.not_after_s, NOW_S + 40);
    assert_int_equal(resp.ca_len, f.bundle_len);
    /* codec round trip */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(pd_cert_resp_encode(&resp, &sb), 0);
    assert_int_equal(pd_cert_resp_decode(sb.data, sb.size, &back, &why), 0);
    assert_int_equal(back.rc, 0);
    assert_memory_equal(back.cert, resp.cert, resp.cert_len);
    msgpack_sbuffer_destroy(&sb);
    /* no record: the certificate's role stays */
    p.record_role = PD_PKI_ROLE_NONE;
    assert_int_equal(pd_cert_answer(&req, &peer, &p, &resp), 0);
    assert_int_equal(pd_pki_cert_verify(&f.ca, resp.cert, resp.cert_len, NOW_S, &info, &why), 0);
    assert_int_equal(info.role, PD_PKI_ROLE_WORKER);
    /* a CSR naming another node: refused, with the reason */
    csr_for(&f, NODE_B, &req);
    assert_int_equal(pd_cert_answer(&req, &peer, &p, &resp), -PD_EAUTH);
    assert_non_null(strstr(resp.err, "CN is not the node id"));
    assert_int_equal(resp.cert_len, 0);
    /* a removed node; a manager without the CA key; garbage */
    csr_for(&f, NODE_A, &req);
    p.removed = 1;
    assert_int_equal(pd_cert_answer(&req, &peer, &p, &resp), -PD_ESTATE);
    assert_non_null(strstr(resp.err, "removed"));
    p.removed = 0;
    pd_pki_ca_t pub;
    pd_pki_ca_init(&pub);
    assert_int_equal(pd_pki_ca_load(&pub, f.ca.crt.raw.p, f.ca.crt.raw.len, NULL, 0, &why), 0);
    p.signer = &pub;
    assert_int_equal(pd_cert_answer(&req, &peer, &p, &resp), -PD_ESTATE);
    p.signer = &f.ca;
    strcpy(req.csr, "garbage");
    req.csr_len = 7;
    assert_int_equal(pd_cert_answer(&req, &peer, &p, &resp), -PD_EMALFORMED);
    /* a refusal survives the codec */
    msgpack_sbuffer_init(&sb);
    assert_int_equal(pd_cert_resp_encode(&resp, &sb), 0);
    assert_int_equal(pd_cert_resp_decode(sb.data, sb.size, &back, &why), 0);
    assert_int_equal(back.rc, -PD_EMALFORMED);
    assert_string_equal(back.err, resp.err);
    msgpack_sbuffer_destroy(&sb);
    pd_pki_ca_free(&pub);
    pd_pki_ca_free(&f.ca);
    pd_pki_drbg_free(&f.drbg);
}

static void test_cert_codec_refusals(void **state)
{
    (void)state;
    static pd_cert_req_t req, back;
    static pd_cert_resp_t resp;
    const char *why = NULL;
    strcpy(req.csr, "-----BEGIN CERTIFICATE REQUEST-----");
    req.csr_len = strlen(req.csr);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(pd_cert_req_encode(&req, &sb), 0);
    assert_int_equal(pd_cert_req_decode(sb.data, sb.size, &back, &why), 0);
    assert_string_equal(back.csr, req.csr);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(pd_cert_req_decode("GET / HTTP/1.1\r\n", 16, &back, &why), -PD_EMALFORMED);
    assert_non_null(why);
    assert_int_equal(pd_cert_req_decode("\x81\xa1v\x02", 4, &back, &why), -PD_EVERSION);
    assert_int_equal(pd_cert_req_decode("\x81\xa1v\x01", 4, &back, &why), -PD_EMALFORMED); /* no CSR */
    assert_int_equal(pd_cert_resp_decode("\x82\xa1v\x01\xa2rc\x05", 8, &resp, &why), -PD_EMALFORMED);
    static uint8_t big[PD_CERT_MSG_MAX + 1];
    assert_int_equal(pd_cert_req_decode(big, sizeof big, &back, &why), -PD_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certrec),          cmocka_unit_test(test_roots_id),
        cmocka_unit_test(test_rotation_pending), cmocka_unit_test(test_expiry_parse),
        cmocka_unit_test(test_cert_answer),      cmocka_unit_test(test_cert_codec_refusals),
    };
    return cmocka_run_group_tests_name("ca_plan", tests, NULL, NULL);
}
