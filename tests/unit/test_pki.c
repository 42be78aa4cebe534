/* core/pki: CA, CSR signing and node-cert checks, join tokens, in-memory mutual TLS, key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_csr.h>

#include "pd_err.h"
#include "pki.h"

#define NOW_S 1764806400LL /* 2025-12-04 00:00:00 UTC */
#define DAY_S 86400LL
#define CLUSTER "c0ffee42"

static const char *MGR_ID = "m00000000000000000000000a";
static const char *WRK_ID = "w00000000000000000000000b";

/* One cluster: a CA, a manager and a worker with certificates, a deterministic DRBG. */
typedef struct {
    pd_pki_drbg_t drbg;
    pd_pki_ca_t ca;
    pd_pki_ident_t mgr, wrk;
    pd_clock_sim_t clock;
} cluster_t;

static void issue(cluster_t *cl, pd_pki_ca_t *ca, pd_pki_ident_t *id, const char *node_id, pd_pki_role_t role,
                  uint32_t days)
{
    pd_pki_rng_t rng = pd_pki_drbg_rng(&cl->drbg);
    char csr[PD_PKI_PEM_MAX], crt[PD_PKI_PEM_MAX];
    size_t csr_len = 0, crt_len = 0;
    const char *why = NULL;
    pd_pki_ident_init(id);
    assert_int_equal(pd_pki_ident_generate(id, rng), 0);
    assert_int_equal(pd_pki_ident_csr(id, node_id, rng, csr, sizeof csr, &csr_len), 0);
    assert_int_equal(pd_pki_ca_sign_csr(ca, csr, csr_len, node_id, role, NOW_S, (int64_t)days * DAY_S, rng, crt,
                                        sizeof crt, &crt_len, &why),
                     0);
    assert_int_equal(pd_pki_ident_set_cert(id, ca, crt, crt_len, NOW_S, &why), 0);
}

static void cluster_make(cluster_t *cl, uint64_t seed, const char *cluster_id)
{
    assert_int_equal(pd_pki_drbg_init_seeded(&cl->drbg, seed), 0);
    pd_pki_ca_init(&cl->ca);
    assert_int_equal(pd_pki_ca_create(&cl->ca, cluster_id, NOW_S, 0, pd_pki_drbg_rng(&cl->drbg)), 0);
    issue(cl, &cl->ca, &cl->mgr, MGR_ID, PD_PKI_ROLE_MANAGER, 0);
    issue(cl, &cl->ca, &cl->wrk, WRK_ID, PD_PKI_ROLE_WORKER, 0);
    pd_clock_sim_init(&cl->clock, 0, (uint64_t)NOW_S * 1000u);
}

static void cluster_free(cluster_t *cl)
{
    pd_pki_ident_free(&cl->mgr);
    pd_pki_ident_free(&cl->wrk);
    pd_pki_ca_free(&cl->ca);
    pd_pki_drbg_free(&cl->drbg);
}

/* ---- CA ---- */
static void test_ca_create_and_reload(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 1, CLUSTER);
    assert_true(cl.ca.has_key);
    assert_true(cl.ca.crt.ca_istrue);
    assert_int_equal(cl.ca.crt.max_pathlen, 1); /* mbedTLS stores pathlen + 1 */
    assert_string_equal(cl.ca.cluster_id, CLUSTER);
    char dn[256];
    assert_true(mbedtls_x509_dn_gets(dn, sizeof dn, &cl.ca.crt.subject) > 0);
    assert_non_null(strstr(dn, "CN=peerd cluster CA " CLUSTER));
    /* about 20 years */
    assert_true(cl.ca.crt.valid_to.year - cl.ca.crt.valid_from.year == 20);

    char cert[PD_PKI_PEM_MAX], key[PD_PKI_PEM_MAX];
    size_t cert_len = 0, key_len = 0;
    assert_int_equal(pd_pki_ca_cert_pem(&cl.ca, cert, sizeof cert, &cert_len), 0);
    assert_int_equal(pd_pki_ca_key_pem(&cl.ca, key, sizeof key, &key_len), 0);
    assert_int_equal(strlen(cert), cert_len);
    assert_non_null(strstr(cert, "BEGIN CERTIFICATE"));
    assert_non_null(strstr(key, "PRIVATE KEY"));

    pd_pki_ca_t back;
    pd_pki_ca_init(&back);
    const char *why = NULL;
    /* PEM without its NUL (as read from a file), with the key */
    assert_int_equal(pd_pki_ca_load(&back, cert, cert_len, key, key_len, &why), 0);
    assert_true(back.has_key);
    assert_memory_equal(back.digest, cl.ca.digest, PD_PKI_DIGEST_LEN);
    assert_string_equal(back.cluster_id, CLUSTER);
    /* PEM after blank lines, as an editor might leave it */
    char padded[PD_PKI_PEM_MAX + 4];
    snprintf(padded, sizeof padded, "\n\n%s", cert);
    assert_int_equal(pd_pki_ca_load(&back, padded, cert_len + 2, NULL, 0, &why), 0);
    /* DER, certificate only */
    assert_int_equal(pd_pki_ca_load(&back, cl.ca.crt.raw.p, cl.ca.crt.raw.len, NULL, 0, &why), 0);
    assert_false(back.has_key);
    assert_memory_equal(back.digest, cl.ca.digest, PD_PKI_DIGEST_LEN);

    /* the digest is SHA-256 of the DER: a different CA has a different one */
    cluster_t other;
    cluster_make(&other, 2, CLUSTER);
    assert_memory_not_equal(other.ca.digest, cl.ca.digest, PD_PKI_DIGEST_LEN);

    /* wrong key for this cert */
    char okey[PD_PKI_PEM_MAX];
    size_t okey_len = 0;
    assert_int_equal(pd_pki_ca_key_pem(&other.ca, okey, sizeof okey, &okey_len), 0);
    assert_int_equal(pd_pki_ca_load(&back, cert, cert_len, okey, okey_len, &why), -PD_EAUTH);
    assert_non_null(strstr(why, "does not match"));
    /* a node certificate is no CA */
    char node[PD_PKI_PEM_MAX];
    size_t node_len = 0;
    assert_int_equal(pd_pki_ident_cert_pem(&cl.wrk, node, sizeof node, &node_len), 0);
    assert_int_equal(pd_pki_ca_load(&back, node, node_len, NULL, 0, &why), -PD_EAUTH);
    /* garbage */
    assert_int_equal(pd_pki_ca_load(&back, "-----BEGIN CERTIFICATE-----\nxx\n", 31, NULL, 0, &why), -PD_EMALFORMED);
    assert_int_equal(pd_pki_ca_load(&back, "\x30\x03\x02\x01\x01", 5, NULL, 0, &why), -PD_EMALFORMED);
    assert_int_equal(pd_pki_ca_load(&back, "", 0, NULL, 0, &why), -PD_EMALFORMED);
    assert_int_equal(back.crt.raw.len, 0); /* left empty after a failure */

    assert_int_equal(pd_pki_ca_create(&back, "Bad Id!", NOW_S, 0, pd_pki_drbg_rng(&cl.drbg)), -PD_EUSAGE);
    /* the longest cluster id fits whole in the names; one more is refused */
    char long_id[PD_PKI_CLUSTER_ID_MAX + 2];
    memset(long_id, 'q', sizeof long_id - 1);
    long_id[PD_PKI_CLUSTER_ID_MAX + 1] = '\0';
    assert_int_equal(pd_pki_ca_create(&back, long_id, NOW_S, 0, pd_pki_drbg_rng(&cl.drbg)), -PD_EUSAGE);
    long_id[PD_PKI_CLUSTER_ID_MAX] = '\0';
    assert_int_equal(pd_pki_ca_create(&back, long_id, NOW_S, 0, pd_pki_drbg_rng(&cl.drbg)), 0);
    assert_string_equal(back.cluster_id, long_id);
    assert_int_equal(pd_pki_ca_cert_pem(&back, cert, sizeof cert, &cert_len), 0);
    assert_int_equal(pd_pki_ca_load(&back, cert, cert_len, NULL, 0, &why), 0);
    assert_string_equal(back.cluster_id, long_id);
    pd_pki_ca_free(&back);
    cluster_free(&other);
    cluster_free(&cl);
}

static void test_drbg_seeded_replays(void **state)
{
    (void)state;
    pd_pki_drbg_t a, b, os;
    pd_pki_ident_t ka, kb;
    assert_int_equal(pd_pki_drbg_init_seeded(&a, 7), 0);
    assert_int_equal(pd_pki_drbg_init_seeded(&b, 7), 0);
    assert_int_equal(pd_pki_drbg_init(&os), 0);
    pd_pki_ident_init(&ka);
    pd_pki_ident_init(&kb);
    assert_int_equal(pd_pki_ident_generate(&ka, pd_pki_drbg_rng(&a)), 0);
    assert_int_equal(pd_pki_ident_generate(&kb, pd_pki_drbg_rng(&b)), 0);
    char pa[PD_PKI_PEM_MAX], pb[PD_PKI_PEM_MAX];
    size_t la = 0, lb = 0;
    assert_int_equal(pd_pki_ident_key_pem(&ka, pa, sizeof pa, &la), 0);
    assert_int_equal(pd_pki_ident_key_pem(&kb, pb, sizeof pb, &lb), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    uint8_t r1[32], r2[32];
    pd_pki_rng_t rng = pd_pki_drbg_rng(&os);
    assert_int_equal(rng.fn(rng.ctx, r1, sizeof r1), 0);
    assert_int_equal(rng.fn(rng.ctx, r2, sizeof r2), 0);
    assert_memory_not_equal(r1, r2, sizeof r1);
    /* the key loads back */
    const char *why = NULL;
    assert_int_equal(pd_pki_ident_load_key(&kb, pa, la, &why), 0);
    assert_int_equal(pd_pki_ident_load_key(&kb, "nope", 4, &why), -PD_EMALFORMED);
    pd_pki_ident_free(&ka);
    pd_pki_ident_free(&kb);
    pd_pki_drbg_free(&a);
    pd_pki_drbg_free(&b);
    pd_pki_drbg_free(&os);
}

/* ---- node certificates ---- */
static void test_issue_and_verify(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 3, CLUSTER);
    assert_true(cl.mgr.has_crt);
    assert_string_equal(cl.mgr.info.node_id, MGR_ID);
    assert_int_equal(cl.mgr.info.role, PD_PKI_ROLE_MANAGER);
    assert_string_equal(cl.mgr.info.cluster_id, CLUSTER);
    assert_int_equal(cl.wrk.info.role, PD_PKI_ROLE_WORKER);
    assert_int_equal(cl.wrk.info.not_after_s, NOW_S + 90 * DAY_S);
    assert_int_equal(cl.wrk.info.not_before_s, NOW_S - PD_PKI_BACKDATE_S);
    assert_false(cl.wrk.crt.ca_istrue);
    assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(&cl.wrk.crt, MBEDTLS_OID_SERVER_AUTH,
                                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
                     0);
    assert_int_equal(mbedtls_x509_crt_check_extended_key_usage(&cl.wrk.crt, MBEDTLS_OID_CLIENT_AUTH,
                                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
                     0);
    /* serials are random: two certs, two serials */
    assert_true(cl.wrk.crt.serial.len == 16 && cl.mgr.crt.serial.len == 16);
    assert_memory_not_equal(cl.wrk.crt.serial.p, cl.mgr.crt.serial.p, 16);

    char pem[PD_PKI_PEM_MAX];
    size_t len = 0;
    const char *why = NULL;
    pd_pki_node_info_t info;
    assert_int_equal(pd_pki_ident_cert_pem(&cl.wrk, pem, sizeof pem, &len), 0);
    assert_int_equal(pd_pki_cert_verify(&cl.ca, pem, len, NOW_S + DAY_S, &info, &why), 0);
    assert_string_equal(info.node_id, WRK_ID);
    assert_string_equal(pd_pki_role_name(info.role), "worker");
    /* DER works too */
    assert_int_equal(pd_pki_cert_verify(&cl.ca, cl.wrk.crt.raw.p, cl.wrk.crt.raw.len, NOW_S, &info, &why), 0);
    /* expired, not yet valid */
    assert_int_equal(pd_pki_cert_verify(&cl.ca, pem, len, NOW_S + 91 * DAY_S, &info, &why), -PD_EAUTH);
    assert_string_equal(why, "certificate expired");
    assert_int_equal(pd_pki_cert_verify(&cl.ca, pem, len, NOW_S - DAY_S, &info, &why), -PD_EAUTH);
    assert_non_null(strstr(why, "not yet valid"));
    /* another cluster's CA, even with the same cluster id */
    cluster_t other;
    cluster_make(&other, 4, CLUSTER);
    assert_int_equal(pd_pki_cert_verify(&other.ca, pem, len, NOW_S, &info, &why), -PD_EAUTH);
    assert_string_equal(why, "certificate not signed by this cluster's CA");
    /* the CA cert itself is not a node cert */
    assert_int_equal(pd_pki_cert_verify(&cl.ca, cl.ca.crt.raw.p, cl.ca.crt.raw.len, NOW_S, &info, &why), -PD_EAUTH);
    /* a cert for another key is not ours to install */
    assert_int_equal(pd_pki_ident_set_cert(&cl.mgr, &cl.ca, pem, len, NOW_S, &why), -PD_EAUTH);
    assert_string_equal(why, "certificate is for another key");
    assert_false(cl.mgr.has_crt);

    /* renewal between 1/2 and 4/5 of the 90 days from issuance (test_renew_rule has the details) */
    assert_false(pd_pki_renew_due(&cl.wrk.info, NOW_S + 44 * DAY_S, 0));
    assert_true(pd_pki_renew_due(&cl.wrk.info, NOW_S + 45 * DAY_S, 0));
    assert_false(pd_pki_renew_due(&cl.wrk.info, NOW_S + 71 * DAY_S, UINT32_MAX));
    assert_true(pd_pki_renew_due(&cl.wrk.info, NOW_S + 72 * DAY_S, UINT32_MAX));
    assert_int_equal(strlen(cl.wrk.info.serial), 32); /* 128-bit serial in hex */
    /* renewing: a new CSR with the same key, a new certificate, a later expiry */
    pd_pki_rng_t rng = pd_pki_drbg_rng(&cl.drbg);
    char csr[PD_PKI_PEM_MAX];
    size_t csr_len = 0;
    int64_t later = NOW_S + 61 * DAY_S;
    assert_int_equal(pd_pki_ident_csr(&cl.wrk, WRK_ID, rng, csr, sizeof csr, &csr_len), 0);
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, csr, csr_len, WRK_ID, PD_PKI_ROLE_WORKER, later, 0, rng, pem,
                                        sizeof pem, &len, &why),
                     0);
    assert_int_equal(pd_pki_ident_set_cert(&cl.wrk, &cl.ca, pem, len, later, &why), 0);
    assert_int_equal(cl.wrk.info.not_after_s, later + 90 * DAY_S);
    assert_false(pd_pki_renew_due(&cl.wrk.info, later, UINT32_MAX / 2));
    cluster_free(&other);
    cluster_free(&cl);
}

static void test_sign_refusals(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 5, CLUSTER);
    pd_pki_rng_t rng = pd_pki_drbg_rng(&cl.drbg);
    pd_pki_ident_t n;
    pd_pki_ident_init(&n);
    assert_int_equal(pd_pki_ident_generate(&n, rng), 0);
    char csr[PD_PKI_PEM_MAX], crt[PD_PKI_PEM_MAX];
    size_t csr_len = 0, crt_len = 0;
    const char *why = NULL;
    assert_int_equal(pd_pki_ident_csr(&n, WRK_ID, rng, csr, sizeof csr, &csr_len), 0);
    assert_int_equal(pd_pki_ident_csr(&n, "short", rng, csr + 0, 0, &csr_len), -PD_EUSAGE);
    assert_int_equal(pd_pki_ident_csr(&n, WRK_ID, rng, csr, sizeof csr, &csr_len), 0);

    /* the CSR names another node than the one being admitted */
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, csr, csr_len, MGR_ID, PD_PKI_ROLE_MANAGER, NOW_S, 0, rng, crt,
                                        sizeof crt, &crt_len, &why),
                     -PD_EAUTH);
    assert_non_null(strstr(why, "CN"));
    /* bad role, bad validity, bad id */
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, csr, csr_len, WRK_ID, PD_PKI_ROLE_NONE, NOW_S, 0, rng, crt,
                                        sizeof crt, &crt_len, &why),
                     -PD_EUSAGE);
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, csr, csr_len, WRK_ID, PD_PKI_ROLE_WORKER, NOW_S,
                                        (PD_PKI_NODE_DAYS_MAX + 1) * DAY_S, rng, crt, sizeof crt, &crt_len, &why),
                     -PD_EUSAGE);
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, csr, csr_len, WRK_ID, PD_PKI_ROLE_WORKER, NOW_S,
                                        PD_PKI_NODE_MIN_S - 1, rng, crt, sizeof crt, &crt_len, &why),
                     -PD_EUSAGE); /* below the floor */
    /* garbage and a tampered signature (DER: flip a bit of the signature at the end) */
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, "hello", 5, WRK_ID, PD_PKI_ROLE_WORKER, NOW_S, 0, rng, crt,
                                        sizeof crt, &crt_len, &why),
                     -PD_EMALFORMED);
    mbedtls_x509_csr parsed;
    mbedtls_x509_csr_init(&parsed);
    char z[PD_PKI_PEM_MAX + 1];
    memcpy(z, csr, csr_len + 1);
    assert_int_equal(mbedtls_x509_csr_parse(&parsed, (unsigned char *)z, csr_len + 1), 0);
    unsigned char der[1024];
    size_t der_len = parsed.raw.len;
    memcpy(der, parsed.raw.p, der_len);
    mbedtls_x509_csr_free(&parsed);
    der[der_len - 3] ^= 0x01;
    int rc = pd_pki_ca_sign_csr(&cl.ca, der, der_len, WRK_ID, PD_PKI_ROLE_WORKER, NOW_S, 0, rng, crt, sizeof crt,
                                &crt_len, &why);
    assert_true(rc == -PD_EAUTH || rc == -PD_EMALFORMED);
    /* an output buffer too small */
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, csr, csr_len, WRK_ID, PD_PKI_ROLE_WORKER, NOW_S, 0, rng, crt, 64,
                                        &crt_len, &why),
                     -PD_ETOOBIG);
    /* a verifier-only CA (no key) cannot sign */
    pd_pki_ca_t pub;
    pd_pki_ca_init(&pub);
    assert_int_equal(pd_pki_ca_load(&pub, cl.ca.crt.raw.p, cl.ca.crt.raw.len, NULL, 0, &why), 0);
    assert_int_equal(pd_pki_ca_sign_csr(&pub, csr, csr_len, WRK_ID, PD_PKI_ROLE_WORKER, NOW_S, 0, rng, crt,
                                        sizeof crt, &crt_len, &why),
                     -PD_ESTATE);
    /* custom validity */
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, csr, csr_len, WRK_ID, PD_PKI_ROLE_WORKER, NOW_S, 7 * DAY_S, rng,
                                        crt, sizeof crt, &crt_len, &why),
                     0);
    pd_pki_node_info_t info;
    assert_int_equal(pd_pki_cert_verify(&pub, crt, crt_len, NOW_S, &info, &why), 0);
    assert_int_equal(info.not_after_s, NOW_S + 7 * DAY_S);
    /* seconds (tests use short lives), down to the floor */
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, csr, csr_len, WRK_ID, PD_PKI_ROLE_WORKER, NOW_S, PD_PKI_NODE_MIN_S,
                                        rng, crt, sizeof crt, &crt_len, &why),
                     0);
    assert_int_equal(pd_pki_cert_verify(&pub, crt, crt_len, NOW_S, &info, &why), 0);
    assert_int_equal(info.not_after_s, NOW_S + PD_PKI_NODE_MIN_S);
    /* a CA past its 20 years signs nothing */
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, csr, csr_len, WRK_ID, PD_PKI_ROLE_WORKER, NOW_S + 7400 * DAY_S, 0,
                                        rng, crt, sizeof crt, &crt_len, &why),
                     -PD_EAUTH);
    assert_string_equal(why, "CA certificate expired");
    pd_pki_ca_free(&pub);
    pd_pki_ident_free(&n);
    cluster_free(&cl);
}

/* ---- join tokens ---- */
static int parse_str(pd_pki_token_t *t, const char *s, const char **why)
{
    return pd_pki_token_parse(t, s, strlen(s), why);
}

static void test_token_round_trip(void **state)
{
    (void)state;
    pd_pki_drbg_t d;
    assert_int_equal(pd_pki_drbg_init(&d), 0);
    uint8_t digest[PD_PKI_DIGEST_LEN];
    memset(digest, 0xff, sizeof digest); /* the largest digest still fits 50 digits */
    pd_pki_token_t w, m, back;
    assert_int_equal(pd_pki_token_generate(&w, digest, pd_pki_drbg_rng(&d)), 0);
    assert_int_equal(pd_pki_token_generate(&m, digest, pd_pki_drbg_rng(&d)), 0);
    assert_memory_not_equal(w.secret, m.secret, PD_PKI_TOKEN_SECRET_LEN);
    char s[PD_PKI_TOKEN_LEN + 1];
    assert_int_equal(pd_pki_token_format(&w, s, sizeof s - 1), -PD_ETOOBIG);
    assert_int_equal(pd_pki_token_format(&w, s, sizeof s), 0);
    assert_int_equal(strlen(s), PD_PKI_TOKEN_LEN);
    assert_memory_equal(s, "PDTKN-1-", 8);
    const char *why = NULL;
    assert_int_equal(parse_str(&back, s, &why), 0);
    assert_memory_equal(&back, &w, sizeof w);
    /* zero digest and secret: all '0' digits */
    pd_pki_token_t zero;
    memset(&zero, 0, sizeof zero);
    assert_int_equal(pd_pki_token_format(&zero, s, sizeof s), 0);
    assert_string_equal(s, "PDTKN-1-00000000000000000000000000000000000000000000000000-0000000000000000000000000");
    /* a pasted newline and spaces are fine */
    char padded[PD_PKI_TOKEN_LEN + 8];
    assert_int_equal(pd_pki_token_format(&m, s, sizeof s), 0);
    snprintf(padded, sizeof padded, "  %s\n", s);
    assert_int_equal(parse_str(&back, padded, &why), 0);
    assert_memory_equal(&back, &m, sizeof m);

    /* which role a presented token grants */
    pd_pki_role_t role = PD_PKI_ROLE_NONE;
    assert_int_equal(pd_pki_token_check(&m, digest, &w, &m, &role, &why), 0);
    assert_int_equal(role, PD_PKI_ROLE_MANAGER);
    assert_int_equal(pd_pki_token_check(&w, digest, &w, &m, &role, &why), 0);
    assert_int_equal(role, PD_PKI_ROLE_WORKER);
    /* rotated: the old worker token no longer works */
    pd_pki_token_t w2;
    assert_int_equal(pd_pki_token_generate(&w2, digest, pd_pki_drbg_rng(&d)), 0);
    assert_int_equal(pd_pki_token_check(&w, digest, &w2, &m, &role, &why), -PD_EAUTH);
    assert_non_null(strstr(why, "rotated"));
    assert_int_equal(pd_pki_token_check(&m, digest, &w2, NULL, &role, &why), -PD_EAUTH);
    /* another cluster: the digest differs */
    uint8_t other[PD_PKI_DIGEST_LEN];
    memset(other, 0x11, sizeof other);
    assert_int_equal(pd_pki_token_check(&w, other, &w, &m, &role, &why), -PD_EAUTH);
    assert_non_null(strstr(why, "another cluster"));
    pd_pki_token_wipe(&w);
    pd_pki_token_wipe(&m);
    pd_pki_drbg_free(&d);
}

static void test_token_parse_errors(void **state)
{
    (void)state;
    pd_pki_token_t t;
    const char *why = NULL;
    char good[PD_PKI_TOKEN_LEN + 1];
    pd_pki_token_t zero;
    memset(&zero, 0x5a, sizeof zero);
    assert_int_equal(pd_pki_token_format(&zero, good, sizeof good), 0);
    const char *digest = good + 8, *secret = good + 8 + PD_PKI_TOKEN_DIGEST_CHARS + 1;
    char buf[512];

    assert_int_equal(parse_str(&t, "", &why), -PD_EMALFORMED);
    assert_int_equal(parse_str(&t, "SWMTKN-1-abc-def", &why), -PD_EMALFORMED);
    assert_non_null(strstr(why, "not a peerd join token"));
    snprintf(buf, sizeof buf, "PDTKN-2-%s", digest);
    assert_int_equal(parse_str(&t, buf, &why), -PD_EVERSION);
    snprintf(buf, sizeof buf, "PDTKN-10-%s", digest);
    assert_int_equal(parse_str(&t, buf, &why), -PD_EVERSION);
    snprintf(buf, sizeof buf, "PDTKN-01-%s", digest);
    assert_int_equal(parse_str(&t, buf, &why), -PD_EMALFORMED);
    assert_int_equal(parse_str(&t, "PDTKN--x", &why), -PD_EMALFORMED);
    assert_int_equal(parse_str(&t, "PDTKN-1", &why), -PD_EMALFORMED);
    assert_int_equal(parse_str(&t, "PDTKN-99999999999-", &why), -PD_EMALFORMED);
    /* digest: short, long, bad character, too large for 256 bits */
    snprintf(buf, sizeof buf, "PDTKN-1-%.49s-%s", digest, secret);
    assert_int_equal(parse_str(&t, buf, &why), -PD_EMALFORMED);
    assert_non_null(strstr(why, "CA digest"));
    snprintf(buf, sizeof buf, "PDTKN-1-0%s", digest);
    assert_int_equal(parse_str(&t, buf, &why), -PD_EMALFORMED);
    snprintf(buf, sizeof buf, "PDTKN-1-%s", digest);
    buf[10] = 'Z';
    assert_int_equal(parse_str(&t, buf, &why), -PD_EMALFORMED);
    snprintf(buf, sizeof buf, "PDTKN-1-%s-%s", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", secret);
    assert_int_equal(parse_str(&t, buf, &why), -PD_EMALFORMED);
    /* secret: short, long, bad character, too large for 128 bits */
    snprintf(buf, sizeof buf, "PDTKN-1-%.50s-%.24s", digest, secret);
    assert_int_equal(parse_str(&t, buf, &why), -PD_EMALFORMED);
    assert_non_null(strstr(why, "secret"));
    snprintf(buf, sizeof buf, "%sa", good);
    assert_int_equal(parse_str(&t, buf, &why), -PD_EMALFORMED);
    snprintf(buf, sizeof buf, "%s", good);
    buf[PD_PKI_TOKEN_LEN - 1] = '-';
    assert_int_equal(parse_str(&t, buf, &why), -PD_EMALFORMED);
    snprintf(buf, sizeof buf, "PDTKN-1-%.50s-zzzzzzzzzzzzzzzzzzzzzzzzz", digest);
    assert_int_equal(parse_str(&t, buf, &why), -PD_EMALFORMED);
    /* too long to look at */
    memset(buf, 'a', sizeof buf);
    assert_int_equal(pd_pki_token_parse(&t, buf, sizeof buf, &why), -PD_EMALFORMED);
    /* the good one still parses, and t was untouched by the failures */
    memset(&t, 0, sizeof t);
    assert_int_equal(parse_str(&t, good, &why), 0);
    assert_memory_equal(&t, &zero, sizeof t);
}

static void test_token_pins_ca(void **state)
{
    (void)state;
    cluster_t a, b;
    cluster_make(&a, 11, CLUSTER);
    cluster_make(&b, 12, CLUSTER);
    pd_pki_token_t t;
    const char *why = NULL;
    assert_int_equal(pd_pki_token_generate(&t, a.ca.digest, pd_pki_drbg_rng(&a.drbg)), 0);
    assert_int_equal(pd_pki_token_pins_ca(&t, &a.ca, &why), 0);
    assert_int_equal(pd_pki_token_pins_ca(&t, &b.ca, &why), -PD_EAUTH);
    assert_non_null(strstr(why, "another cluster"));
    cluster_free(&a);
    cluster_free(&b);
}

/* ---- TLS in memory ---- */
typedef struct {
    pd_pki_tls_conf_t cc, sc;
    pd_pki_tls_t *c, *s;
    int rc_c, rc_s;
} pair_t;

static void move(pd_pki_tls_t *from, pd_pki_tls_t *to)
{
    uint8_t buf[4096];
    size_t n;
    while ((n = pd_pki_tls_drain(from, buf, sizeof buf)) > 0) {
        size_t taken = 0;
        assert_int_equal(pd_pki_tls_feed(to, buf, n, &taken), 0);
        assert_int_equal(taken, n);
    }
}

/* Run both handshakes until both finish or one fails and the other has seen everything. */
static void handshake(pair_t *p)
{
    p->rc_c = p->rc_s = -EAGAIN;
    for (int i = 0; i < 32; i++) {
        if (p->rc_c == -EAGAIN)
            p->rc_c = pd_pki_tls_handshake(p->c);
        move(p->c, p->s);
        if (p->rc_s == -EAGAIN)
            p->rc_s = pd_pki_tls_handshake(p->s);
        move(p->s, p->c);
        if (p->rc_c != -EAGAIN && p->rc_s != -EAGAIN)
            break;
    }
}

/* The two sessions, on configs already made (p->cc, p->sc). */
static void pair_sessions(pair_t *p)
{
    p->c = calloc(1, sizeof *p->c);
    p->s = calloc(1, sizeof *p->s);
    assert_non_null(p->c);
    assert_non_null(p->s);
    assert_int_equal(pd_pki_tls_init(p->c, &p->cc), 0);
    assert_int_equal(pd_pki_tls_init(p->s, &p->sc), 0);
}

static void pair_open(pair_t *p, const pd_pki_ca_t *cca, pd_pki_ident_t *cself, const pd_pki_ca_t *sca,
                      pd_pki_ident_t *sself, cluster_t *cl)
{
    pd_pki_rng_t rng = pd_pki_drbg_rng(&cl->drbg);
    assert_int_equal(pd_pki_tls_conf_init(&p->cc, PD_PKI_TLS_CLIENT, cca, cself, &cl->clock.base, rng), 0);
    assert_int_equal(pd_pki_tls_conf_init(&p->sc, PD_PKI_TLS_SERVER, sca, sself, &cl->clock.base, rng), 0);
    pair_sessions(p);
}

static void pair_close(pair_t *p)
{
    pd_pki_tls_free(p->c);
    pd_pki_tls_free(p->s);
    free(p->c);
    free(p->s);
    pd_pki_tls_conf_free(&p->cc);
    pd_pki_tls_conf_free(&p->sc);
}

/* Write msg through `from`, reading at `to` as records arrive (its input buffer is bounded). */
static void send_recv(pd_pki_tls_t *from, pd_pki_tls_t *to, const void *msg, size_t len)
{
    uint8_t *got = malloc(len);
    size_t off = 0, have = 0;
    while (have < len) {
        if (off < len) {
            size_t w = 0;
            assert_int_equal(pd_pki_tls_write(from, (const char *)msg + off, len - off, &w), 0);
            off += w;
            move(from, to);
        }
        size_t n = 0;
        int rc;
        while (have < len && (rc = pd_pki_tls_read(to, got + have, len - have, &n)) == 0)
            have += n;
        if (have < len)
            assert_int_equal(rc, -EAGAIN);
    }
    assert_memory_equal(got, msg, len);
    free(got);
}

static void test_tls_handshake_and_data(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 21, CLUSTER);
    pair_t p;
    pair_open(&p, &cl.ca, &cl.wrk, &cl.ca, &cl.mgr, &cl);
    pd_pki_node_info_t peer;
    assert_int_equal(pd_pki_tls_peer(p.s, &peer), -PD_ESTATE);
    size_t n = 0;
    char buf[64];
    assert_int_equal(pd_pki_tls_write(p.c, "x", 1, &n), -PD_ESTATE);
    handshake(&p);
    assert_int_equal(p.rc_c, 0);
    assert_int_equal(p.rc_s, 0);
    /* each side knows who the other is */
    assert_int_equal(pd_pki_tls_peer(p.s, &peer), 0);
    assert_string_equal(peer.node_id, WRK_ID);
    assert_int_equal(peer.role, PD_PKI_ROLE_WORKER);
    assert_int_equal(pd_pki_tls_peer(p.c, &peer), 0);
    assert_string_equal(peer.node_id, MGR_ID);
    assert_int_equal(peer.role, PD_PKI_ROLE_MANAGER);
    /* an allowed suite, TLS 1.2 */
    assert_string_equal(mbedtls_ssl_get_version(&p.c->ssl), "TLSv1.2");
    const char *suite = mbedtls_ssl_get_ciphersuite(&p.c->ssl);
    assert_true(strstr(suite, "ECDHE-ECDSA") && (strstr(suite, "GCM") || strstr(suite, "CHACHA20")));

    /* nothing to read yet */
    assert_int_equal(pd_pki_tls_read(p.s, buf, sizeof buf, &n), -EAGAIN);
    send_recv(p.c, p.s, "hello manager", 13);
    send_recv(p.s, p.c, "hello worker", 12);
    /* a big message crosses several records */
    size_t big_len = 100000;
    uint8_t *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)(i * 7);
    send_recv(p.c, p.s, big, big_len);
    free(big);
    /* close_notify: the reader sees the end */
    assert_int_equal(pd_pki_tls_close(p.c), 0);
    move(p.c, p.s);
    assert_int_equal(pd_pki_tls_read(p.s, buf, sizeof buf, &n), -PD_ECLOSED);
    pair_close(&p);
    cluster_free(&cl);
}

static void test_tls_other_ca_refused(void **state)
{
    (void)state;
    cluster_t a, b;
    cluster_make(&a, 31, CLUSTER);
    cluster_make(&b, 32, CLUSTER);
    /* a client with a cert from CA b, trusting a's CA (it pinned a by token), at a server of a */
    pair_t p;
    pair_open(&p, &a.ca, &b.wrk, &a.ca, &a.mgr, &a);
    handshake(&p);
    assert_int_equal(p.rc_s, -PD_EAUTH);
    assert_string_equal(pd_pki_tls_why(p.s), "certificate not signed by this cluster's CA");
    assert_int_equal(p.rc_c, -PD_EAUTH);
    assert_string_equal(pd_pki_tls_why(p.c), "peer refused our certificate");
    pair_close(&p);
    /* a server of cluster b reached by a client of a: the client refuses it */
    pair_open(&p, &a.ca, &a.wrk, &b.ca, &b.mgr, &a);
    handshake(&p);
    assert_int_equal(p.rc_c, -PD_EAUTH);
    assert_string_equal(pd_pki_tls_why(p.c), "certificate not signed by this cluster's CA");
    assert_true(p.rc_s < 0 && p.rc_s != -EAGAIN);
    pair_close(&p);
    cluster_free(&a);
    cluster_free(&b);
}

static void test_tls_no_client_cert(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 41, CLUSTER);
    pair_t p;
    pair_open(&p, &cl.ca, NULL, &cl.ca, &cl.mgr, &cl);
    handshake(&p);
    assert_int_equal(p.rc_s, -PD_EAUTH);
    assert_string_equal(pd_pki_tls_why(p.s), "peer sent no certificate");
    assert_true(p.rc_c < 0);
    pair_close(&p);
    /* a server needs its own certificate */
    pd_pki_tls_conf_t sc;
    assert_int_equal(pd_pki_tls_conf_init(&sc, PD_PKI_TLS_SERVER, &cl.ca, NULL, &cl.clock.base,
                                          pd_pki_drbg_rng(&cl.drbg)),
                     -PD_EUSAGE);
    pd_pki_tls_conf_free(&sc);
    cluster_free(&cl);
}

/* The daemon's removed-nodes list, as the peer check sees it. */
static int refuse_removed(void *ctx, const pd_pki_node_info_t *peer)
{
    return strcmp((const char *)ctx, peer->node_id) == 0;
}

static void test_tls_removed_node_refused(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 51, CLUSTER);
    pair_t p;
    pair_open(&p, &cl.ca, &cl.wrk, &cl.ca, &cl.mgr, &cl);
    pd_pki_tls_conf_set_peer_check(&p.sc, refuse_removed, (void *)WRK_ID);
    handshake(&p);
    assert_int_equal(p.rc_s, -PD_EAUTH);
    assert_string_equal(pd_pki_tls_why(p.s), "peer node refused (removed from the cluster)");
    assert_int_equal(p.rc_c, -PD_EAUTH);
    pd_pki_node_info_t peer;
    assert_int_equal(pd_pki_tls_peer(p.s, &peer), -PD_ESTATE);
    pair_close(&p);
    /* another node id passes the same check */
    pair_open(&p, &cl.ca, &cl.wrk, &cl.ca, &cl.mgr, &cl);
    pd_pki_tls_conf_set_peer_check(&p.sc, refuse_removed, (void *)"x00000000000000000000000z");
    handshake(&p);
    assert_int_equal(p.rc_s, 0);
    assert_int_equal(p.rc_c, 0);
    pair_close(&p);
    cluster_free(&cl);
}

static void test_tls_expired_cert_refused(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 61, CLUSTER);
    pd_pki_ident_t old;
    issue(&cl, &cl.ca, &old, WRK_ID, PD_PKI_ROLE_WORKER, 1);
    pd_clock_sim_advance(&cl.clock, 2u * 86400u * 1000u); /* two days on: the 1-day cert expired */
    pair_t p;
    pair_open(&p, &cl.ca, &old, &cl.ca, &cl.mgr, &cl);
    handshake(&p);
    assert_int_equal(p.rc_s, -PD_EAUTH);
    assert_string_equal(pd_pki_tls_why(p.s), "certificate expired");
    pair_close(&p);
    pd_pki_ident_free(&old);
    cluster_free(&cl);
}

static void test_tls_garbage(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 71, CLUSTER);
    pd_pki_tls_conf_t sc;
    assert_int_equal(pd_pki_tls_conf_init(&sc, PD_PKI_TLS_SERVER, &cl.ca, &cl.mgr, &cl.clock.base,
                                          pd_pki_drbg_rng(&cl.drbg)),
                     0);
    static const char *inputs[] = {
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "\x16\x03\x03\x00\x05\x01\x00\x00\x01\x00",  /* a handshake record with a truncated hello */
        "\x17\x03\x03\x00\x04\x61\x62\x63\x64",          /* application data before the handshake */
        "\x16\x03\x03\xff\xff",                      /* a record longer than allowed */
    };
    static const size_t lens[] = {27, 10, 9, 5};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        pd_pki_tls_t *s = calloc(1, sizeof *s);
        assert_int_equal(pd_pki_tls_init(s, &sc), 0);
        size_t taken = 0;
        assert_int_equal(pd_pki_tls_feed(s, inputs[i], lens[i], &taken), 0);
        int rc = pd_pki_tls_handshake(s);
        assert_true(rc == -PD_EMALFORMED || rc == -PD_EAUTH);
        assert_int_equal(pd_pki_tls_handshake(s), rc); /* sticky */
        char out[64];
        size_t n = 0;
        assert_int_equal(pd_pki_tls_read(s, out, sizeof out, &n), rc);
        pd_pki_tls_free(s);
        free(s);
    }
    /* a flood is taken only up to the buffer: the caller keeps the rest */
    pd_pki_tls_t *s = calloc(1, sizeof *s);
    assert_int_equal(pd_pki_tls_init(s, &sc), 0);
    size_t big = PD_PKI_TLS_BUF + 100, taken = 0;
    uint8_t *junk = calloc(1, big);
    assert_int_equal(pd_pki_tls_feed(s, junk, big, &taken), 0);
    assert_int_equal(taken, PD_PKI_TLS_BUF);
    assert_true(pd_pki_tls_handshake(s) < 0);
    free(junk);
    pd_pki_tls_free(s);
    free(s);
    pd_pki_tls_conf_free(&sc);
    cluster_free(&cl);
}

/* ---- the join flow over TLS ---- */
static void join_pair_open(pair_t *p, const uint8_t *pin, const pd_pki_ca_t *sca, pd_pki_ident_t *sself,
                           cluster_t *cl)
{
    pd_pki_rng_t rng = pd_pki_drbg_rng(&cl->drbg);
    assert_int_equal(pd_pki_tls_conf_init_join(&p->cc, pin, &cl->clock.base, rng), 0);
    assert_int_equal(pd_pki_tls_conf_init(&p->sc, PD_PKI_TLS_SERVER, sca, sself, &cl->clock.base, rng), 0);
    pd_pki_tls_conf_allow_anonymous(&p->sc);
    p->c = calloc(1, sizeof *p->c);
    p->s = calloc(1, sizeof *p->s);
    assert_int_equal(pd_pki_tls_init(p->c, &p->cc), 0);
    assert_int_equal(pd_pki_tls_init(p->s, &p->sc), 0);
}

/* Receive exactly one message of up to cap bytes that the peer wrote in one call. */
static size_t recv_msg(pd_pki_tls_t *to, char *buf, size_t cap)
{
    size_t n = 0;
    assert_int_equal(pd_pki_tls_read(to, buf, cap - 1, &n), 0);
    buf[n] = '\0';
    return n;
}

static void test_join_flow(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 91, CLUSTER);
    pd_pki_rng_t rng = pd_pki_drbg_rng(&cl.drbg);
    pd_pki_token_t worker_tok, manager_tok;
    assert_int_equal(pd_pki_token_generate(&worker_tok, cl.ca.digest, rng), 0);
    assert_int_equal(pd_pki_token_generate(&manager_tok, cl.ca.digest, rng), 0);
    char token[PD_PKI_TOKEN_LEN + 1];
    assert_int_equal(pd_pki_token_format(&worker_tok, token, sizeof token), 0);

    /* the joiner knows only the token */
    pd_pki_token_t parsed;
    const char *why = NULL;
    assert_int_equal(pd_pki_token_parse(&parsed, token, strlen(token), &why), 0);
    pair_t p;
    join_pair_open(&p, parsed.ca_digest, &cl.ca, &cl.mgr, &cl);
    handshake(&p);
    assert_int_equal(p.rc_c, 0);
    assert_int_equal(p.rc_s, 0);
    pd_pki_node_info_t peer;
    assert_true(pd_pki_tls_anonymous(p.s));
    assert_int_equal(pd_pki_tls_peer(p.s, &peer), -PD_EAUTH); /* only the join RPC for it */
    assert_int_equal(pd_pki_tls_peer(p.c, &peer), 0);
    assert_string_equal(peer.node_id, MGR_ID);
    pd_pki_ca_t got_ca;
    pd_pki_ca_init(&got_ca);
    assert_int_equal(pd_pki_tls_join_ca(p.c, &got_ca), 0);
    assert_memory_equal(got_ca.digest, cl.ca.digest, PD_PKI_DIGEST_LEN);
    assert_false(got_ca.has_key);

    /* joiner → manager: token and CSR; manager → joiner: the certificate */
    pd_pki_ident_t joiner;
    pd_pki_ident_init(&joiner);
    assert_int_equal(pd_pki_ident_generate(&joiner, rng), 0);
    char msg[PD_PKI_PEM_MAX + 128], csr[PD_PKI_PEM_MAX], crt[PD_PKI_PEM_MAX];
    size_t csr_len = 0, crt_len = 0, w = 0;
    const char *jid = "j00000000000000000000000c";
    assert_int_equal(pd_pki_ident_csr(&joiner, jid, rng, csr, sizeof csr, &csr_len), 0);
    int m = snprintf(msg, sizeof msg, "%s\n%s", token, csr);
    assert_int_equal(pd_pki_tls_write(p.c, msg, (size_t)m, &w), 0);
    assert_int_equal(w, (size_t)m);
    move(p.c, p.s);
    char in[PD_PKI_PEM_MAX + 128];
    recv_msg(p.s, in, sizeof in);
    char *nl = strchr(in, '\n');
    assert_non_null(nl);
    pd_pki_token_t presented;
    pd_pki_role_t role = PD_PKI_ROLE_NONE;
    assert_int_equal(pd_pki_token_parse(&presented, in, (size_t)(nl - in), &why), 0);
    assert_int_equal(pd_pki_token_check(&presented, cl.ca.digest, &worker_tok, &manager_tok, &role, &why), 0);
    assert_int_equal(role, PD_PKI_ROLE_WORKER);
    assert_int_equal(pd_pki_ca_sign_csr(&cl.ca, nl + 1, strlen(nl + 1), jid, role, NOW_S, 0, rng, crt, sizeof crt,
                                        &crt_len, &why),
                     0);
    assert_int_equal(pd_pki_tls_write(p.s, crt, crt_len, &w), 0);
    move(p.s, p.c);
    size_t n = recv_msg(p.c, in, sizeof in);
    assert_int_equal(pd_pki_ident_set_cert(&joiner, &got_ca, in, n, NOW_S, &why), 0);
    assert_string_equal(joiner.info.node_id, jid);
    assert_int_equal(joiner.info.role, PD_PKI_ROLE_WORKER);
    pair_close(&p);

    /* from now on the joiner is a full member: mutual TLS with its new certificate */
    pair_open(&p, &got_ca, &joiner, &cl.ca, &cl.mgr, &cl);
    handshake(&p);
    assert_int_equal(p.rc_c, 0);
    assert_int_equal(p.rc_s, 0);
    assert_int_equal(pd_pki_tls_peer(p.s, &peer), 0);
    assert_string_equal(peer.node_id, jid);
    pair_close(&p);
    pd_pki_ident_free(&joiner);
    pd_pki_ca_free(&got_ca);
    cluster_free(&cl);
}

static void test_join_refusals(void **state)
{
    (void)state;
    cluster_t a, b;
    cluster_make(&a, 101, CLUSTER);
    cluster_make(&b, 102, CLUSTER);
    pd_pki_node_info_t peer;
    /* a token of cluster b used against a manager of cluster a */
    pair_t p;
    join_pair_open(&p, b.ca.digest, &a.ca, &a.mgr, &a);
    handshake(&p);
    assert_int_equal(p.rc_c, -PD_EAUTH);
    assert_non_null(strstr(pd_pki_tls_why(p.c), "pinned"));
    pair_close(&p);
    /* a worker posing as the manager */
    join_pair_open(&p, a.ca.digest, &a.ca, &a.wrk, &a);
    handshake(&p);
    assert_int_equal(p.rc_c, -PD_EAUTH);
    assert_string_equal(pd_pki_tls_why(p.c), "the server is not a manager of this cluster");
    pair_close(&p);
    /* an anonymous-allowed server still checks a certificate it is shown */
    pair_open(&p, &a.ca, &b.wrk, &a.ca, &a.mgr, &a);
    pd_pki_tls_conf_allow_anonymous(&p.sc);
    handshake(&p);
    assert_int_equal(p.rc_s, -PD_EAUTH);
    assert_string_equal(pd_pki_tls_why(p.s), "certificate not signed by this cluster's CA");
    assert_false(pd_pki_tls_anonymous(p.s));
    assert_int_equal(pd_pki_tls_peer(p.s, &peer), -PD_ESTATE);
    /* the client finished its side; its next read gets the refusal */
    if (p.rc_c == 0) {
        char buf[16];
        size_t n = 0;
        assert_int_equal(pd_pki_tls_read(p.c, buf, sizeof buf, &n), -PD_EAUTH);
    } else {
        assert_int_equal(p.rc_c, -PD_EAUTH);
    }
    pair_close(&p);
    /* and a removed node with a good certificate */
    pair_open(&p, &a.ca, &a.wrk, &a.ca, &a.mgr, &a);
    pd_pki_tls_conf_allow_anonymous(&p.sc);
    pd_pki_tls_conf_set_peer_check(&p.sc, refuse_removed, (void *)WRK_ID);
    handshake(&p);
    assert_int_equal(p.rc_s, -PD_EAUTH);
    assert_string_equal(pd_pki_tls_why(p.s), "peer node refused (removed from the cluster)");
    pair_close(&p);
    cluster_free(&a);
    cluster_free(&b);
}

/* ---- files ---- */
static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/pd_pki_test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[512], buf[PD_PKI_PEM_MAX], path[600];
    size_t len = 0;
    mode_t old = umask(0);
    assert_int_equal(pd_pki_file_write(dir, "node.key", "secret\n", 7, err, sizeof err), 0);
    umask(old);
    snprintf(path, sizeof path, "%s/node.key", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(pd_pki_file_read(path, buf, sizeof buf, &len, 1, err, sizeof err), 0);
    assert_int_equal(len, 7);
    assert_string_equal(buf, "secret\n");
    /* overwrite atomically, even over a stale world-readable temp file */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/.node.key.tmp", dir);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fclose(f);
    chmod(tmp, 0644);
    assert_int_equal(pd_pki_file_write(dir, "node.key", "new", 3, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(access(tmp, F_OK), -1);
    /* a key readable by others is refused, naming the file */
    chmod(path, 0644);
    assert_int_equal(pd_pki_file_read(path, buf, sizeof buf, &len, 1, err, sizeof err), -PD_EAUTH);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "0644"));
    assert_int_equal(pd_pki_file_read(path, buf, sizeof buf, &len, 0, err, sizeof err), 0);
    /* too big, missing, empty */
    assert_int_equal(pd_pki_file_read(path, buf, 3, &len, 0, err, sizeof err), -PD_ETOOBIG);
    snprintf(path, sizeof path, "%s/nope.crt", dir);
    assert_int_equal(pd_pki_file_read(path, buf, sizeof buf, &len, 0, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "nope.crt"));
    assert_int_equal(pd_pki_file_write(dir, "empty.crt", "", 0, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/empty.crt", dir);
    assert_int_equal(pd_pki_file_read(path, buf, sizeof buf, &len, 0, err, sizeof err), -PD_EMALFORMED);
    assert_int_equal(pd_pki_file_write(dir, "a/b", "x", 1, err, sizeof err), -PD_EUSAGE);
    assert_int_equal(pd_pki_file_write("/nonexistent-dir", "x", "x", 1, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent-dir"));

    /* the whole init set round-trips through files */
    cluster_t cl;
    cluster_make(&cl, 81, CLUSTER);
    char pem[PD_PKI_PEM_MAX];
    assert_int_equal(pd_pki_ca_cert_pem(&cl.ca, pem, sizeof pem, &len), 0);
    assert_int_equal(pd_pki_file_write(dir, "ca.crt", pem, len, err, sizeof err), 0);
    assert_int_equal(pd_pki_ident_key_pem(&cl.mgr, pem, sizeof pem, &len), 0);
    assert_int_equal(pd_pki_file_write(dir, "node.key", pem, len, err, sizeof err), 0);
    assert_int_equal(pd_pki_ident_cert_pem(&cl.mgr, pem, sizeof pem, &len), 0);
    assert_int_equal(pd_pki_file_write(dir, "node.crt", pem, len, err, sizeof err), 0);
    pd_pki_ca_t ca;
    pd_pki_ident_t id;
    pd_pki_ca_init(&ca);
    pd_pki_ident_init(&id);
    const char *why = NULL;
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    assert_int_equal(pd_pki_file_read(path, buf, sizeof buf, &len, 0, err, sizeof err), 0);
    assert_int_equal(pd_pki_ca_load(&ca, buf, len, NULL, 0, &why), 0);
    snprintf(path, sizeof path, "%s/node.key", dir);
    assert_int_equal(pd_pki_file_read(path, buf, sizeof buf, &len, 1, err, sizeof err), 0);
    assert_int_equal(pd_pki_ident_load_key(&id, buf, len, &why), 0);
    snprintf(path, sizeof path, "%s/node.crt", dir);
    assert_int_equal(pd_pki_file_read(path, buf, sizeof buf, &len, 0, err, sizeof err), 0);
    assert_int_equal(pd_pki_ident_set_cert(&id, &ca, buf, len, NOW_S, &why), 0);
    assert_string_equal(id.info.node_id, MGR_ID);
    pd_pki_ident_free(&id);
    pd_pki_ca_free(&ca);
    cluster_free(&cl);

    const char *names[] = {"node.key", "ca.crt", "node.crt", "empty.crt"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
}

/* ---- renewal and CA rotation ---- */
static void test_renew_rule(void **state)
{
    (void)state;
    /* issued at 1300 (not_before is backdated 300 s), 100 s of life: renew in [1350, 1380) */
    pd_pki_node_info_t info = {.not_before_s = 1000, .not_after_s = 1400};
    assert_int_equal(pd_pki_issued_at_s(&info), 1300);
    assert_int_equal(pd_pki_renew_at_s(&info, 0), 1350);
    assert_int_equal(pd_pki_renew_at_s(&info, UINT32_MAX), 1379);
    assert_int_equal(pd_pki_renew_at_s(&info, UINT32_MAX / 2), 1364);
    assert_false(pd_pki_renew_due(&info, 1349, 0));
    assert_true(pd_pki_renew_due(&info, 1350, 0));
    /* every jitter lands in the window, and the window is used (not one point) */
    int64_t lo = INT64_MAX, hi = 0;
    for (uint64_t j = 0; j <= UINT32_MAX; j += 0x01000193u) {
        int64_t at = pd_pki_renew_at_s(&info, (uint32_t)j);
        assert_true(at >= 1350 && at < 1380);
        lo = at < lo ? at : lo;
        hi = at > hi ? at : hi;
    }
    assert_true(hi - lo >= 25);
    /* a life shorter than the backdating counts from not_before */
    pd_pki_node_info_t tiny = {.not_before_s = 0, .not_after_s = 200};
    assert_int_equal(pd_pki_renew_at_s(&tiny, 0), 100);
    /* an empty or inverted life: due at once */
    pd_pki_node_info_t bad = {.not_before_s = 500, .not_after_s = 400};
    assert_true(pd_pki_renew_due(&bad, 500, 0));
    /* the 90-day default: between day 45 and day 72 */
    pd_pki_node_info_t d90 = {.not_before_s = NOW_S - PD_PKI_BACKDATE_S, .not_after_s = NOW_S + 90 * DAY_S};
    assert_int_equal(pd_pki_renew_at_s(&d90, 0), NOW_S + 45 * DAY_S);
    assert_true(pd_pki_renew_at_s(&d90, UINT32_MAX) < NOW_S + 72 * DAY_S);
}

/* A second root of the same cluster (what `swarm ca --rotate` makes). */
static void make_root(cluster_t *cl, pd_pki_ca_t *ca, const char *cluster_id)
{
    pd_pki_ca_init(ca);
    assert_int_equal(pd_pki_ca_create(ca, cluster_id, NOW_S, 0, pd_pki_drbg_rng(&cl->drbg)), 0);
}

static size_t bundle_pem(const pd_pki_ca_t *a, const pd_pki_ca_t *b, char *out, size_t cap)
{
    size_t n = 0, m = 0;
    assert_int_equal(pd_pki_ca_cert_pem(a, out, cap, &n), 0);
    if (b) {
        assert_int_equal(pd_pki_ca_cert_pem(b, out + n, cap - n, &m), 0);
    }
    return n + m;
}

static void test_ca_bundle(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 11, CLUSTER);
    pd_pki_ca_t root2, foreign, cur, prev;
    make_root(&cl, &root2, CLUSTER);
    make_root(&cl, &foreign, "othercluster");
    pd_pki_ca_init(&cur);
    pd_pki_ca_init(&prev);
    char pem[3 * PD_PKI_PEM_MAX];
    const char *why = NULL;
    /* one root: prev stays empty */
    size_t n = bundle_pem(&cl.ca, NULL, pem, sizeof pem);
    assert_int_equal(pd_pki_ca_load_bundle(&cur, &prev, pem, n, &why), 0);
    assert_memory_equal(cur.digest, cl.ca.digest, PD_PKI_DIGEST_LEN);
    assert_int_equal(prev.crt.raw.len, 0);
    /* new root first, old one second */
    n = bundle_pem(&root2, &cl.ca, pem, sizeof pem);
    assert_int_equal(pd_pki_ca_load_bundle(&cur, &prev, pem, n, &why), 0);
    assert_memory_equal(cur.digest, root2.digest, PD_PKI_DIGEST_LEN);
    assert_memory_equal(prev.digest, cl.ca.digest, PD_PKI_DIGEST_LEN);
    assert_false(cur.has_key);
    /* refused, and nothing kept: the same root twice, two clusters, three roots, garbage */
    n = bundle_pem(&cl.ca, &cl.ca, pem, sizeof pem);
    assert_int_equal(pd_pki_ca_load_bundle(&cur, &prev, pem, n, &why), -PD_EMALFORMED);
    assert_string_equal(why, "CA bundle holds the same certificate twice");
    assert_int_equal(cur.crt.raw.len, 0);
    n = bundle_pem(&cl.ca, &foreign, pem, sizeof pem);
    assert_int_equal(pd_pki_ca_load_bundle(&cur, &prev, pem, n, &why), -PD_EAUTH);
    assert_string_equal(why, "CA bundle mixes two clusters");
    n = bundle_pem(&cl.ca, &root2, pem, sizeof pem);
    n += bundle_pem(&foreign, NULL, pem + n, sizeof pem - n);
    assert_int_equal(pd_pki_ca_load_bundle(&cur, &prev, pem, n, &why), -PD_EMALFORMED);
    assert_string_equal(why, "CA bundle holds more than two certificates");
    assert_int_equal(pd_pki_ca_load_bundle(&cur, &prev, "junk", 4, &why), -PD_EMALFORMED);
    assert_int_equal(pd_pki_ca_load_bundle(&cur, &prev, "", 0, &why), -PD_EMALFORMED);
    /* which root signed a node certificate */
    char crt[PD_PKI_PEM_MAX];
    size_t crt_len = 0;
    assert_int_equal(pd_pki_ident_cert_pem(&cl.wrk, crt, sizeof crt, &crt_len), 0);
    assert_int_equal(pd_pki_ca_signed(&cl.ca, crt, crt_len), 1);
    assert_int_equal(pd_pki_ca_signed(&root2, crt, crt_len), 0);
    assert_true(pd_pki_ca_signed(&root2, "junk", 4) < 0);
    pd_pki_ca_free(&cur);
    pd_pki_ca_free(&prev);
    pd_pki_ca_free(&root2);
    pd_pki_ca_free(&foreign);
    cluster_free(&cl);
}

/* During a rotation: a node on the new root and one still on the old root talk when both trust
 * both; a config that trusts only the new root refuses the old certificate. */
static void test_tls_two_roots(void **state)
{
    (void)state;
    cluster_t cl;
    cluster_make(&cl, 12, CLUSTER);
    pd_pki_ca_t root2, foreign;
    make_root(&cl, &root2, CLUSTER);
    make_root(&cl, &foreign, "othercluster");
    pd_pki_ident_t renewed; /* the worker, renewed by the new root */
    issue(&cl, &root2, &renewed, WRK_ID, PD_PKI_ROLE_WORKER, 0);
    pd_pki_rng_t rng = pd_pki_drbg_rng(&cl.drbg);
    pair_t p;
    memset(&p, 0, sizeof p);
    assert_int_equal(pd_pki_tls_conf_init(&p.cc, PD_PKI_TLS_CLIENT, &root2, &renewed, &cl.clock.base, rng), 0);
    assert_int_equal(pd_pki_tls_conf_init(&p.sc, PD_PKI_TLS_SERVER, &cl.ca, &cl.mgr, &cl.clock.base, rng), 0);
    assert_int_equal(pd_pki_tls_conf_add_ca(&p.cc, &cl.ca), 0);
    assert_int_equal(pd_pki_tls_conf_add_ca(&p.sc, &root2), 0);
    assert_int_equal(pd_pki_tls_conf_add_ca(&p.sc, &foreign), -PD_EUSAGE);
    assert_int_equal(pd_pki_tls_conf_set_alpn(&p.cc, "pd-cert"), 0);
    assert_int_equal(pd_pki_tls_conf_set_alpn(&p.sc, "pd-cert"), 0);
    pair_sessions(&p);
    assert_int_equal(p.sc.sessions, 1);
    handshake(&p);
    assert_int_equal(p.rc_c, 0);
    assert_int_equal(p.rc_s, 0);
    pd_pki_node_info_t peer;
    assert_int_equal(pd_pki_tls_peer(p.s, &peer), 0);
    assert_string_equal(peer.node_id, WRK_ID);
    assert_string_equal(pd_pki_tls_alpn(p.s), "pd-cert");
    assert_string_equal(pd_pki_tls_alpn(p.c), "pd-cert");
    send_recv(p.c, p.s, "renew", 5);
    pd_pki_tls_free(p.s);
    assert_int_equal(p.sc.sessions, 0); /* the config may go now */
    pd_pki_tls_free(p.s);               /* twice is harmless */
    assert_int_equal(p.sc.sessions, 0);
    pair_close(&p);

    /* the old root dropped on the server: the old certificate is refused; no ALPN offered: none */
    memset(&p, 0, sizeof p);
    assert_int_equal(pd_pki_tls_conf_init(&p.cc, PD_PKI_TLS_CLIENT, &cl.ca, &cl.wrk, &cl.clock.base, rng), 0);
    assert_int_equal(pd_pki_tls_conf_init(&p.sc, PD_PKI_TLS_SERVER, &root2, &renewed, &cl.clock.base, rng), 0);
    assert_int_equal(pd_pki_tls_conf_add_ca(&p.cc, &root2), 0);
    assert_int_equal(pd_pki_tls_conf_set_alpn(&p.sc, "pd-cert"), 0);
    pair_sessions(&p);
    handshake(&p);
    assert_int_equal(p.rc_s, -PD_EAUTH);
    assert_string_equal(pd_pki_tls_why(p.s), "certificate not signed by this cluster's CA");
    pair_close(&p);

    memset(&p, 0, sizeof p);
    assert_int_equal(pd_pki_tls_conf_init(&p.cc, PD_PKI_TLS_CLIENT, &root2, &renewed, &cl.clock.base, rng), 0);
    assert_int_equal(pd_pki_tls_conf_init(&p.sc, PD_PKI_TLS_SERVER, &root2, &renewed, &cl.clock.base, rng), 0);
    assert_int_equal(pd_pki_tls_conf_set_alpn(&p.sc, "pd-cert"), 0);
    pair_sessions(&p);
    handshake(&p);
    assert_int_equal(p.rc_s, 0);
    assert_null(pd_pki_tls_alpn(p.s));
    pair_close(&p);
    pd_pki_ident_free(&renewed);
    pd_pki_ca_free(&root2);
    pd_pki_ca_free(&foreign);
    cluster_free(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_create_and_reload),   cmocka_unit_test(test_drbg_seeded_replays),
        cmocka_unit_test(test_issue_and_verify),       cmocka_unit_test(test_sign_refusals),
        cmocka_unit_test(test_token_round_trip),       cmocka_unit_test(test_token_parse_errors),
        cmocka_unit_test(test_token_pins_ca),          cmocka_unit_test(test_tls_handshake_and_data),
        cmocka_unit_test(test_tls_other_ca_refused),   cmocka_unit_test(test_tls_no_client_cert),
        cmocka_unit_test(test_tls_removed_node_refused), cmocka_unit_test(test_tls_expired_cert_refused),
        cmocka_unit_test(test_tls_garbage),            cmocka_unit_test(test_join_flow),
        cmocka_unit_test(test_join_refusals),          cmocka_unit_test(test_files),
        cmocka_unit_test(test_renew_rule),             cmocka_unit_test(test_ca_bundle),
        cmocka_unit_test(test_tls_two_roots),
    };
    return cmocka_run_group_tests_name("pki", tests, NULL, NULL);
}
