/* The gossip keyring fetch: codec and the client's exchange (gossip_keyfetch.h). */
#include "gossip_keyfetch.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "pd_err.h"
#include "pd_mp.h"
#include "raft_node.h"
#include "raft_transport.h"

void pd_gkf_req_encode(msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pd_mp_pack_kv_u64(&pk, "v", PD_GKF_VERSION);
    pd_mp_pack_kv_str(&pk, "op", PD_GKF_OP);
}

/* The map's version: 0, or -PD_EMALFORMED / -PD_EVERSION. */
static int check_version(const msgpack_object *o)
{
    uint64_t v = 0;
    if (o->type != MSGPACK_OBJECT_MAP || pd_mp_get_u64(o, "v", &v) != 0)
        return -PD_EMALFORMED;
    return v == PD_GKF_VERSION ? 0 : -PD_EVERSION;
}

int pd_gkf_req_decode(const void *data, size_t len)
{
    msgpack_unpacked u;
    if (len > PD_GKF_MSG_MAX || pd_mp_unpack(data, len, &u) != 0)
        return -PD_EMALFORMED;
    int rc = check_version(&u.data);
    const msgpack_object *op = rc == 0 ? pd_mp_get(&u.data, "op") : NULL;
    if (rc == 0 && (!op || !pd_mp_str_eq(op, PD_GKF_OP)))
        rc = -PD_EMALFORMED;
    msgpack_unpacked_destroy(&u);
    return rc;
}

int pd_gkf_resp_encode(msgpack_sbuffer *out, int32_t rc, const char *err, uint64_t gen, uint8_t phase,
                       const pd_keyring_t *ring)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (rc != 0 || !ring) {
        msgpack_pack_map(&pk, 3);
        pd_mp_pack_kv_u64(&pk, "v", PD_GKF_VERSION);
        pd_mp_pack_kv_i64(&pk, "rc", rc ? rc : -PD_EINTERNAL);
        pd_mp_pack_kv_str(&pk, "err", err ? err : "");
        return 0;
    }
    char text[PD_KEYRING_FILE_MAX];
    size_t tlen = 0;
    int r = pd_keyring_save_text(ring, text, sizeof text, &tlen);
    if (r == 0) {
        msgpack_pack_map(&pk, 5);
        pd_mp_pack_kv_u64(&pk, "v", PD_GKF_VERSION);
        pd_mp_pack_kv_i64(&pk, "rc", 0);
        pd_mp_pack_kv_u64(&pk, "gen", gen);
        pd_mp_pack_kv_u64(&pk, "phase", phase);
        pd_mp_pack_cstr(&pk, "keyring");
        msgpack_pack_str(&pk, tlen);
        msgpack_pack_str_body(&pk, text, tlen);
    }
    sodium_memzero(text, sizeof text);
    return r;
}

int pd_gkf_resp_decode(const void *data, size_t len, pd_gkf_resp_t *out)
{
    msgpack_unpacked u;
    if (len > PD_GKF_MSG_MAX || pd_mp_unpack(data, len, &u) != 0)
        return -PD_EMALFORMED;
    pd_gkf_resp_t r;
    memset(&r, 0, sizeof r);
    pd_keyring_init(&r.ring);
    int64_t code = 0;
    uint64_t phase = 0;
    int rc = check_version(&u.data);
    if (rc == 0 && pd_mp_get_i64(&u.data, "rc", &code) != 0)
        rc = -PD_EMALFORMED;
    if (rc == 0 && code != 0) {
        r.rc = code < 0 && code > -100000 ? (int32_t)code : -PD_EINTERNAL;
        pd_mp_get_strbuf(&u.data, "err", r.err, sizeof r.err);
    } else if (rc == 0) {
        const char *text = NULL;
        size_t tlen = 0;
        if (pd_mp_get_u64(&u.data, "gen", &r.gen) != 0 || pd_mp_get_u64(&u.data, "phase", &phase) != 0 ||
            phase > 3 || pd_mp_get_str(&u.data, "keyring", &text, &tlen) != 0 ||
            pd_keyring_load_text(&r.ring, text, tlen) != 0 || r.ring.count == 0)
            rc = -PD_EMALFORMED;
        r.phase = (uint8_t)phase;
    }
    msgpack_unpacked_destroy(&u);
    if (rc == 0)
        *out = r;
    else
        pd_keyring_free(&r.ring);
    return rc;
}

/* --- the client --- */

/* Handshake done: the peer must be a manager; send the request framed for the transport. */
static int send_request(void *ctx, pd_pki_tls_t *tls, char *why, size_t cap)
{
    pd_gkf_client_t *c = ctx;
    pd_pki_node_info_t peer;
    if (pd_pki_tls_peer(tls, &peer) != 0 || peer.role != PD_PKI_ROLE_MANAGER) {
        snprintf(why, cap, "the peer on the Raft port is not a manager of this cluster");
        return -PD_EAUTH;
    }
    snprintf(c->manager, sizeof c->manager, "%s", peer.node_id);
    msgpack_sbuffer payload;
    msgpack_sbuffer_init(&payload);
    pd_gkf_req_encode(&payload);
    uint8_t hdr[PD_RT_LEN_PREFIX + PD_RT_HDR_LEN];
    size_t hl = pd_rt_frame_hdr_encode(hdr, PD_RT_MEMBER, c->self_id, pd_raft_node_id_from(peer.node_id),
                                       payload.size);
    size_t w1 = 0, w2 = 0;
    int rc = pd_pki_tls_write(tls, hdr, hl, &w1);
    if (rc == 0)
        rc = pd_pki_tls_write(tls, payload.data, payload.size, &w2);
    int whole = rc == 0 && w1 == hl && w2 == payload.size;
    msgpack_sbuffer_destroy(&payload);
    if (whole)
        return 0;
    snprintf(why, cap, "cannot send the keyring request");
    return rc ? rc : -PD_ETOOBIG;
}

/* The answer: the ring, or the manager's refusal. */
static int take_answer(void *ctx, const uint8_t *body, size_t len, char *why, size_t cap)
{
    pd_gkf_client_t *c = ctx;
    int rc = pd_gkf_resp_decode(body, len, &c->resp);
    if (rc) {
        snprintf(why, cap, "bad answer from the manager: %s", pd_strerror(rc));
        return rc;
    }
    if (c->resp.rc)
        snprintf(why, cap, "%s", c->resp.err[0] ? c->resp.err : pd_strerror(c->resp.rc));
    return c->resp.rc;
}

int pd_gkf_client_init(pd_gkf_client_t *c, pd_pki_tls_conf_t *conf, const char *self_node_id)
{
    memset(c, 0, sizeof *c);
    pd_keyring_init(&c->resp.ring);
    c->self_id = pd_raft_node_id_from(self_node_id);
    int rc = pd_tlsx_init(&c->x, conf, PD_GKF_MSG_MAX);
    if (rc == 0)
        pd_tlsx_set_hooks(&c->x, send_request, take_answer, c);
    return rc;
}

void pd_gkf_client_free(pd_gkf_client_t *c)
{
    pd_tlsx_free(&c->x);
    pd_keyring_free(&c->resp.ring);
    memset(c, 0, sizeof *c);
}
