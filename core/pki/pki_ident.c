/* This node's identity: its private key, its CSR, and the certificate the CA gave back. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/x509_csr.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pki_internal.h"

void pd_pki_ident_init(pd_pki_ident_t *id)
{
    PD_ASSERT(id);
    memset(id, 0, sizeof *id);
    mbedtls_pk_init(&id->key);
    mbedtls_x509_crt_init(&id->crt);
}

void pd_pki_ident_free(pd_pki_ident_t *id)
{
    if (!id)
        return;
    mbedtls_pk_free(&id->key);
    mbedtls_x509_crt_free(&id->crt);
    pd_pki_ident_init(id);
}

static void drop_cert(pd_pki_ident_t *id)
{
    mbedtls_x509_crt_free(&id->crt);
    mbedtls_x509_crt_init(&id->crt);
    memset(&id->info, 0, sizeof id->info);
    id->has_crt = 0;
}

int pd_pki_ident_generate(pd_pki_ident_t *id, pd_pki_rng_t rng)
{
    PD_ASSERT(id && rng.fn);
    pd_pki_ident_free(id);
    int rc = pki_key_generate(&id->key, rng);
    id->has_key = rc == 0;
    return rc;
}

int pd_pki_ident_load_key(pd_pki_ident_t *id, const void *key, size_t len, const char **why)
{
    PD_ASSERT(id && why);
    pd_pki_ident_free(id);
    int rc = pki_key_parse(&id->key, key, len, why);
    id->has_key = rc == 0;
    return rc;
}

int pd_pki_ident_key_pem(pd_pki_ident_t *id, char *out, size_t cap, size_t *len)
{
    PD_ASSERT(id && out && len);
    if (!id->has_key)
        return -PD_ESTATE;
    return pki_key_pem(&id->key, out, cap, len);
}

int pd_pki_ident_csr(pd_pki_ident_t *id, const char *node_id, pd_pki_rng_t rng, char *out, size_t cap,
                     size_t *len)
{
    PD_ASSERT(id && out && len && rng.fn);
    if (!id->has_key)
        return -PD_ESTATE;
    if (!pd_pki_node_id_valid(node_id))
        return -PD_EUSAGE;
    char subject[64];
    snprintf(subject, sizeof subject, "CN=%s", node_id);
    mbedtls_x509write_csr w;
    mbedtls_x509write_csr_init(&w);
    mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_csr_set_key(&w, &id->key);
    int rc = mbedtls_x509write_csr_set_subject_name(&w, subject) == 0 ? 0 : -PD_EINTERNAL;
    if (rc == 0) {
        rc = mbedtls_x509write_csr_pem(&w, (unsigned char *)out, cap, rng.fn, rng.ctx);
        rc = rc == 0 ? 0 : rc == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL || rc == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL
                               ? -PD_ETOOBIG
                               : -PD_EINTERNAL;
    }
    mbedtls_x509write_csr_free(&w);
    if (rc == 0)
        *len = strlen(out);
    return rc;
}

int pd_pki_ident_set_cert(pd_pki_ident_t *id, const pd_pki_ca_t *ca, const void *cert, size_t len,
                          int64_t now_s, const char **why)
{
    PD_ASSERT(id && ca && why);
    if (!id->has_key) {
        *why = "no key loaded for this certificate";
        return -PD_ESTATE;
    }
    drop_cert(id);
    pd_pki_node_info_t info;
    int rc = pki_crt_parse_one(&id->crt, cert, len, why);
    if (rc == 0)
        rc = pki_node_cert_check(&id->crt, ca, now_s, &info, why);
    if (rc == 0 && mbedtls_pk_check_pair(&id->crt.pk, &id->key) != 0) {
        *why = "certificate is for another key";
        rc = -PD_EAUTH;
    }
    if (rc != 0) {
        drop_cert(id);
        return rc;
    }
    id->info = info;
    id->has_crt = 1;
    return 0;
}

int pd_pki_ident_cert_pem(const pd_pki_ident_t *id, char *out, size_t cap, size_t *len)
{
    PD_ASSERT(id && out && len);
    if (!id->has_crt)
        return -PD_ESTATE;
    return pki_crt_pem(&id->crt, out, cap, len);
}
