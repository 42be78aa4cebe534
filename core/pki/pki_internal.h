/* Helpers shared by the pki_*.c files; not part of the module's API. */
#ifndef PD_PKI_INTERNAL_H
#define PD_PKI_INTERNAL_H

#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "pki.h"

#define PKI_OU_MANAGER "peerd-manager"
#define PKI_OU_WORKER "peerd-worker"
#define PKI_CA_CN_PREFIX "peerd cluster CA "

/* The CA's subject (and its certificates' issuer): "CN=peerd cluster CA <id>,O=<id>". */
#define PKI_NAME_MAX 160
void pki_ca_name(const char *cluster_id, char out[PKI_NAME_MAX]);

/* The only algorithms we sign with or accept: ECDSA on P-256 with SHA-256/384. */
extern const mbedtls_x509_crt_profile pki_profile;

/* Unix seconds <-> X.509 time. fmt writes "YYYYMMDDHHMMSS" (15 bytes with the NUL). */
int pki_time_fmt(int64_t s, char out[16]);
int64_t pki_time_of(const mbedtls_x509_time *t);

/* mbedTLS parses PEM only when the NUL is inside the length; DER as is. Gives the buffer to parse:
 * the input itself, or a NUL-terminated copy in tmp (cap bytes). -PD_ETOOBIG if it does not fit. */
int pki_input(const void *in, size_t len, unsigned char *tmp, size_t cap, const unsigned char **p,
              size_t *plen);

/* The value of the first attribute `oid` (an MBEDTLS_OID_AT_* string) in a DN, as a C string of
 * printable ASCII. -PD_ENOTFOUND, or -PD_EMALFORMED if too long or not printable. */
int pki_dn_get(const mbedtls_x509_name *dn, const char *oid, size_t oid_len, char *out, size_t cap);
#define PKI_DN_GET(dn, OID, out, cap) pki_dn_get((dn), OID, sizeof(OID) - 1, (out), (cap))

/* Is this a P-256 EC key? */
int pki_key_is_p256(const mbedtls_pk_context *pk);

/* Node id, cluster id, role and validity of an end-entity cert (no chain check). */
int pki_node_info(const mbedtls_x509_crt *crt, pd_pki_node_info_t *out, const char **why);

/* Chain check against the CA (signature, profile, key usage) without mbedTLS's own clock; then our
 * validity check at now_s for both certs. 0 or -PD_EAUTH with *why. */
int pki_chain_verify(mbedtls_x509_crt *crt, mbedtls_x509_crt *ca, int64_t now_s, const char **why);
/* The flags mbedTLS sets from its own clock; we replace them with checks at the caller's time. */
#define PKI_TIME_FLAGS (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)
/* A short reason for a set of mbedTLS verification flags. */
const char *pki_flags_why(uint32_t flags);
int pki_time_check(const mbedtls_x509_crt *crt, int64_t now_s, const char **why);

/* A copy of the first cert of src into dst (an initialised, empty chain). */
int pki_crt_copy(mbedtls_x509_crt *dst, const mbedtls_x509_crt *src);

/* A whole node-cert check: chain to ca at now_s, node cert usages, names (cluster id = the CA's). */
int pki_node_cert_check(mbedtls_x509_crt *crt, const pd_pki_ca_t *ca, int64_t now_s, pd_pki_node_info_t *out,
                        const char **why);
/* Parse exactly one certificate (PEM or DER) into an initialised, empty chain. */
int pki_crt_parse_one(mbedtls_x509_crt *crt, const void *in, size_t len, const char **why);

/* A new P-256 key into an initialised, empty pk context. */
int pki_key_generate(mbedtls_pk_context *pk, pd_pki_rng_t rng);

/* Certificate writing shared by the CA and the signer: a 128-bit random positive serial; the
 * finished DER (written at the end of buf, as mbedTLS does) parsed into out. */
#define PKI_DER_MAX 2048
int pki_set_serial(mbedtls_x509write_cert *w, pd_pki_rng_t rng);
int pki_set_validity(mbedtls_x509write_cert *w, int64_t now_s, uint32_t days);
int pki_set_validity_s(mbedtls_x509write_cert *w, int64_t now_s, int64_t validity_s);
int pki_crt_finish(mbedtls_x509write_cert *w, pd_pki_rng_t rng, mbedtls_x509_crt *out);
/* PEM of a parsed cert's DER. *len excludes the NUL. */
int pki_crt_pem(const mbedtls_x509_crt *crt, char *out, size_t cap, size_t *len);
/* PEM of a key; *len excludes the NUL. */
int pki_key_pem(mbedtls_pk_context *pk, char *out, size_t cap, size_t *len);
/* Parse one key (PEM or DER, unencrypted) that must be P-256. */
int pki_key_parse(mbedtls_pk_context *pk, const void *in, size_t len, const char **why);

#endif
