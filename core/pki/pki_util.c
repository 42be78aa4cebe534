/* Small shared pieces: ids and roles, X.509 time, DN attributes, the algorithm profile, the chain
 * and validity checks done at the caller's time instead of mbedTLS's clock. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/oid.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pki_internal.h"

const mbedtls_x509_crt_profile pki_profile = {
    .allowed_mds = MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) | MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384),
    .allowed_pks = MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY),
    .allowed_curves = MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1),
    .rsa_min_bitlen = 0xFFFFFFF, /* no RSA at all */
};

static int base36_str(const char *s, size_t min, size_t max)
{
    size_t n = 0;
    for (; s[n] && n <= max; n++) {
        char c = s[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
            return 0;
    }
    return n >= min && n <= max;
}

int pd_pki_node_id_valid(const char *s) { return s && base36_str(s, PD_NODE_ID_LEN, PD_NODE_ID_LEN); }

int pd_pki_cluster_id_valid(const char *s) { return s && base36_str(s, 1, PD_PKI_CLUSTER_ID_MAX); }

void pki_ca_name(const char *cluster_id, char out[PKI_NAME_MAX])
{
    PD_ASSERT(pd_pki_cluster_id_valid(cluster_id)); /* so the name always fits */
    snprintf(out, PKI_NAME_MAX, "CN=" PKI_CA_CN_PREFIX "%.*s,O=%.*s", PD_PKI_CLUSTER_ID_MAX, cluster_id,
             PD_PKI_CLUSTER_ID_MAX, cluster_id);
}

const char *pd_pki_role_name(pd_pki_role_t role)
{
    switch (role) {
    case PD_PKI_ROLE_WORKER:
        return "worker";
    case PD_PKI_ROLE_MANAGER:
        return "manager";
    default:
        return "none";
    }
}

int64_t pd_pki_issued_at_s(const pd_pki_node_info_t *info)
{
    int64_t issued = info->not_before_s;
    if (info->not_after_s - issued > PD_PKI_BACKDATE_S)
        issued += PD_PKI_BACKDATE_S; /* the backdating is skew allowance, not lifetime */
    return issued;
}

int64_t pd_pki_renew_at_s(const pd_pki_node_info_t *info, uint32_t jitter)
{
    int64_t issued = pd_pki_issued_at_s(info);
    int64_t life = info->not_after_s - issued;
    if (life <= 0)
        return issued;
    /* 1/2 + (3/10) * jitter/2^32 of the lifetime, in 128-bit-free integer steps */
    int64_t base = life / 2;
    int64_t span = life * 3 / 10;
    return issued + base + (int64_t)(((uint64_t)span * jitter) >> 32);
}

int pd_pki_renew_due(const pd_pki_node_info_t *info, int64_t now_s, uint32_t jitter)
{
    return now_s >= pd_pki_renew_at_s(info, jitter);
}

int pki_time_fmt(int64_t s, char out[16])
{
    /* X.509 can say 1950..9999; we never need earlier than the epoch. */
    if (s < 0 || s > 253402300799LL)
        return -PD_EUSAGE;
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return -PD_EUSAGE;
    size_t n = strftime(out, 16, "%Y%m%d%H%M%S", &tm);
    return n == 14 ? 0 : -PD_EINTERNAL;
}

int64_t pki_time_of(const mbedtls_x509_time *t)
{
    struct tm tm = {.tm_year = t->year - 1900, .tm_mon = t->mon - 1, .tm_mday = t->day,
                    .tm_hour = t->hour, .tm_min = t->min, .tm_sec = t->sec};
    return (int64_t)timegm(&tm);
}

int pki_input(const void *in, size_t len, unsigned char *tmp, size_t cap, const unsigned char **p,
              size_t *plen)
{
    if (!in || len == 0)
        return -PD_EMALFORMED;
    const unsigned char *b = in;
    /* DER starts with a SEQUENCE tag; anything else is taken as text (PEM, maybe after blank
     * lines) and given the NUL mbedTLS wants. */
    if (b[0] == 0x30 || b[len - 1] == '\0') {
        *p = b;
        *plen = len;
        return 0;
    }
    if (len + 1 > cap)
        return -PD_ETOOBIG;
    memcpy(tmp, b, len);
    tmp[len] = '\0';
    *p = tmp;
    *plen = len + 1;
    return 0;
}

int pki_dn_get(const mbedtls_x509_name *dn, const char *oid, size_t oid_len, char *out, size_t cap)
{
    for (const mbedtls_x509_name *n = dn; n; n = n->next) {
        if (n->oid.len != oid_len || memcmp(n->oid.p, oid, oid_len) != 0)
            continue;
        if (n->val.len >= cap)
            return -PD_EMALFORMED;
        for (size_t i = 0; i < n->val.len; i++) {
            if (n->val.p[i] < 0x20 || n->val.p[i] > 0x7e)
                return -PD_EMALFORMED;
        }
        memcpy(out, n->val.p, n->val.len);
        out[n->val.len] = '\0';
        return 0;
    }
    return -PD_ENOTFOUND;
}

int pki_key_is_p256(const mbedtls_pk_context *pk)
{
    if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY))
        return 0;
    return mbedtls_pk_ec(*pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

static pd_pki_role_t role_of_ou(const char *ou)
{
    if (strcmp(ou, PKI_OU_MANAGER) == 0)
        return PD_PKI_ROLE_MANAGER;
    if (strcmp(ou, PKI_OU_WORKER) == 0)
        return PD_PKI_ROLE_WORKER;
    return PD_PKI_ROLE_NONE;
}

int pki_node_info(const mbedtls_x509_crt *crt, pd_pki_node_info_t *out, const char **why)
{
    pd_pki_node_info_t info;
    memset(&info, 0, sizeof info);
    char ou[32];
    if (crt->ca_istrue) {
        *why = "a CA certificate where a node certificate was expected";
        return -PD_EAUTH;
    }
    if (PKI_DN_GET(&crt->subject, MBEDTLS_OID_AT_CN, info.node_id, sizeof info.node_id) != 0 ||
        !pd_pki_node_id_valid(info.node_id)) {
        *why = "certificate does not name a node id (CN)";
        return -PD_EAUTH;
    }
    if (PKI_DN_GET(&crt->subject, MBEDTLS_OID_AT_ORG_UNIT, ou, sizeof ou) != 0 ||
        (info.role = role_of_ou(ou)) == PD_PKI_ROLE_NONE) {
        *why = "certificate does not name a role (OU peerd-manager or peerd-worker)";
        return -PD_EAUTH;
    }
    if (PKI_DN_GET(&crt->subject, MBEDTLS_OID_AT_ORGANIZATION, info.cluster_id, sizeof info.cluster_id) != 0 ||
        !pd_pki_cluster_id_valid(info.cluster_id)) {
        *why = "certificate does not name a cluster id (O)";
        return -PD_EAUTH;
    }
    info.not_before_s = pki_time_of(&crt->valid_from);
    info.not_after_s = pki_time_of(&crt->valid_to);
    for (size_t i = 0; i < crt->serial.len && i < 20; i++)
        snprintf(info.serial + 2 * i, 3, "%02x", crt->serial.p[i]);
    *out = info;
    return 0;
}

int pki_time_check(const mbedtls_x509_crt *crt, int64_t now_s, const char **why)
{
    if (now_s < pki_time_of(&crt->valid_from)) {
        *why = crt->ca_istrue ? "CA certificate not yet valid" : "certificate not yet valid";
        return -PD_EAUTH;
    }
    if (now_s > pki_time_of(&crt->valid_to)) {
        *why = crt->ca_istrue ? "CA certificate expired" : "certificate expired";
        return -PD_EAUTH;
    }
    return 0;
}

const char *pki_flags_why(uint32_t flags)
{
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
        return "certificate not signed by this cluster's CA";
    if (flags & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_KEY))
        return "certificate uses an algorithm or key this cluster does not accept";
    if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE))
        return "certificate key usage does not allow this use";
    return "certificate verification failed";
}

int pki_chain_verify(mbedtls_x509_crt *crt, mbedtls_x509_crt *ca, int64_t now_s, const char **why)
{
    uint32_t flags = 0;
    int rc = mbedtls_x509_crt_verify_with_profile(crt, ca, NULL, &pki_profile, NULL, &flags, NULL, NULL);
    flags &= ~(uint32_t)PKI_TIME_FLAGS;
    if (flags != 0 || (rc != 0 && rc != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)) {
        *why = flags ? pki_flags_why(flags) : "certificate verification failed";
        return -PD_EAUTH;
    }
    int t = pki_time_check(ca, now_s, why);
    return t ? t : pki_time_check(crt, now_s, why);
}

int pki_crt_copy(mbedtls_x509_crt *dst, const mbedtls_x509_crt *src)
{
    return mbedtls_x509_crt_parse_der(dst, src->raw.p, src->raw.len) == 0 ? 0 : -PD_EINTERNAL;
}
