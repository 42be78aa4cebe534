/* Writing keys and certificates: key generation, serials, validity, DER → parsed cert, PEM out. */
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform_util.h>

#include "pd_err.h"
#include "pki_internal.h"

int pki_key_generate(mbedtls_pk_context *pk, pd_pki_rng_t rng)
{
    if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
        return -PD_EINTERNAL;
    if (mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), rng.fn, rng.ctx) != 0) {
        mbedtls_pk_free(pk);
        mbedtls_pk_init(pk);
        return -PD_EINTERNAL;
    }
    return 0;
}

int pki_set_serial(mbedtls_x509write_cert *w, pd_pki_rng_t rng)
{
    unsigned char b[16];
    if (rng.fn(rng.ctx, b, sizeof b) != 0)
        return -PD_EINTERNAL;
    b[0] = (unsigned char)((b[0] & 0x7f) | 0x40); /* positive, and always 16 bytes long */
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    int rc = mbedtls_mpi_read_binary(&serial, b, sizeof b);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_serial(w, &serial);
    mbedtls_mpi_free(&serial);
    return rc == 0 ? 0 : -PD_EINTERNAL;
}

int pki_set_validity_s(mbedtls_x509write_cert *w, int64_t now_s, int64_t validity_s)
{
    char from[16], to[16];
    if (pki_time_fmt(now_s - PD_PKI_BACKDATE_S, from) != 0 || pki_time_fmt(now_s + validity_s, to) != 0)
        return -PD_EUSAGE;
    return mbedtls_x509write_crt_set_validity(w, from, to) == 0 ? 0 : -PD_EINTERNAL;
}

int pki_set_validity(mbedtls_x509write_cert *w, int64_t now_s, uint32_t days)
{
    return pki_set_validity_s(w, now_s, (int64_t)days * 86400);
}

int pki_crt_finish(mbedtls_x509write_cert *w, pd_pki_rng_t rng, mbedtls_x509_crt *out)
{
    unsigned char buf[PKI_DER_MAX];
    int n = mbedtls_x509write_crt_der(w, buf, sizeof buf, rng.fn, rng.ctx);
    if (n <= 0)
        return -PD_EINTERNAL;
    return mbedtls_x509_crt_parse_der(out, buf + sizeof buf - (size_t)n, (size_t)n) == 0 ? 0 : -PD_EINTERNAL;
}

int pki_crt_pem(const mbedtls_x509_crt *crt, char *out, size_t cap, size_t *len)
{
    size_t olen = 0;
    int rc = mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
                                      crt->raw.p, crt->raw.len, (unsigned char *)out, cap, &olen);
    if (rc == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
        return -PD_ETOOBIG;
    if (rc != 0 || olen == 0)
        return -PD_EINTERNAL;
    *len = olen - 1; /* olen counts the NUL */
    return 0;
}

int pki_key_pem(mbedtls_pk_context *pk, char *out, size_t cap, size_t *len)
{
    int rc = mbedtls_pk_write_key_pem(pk, (unsigned char *)out, cap);
    if (rc != 0) {
        mbedtls_platform_zeroize(out, cap);
        return rc == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL || rc == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL
                   ? -PD_ETOOBIG
                   : -PD_EINTERNAL;
    }
    *len = strlen(out);
    return 0;
}

int pki_key_parse(mbedtls_pk_context *pk, const void *in, size_t len, const char **why)
{
    unsigned char tmp[PD_PKI_PEM_MAX + 1];
    const unsigned char *p;
    size_t plen;
    int rc = pki_input(in, len, tmp, sizeof tmp, &p, &plen);
    if (rc == 0 && mbedtls_pk_parse_key(pk, p, plen, NULL, 0) != 0)
        rc = -PD_EMALFORMED;
    mbedtls_platform_zeroize(tmp, sizeof tmp);
    if (rc != 0) {
        *why = rc == -PD_ETOOBIG ? "key too large" : "not an unencrypted private key (PEM or DER)";
        return rc;
    }
    if (!pki_key_is_p256(pk)) {
        mbedtls_pk_free(pk);
        mbedtls_pk_init(pk);
        *why = "key is not ECDSA P-256";
        return -PD_EAUTH;
    }
    return 0;
}
