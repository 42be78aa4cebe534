/* The cluster root CA: create (self-signed P-256), load from PEM/DER, write out, digest. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pki_internal.h"

void pd_pki_ca_init(pd_pki_ca_t *ca)
{
    PD_ASSERT(ca);
    memset(ca, 0, sizeof *ca);
    mbedtls_x509_crt_init(&ca->crt);
    mbedtls_pk_init(&ca->key);
}

void pd_pki_ca_free(pd_pki_ca_t *ca)
{
    if (!ca)
        return;
    mbedtls_x509_crt_free(&ca->crt);
    mbedtls_pk_free(&ca->key); /* frees the key's bignums, which mbedTLS zeroizes */
    pd_pki_ca_init(ca);
}

static int finish_ca(pd_pki_ca_t *ca)
{
    if (mbedtls_sha256_ret(ca->crt.raw.p, ca->crt.raw.len, ca->digest, 0) != 0)
        return -PD_EINTERNAL;
    return 0;
}

static int write_ca_cert(pd_pki_ca_t *ca, int64_t now_s, uint32_t days, pd_pki_rng_t rng)
{
    char name[PKI_NAME_MAX];
    pki_ca_name(ca->cluster_id, name);
    mbedtls_x509write_cert w;
    mbedtls_x509write_crt_init(&w);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &ca->key);
    mbedtls_x509write_crt_set_issuer_key(&w, &ca->key);
    int rc = mbedtls_x509write_crt_set_subject_name(&w, name) || mbedtls_x509write_crt_set_issuer_name(&w, name) ||
             mbedtls_x509write_crt_set_basic_constraints(&w, 1, 0) ||
             mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN) ||
             mbedtls_x509write_crt_set_subject_key_identifier(&w) ||
             mbedtls_x509write_crt_set_authority_key_identifier(&w)
                 ? -PD_EINTERNAL
                 : 0;
    if (rc == 0)
        rc = pki_set_serial(&w, rng);
    if (rc == 0)
        rc = pki_set_validity(&w, now_s, days);
    if (rc == 0)
        rc = pki_crt_finish(&w, rng, &ca->crt);
    mbedtls_x509write_crt_free(&w);
    return rc;
}

int pd_pki_ca_create(pd_pki_ca_t *ca, const char *cluster_id, int64_t now_s, uint32_t validity_days,
                     pd_pki_rng_t rng)
{
    PD_ASSERT(ca && rng.fn);
    if (!pd_pki_cluster_id_valid(cluster_id) || validity_days > 36500)
        return -PD_EUSAGE;
    pd_pki_ca_free(ca);
    snprintf(ca->cluster_id, sizeof ca->cluster_id, "%s", cluster_id);
    int rc = pki_key_generate(&ca->key, rng);
    if (rc == 0)
        rc = write_ca_cert(ca, now_s, validity_days ? validity_days : PD_PKI_CA_DAYS, rng);
    if (rc == 0)
        rc = finish_ca(ca);
    if (rc != 0) {
        pd_pki_ca_free(ca);
        return rc;
    }
    ca->has_key = 1;
    return 0;
}

/* Is this certificate one of ours: a self-issued P-256 CA with keyCertSign, named for a cluster? */
static int check_ca_cert(pd_pki_ca_t *ca, const char **why)
{
    mbedtls_x509_crt *c = &ca->crt;
    char cn[128];
    if (c->next) {
        *why = "more than one certificate where the CA certificate was expected";
        return -PD_EMALFORMED;
    }
    if (!c->ca_istrue || mbedtls_x509_crt_check_key_usage(c, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0) {
        *why = "not a CA certificate (basicConstraints CA and keyUsage keyCertSign required)";
        return -PD_EAUTH;
    }
    if (!pki_key_is_p256(&c->pk)) {
        *why = "CA key is not ECDSA P-256";
        return -PD_EAUTH;
    }
    if (c->issuer_raw.len != c->subject_raw.len ||
        memcmp(c->issuer_raw.p, c->subject_raw.p, c->subject_raw.len) != 0) {
        *why = "CA certificate is not self-issued";
        return -PD_EAUTH;
    }
    if (PKI_DN_GET(&c->subject, MBEDTLS_OID_AT_ORGANIZATION, ca->cluster_id, sizeof ca->cluster_id) != 0 ||
        !pd_pki_cluster_id_valid(ca->cluster_id) ||
        PKI_DN_GET(&c->subject, MBEDTLS_OID_AT_CN, cn, sizeof cn) != 0 ||
        strncmp(cn, PKI_CA_CN_PREFIX, strlen(PKI_CA_CN_PREFIX)) != 0) {
        *why = "not a peerd cluster CA certificate (subject CN/O)";
        return -PD_EAUTH;
    }
    return 0;
}

static int load_ca(pd_pki_ca_t *ca, const void *cert, size_t cert_len, const void *key, size_t key_len,
                   const char **why)
{
    unsigned char tmp[PD_PKI_PEM_MAX + 1];
    const unsigned char *p;
    size_t plen;
    int rc = pki_input(cert, cert_len, tmp, sizeof tmp, &p, &plen);
    if (rc != 0) {
        *why = rc == -PD_ETOOBIG ? "CA certificate too large" : "empty CA certificate";
        return rc;
    }
    if (mbedtls_x509_crt_parse(&ca->crt, p, plen) != 0) {
        *why = "CA certificate is not a valid X.509 certificate (PEM or DER)";
        return -PD_EMALFORMED;
    }
    if ((rc = check_ca_cert(ca, why)) != 0)
        return rc;
    if ((rc = finish_ca(ca)) != 0)
        return rc;
    if (!key)
        return 0;
    if ((rc = pki_key_parse(&ca->key, key, key_len, why)) != 0)
        return rc;
    if (mbedtls_pk_check_pair(&ca->crt.pk, &ca->key) != 0) {
        *why = "CA key does not match the CA certificate";
        return -PD_EAUTH;
    }
    ca->has_key = 1;
    return 0;
}

int pd_pki_ca_load(pd_pki_ca_t *ca, const void *cert, size_t cert_len, const void *key, size_t key_len,
                   const char **why)
{
    PD_ASSERT(ca && why);
    pd_pki_ca_free(ca);
    int rc = load_ca(ca, cert, cert_len, key, key_len, why);
    if (rc != 0)
        pd_pki_ca_free(ca);
    return rc;
}

int pd_pki_ca_cert_pem(const pd_pki_ca_t *ca, char *out, size_t cap, size_t *len)
{
    PD_ASSERT(ca && out && len);
    if (ca->crt.raw.len == 0)
        return -PD_ESTATE;
    return pki_crt_pem(&ca->crt, out, cap, len);
}

int pd_pki_ca_key_pem(pd_pki_ca_t *ca, char *out, size_t cap, size_t *len)
{
    PD_ASSERT(ca && out && len);
    if (!ca->has_key)
        return -PD_ESTATE;
    return pki_key_pem(&ca->key, out, cap, len);
}

int pd_pki_ca_load_bundle(pd_pki_ca_t *cur, pd_pki_ca_t *prev, const void *pem, size_t len, const char **why)
{
    PD_ASSERT(cur && prev && why);
    pd_pki_ca_free(cur);
    pd_pki_ca_free(prev);
    if (!pem || len == 0 || len > 2 * PD_PKI_PEM_MAX) {
        *why = len ? "CA bundle too large" : "empty CA bundle";
        return len ? -PD_ETOOBIG : -PD_EMALFORMED;
    }
    unsigned char tmp[2 * PD_PKI_PEM_MAX + 1];
    memcpy(tmp, pem, len);
    tmp[len] = '\0';
    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    int rc = mbedtls_x509_crt_parse(&chain, tmp, len + 1) == 0 ? 0 : -PD_EMALFORMED;
    if (rc)
        *why = "CA bundle is not one or two PEM certificates";
    const mbedtls_x509_crt *second = rc == 0 ? chain.next : NULL;
    if (rc == 0 && second && second->next) {
        *why = "CA bundle holds more than two certificates";
        rc = -PD_EMALFORMED;
    }
    if (rc == 0)
        rc = pd_pki_ca_load(cur, chain.raw.p, chain.raw.len, NULL, 0, why);
    if (rc == 0 && second)
        rc = pd_pki_ca_load(prev, second->raw.p, second->raw.len, NULL, 0, why);
    if (rc == 0 && second && strcmp(cur->cluster_id, prev->cluster_id) != 0) {
        *why = "CA bundle mixes two clusters";
        rc = -PD_EAUTH;
    }
    if (rc == 0 && second && memcmp(cur->digest, prev->digest, sizeof cur->digest) == 0) {
        *why = "CA bundle holds the same certificate twice";
        rc = -PD_EMALFORMED;
    }
    mbedtls_x509_crt_free(&chain);
    if (rc) {
        pd_pki_ca_free(cur);
        pd_pki_ca_free(prev);
    }
    return rc;
}
