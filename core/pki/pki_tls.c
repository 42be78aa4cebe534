/* Mutual TLS without sockets: mbedTLS reads and writes two byte buffers (the "BIO"), the caller
 * moves bytes between them and the network. Both sides demand a certificate from our CA naming a
 * node id and role; the caller may refuse a node (removed) through a check callback. */
#include <errno.h>
#include <string.h>

#include <mbedtls/sha256.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <sodium.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pki_internal.h"

/* AES-128-GCM first (AES-NI), then ChaCha20-Poly1305 (no AES hardware), then AES-256-GCM. */
static const int suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    0,
};

static int configure(pd_pki_tls_conf_t *c, pd_pki_tls_side_t side, int authmode, mbedtls_pk_context *key,
                     pd_pki_rng_t rng)
{
    int ep = side == PD_PKI_TLS_SERVER ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT;
    if (mbedtls_ssl_config_defaults(&c->conf, ep, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        return -PD_EINTERNAL;
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    memcpy(c->ciphersuites, suites, sizeof suites);
    mbedtls_ssl_conf_ciphersuites(&c->conf, c->ciphersuites);
    c->curves[0] = MBEDTLS_ECP_DP_SECP256R1;
    c->curves[1] = MBEDTLS_ECP_DP_NONE;
    mbedtls_ssl_conf_curves(&c->conf, c->curves);
    c->sig_hashes[0] = MBEDTLS_MD_SHA256;
    c->sig_hashes[1] = MBEDTLS_MD_SHA384;
    c->sig_hashes[2] = MBEDTLS_MD_NONE;
    mbedtls_ssl_conf_sig_hashes(&c->conf, c->sig_hashes);
    mbedtls_ssl_conf_cert_profile(&c->conf, &pki_profile);
    mbedtls_ssl_conf_authmode(&c->conf, authmode);
    if (c->ca_crt.raw.len)
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca_crt, NULL);
    mbedtls_ssl_conf_rng(&c->conf, rng.fn, rng.ctx);
    mbedtls_ssl_conf_renegotiation(&c->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    mbedtls_ssl_conf_session_tickets(&c->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    if (key && mbedtls_ssl_conf_own_cert(&c->conf, &c->own_chain, key) != 0)
        return -PD_EINTERNAL;
    return 0;
}

static void conf_zero(pd_pki_tls_conf_t *c, pd_clock_t *clock)
{
    memset(c, 0, sizeof *c);
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_x509_crt_init(&c->ca_crt);
    mbedtls_x509_crt_init(&c->own_chain);
    c->clock = clock;
}

int pd_pki_tls_conf_init(pd_pki_tls_conf_t *c, pd_pki_tls_side_t side, const pd_pki_ca_t *ca,
                         pd_pki_ident_t *self, pd_clock_t *clock, pd_pki_rng_t rng)
{
    PD_ASSERT(c && ca && clock && rng.fn);
    conf_zero(c, clock);
    if (ca->crt.raw.len == 0 || (self && !(self->has_key && self->has_crt)))
        return -PD_ESTATE;
    if (side == PD_PKI_TLS_SERVER && !self)
        return -PD_EUSAGE;
    memcpy(c->cluster_id, ca->cluster_id, sizeof c->cluster_id);
    int rc = pki_crt_copy(&c->ca_crt, &ca->crt);
    if (rc == 0 && self)
        rc = pki_crt_copy(&c->own_chain, &self->crt) || pki_crt_copy(&c->own_chain, &ca->crt) ? -PD_EINTERNAL : 0;
    if (rc == 0)
        rc = configure(c, side, MBEDTLS_SSL_VERIFY_REQUIRED, self ? &self->key : NULL, rng);
    if (rc != 0)
        pd_pki_tls_conf_free(c);
    return rc;
}

int pd_pki_tls_conf_init_join(pd_pki_tls_conf_t *c, const uint8_t ca_digest[PD_PKI_DIGEST_LEN],
                              pd_clock_t *clock, pd_pki_rng_t rng)
{
    PD_ASSERT(c && ca_digest && clock && rng.fn);
    conf_zero(c, clock);
    memcpy(c->pin, ca_digest, PD_PKI_DIGEST_LEN);
    c->join_client = 1;
    /* No CA to verify against yet: mbedTLS still checks the server's handshake signature with the
     * key in its certificate; the chain and the pin are checked when the handshake ends. */
    int rc = configure(c, PD_PKI_TLS_CLIENT, MBEDTLS_SSL_VERIFY_NONE, NULL, rng);
    if (rc != 0)
        pd_pki_tls_conf_free(c);
    return rc;
}

void pd_pki_tls_conf_allow_anonymous(pd_pki_tls_conf_t *c)
{
    PD_ASSERT(c && c->conf.endpoint == MBEDTLS_SSL_IS_SERVER);
    c->allow_anonymous = 1;
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
}

void pd_pki_tls_conf_set_peer_check(pd_pki_tls_conf_t *c, pd_pki_peer_check_fn fn, void *ctx)
{
    c->check = fn;
    c->check_ctx = ctx;
}

int pd_pki_tls_conf_add_ca(pd_pki_tls_conf_t *c, const pd_pki_ca_t *ca)
{
    PD_ASSERT(c && ca && c->sessions == 0);
    if (ca->crt.raw.len == 0 || strcmp(ca->cluster_id, c->cluster_id) != 0)
        return -PD_EUSAGE;
    return pki_crt_copy(&c->ca_crt, &ca->crt); /* appended: the chain's head does not move */
}

int pd_pki_tls_conf_set_alpn(pd_pki_tls_conf_t *c, const char *proto)
{
    PD_ASSERT(c && proto && c->sessions == 0);
    c->alpn[0] = proto;
    c->alpn[1] = NULL;
    return mbedtls_ssl_conf_alpn_protocols(&c->conf, c->alpn) == 0 ? 0 : -PD_EUSAGE;
}

void pd_pki_tls_conf_free(pd_pki_tls_conf_t *c)
{
    if (!c)
        return;
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca_crt);
    mbedtls_x509_crt_free(&c->own_chain);
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_x509_crt_init(&c->ca_crt);
    mbedtls_x509_crt_init(&c->own_chain);
}

/* ---- the memory BIO ---- */
static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    pd_pki_tls_t *t = ctx;
    size_t n = PD_MIN(len, sizeof t->out - t->out_len);
    if (n == 0)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    memcpy(t->out + t->out_len, buf, n);
    t->out_len += n;
    return (int)n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    pd_pki_tls_t *t = ctx;
    size_t n = PD_MIN(len, t->in_len - t->in_off);
    if (n == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    memcpy(buf, t->in + t->in_off, n);
    t->in_off += n;
    if (t->in_off == t->in_len)
        t->in_off = t->in_len = 0;
    return (int)n;
}

/* mbedTLS calls this for every cert of the chain, the top first. Time flags from mbedTLS's own
 * clock are replaced by ours; a fault anywhere in the chain is remembered (an untrusted top, say,
 * leaves the leaf's own flags clean); the leaf must be a node cert of this cluster that the
 * caller still accepts. */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    pd_pki_tls_t *t = ctx;
    const char *why = NULL;
    int64_t now_s = (int64_t)(pd_clock_wall(t->conf->clock) / 1000u);
    *flags &= ~(uint32_t)PKI_TIME_FLAGS;
    if (*flags) {
        t->why = t->why ? t->why : pki_flags_why(*flags);
        t->chain_bad = 1;
    }
    if (pki_time_check(crt, now_s, &why) != 0) {
        *flags |= MBEDTLS_X509_BADCERT_EXPIRED;
        t->why = t->why ? t->why : why;
        t->chain_bad = 1;
    }
    if (depth != 0 || t->chain_bad)
        return 0;
    pd_pki_node_info_t info;
    if (pki_node_info(crt, &info, &why) != 0) {
        *flags |= MBEDTLS_X509_BADCERT_OTHER;
        t->why = why;
    } else if (strcmp(info.cluster_id, t->conf->cluster_id) != 0) {
        *flags |= MBEDTLS_X509_BADCERT_OTHER;
        t->why = "peer certificate names another cluster";
    } else if (t->conf->check && t->conf->check(t->conf->check_ctx, &info) != 0) {
        *flags |= MBEDTLS_X509_BADCERT_REVOKED;
        t->why = "peer node refused (removed from the cluster)";
    } else {
        t->peer = info;
        t->peer_seen = 1;
    }
    return 0;
}

int pd_pki_tls_init(pd_pki_tls_t *t, pd_pki_tls_conf_t *c)
{
    PD_ASSERT(t && c);
    memset(t, 0, sizeof *t);
    mbedtls_ssl_init(&t->ssl);
    t->conf = c;
    if (mbedtls_ssl_setup(&t->ssl, &c->conf) != 0) {
        mbedtls_ssl_free(&t->ssl);
        mbedtls_ssl_init(&t->ssl);
        t->conf = NULL; /* counted only once set up */
        return -PD_EINTERNAL;
    }
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    mbedtls_ssl_set_verify(&t->ssl, verify_cb, t);
    c->sessions++;
    return 0;
}

void pd_pki_tls_free(pd_pki_tls_t *t)
{
    if (!t)
        return;
    if (t->conf && t->conf->sessions > 0) {
        t->conf->sessions--;
        t->conf = NULL;
    }
    mbedtls_ssl_free(&t->ssl); /* zeroizes keys and record buffers */
    t->in_off = t->in_len = t->out_len = 0;
}

int pd_pki_tls_feed(pd_pki_tls_t *t, const void *data, size_t len, size_t *taken)
{
    PD_ASSERT(t && taken && (data || len == 0));
    if (t->in_off > 0) {
        memmove(t->in, t->in + t->in_off, t->in_len - t->in_off);
        t->in_len -= t->in_off;
        t->in_off = 0;
    }
    size_t n = PD_MIN(len, sizeof t->in - t->in_len);
    if (n)
        memcpy(t->in + t->in_len, data, n);
    t->in_len += n;
    *taken = n;
    return 0;
}

size_t pd_pki_tls_pending(const pd_pki_tls_t *t) { return t->out_len; }

size_t pd_pki_tls_drain(pd_pki_tls_t *t, void *out, size_t cap)
{
    size_t n = PD_MIN(cap, t->out_len);
    memcpy(out, t->out, n);
    memmove(t->out, t->out + n, t->out_len - n);
    t->out_len -= n;
    return n;
}

/* A fatal alert from the peer: did it refuse our certificate, or just give up? */
static int alert_rc(pd_pki_tls_t *t)
{
    unsigned char desc = t->ssl.in_msg && t->ssl.in_msglen >= 2 ? t->ssl.in_msg[1] : 0;
    switch (desc) {
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
    case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT:
    case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED:
    case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED:
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
    case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED:
    case MBEDTLS_SSL_ALERT_MSG_NO_CERT:
        t->why = "peer refused our certificate";
        return -PD_EAUTH;
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
    case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY:
    case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION:
        t->why = "peer refused the handshake (no common TLS version, suite or certificate)";
        return -PD_EAUTH;
    default:
        t->why = "peer aborted the connection with an alert";
        return -PD_ECLOSED;
    }
}

static int fail(pd_pki_tls_t *t, int mbedtls_rc)
{
    int rc;
    switch (mbedtls_rc) {
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
        t->why = t->why ? t->why : "peer certificate verification failed";
        rc = -PD_EAUTH;
        break;
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
        t->why = "peer sent no certificate";
        rc = -PD_EAUTH;
        break;
    case MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED:
        t->why = t->why ? t->why : "peer certificate verification failed";
        rc = -PD_EAUTH;
        break;
    case MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
    case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
        t->why = "peer offers no TLS 1.2 ECDHE-ECDSA AEAD suite";
        rc = -PD_EAUTH;
        break;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
        rc = alert_rc(t);
        break;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        t->why = "peer closed the connection";
        rc = -PD_ECLOSED;
        break;
    default:
        t->why = "TLS protocol error (garbage or a broken record from the peer)";
        rc = -PD_EMALFORMED;
        break;
    }
    t->failed = 1;
    t->fail_rc = rc;
    t->mbedtls_err = mbedtls_rc;
    return rc;
}

static int want(int rc) { return rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE; }

/* Refuse a peer after mbedTLS finished its part: tell the peer with a fatal alert. */
static int refuse(pd_pki_tls_t *t, const char *why, unsigned char alert)
{
    mbedtls_ssl_send_alert_message(&t->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, alert);
    t->why = why;
    t->failed = 1;
    t->fail_rc = -PD_EAUTH;
    t->mbedtls_err = MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
    return -PD_EAUTH;
}

/* The cert in the peer's chain whose SHA-256 is the pin, loaded as our CA. */
static int find_pinned(const pd_pki_tls_t *t, pd_pki_ca_t *ca)
{
    const char *why = NULL;
    uint8_t d[PD_PKI_DIGEST_LEN];
    int n = 0;
    for (const mbedtls_x509_crt *c = mbedtls_ssl_get_peer_cert(&t->ssl); c && n < 8; c = c->next, n++) {
        if (mbedtls_sha256_ret(c->raw.p, c->raw.len, d, 0) == 0 &&
            sodium_memcmp(d, t->conf->pin, sizeof d) == 0)
            return pd_pki_ca_load(ca, c->raw.p, c->raw.len, NULL, 0, &why);
    }
    return -PD_ENOTFOUND;
}

/* Join client: the server must show the pinned CA and a manager cert of it. */
static int join_verify(pd_pki_tls_t *t)
{
    pd_pki_ca_t ca;
    mbedtls_x509_crt leaf;
    pd_pki_node_info_t info;
    const char *why = NULL;
    pd_pki_ca_init(&ca);
    mbedtls_x509_crt_init(&leaf);
    int64_t now_s = (int64_t)(pd_clock_wall(t->conf->clock) / 1000u);
    int rc = find_pinned(t, &ca);
    if (rc != 0)
        why = "the manager did not present the CA pinned by the join token (a token of another cluster?)";
    if (rc == 0 && (rc = pki_crt_copy(&leaf, mbedtls_ssl_get_peer_cert(&t->ssl))) != 0)
        why = "no server certificate";
    if (rc == 0)
        rc = pki_node_cert_check(&leaf, &ca, now_s, &info, &why);
    if (rc == 0 && info.role != PD_PKI_ROLE_MANAGER) {
        why = "the server is not a manager of this cluster";
        rc = -PD_EAUTH;
    }
    if (rc == 0 && t->conf->check && t->conf->check(t->conf->check_ctx, &info) != 0) {
        why = "peer node refused (removed from the cluster)";
        rc = -PD_EAUTH;
    }
    mbedtls_x509_crt_free(&leaf);
    pd_pki_ca_free(&ca);
    if (rc != 0)
        return refuse(t, why, MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
    t->peer = info;
    t->peer_seen = 1;
    return 0;
}

/* Server or client with a CA: with VERIFY_OPTIONAL mbedTLS finishes even on a bad certificate, so
 * the result is checked here too; no certificate at all is fine only for an anonymous server. */
static int peer_verify(pd_pki_tls_t *t)
{
    if (!mbedtls_ssl_get_peer_cert(&t->ssl)) {
        if (!t->conf->allow_anonymous)
            return refuse(t, "peer sent no certificate", MBEDTLS_SSL_ALERT_MSG_NO_CERT);
        t->anonymous = 1;
        return 0;
    }
    if (mbedtls_ssl_get_verify_result(&t->ssl) != 0 || !t->peer_seen) {
        t->peer_seen = 0;
        return refuse(t, t->why ? t->why : "peer certificate verification failed",
                      MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
    }
    return 0;
}

int pd_pki_tls_handshake(pd_pki_tls_t *t)
{
    PD_ASSERT(t);
    if (t->failed)
        return t->fail_rc;
    if (t->done)
        return 0;
    int rc = mbedtls_ssl_handshake(&t->ssl);
    if (want(rc))
        return -EAGAIN;
    if (rc != 0)
        return fail(t, rc);
    rc = t->conf->join_client ? join_verify(t) : peer_verify(t);
    if (rc != 0)
        return rc;
    t->done = 1;
    return 0;
}

int pd_pki_tls_write(pd_pki_tls_t *t, const void *data, size_t len, size_t *written)
{
    PD_ASSERT(t && written && (data || len == 0));
    if (t->failed)
        return t->fail_rc;
    if (!t->done)
        return -PD_ESTATE;
    int rc = mbedtls_ssl_write(&t->ssl, data, len);
    if (want(rc))
        return -EAGAIN;
    if (rc < 0)
        return fail(t, rc);
    *written = (size_t)rc;
    return 0;
}

int pd_pki_tls_read(pd_pki_tls_t *t, void *out, size_t cap, size_t *n)
{
    PD_ASSERT(t && out && n);
    if (t->failed)
        return t->fail_rc;
    if (!t->done)
        return -PD_ESTATE;
    int rc = mbedtls_ssl_read(&t->ssl, out, cap);
    if (want(rc))
        return -EAGAIN;
    if (rc == 0)
        return fail(t, MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
    if (rc < 0)
        return fail(t, rc);
    *n = (size_t)rc;
    return 0;
}

int pd_pki_tls_close(pd_pki_tls_t *t)
{
    PD_ASSERT(t);
    if (t->failed)
        return t->fail_rc;
    int rc = mbedtls_ssl_close_notify(&t->ssl);
    if (want(rc))
        return -EAGAIN;
    return rc == 0 ? 0 : fail(t, rc);
}

int pd_pki_tls_peer(const pd_pki_tls_t *t, pd_pki_node_info_t *out)
{
    PD_ASSERT(t && out);
    if (!t->done || t->failed)
        return -PD_ESTATE;
    if (t->anonymous || !t->peer_seen)
        return -PD_EAUTH;
    *out = t->peer;
    return 0;
}

int pd_pki_tls_anonymous(const pd_pki_tls_t *t) { return t->done && !t->failed && t->anonymous; }

int pd_pki_tls_join_ca(const pd_pki_tls_t *t, pd_pki_ca_t *out)
{
    PD_ASSERT(t && out);
    if (!t->done || t->failed || !t->conf->join_client)
        return -PD_ESTATE;
    return find_pinned(t, out);
}

const char *pd_pki_tls_why(const pd_pki_tls_t *t) { return t->why ? t->why : "no error"; }

const char *pd_pki_tls_alpn(const pd_pki_tls_t *t) { return t->done ? mbedtls_ssl_get_alpn_protocol(&t->ssl) : NULL; }
