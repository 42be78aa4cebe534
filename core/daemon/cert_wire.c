/* The renewal RPC: message codec and the manager's decision (see cert_wire.h). */
#include "cert_wire.h"

#include <stdio.h>
#include <string.h>

#include "pd_err.h"
#include "pd_mp.h"

/* Error text is shown to people: printable ASCII only. */
#define PRINTABLE                                                                                            \
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

int pd_cert_req_encode(const pd_cert_req_t *r, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pd_mp_pack_kv_u64(&pk, "v", PD_CERT_VERSION);
    pd_mp_pack_kv_strn(&pk, "csr", r->csr, r->csr_len);
    return out->size > PD_CERT_MSG_MAX ? -PD_ETOOBIG : 0;
}

int pd_cert_resp_encode(const pd_cert_resp_t *r, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, r->rc ? 3 : 5);
    pd_mp_pack_kv_u64(&pk, "v", PD_CERT_VERSION);
    pd_mp_pack_kv_i64(&pk, "rc", r->rc);
    pd_mp_pack_kv_str(&pk, "err", r->rc ? r->err : "");
    if (r->rc == 0) {
        pd_mp_pack_kv_strn(&pk, "cert", r->cert, r->cert_len);
        pd_mp_pack_kv_strn(&pk, "ca", r->ca, r->ca_len);
    }
    return out->size > PD_CERT_MSG_MAX ? -PD_ETOOBIG : 0;
}

/* The body as a versioned map: 0 with u to destroy, or an error and *why. */
static int open_body(const void *body, size_t len, msgpack_unpacked *u, const char **why)
{
    uint64_t v = 0;
    if (len > PD_CERT_MSG_MAX) {
        *why = "renewal message too large";
        return -PD_ETOOBIG;
    }
    if (pd_mp_unpack(body, len, u) != 0) {
        *why = "renewal message is not msgpack";
        return -PD_EMALFORMED;
    }
    int rc = 0;
    if (u->data.type != MSGPACK_OBJECT_MAP || pd_mp_get_u64(&u->data, "v", &v) != 0) {
        *why = "renewal message is not a versioned map";
        rc = -PD_EMALFORMED;
    } else if (v != PD_CERT_VERSION) {
        *why = "renewal protocol version not supported (peerd versions differ)";
        rc = -PD_EVERSION;
    }
    if (rc)
        msgpack_unpacked_destroy(u);
    return rc;
}

int pd_cert_req_decode(const void *body, size_t len, pd_cert_req_t *out, const char **why)
{
    msgpack_unpacked u;
    int rc = open_body(body, len, &u, why);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    if (pd_mp_get_text(&u.data, "csr", out->csr, sizeof out->csr, &out->csr_len) != 0 || out->csr_len == 0) {
        *why = "renewal request: CSR missing or too large";
        rc = -PD_EMALFORMED;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int pd_cert_resp_decode(const void *body, size_t len, pd_cert_resp_t *out, const char **why)
{
    msgpack_unpacked u;
    int rc = open_body(body, len, &u, why);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    const msgpack_object *m = &u.data;
    int64_t code = 0;
    size_t n = 0;
    rc = -PD_EMALFORMED;
    if (pd_mp_get_i64(m, "rc", &code) != 0 || code > 0 || code < -100000)
        *why = "renewal answer: bad result code";
    else if (pd_mp_get_text(m, "err", out->err, sizeof out->err, &n) != 0 ||
             strspn(out->err, PRINTABLE) != n)
        *why = "renewal answer: bad error text";
    else if (code != 0) {
        out->rc = (int32_t)code;
        if (!out->err[0])
            snprintf(out->err, sizeof out->err, "%s", pd_strerror((int)code));
        rc = 0;
    } else if (pd_mp_get_text(m, "cert", out->cert, sizeof out->cert, &out->cert_len) != 0 || out->cert_len == 0)
        *why = "renewal answer: certificate missing or too large";
    else if (pd_mp_get_text(m, "ca", out->ca, sizeof out->ca, &out->ca_len) != 0 || out->ca_len == 0)
        *why = "renewal answer: CA bundle missing or too large";
    else
        rc = 0;
    msgpack_unpacked_destroy(&u);
    return rc;
}

void pd_cert_resp_refuse(pd_cert_resp_t *r, int rc, const char *err)
{
    memset(r, 0, sizeof *r);
    r->rc = rc;
    snprintf(r->err, sizeof r->err, "%s", err && err[0] ? err : pd_strerror(rc));
}

int pd_cert_answer(const pd_cert_req_t *req, const pd_pki_node_info_t *peer, const pd_cert_policy_t *p,
                   pd_cert_resp_t *resp)
{
    char err[PD_CERT_ERR_MAX];
    if (p->removed) {
        snprintf(err, sizeof err, "certificate renewal refused: node %s was removed from the cluster", peer->node_id);
        pd_cert_resp_refuse(resp, -PD_ESTATE, err);
        return resp->rc;
    }
    if (!p->signer || !p->signer->has_key || p->bundle_len == 0 || p->bundle_len >= sizeof resp->ca) {
        pd_cert_resp_refuse(resp, -PD_ESTATE, "certificate renewal refused: this manager has no CA key yet");
        return resp->rc;
    }
    pd_pki_role_t role = p->record_role != PD_PKI_ROLE_NONE ? p->record_role : peer->role;
    memset(resp, 0, sizeof *resp);
    const char *why = NULL;
    int rc = pd_pki_ca_sign_csr(p->signer, req->csr, req->csr_len, peer->node_id, role, p->now_s, p->validity_s,
                                p->rng, resp->cert, sizeof resp->cert, &resp->cert_len, &why);
    if (rc) {
        snprintf(err, sizeof err, "certificate renewal refused for node %s: %s", peer->node_id,
                 why ? why : pd_strerror(rc));
        pd_cert_resp_refuse(resp, rc, err);
        return rc;
    }
    memcpy(resp->ca, p->bundle, p->bundle_len);
    resp->ca[p->bundle_len] = '\0';
    resp->ca_len = p->bundle_len;
    return 0;
}
