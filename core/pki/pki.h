/* core/pki: the cluster's certificate authority, node certificates, join tokens and mutual TLS.
 * Pure library code on mbedTLS 2.28 + libsodium: no sockets, no libuv, no clock reads (time comes in
 * as Unix seconds or through a pd_clock_t), randomness through an injectable mbedTLS-shaped RNG.
 *
 * What the daemon does with it (docs/pki.md has the whole picture):
 *   swarm init   pd_pki_ca_create → pd_pki_ident_generate + pd_pki_ident_csr → pd_pki_ca_sign_csr
 *                → pd_pki_ident_set_cert; two pd_pki_token_generate (worker, manager); write
 *                ca.crt, ca.key, node.key, node.crt with pd_pki_file_write (0600, atomic).
 *   join         pd_pki_token_parse; connect with pd_pki_tls_conf_init_join(token digest) to a
 *                manager whose server config has pd_pki_tls_conf_allow_anonymous; the handshake pins
 *                the CA; send the secret and a CSR; the manager runs pd_pki_token_check (→ role) and
 *                pd_pki_ca_sign_csr; the joiner keeps pd_pki_tls_join_ca and pd_pki_ident_set_cert.
 *   every conn   pd_pki_tls_conf_init once per direction, then one pd_pki_tls_t per connection:
 *                feed / handshake / drain / read / write; pd_pki_tls_peer gives (node id, role).
 *   renewal      pd_pki_renew_due(&ident.info, now, jitter) → a new key, a CSR, the same signing;
 *                during a CA rotation the trust is a bundle (pd_pki_ca_load_bundle: new root first,
 *                then the old one) and pd_pki_tls_conf_add_ca trusts both.
 *
 * Errors: 0 or a negative pd_err code. Parsers and verifiers also give a static `why` string (or
 * write `err`) naming what was wrong, for the user-facing message. Out-params are written last. */
#ifndef PD_PKI_H
#define PD_PKI_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "pd_clock.h"
#include "pd_limits.h"
#include "pd_rng.h"

#define PD_PKI_DIGEST_LEN 32           /* SHA-256 of the CA certificate's DER */
#define PD_PKI_CLUSTER_ID_MAX 40       /* [0-9a-z]; keeps the CA's CN within X.509's 64 */
#define PD_PKI_PEM_MAX 4096            /* any one cert, CSR or key in PEM (P-256: ~1 KiB) */
#define PD_PKI_CA_DAYS 7300            /* root CA validity: 20 years */
#define PD_PKI_NODE_DAYS 90            /* node certificate default validity */
#define PD_PKI_NODE_DAYS_MAX 3650      /* a caller asking for more is refused */
#define PD_PKI_NODE_MIN_S 30           /* shortest node validity (tests; Swarm's floor is 1 h) */
#define PD_PKI_BACKDATE_S 300          /* not_before = now - 5 min: tolerate small clock skew */

/* ---- randomness ----------------------------------------------------------------------------- */
/* The mbedTLS f_rng/p_rng pair; every function that needs randomness takes one. */
typedef struct {
    int (*fn)(void *ctx, unsigned char *out, size_t len);
    void *ctx;
} pd_pki_rng_t;

/* A CTR-DRBG. Production: seeded from libsodium's randombytes. Tests/simulation: from a pd_rng_t
 * seed, so a run replays (never use the seeded form for real keys). */
typedef struct {
    mbedtls_ctr_drbg_context drbg;
    pd_rng_t seed_rng;
    int seeded_from_os;
} pd_pki_drbg_t;

int pd_pki_drbg_init(pd_pki_drbg_t *d);
int pd_pki_drbg_init_seeded(pd_pki_drbg_t *d, uint64_t seed);
pd_pki_rng_t pd_pki_drbg_rng(pd_pki_drbg_t *d);
void pd_pki_drbg_free(pd_pki_drbg_t *d);

/* ---- roles and what a node certificate says -------------------------------------------------- */
typedef enum { PD_PKI_ROLE_NONE = 0, PD_PKI_ROLE_WORKER = 1, PD_PKI_ROLE_MANAGER = 2 } pd_pki_role_t;

const char *pd_pki_role_name(pd_pki_role_t role); /* "worker" | "manager" | "none" */

typedef struct {
    char node_id[PD_NODE_ID_LEN + 1];               /* subject CN */
    char cluster_id[PD_PKI_CLUSTER_ID_MAX + 1];     /* subject O, equal to the CA's O */
    pd_pki_role_t role;                              /* subject OU: peerd-manager | peerd-worker */
    int64_t not_before_s, not_after_s;               /* Unix seconds */
    char serial[2 * 20 + 1];                         /* hex, for people and records */
} pd_pki_node_info_t;

/* Is s a node id ([0-9a-z], PD_NODE_ID_LEN chars)? A cluster id ([0-9a-z], 1..40 chars)? */
int pd_pki_node_id_valid(const char *s);
int pd_pki_cluster_id_valid(const char *s);

/* When to renew: at a point between 1/2 and 4/5 of the lifetime (Swarm's window), chosen by jitter
 * (any uniform 32-bit value, fixed per certificate) so that nodes issued together do not all renew
 * at once. The lifetime counts from issuance (not_before + PD_PKI_BACKDATE_S, when longer than
 * that) to not_after. */
/* When the certificate was issued: not_before without the skew backdating. */
int64_t pd_pki_issued_at_s(const pd_pki_node_info_t *info);
int64_t pd_pki_renew_at_s(const pd_pki_node_info_t *info, uint32_t jitter);
int pd_pki_renew_due(const pd_pki_node_info_t *info, int64_t now_s, uint32_t jitter);

/* ---- the CA ------------------------------------------------------------------------------------ */
/* Root CA: ECDSA P-256, self-signed, CN "peerd cluster CA <cluster id>", O <cluster id>,
 * basicConstraints CA:true pathlen 0, keyUsage keyCertSign+cRLSign. The key is optional: workers
 * and non-leader code load the certificate alone (has_key 0) to verify peers. */
typedef struct {
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    int has_key;
    char cluster_id[PD_PKI_CLUSTER_ID_MAX + 1];
    uint8_t digest[PD_PKI_DIGEST_LEN];
} pd_pki_ca_t;

void pd_pki_ca_init(pd_pki_ca_t *ca);
int pd_pki_ca_create(pd_pki_ca_t *ca, const char *cluster_id, int64_t now_s, uint32_t validity_days,
                     pd_pki_rng_t rng);
/* cert: PEM or DER; key: PEM or DER or NULL. Refuses a cert that is not one of our CA certs, and a
 * key that does not match the cert. */
int pd_pki_ca_load(pd_pki_ca_t *ca, const void *cert, size_t cert_len, const void *key, size_t key_len,
                   const char **why);
int pd_pki_ca_cert_pem(const pd_pki_ca_t *ca, char *out, size_t cap, size_t *len);
/* The key in PEM (SEC1 "EC PRIVATE KEY"). The caller wipes `out` after writing it out. */
int pd_pki_ca_key_pem(pd_pki_ca_t *ca, char *out, size_t cap, size_t *len);
void pd_pki_ca_free(pd_pki_ca_t *ca);

/* A trust bundle in PEM: the current root, then (during a CA rotation) the previous one; both of
 * the same cluster and distinct. Loads cur, and prev when there is a second certificate (else
 * prev stays empty: prev->crt.raw.len == 0). Refuses more than two, foreign clusters, duplicates. */
int pd_pki_ca_load_bundle(pd_pki_ca_t *cur, pd_pki_ca_t *prev, const void *pem, size_t len, const char **why);
/* Did this CA sign this node certificate (PEM or DER)? Time is not looked at. 1, 0, or an error. */
int pd_pki_ca_signed(const pd_pki_ca_t *ca, const void *cert, size_t cert_len);

/* Sign a CSR into a node certificate. The node id and role come from the caller (the join flow
 * decides them); the CSR must carry a valid self-signature by a P-256 key and CN == node_id.
 * Serial: 128 random bits. keyUsage digitalSignature, EKU serverAuth+clientAuth, CA:false.
 * validity_s 0 means PD_PKI_NODE_DAYS; else PD_PKI_NODE_MIN_S .. PD_PKI_NODE_DAYS_MAX days.
 * Out: PEM (NUL-terminated; *len excludes the NUL). */
int pd_pki_ca_sign_csr(pd_pki_ca_t *ca, const void *csr, size_t csr_len, const char *node_id,
                       pd_pki_role_t role, int64_t now_s, int64_t validity_s, pd_pki_rng_t rng,
                       char *out, size_t cap, size_t *len, const char **why);

/* Verify a node certificate (PEM or DER) against the CA at now_s and say what it names. */
int pd_pki_cert_verify(const pd_pki_ca_t *ca, const void *cert, size_t cert_len, int64_t now_s,
                       pd_pki_node_info_t *out, const char **why);

/* ---- this node's identity: key + certificate ----------------------------------------------------- */
typedef struct {
    mbedtls_pk_context key;
    mbedtls_x509_crt crt;
    int has_key, has_crt;
    pd_pki_node_info_t info; /* valid when has_crt */
} pd_pki_ident_t;

void pd_pki_ident_init(pd_pki_ident_t *id);
int pd_pki_ident_generate(pd_pki_ident_t *id, pd_pki_rng_t rng);          /* a new P-256 key */
int pd_pki_ident_load_key(pd_pki_ident_t *id, const void *key, size_t len, const char **why);
int pd_pki_ident_key_pem(pd_pki_ident_t *id, char *out, size_t cap, size_t *len);
/* A CSR (PEM) with subject CN=node_id, signed by the key. */
int pd_pki_ident_csr(pd_pki_ident_t *id, const char *node_id, pd_pki_rng_t rng, char *out, size_t cap,
                     size_t *len);
/* Install a certificate: verified against the CA at now_s, and its key must be ours. */
int pd_pki_ident_set_cert(pd_pki_ident_t *id, const pd_pki_ca_t *ca, const void *cert, size_t len,
                          int64_t now_s, const char **why);
int pd_pki_ident_cert_pem(const pd_pki_ident_t *id, char *out, size_t cap, size_t *len);
void pd_pki_ident_free(pd_pki_ident_t *id);

/* ---- join tokens ------------------------------------------------------------------------------ */
/* "PDTKN-1-<CA digest: 50 base36 chars>-<secret: 25 base36 chars>" (Swarm's SWMTKN shape). The
 * secret is 16 random bytes; one token per role, rotated by generating a new one. */
#define PD_PKI_TOKEN_SECRET_LEN 16
#define PD_PKI_TOKEN_DIGEST_CHARS 50
#define PD_PKI_TOKEN_SECRET_CHARS 25
#define PD_PKI_TOKEN_LEN (8 + PD_PKI_TOKEN_DIGEST_CHARS + 1 + PD_PKI_TOKEN_SECRET_CHARS) /* 84 */
#define PD_PKI_TOKEN_INPUT_MAX 256 /* longer input is refused before it is looked at */

typedef struct {
    uint8_t ca_digest[PD_PKI_DIGEST_LEN];
    uint8_t secret[PD_PKI_TOKEN_SECRET_LEN];
} pd_pki_token_t;

int pd_pki_token_generate(pd_pki_token_t *t, const uint8_t ca_digest[PD_PKI_DIGEST_LEN], pd_pki_rng_t rng);
/* out needs PD_PKI_TOKEN_LEN + 1 bytes. */
int pd_pki_token_format(const pd_pki_token_t *t, char *out, size_t cap);
/* -PD_EMALFORMED (prefix, digest, secret, separators) or -PD_EVERSION; *why says which. Leading and
 * trailing whitespace (a pasted newline) is ignored. */
int pd_pki_token_parse(pd_pki_token_t *t, const char *s, size_t len, const char **why);
/* Joiner: does the token pin this CA certificate? 0 or -PD_EAUTH ("another cluster"). */
int pd_pki_token_pins_ca(const pd_pki_token_t *t, const pd_pki_ca_t *ca, const char **why);
/* Manager: which role does a presented token grant? Digests compared first (another cluster), then
 * the secret against both current tokens in constant time. 0 and *role, or -PD_EAUTH and *why.
 * Either current token may be NULL (that role cannot join). */
int pd_pki_token_check(const pd_pki_token_t *presented, const uint8_t ca_digest[PD_PKI_DIGEST_LEN],
                       const pd_pki_token_t *worker, const pd_pki_token_t *manager, pd_pki_role_t *role,
                       const char **why);
void pd_pki_token_wipe(pd_pki_token_t *t);

/* ---- mutual TLS, sans-IO -------------------------------------------------------------------- */
/* TLS 1.2 only; ECDHE-ECDSA with AES-128/256-GCM or ChaCha20-Poly1305; P-256; SHA-256/384; no
 * renegotiation, no tickets. Both sides require a peer certificate chaining to our CA, valid at the
 * clock's wall time, carrying a node id and role; then an optional caller check (removed nodes). */
typedef enum { PD_PKI_TLS_CLIENT = 0, PD_PKI_TLS_SERVER = 1 } pd_pki_tls_side_t;

/* Return 0 to accept the peer, nonzero to refuse it (e.g. node id in the removed list). */
typedef int (*pd_pki_peer_check_fn)(void *ctx, const pd_pki_node_info_t *peer);

#define PD_PKI_TLS_BUF 36864 /* per direction: two max-size records (16 KiB + overhead each) */

typedef struct {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca_crt;          /* our own copy of the CA cert; the config must not move */
    mbedtls_x509_crt own_chain;       /* copies: our node cert, then the CA cert (so joiners get it) */
    uint8_t pin[PD_PKI_DIGEST_LEN];   /* join client: the CA digest from the token */
    int join_client;                  /* no own cert; the server is trusted by the pinned CA digest */
    int allow_anonymous;              /* server: a peer without a certificate may finish (to join) */
    char cluster_id[PD_PKI_CLUSTER_ID_MAX + 1];
    pd_clock_t *clock;                /* wall_ms for certificate validity */
    pd_pki_peer_check_fn check;
    void *check_ctx;
    int ciphersuites[4];
    mbedtls_ecp_group_id curves[2];
    int sig_hashes[3];
    const char *alpn[2];              /* one protocol name (static text), or none */
    unsigned sessions;                /* pd_pki_tls_t using it: free the config only at 0 */
} pd_pki_tls_conf_t;

/* self may be NULL only for a client (tests use that to show the server refuses it). self's key
 * is referenced, not copied: keep it alive while the config is. The certificate chain sent is
 * self's cert followed by the CA cert. */
int pd_pki_tls_conf_init(pd_pki_tls_conf_t *c, pd_pki_tls_side_t side, const pd_pki_ca_t *ca,
                         pd_pki_ident_t *self, pd_clock_t *clock, pd_pki_rng_t rng);
/* The joiner's client: no certificate yet, no CA yet, only the digest from the token. The server's
 * chain must contain a CA cert with that SHA-256 digest, the server's cert must be a manager cert
 * of that CA (and pass the peer check); only then does the handshake complete. */
int pd_pki_tls_conf_init_join(pd_pki_tls_conf_t *c, const uint8_t ca_digest[PD_PKI_DIGEST_LEN],
                              pd_clock_t *clock, pd_pki_rng_t rng);
/* Server: let a peer with no certificate complete the handshake, as an anonymous session the
 * daemon admits to the join RPC only (pd_pki_tls_peer refuses, pd_pki_tls_anonymous says 1). A
 * peer that does send a certificate is still verified in full. */
void pd_pki_tls_conf_allow_anonymous(pd_pki_tls_conf_t *c);
void pd_pki_tls_conf_set_peer_check(pd_pki_tls_conf_t *c, pd_pki_peer_check_fn fn, void *ctx);
/* Trust one more root of the same cluster (a CA rotation: old and new). -PD_EUSAGE for another
 * cluster's CA. Call before any session uses the config. */
int pd_pki_tls_conf_add_ca(pd_pki_tls_conf_t *c, const pd_pki_ca_t *ca);
/* ALPN: a client offers this protocol; a server accepts it (a client offering none still gets
 * through). proto: static text. Before any session. */
int pd_pki_tls_conf_set_alpn(pd_pki_tls_conf_t *c, const char *proto);
void pd_pki_tls_conf_free(pd_pki_tls_conf_t *c);

typedef struct {
    mbedtls_ssl_context ssl;
    pd_pki_tls_conf_t *conf;
    uint8_t in[PD_PKI_TLS_BUF];
    size_t in_off, in_len;            /* unread network bytes are in[in_off, in_len) */
    uint8_t out[PD_PKI_TLS_BUF];
    size_t out_len;                   /* network bytes waiting for drain */
    int done;                         /* handshake complete */
    int failed;                       /* a fatal error: only drain (the alert) and free remain */
    pd_pki_node_info_t peer;          /* filled by the verify step */
    int peer_seen;
    int chain_bad;                    /* some cert of the peer's chain failed a check */
    int anonymous;                    /* server with allow_anonymous: the peer sent no certificate */
    int fail_rc;                      /* the pd_err code every later call returns */
    int mbedtls_err;                  /* the raw mbedTLS code, for logs */
    const char *why;                  /* why the session failed, static text */
} pd_pki_tls_t;

int pd_pki_tls_init(pd_pki_tls_t *t, pd_pki_tls_conf_t *c);
/* Network bytes in. Takes what fits (*taken); the caller keeps the rest for after a read. */
int pd_pki_tls_feed(pd_pki_tls_t *t, const void *data, size_t len, size_t *taken);
/* Advance the handshake: 0 when complete, -EAGAIN when it waits for peer bytes (drain first!),
 * -PD_EAUTH for a refused peer, -PD_EMALFORMED for garbage, -PD_ECLOSED for a peer alert. */
int pd_pki_tls_handshake(pd_pki_tls_t *t);
/* Network bytes out: how many wait, and copy up to cap of them out. */
size_t pd_pki_tls_pending(const pd_pki_tls_t *t);
size_t pd_pki_tls_drain(pd_pki_tls_t *t, void *out, size_t cap);
/* Plaintext. write: -EAGAIN when the output buffer is full: drain, then call again with the same
 * data (mbedTLS holds the half-sent record). read: -EAGAIN when no whole record has arrived,
 * -PD_ECLOSED after the peer's close_notify. Both -PD_ESTATE before the handshake completes. */
int pd_pki_tls_write(pd_pki_tls_t *t, const void *data, size_t len, size_t *written);
int pd_pki_tls_read(pd_pki_tls_t *t, void *out, size_t cap, size_t *n);
int pd_pki_tls_close(pd_pki_tls_t *t); /* queue close_notify */
/* After the handshake: who is on the other side. -PD_ESTATE before, -PD_EAUTH for an anonymous
 * peer (no certificate). */
int pd_pki_tls_peer(const pd_pki_tls_t *t, pd_pki_node_info_t *out);
int pd_pki_tls_anonymous(const pd_pki_tls_t *t);
/* Join client, after the handshake: the pinned CA certificate the server presented (to store as
 * ca.crt and trust from now on). */
int pd_pki_tls_join_ca(const pd_pki_tls_t *t, pd_pki_ca_t *out);
const char *pd_pki_tls_why(const pd_pki_tls_t *t);
/* The ALPN protocol agreed in the handshake, or NULL. */
const char *pd_pki_tls_alpn(const pd_pki_tls_t *t);
void pd_pki_tls_free(pd_pki_tls_t *t);

/* ---- files ----------------------------------------------------------------------------------- */
/* Write DIR/NAME durably with mode 0600 whatever the umask: a fresh temp file, fsync, rename, fsync
 * the dir. err names the file. (core/daemon/datadir.c has pd_write_file_atomic for the daemon's
 * own files; this one also forces the mode and never reuses a stale temp file.) */
int pd_pki_file_write(const char *dir, const char *name, const void *data, size_t len, char *err,
                      size_t errlen);
/* Read a whole file of at most cap-1 bytes (a bigger one is refused), NUL-terminated. private_key: refuse a file that group
 * or others may read. err names the file and the problem. */
int pd_pki_file_read(const char *path, char *buf, size_t cap, size_t *len, int private_key, char *err,
                     size_t errlen);

#endif
