/* The join RPC: message codec, the manager's decision, and the joiner's exchange over TLS bytes. */
#include "join_wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"

/* --- codec ---------------------------------------------------------------------------------- */

static void pack_bin(msgpack_packer *pk, const char *key, const void *p, size_t len)
{
    pd_mp_pack_cstr(pk, key);
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, p, len);
}

int pd_join_req_encode(const pd_join_req_t *r, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 7);
    pd_mp_pack_kv_u64(&pk, "v", PD_JOIN_VERSION);
    pd_mp_pack_kv_str(&pk, "token", r->token);
    pd_mp_pack_kv_str(&pk, "node_id", r->node_id);
    pd_mp_pack_kv_str(&pk, "hostname", r->hostname);
    pd_mp_pack_kv_str(&pk, "addr", r->addr);
    pack_bin(&pk, "nonce", r->nonce, PD_JOIN_NONCE_LEN);
    pd_mp_pack_kv_strn(&pk, "csr", r->csr, r->csr_len);
    return out->size > PD_JOIN_MSG_MAX ? -PD_ETOOBIG : 0;
}

int pd_join_resp_encode(const pd_join_resp_t *r, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (r->rc != 0) {
        msgpack_pack_map(&pk, 3);
        pd_mp_pack_kv_u64(&pk, "v", PD_JOIN_VERSION);
        pd_mp_pack_kv_i64(&pk, "rc", r->rc);
        pd_mp_pack_kv_str(&pk, "err", r->err);
        return out->size > PD_JOIN_MSG_MAX ? -PD_ETOOBIG : 0;
    }
    msgpack_pack_map(&pk, 10);
    pd_mp_pack_kv_u64(&pk, "v", PD_JOIN_VERSION);
    pd_mp_pack_kv_i64(&pk, "rc", 0);
    pd_mp_pack_kv_str(&pk, "node_id", r->node_id);
    pd_mp_pack_kv_str(&pk, "role", pd_pki_role_name(r->role));
    pd_mp_pack_kv_str(&pk, "cluster_id", r->cluster_id);
    pd_mp_pack_kv_strn(&pk, "cert", r->cert, r->cert_len);
    pd_mp_pack_kv_strn(&pk, "ca", r->ca, r->ca_len);
    pd_mp_pack_kv_strn(&pk, "keyring", r->keyring, r->keyring_len);
    pd_mp_pack_kv_str(&pk, "err", "");
    pd_mp_pack_cstr(&pk, "seeds");
    msgpack_pack_array(&pk, r->n_seeds);
    for (unsigned i = 0; i < r->n_seeds; i++)
        pd_mp_pack_cstr(&pk, r->seeds[i]);
    return out->size > PD_JOIN_MSG_MAX ? -PD_ETOOBIG : 0;
}

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

/* Unpack a map body with a version field; returns 0 with u set, or an error with *why. */
static int open_map(const void *body, size_t len, msgpack_unpacked *u, const char **why)
{
    if (len > PD_JOIN_MSG_MAX) {
        *why = "join message too large";
        return -PD_ETOOBIG;
    }
    if (pd_mp_unpack(body, len, u) != 0) {
        *why = "join message is not msgpack";
        return -PD_EMALFORMED;
    }
    if (u->data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(u);
        *why = "join message is not a map";
        return -PD_EMALFORMED;
    }
    uint64_t v = 0;
    if (pd_mp_get_u64(&u->data, "v", &v) != 0) {
        msgpack_unpacked_destroy(u);
        *why = "join message has no version";
        return -PD_EMALFORMED;
    }
    if (v != PD_JOIN_VERSION) {
        msgpack_unpacked_destroy(u);
        *why = "join protocol version not supported (peerd versions differ)";
        return -PD_EVERSION;
    }
    return 0;
}

int pd_join_req_decode(const void *body, size_t len, pd_join_req_t *out, const char **why)
{
    msgpack_unpacked u;
    const char *w = NULL;
    int rc = open_map(body, len, &u, &w);
    if (rc) {
        *why = w;
        return rc;
    }
    memset(out, 0, sizeof *out);
    const msgpack_object *m = &u.data, *nonce = pd_mp_get(m, "nonce");
    rc = -PD_EMALFORMED;
    if (pd_mp_get_text(m, "token", out->token, sizeof out->token, NULL) != 0)
        w = "join request: token missing or too long";
    else if (pd_mp_get_text(m, "node_id", out->node_id, sizeof out->node_id, NULL) != 0 || !pd_pki_node_id_valid(out->node_id))
        w = "join request: node id missing or not 25 characters of [0-9a-z]";
    else if (pd_mp_get_text(m, "hostname", out->hostname, sizeof out->hostname, NULL) != 0 || !printable(out->hostname))
        w = "join request: bad hostname";
    else if (pd_mp_get_text(m, "addr", out->addr, sizeof out->addr, NULL) != 0 || !printable(out->addr))
        w = "join request: bad address";
    else if (!nonce || nonce->type != MSGPACK_OBJECT_BIN || nonce->via.bin.size != PD_JOIN_NONCE_LEN)
        w = "join request: nonce missing or not 16 bytes";
    else if (pd_mp_get_text(m, "csr", out->csr, sizeof out->csr, &out->csr_len) != 0 || out->csr_len == 0)
        w = "join request: CSR missing or too large";
    else {
        memcpy(out->nonce, nonce->via.bin.ptr, PD_JOIN_NONCE_LEN);
        rc = 0;
    }
    msgpack_unpacked_destroy(&u);
    *why = w;
    return rc;
}

int pd_join_resp_decode(const void *body, size_t len, pd_join_resp_t *out, const char **why)
{
    msgpack_unpacked u;
    const char *w = NULL;
    int rc = open_map(body, len, &u, &w);
    if (rc) {
        *why = w;
        return rc;
    }
    memset(out, 0, sizeof *out);
    const msgpack_object *m = &u.data;
    int64_t code = 0;
    char role[16];
    rc = -PD_EMALFORMED;
    if (pd_mp_get_i64(m, "rc", &code) != 0 || code > 0 || code < -100000)
        w = "join response: bad result code";
    else if (pd_mp_get_text(m, "err", out->err, sizeof out->err, NULL) != 0 || !printable(out->err))
        w = "join response: bad error text";
    else if (code != 0) {
        out->rc = (int32_t)code;
        if (!out->err[0])
            snprintf(out->err, sizeof out->err, "%s", pd_strerror((int)code));
        rc = 0;
    } else if (pd_mp_get_text(m, "node_id", out->node_id, sizeof out->node_id, NULL) != 0 ||
               !pd_pki_node_id_valid(out->node_id))
        w = "join response: bad node id";
    else if (pd_mp_get_text(m, "role", role, sizeof role, NULL) != 0 ||
             (strcmp(role, "worker") != 0 && strcmp(role, "manager") != 0))
        w = "join response: bad role";
    else if (pd_mp_get_text(m, "cluster_id", out->cluster_id, sizeof out->cluster_id, NULL) != 0 ||
             !pd_pki_cluster_id_valid(out->cluster_id))
        w = "join response: bad cluster id";
    else if (pd_mp_get_text(m, "cert", out->cert, sizeof out->cert, &out->cert_len) != 0 ||
             pd_mp_get_text(m, "ca", out->ca, sizeof out->ca, &out->ca_len) != 0)
        w = "join response: certificate missing or too large";
    else if (pd_mp_get(m, "ca_key"))
        w = "join response: a CA key is never sent (it lives in the managers' Raft store)";
    else if (pd_mp_get_text(m, "keyring", out->keyring, sizeof out->keyring, &out->keyring_len) != 0)
        w = "join response: gossip keyring missing or too large";
    else {
        out->role = strcmp(role, "manager") == 0 ? PD_PKI_ROLE_MANAGER : PD_PKI_ROLE_WORKER;
        const msgpack_object *s = pd_mp_get(m, "seeds");
        if (!s || s->type != MSGPACK_OBJECT_ARRAY || s->via.array.size == 0 ||
            s->via.array.size > PD_JOIN_SEEDS_MAX) {
            w = "join response: 1 to 8 gossip seed addresses expected";
        } else {
            rc = 0;
            for (uint32_t i = 0; i < s->via.array.size && rc == 0; i++) {
                const msgpack_object *e = &s->via.array.ptr[i];
                char host[PD_ADDR_MAX];
                uint16_t port;
                if (e->type != MSGPACK_OBJECT_STR || e->via.str.size >= PD_ADDR_MAX) {
                    rc = -PD_EMALFORMED;
                    break;
                }
                memcpy(out->seeds[i], e->via.str.ptr, e->via.str.size);
                out->seeds[i][e->via.str.size] = '\0';
                if (pd_config_parse_hostport(out->seeds[i], host, sizeof host, &port) != 0)
                    rc = -PD_EMALFORMED;
            }
            if (rc)
                w = "join response: bad gossip seed address";
            else
                out->n_seeds = s->via.array.size;
        }
    }
    msgpack_unpacked_destroy(&u);
    *why = w;
    return rc;
}

void pd_join_resp_refuse(pd_join_resp_t *r, int rc, const char *err)
{
    memset(r, 0, sizeof *r);
    r->rc = rc;
    snprintf(r->err, sizeof r->err, "%s", err && err[0] ? err : pd_strerror(rc));
}

/* --- the manager's decision ------------------------------------------------------------------ */

int pd_join_decide(const pd_join_req_t *req, const pd_join_policy_t *p, pd_pki_role_t *role, char *err,
                   size_t errlen)
{
    pd_pki_token_t presented;
    const char *why = NULL;
    int rc = pd_pki_token_parse(&presented, req->token, strlen(req->token), &why);
    if (rc) {
        snprintf(err, errlen, "join refused: invalid join token: %s", why ? why : pd_strerror(rc));
        return rc;
    }
    pd_pki_role_t r = PD_PKI_ROLE_NONE;
    rc = pd_pki_token_check(&presented, p->ca_digest, p->worker, p->manager, &r, &why);
    pd_pki_token_wipe(&presented);
    if (rc) {
        snprintf(err, errlen, "join refused: %s", why ? why : "join token not accepted");
        return rc;
    }
    if (!pd_pki_node_id_valid(req->node_id)) {
        snprintf(err, errlen, "join refused: bad node id");
        return -PD_EMALFORMED;
    }
    if (p->joined && p->joined(p->ctx, req->node_id)) {
        snprintf(err, errlen, "join refused: node %s has already joined this cluster (a replayed join, or a "
                              "node that must 'peerctl swarm leave' first)", req->node_id);
        return -PD_EEXISTS;
    }
    *role = r;
    return 0;
}

int pd_join_answer(const pd_join_req_t *req, const pd_join_server_t *s, pd_join_resp_t *resp)
{
    char err[PD_JOIN_ERR_MAX];
    pd_pki_role_t role = PD_PKI_ROLE_NONE;
    int rc = pd_join_decide(req, &s->policy, &role, err, sizeof err);
    if (rc) {
        pd_join_resp_refuse(resp, rc, err);
        return rc;
    }
    memset(resp, 0, sizeof *resp);
    const char *why = NULL;
    rc = pd_pki_ca_sign_csr(s->ca, req->csr, req->csr_len, req->node_id, role, s->now_s, s->validity_s, s->rng, resp->cert,
                            sizeof resp->cert, &resp->cert_len, &why);
    if (rc) {
        snprintf(err, sizeof err, "join refused: bad certificate request: %s", why ? why : pd_strerror(rc));
        pd_join_resp_refuse(resp, rc, err);
        return rc;
    }
    rc = pd_pki_ca_cert_pem(s->ca, resp->ca, sizeof resp->ca, &resp->ca_len);
    if (rc == 0 && (s->keyring_len >= sizeof resp->keyring || s->n_seeds == 0 || s->n_seeds > PD_JOIN_SEEDS_MAX))
        rc = -PD_ELIMIT;
    if (rc) {
        pd_join_resp_refuse(resp, rc, "join refused: the manager cannot build its answer");
        return rc;
    }
    memcpy(resp->keyring, s->keyring, s->keyring_len);
    resp->keyring_len = s->keyring_len;
    for (unsigned i = 0; i < s->n_seeds; i++)
        snprintf(resp->seeds[i], sizeof resp->seeds[i], "%s", s->seeds[i]);
    resp->n_seeds = s->n_seeds;
    snprintf(resp->node_id, sizeof resp->node_id, "%s", req->node_id);
    snprintf(resp->cluster_id, sizeof resp->cluster_id, "%s", s->ca->cluster_id);
    resp->role = role;
    return 0;
}

/* --- the joiner's exchange ------------------------------------------------------------------- */

static int init_failed(pd_join_client_t *c, int rc, const char *fmt, const char *detail)
{
    char why[PD_TLSX_ERR_MAX];
    snprintf(why, sizeof why, fmt, detail ? detail : pd_strerror(rc));
    pd_tlsx_abort(&c->x, rc, why);
    return rc;
}

/* The response is in: check it against what the TLS session proved, install the certificate. */
static int take_answer(void *ctx, const uint8_t *body, size_t len, char *err, size_t cap)
{
    pd_join_client_t *c = ctx;
    const char *why = NULL;
    int rc = pd_join_resp_decode(body, len, c->resp, &why);
    if (rc == 0 && c->resp->rc) {
        snprintf(err, cap, "%s", c->resp->err);
        return c->resp->rc;
    }
    pd_pki_ca_t sent;
    pd_pki_ca_init(&sent);
    if (rc == 0)
        rc = pd_pki_ca_load(&sent, c->resp->ca, c->resp->ca_len, NULL, 0, &why);
    if (rc == 0 && memcmp(sent.digest, c->token.ca_digest, PD_PKI_DIGEST_LEN) != 0) {
        rc = -PD_EAUTH;
        why = "the CA certificate sent is not the one the token pins";
    }
    if (rc) {
        pd_pki_ca_free(&sent);
        snprintf(err, cap, "bad answer from the manager: %s", why ? why : pd_strerror(rc));
        return rc;
    }
    pd_pki_ca_free(&c->ca);
    c->ca = sent; /* mbedTLS contexts are plain structs that own heap memory: moving is fine */
    rc = pd_pki_ident_set_cert(&c->ident, &c->ca, c->resp->cert, c->resp->cert_len,
                               (int64_t)(pd_clock_wall(c->clock) / 1000), &why);
    if (rc) {
        snprintf(err, cap, "the certificate from the manager is not valid: %s", why ? why : pd_strerror(rc));
        return rc;
    }
    if (strcmp(c->ident.info.node_id, c->node_id) != 0 || c->ident.info.role != c->resp->role) {
        snprintf(err, cap, "the certificate from the manager names another node or role");
        return -PD_EAUTH;
    }
    return 0;
}

int pd_join_client_init(pd_join_client_t *c, const char *token, const char *node_id, const char *hostname,
                        const char *addr, pd_clock_t *clock, pd_pki_rng_t rng)
{
    memset(c, 0, sizeof *c);
    c->clock = clock;
    pd_pki_ident_init(&c->ident);
    pd_pki_ca_init(&c->ca);
    const char *why = NULL;
    int rc = pd_pki_token_parse(&c->token, token, strlen(token), &why);
    if (rc)
        return init_failed(c, rc, "invalid join token: %s", why);
    pd_join_req_t *req = pd_calloc(1, sizeof *req);
    c->resp = pd_calloc(1, sizeof *c->resp);
    if (!req || !c->resp) {
        pd_free(req);
        return init_failed(c, -ENOMEM, "%s", NULL);
    }
    snprintf(req->token, sizeof req->token, "%s", token);
    snprintf(req->node_id, sizeof req->node_id, "%s", node_id);
    snprintf(c->node_id, sizeof c->node_id, "%s", node_id);
    snprintf(req->hostname, sizeof req->hostname, "%s", hostname);
    snprintf(req->addr, sizeof req->addr, "%s", addr);
    rc = rng.fn(rng.ctx, req->nonce, sizeof req->nonce);
    if (rc == 0)
        rc = pd_pki_ident_generate(&c->ident, rng);
    if (rc == 0)
        rc = pd_pki_ident_csr(&c->ident, node_id, rng, req->csr, sizeof req->csr, &req->csr_len);
    if (rc) {
        pd_free(req);
        return init_failed(c, rc, "cannot make a key and CSR: %s", NULL);
    }
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    rc = pd_join_req_encode(req, &body);
    memset(req, 0, sizeof *req);
    pd_free(req);
    if (rc) {
        msgpack_sbuffer_destroy(&body);
        return init_failed(c, rc, "cannot encode the join request: %s", NULL);
    }
    rc = pd_pki_tls_conf_init_join(&c->conf, c->token.ca_digest, clock, rng);
    if (rc == 0) {
        c->conf_ready = 1;
        rc = pd_tlsx_init(&c->x, &c->conf, PD_JOIN_MSG_MAX);
    }
    if (rc == 0)
        rc = pd_tlsx_set_request(&c->x, body.data, body.size);
    msgpack_sbuffer_destroy(&body);
    if (rc)
        return init_failed(c, rc, "cannot set up TLS: %s", NULL);
    pd_tlsx_set_hooks(&c->x, NULL, take_answer, c);
    return 0;
}

void pd_join_client_free(pd_join_client_t *c)
{
    pd_tlsx_free(&c->x);
    if (c->conf_ready)
        pd_pki_tls_conf_free(&c->conf);
    if (c->resp) {
        memset(c->resp, 0, sizeof *c->resp);
        pd_free(c->resp);
    }
    pd_pki_ident_free(&c->ident);
    pd_pki_ca_free(&c->ca);
    pd_pki_token_wipe(&c->token);
    memset(c, 0, sizeof *c);
}
