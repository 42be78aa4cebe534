/* The CA's signer: CSR in (checked: self-signature, P-256, CN = the node id the caller chose),
 * node certificate out; and the check of a node certificate against the CA. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_csr.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pki_internal.h"

int pki_crt_parse_one(mbedtls_x509_crt *crt, const void *in, size_t len, const char **why)
{
    unsigned char tmp[PD_PKI_PEM_MAX + 1];
    const unsigned char *p;
    size_t plen;
    int rc = pki_input(in, len, tmp, sizeof tmp, &p, &plen);
    if (rc != 0) {
        *why = rc == -PD_ETOOBIG ? "certificate too large" : "empty certificate";
        return rc;
    }
    if (mbedtls_x509_crt_parse(crt, p, plen) != 0) {
        *why = "not a valid X.509 certificate (PEM or DER)";
        return -PD_EMALFORMED;
    }
    if (crt->next) {
        *why = "more than one certificate where one was expected";
        return -PD_EMALFORMED;
    }
    return 0;
}

int pki_node_cert_check(mbedtls_x509_crt *crt, const pd_pki_ca_t *ca, int64_t now_s, pd_pki_node_info_t *out,
                        const char **why)
{
    /* mbedTLS takes the trusted chain non-const but only reads it. */
    int rc = pki_chain_verify(crt, (mbedtls_x509_crt *)&ca->crt, now_s, why);
    if (rc != 0)
        return rc;
    if (mbedtls_x509_crt_check_key_usage(crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0 ||
        mbedtls_x509_crt_check_extended_key_usage(crt, MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) != 0 ||
        mbedtls_x509_crt_check_extended_key_usage(crt, MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0) {
        *why = "not a node certificate (digitalSignature, serverAuth and clientAuth required)";
        return -PD_EAUTH;
    }
    pd_pki_node_info_t info;
    if ((rc = pki_node_info(crt, &info, why)) != 0)
        return rc;
    if (strcmp(info.cluster_id, ca->cluster_id) != 0) {
        *why = "certificate names another cluster";
        return -PD_EAUTH;
    }
    *out = info;
    return 0;
}

int pd_pki_cert_verify(const pd_pki_ca_t *ca, const void *cert, size_t cert_len, int64_t now_s,
                       pd_pki_node_info_t *out, const char **why)
{
    PD_ASSERT(ca && out && why);
    if (ca->crt.raw.len == 0)
        return -PD_ESTATE;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int rc = pki_crt_parse_one(&crt, cert, cert_len, why);
    if (rc == 0)
        rc = pki_node_cert_check(&crt, ca, now_s, out, why);
    mbedtls_x509_crt_free(&crt);
    return rc;
}

int pd_pki_ca_signed(const pd_pki_ca_t *ca, const void *cert, size_t cert_len)
{
    PD_ASSERT(ca);
    if (ca->crt.raw.len == 0)
        return -PD_ESTATE;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    const char *why = NULL;
    int rc = pki_crt_parse_one(&crt, cert, cert_len, &why);
    if (rc == 0) {
        uint32_t flags = 0;
        int v = mbedtls_x509_crt_verify_with_profile(&crt, (mbedtls_x509_crt *)&ca->crt, NULL, &pki_profile, NULL,
                                                     &flags, NULL, NULL);
        flags &= ~(uint32_t)PKI_TIME_FLAGS;
        rc = flags == 0 && (v == 0 || v == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED);
    }
    mbedtls_x509_crt_free(&crt);
    return rc;
}

/* The CSR's signature over its own request info, by its own key: proof the requester holds it. */
static int csr_self_signed(mbedtls_x509_csr *csr)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(csr->sig_md);
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    if (!md || csr->sig_pk != MBEDTLS_PK_ECDSA ||
        !(pki_profile.allowed_mds & MBEDTLS_X509_ID_FLAG(csr->sig_md)))
        return -PD_EAUTH;
    if (mbedtls_md(md, csr->cri.p, csr->cri.len, hash) != 0)
        return -PD_EINTERNAL;
    if (mbedtls_pk_verify_ext(csr->sig_pk, csr->sig_opts, &csr->pk, csr->sig_md, hash, mbedtls_md_get_size(md),
                              csr->sig.p, csr->sig.len) != 0)
        return -PD_EAUTH;
    return 0;
}

static int csr_check(mbedtls_x509_csr *csr, const void *in, size_t len, const char *node_id, const char **why)
{
    unsigned char tmp[PD_PKI_PEM_MAX + 1];
    const unsigned char *p;
    size_t plen;
    char cn[PD_NODE_ID_LEN + 1];
    int rc = pki_input(in, len, tmp, sizeof tmp, &p, &plen);
    if (rc != 0) {
        *why = rc == -PD_ETOOBIG ? "CSR too large" : "empty CSR";
        return rc;
    }
    if (mbedtls_x509_csr_parse(csr, p, plen) != 0) {
        *why = "not a valid certificate signing request (PEM or DER)";
        return -PD_EMALFORMED;
    }
    if (!pki_key_is_p256(&csr->pk)) {
        *why = "CSR key is not ECDSA P-256";
        return -PD_EAUTH;
    }
    if ((rc = csr_self_signed(csr)) != 0) {
        *why = "CSR signature does not verify with its own key";
        return rc;
    }
    if (PKI_DN_GET(&csr->subject, MBEDTLS_OID_AT_CN, cn, sizeof cn) != 0 || strcmp(cn, node_id) != 0) {
        *why = "CSR subject CN is not the node id being admitted";
        return -PD_EAUTH;
    }
    return 0;
}

/* extendedKeyUsage = SEQUENCE { serverAuth, clientAuth }, written backwards as asn1write does. */
static int set_eku(mbedtls_x509write_cert *w)
{
    unsigned char buf[32];
    unsigned char *p = buf + sizeof buf;
    int a = mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH));
    int b = mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH));
    if (a < 0 || b < 0)
        return -PD_EINTERNAL;
    int c = mbedtls_asn1_write_len(&p, buf, (size_t)(a + b));
    int d = c < 0 ? c : mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
    if (d < 0)
        return -PD_EINTERNAL;
    size_t len = (size_t)(a + b + c + d);
    return mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, p, len) == 0
               ? 0
               : -PD_EINTERNAL;
}

static int write_node_cert(pd_pki_ca_t *ca, mbedtls_pk_context *subject_key, const char *node_id,
                           pd_pki_role_t role, int64_t now_s, int64_t validity_s, pd_pki_rng_t rng,
                           mbedtls_x509_crt *out)
{
    char subject[PKI_NAME_MAX], issuer[PKI_NAME_MAX];
    snprintf(subject, sizeof subject, "CN=%.*s,OU=%s,O=%.*s", PD_NODE_ID_LEN, node_id,
             role == PD_PKI_ROLE_MANAGER ? PKI_OU_MANAGER : PKI_OU_WORKER, PD_PKI_CLUSTER_ID_MAX, ca->cluster_id);
    pki_ca_name(ca->cluster_id, issuer);
    mbedtls_x509write_cert w;
    mbedtls_x509write_crt_init(&w);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, &ca->key);
    int rc = mbedtls_x509write_crt_set_subject_name(&w, subject) || mbedtls_x509write_crt_set_issuer_name(&w, issuer) ||
             mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1) ||
             mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) ||
             mbedtls_x509write_crt_set_subject_key_identifier(&w) ||
             mbedtls_x509write_crt_set_authority_key_identifier(&w)
                 ? -PD_EINTERNAL
                 : 0;
    if (rc == 0)
        rc = set_eku(&w);
    if (rc == 0)
        rc = pki_set_serial(&w, rng);
    if (rc == 0)
        rc = pki_set_validity_s(&w, now_s, validity_s);
    if (rc == 0)
        rc = pki_crt_finish(&w, rng, out);
    mbedtls_x509write_crt_free(&w);
    return rc;
}

int pd_pki_ca_sign_csr(pd_pki_ca_t *ca, const void *csr_in, size_t csr_len, const char *node_id,
                       pd_pki_role_t role, int64_t now_s, int64_t validity_s, pd_pki_rng_t rng,
                       char *out, size_t cap, size_t *len, const char **why)
{
    PD_ASSERT(ca && out && len && why && rng.fn);
    if (!ca->has_key) {
        *why = "this node holds no CA key";
        return -PD_ESTATE;
    }
    if (!pd_pki_node_id_valid(node_id) || (role != PD_PKI_ROLE_WORKER && role != PD_PKI_ROLE_MANAGER) ||
        (validity_s != 0 && (validity_s < PD_PKI_NODE_MIN_S || validity_s > (int64_t)PD_PKI_NODE_DAYS_MAX * 86400))) {
        *why = "invalid node id, role or validity";
        return -PD_EUSAGE;
    }
    int rc = pki_time_check(&ca->crt, now_s, why); /* an expired CA signs nothing anyone accepts */
    if (rc != 0)
        return rc;
    mbedtls_x509_csr csr;
    mbedtls_x509_crt crt;
    mbedtls_x509_csr_init(&csr);
    mbedtls_x509_crt_init(&crt);
    rc = csr_check(&csr, csr_in, csr_len, node_id, why);
    if (rc == 0) {
        rc = write_node_cert(ca, &csr.pk, node_id, role, now_s,
                             validity_s ? validity_s : (int64_t)PD_PKI_NODE_DAYS * 86400, rng, &crt);
        if (rc != 0)
            *why = "could not write the certificate";
    }
    if (rc == 0 && (rc = pki_crt_pem(&crt, out, cap, len)) != 0)
        *why = "output buffer too small";
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_csr_free(&csr);
    return rc;
}
