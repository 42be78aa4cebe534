/* `peerctl swarm ca [--rotate] [--cert-expiry D]`, and the leader's part of a CA rotation.
 *
 * Rotation, as Swarm does it: one Raft write makes a new root (ECDSA P-256, same cluster id) the
 * current one, keeps the old root as "ca.prev" (every node trusts both meanwhile), and replaces
 * both join tokens (their digest pins the new root). Managers follow the store (ca_state.c); the
 * leader gossips the roots' id so that workers hear of it; every node's certificate is then from
 * the wrong root, so each renews at once (ca_renew.c). When every live node's recorded certificate
 * ("cert.<id>") is from the new root, the leader deletes ca.prev; the roots' id changes again and
 * the nodes drop the old root at their next renewal (workers renew for it at once). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ca_state.h"
#include "gossip_io.h"
#include "node_records.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "raft_node.h"
#include "store_wire.h"

#define LEAD_NODES_MAX 4096

/* --- the leader -------------------------------------------------------------------------------- */

static void publish_roots(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    char id[PD_CA_ROOTS_ID_LEN + 1];
    if (!d->gossip || !pd_ca_rec(d, PD_CA_REC_CERT))
        return;
    pd_ca_roots_id(s->ca.digest, s->ca_prev.crt.raw.len ? s->ca_prev.digest : NULL, id);
    if (strcmp(id, s->cas->published) == 0)
        return;
    pd_gossip_io_t *g = d->gossip;
    if (pd_gagent_put_cluster(pd_gossip_io_agent(g), pd_gossip_io_now(g), PD_CA_GOSSIP_TABLE, PD_CA_GOSSIP_KEY, id,
                              strlen(id)) != 0)
        return;
    pd_gossip_io_flush(g);
    snprintf(s->cas->published, sizeof s->cas->published, "%s", id);
    PD_INFO(&d->log, "certificate: published the CA roots %s to every node", id);
}

static int rotation_finished(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                             msgpack_packer *pk, char *err, size_t errlen)
{
    d->swarm->cas->finishing = 0;
    if (rc)
        PD_WARN(&d->log, "certificate: cannot drop the old CA root yet: %s", pd_strerror(rc));
    else
        PD_INFO(&d->log, "certificate: CA rotation complete: every live node is on the new root; old root dropped");
    msgpack_pack_nil(pk);
    return 0;
}

size_t pd_ca_pending(pd_daemon_t *d, int workers_only, const char **first, char first_buf[PD_NODE_ID_LEN + 1])
{
    const pd_store_t *st = pd_raft_node_store(d);
    pd_swim_t *sw = d->gossip ? pd_gagent_swim(pd_gossip_io_agent(d->gossip)) : NULL;
    size_t n = 0, pending = 0;
    pd_ca_node_t *nodes = pd_calloc(LEAD_NODES_MAX, sizeof *nodes);
    pd_ca_certrec_t *recs = pd_calloc(LEAD_NODES_MAX, sizeof *recs);
    *first = NULL;
    for (const pd_store_obj_t *o = st && nodes && recs ? pd_store_first(st, PD_STORE_NODE) : NULL;
         o && n < LEAD_NODES_MAX; o = pd_store_next(o)) {
        pd_swim_member_info_t m;
        char rid[64];
        nodes[n].node_id = o->id;
        pd_node_rec_t *rec = pd_malloc(sizeof *rec);
        nodes[n].removed = pd_node_rec_is_removed(st, o->id);
        nodes[n].manager = rec && pd_node_rec_get(st, o->id, rec) == 0 && rec->role == PD_NODE_MANAGER;
        pd_free(rec);
        nodes[n].live = sw && pd_swim_member(sw, o->id, &m) == 0 &&
                        (m.state == PD_SWIM_ALIVE || m.state == PD_SWIM_SUSPECT);
        snprintf(rid, sizeof rid, PD_CA_REC_NODE "%s", o->id);
        const pd_store_obj_t *c = pd_store_get(st, PD_STORE_CLUSTER, rid, strlen(rid));
        if (c && pd_ca_certrec_parse(c->data, c->data_len, &recs[n]) == 0)
            nodes[n].issuer = recs[n].issuer;
        n++;
    }
    if (nodes && recs) {
        pending = pd_ca_rotation_pending(d->swarm->ca.digest, nodes, n, workers_only, first);
        if (*first) {
            snprintf(first_buf, PD_NODE_ID_LEN + 1, "%s", *first);
            *first = first_buf;
        }
    }
    pd_free(nodes);
    pd_free(recs);
    return pending;
}

void pd_ca_lead_round(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    publish_roots(d);
    const pd_store_obj_t *prev = pd_ca_rec(d, PD_CA_REC_PREV);
    if (!prev || s->cas->finishing)
        return;
    const char *first;
    char first_buf[PD_NODE_ID_LEN + 1];
    if (pd_ca_pending(d, 0, &first, first_buf) > 0)
        return;
    pd_store_op_t op = {.op = PD_STORE_OP_DELETE, .kind = PD_STORE_CLUSTER, .version = prev->version,
                        .id = {(const uint8_t *)PD_CA_REC_PREV, (uint32_t)strlen(PD_CA_REC_PREV)}};
    pd_store_txn_t txn = {.now_ms = (int64_t)pd_clock_wall(&pd_clock_real), .ops = &op, .n_ops = 1};
    uint8_t *entry = NULL;
    size_t elen = 0;
    char err[256];
    pd_ctl_token_t none = {0};
    if (pd_store_wire_encode_txn(&txn, &entry, &elen) != 0)
        return;
    int rc = pd_raft_node_write(d, &none, entry, elen, rotation_finished, NULL, 0, err, sizeof err);
    pd_free(entry);
    s->cas->finishing = rc == PD_CTL_LATER;
}

/* --- peerctl swarm ca -------------------------------------------------------------------------- */

enum { CA_SHOW = 0, CA_ROTATE = 1 };

typedef struct {
    uint8_t what;
    int64_t expiry_s; /* 0: unchanged */
} ca_arg_t;

static void pack_digest(msgpack_packer *pk, const char *key, const uint8_t *digest)
{
    char hex[2 * PD_PKI_DIGEST_LEN + 1];
    if (digest)
        pd_ca_hex(digest, PD_PKI_DIGEST_LEN, hex);
    pd_mp_pack_kv_str(pk, key, digest ? hex : "");
}

static void pack_token(pd_daemon_t *d, msgpack_packer *pk, const char *key, pd_pki_role_t role)
{
    pd_pki_token_t t;
    char text[PD_PKI_TOKEN_LEN + 1] = "";
    if (pd_swarm_token_get(d, role, &t, NULL) == 0) {
        pd_pki_token_format(&t, text, sizeof text);
        pd_pki_token_wipe(&t);
    }
    pd_mp_pack_kv_str(pk, key, text);
    sodium_memzero(text, sizeof text);
}

/* Every node's last certificate as recorded: id, role, root (current/previous/other), serial, expiry. */
static void pack_nodes(pd_daemon_t *d, msgpack_packer *pk)
{
    pd_swarm_t *s = d->swarm;
    const pd_store_t *st = pd_raft_node_store(d);
    uint32_t n = 0;
    size_t plen = strlen(PD_CA_REC_NODE);
    for (const pd_store_obj_t *o = pd_store_first(st, PD_STORE_CLUSTER); o; o = pd_store_next(o))
        n += o->id_len > plen && strncmp(o->id, PD_CA_REC_NODE, plen) == 0;
    pd_mp_pack_cstr(pk, "nodes");
    msgpack_pack_array(pk, n);
    for (const pd_store_obj_t *o = pd_store_first(st, PD_STORE_CLUSTER); o && n; o = pd_store_next(o)) {
        if (o->id_len <= plen || strncmp(o->id, PD_CA_REC_NODE, plen) != 0)
            continue;
        pd_ca_certrec_t r;
        int ok = pd_ca_certrec_parse(o->data, o->data_len, &r) == 0;
        const char *root = !ok ? "?"
                           : memcmp(r.issuer, s->ca.digest, PD_PKI_DIGEST_LEN) == 0 ? "current"
                           : s->ca_prev.crt.raw.len && memcmp(r.issuer, s->ca_prev.digest, PD_PKI_DIGEST_LEN) == 0
                               ? "previous"
                               : "other";
        msgpack_pack_map(pk, 6);
        pd_mp_pack_kv_str(pk, "node_id", o->id + plen);
        pd_mp_pack_kv_str(pk, "role", ok ? pd_pki_role_name(r.role) : "?");
        pd_mp_pack_kv_str(pk, "root", root);
        pd_mp_pack_kv_str(pk, "serial", ok ? r.serial : "");
        pd_mp_pack_kv_i64(pk, "not_after", ok ? r.not_after_s : 0);
        pd_mp_pack_kv_bool(pk, "removed", pd_node_rec_is_removed(st, o->id + plen));
        n--;
    }
}

static int show(pd_daemon_t *d, msgpack_packer *pk, int rotated)
{
    pd_swarm_t *s = d->swarm;
    pd_ca_sync_from_store(d); /* the read barrier passed: the store is at least as new as the request */
    const char *first = NULL;
    char first_buf[PD_NODE_ID_LEN + 1];
    size_t pending = s->ca_prev.crt.raw.len ? pd_ca_pending(d, 0, &first, first_buf) : 0;
    char addr[PD_ADDR_MAX + 8];
    pd_swarm_manager_addr(d, addr, sizeof addr);
    const pd_pki_node_info_t *self = &s->ident.info;
    msgpack_pack_map(pk, 12 + 3 * (rotated != 0));
    pack_digest(pk, "root", s->ca.digest);
    pack_digest(pk, "previous_root", s->ca_prev.crt.raw.len ? s->ca_prev.digest : NULL);
    pd_mp_pack_kv_u64(pk, "pending", pending);
    pd_mp_pack_kv_str(pk, "pending_example", first ? first : "");
    pd_mp_pack_kv_i64(pk, "expiry_s", pd_ca_validity_s(d) ? pd_ca_validity_s(d) : (int64_t)PD_PKI_NODE_DAYS * 86400);
    pd_mp_pack_kv_str(pk, "self", self->node_id);
    pd_mp_pack_kv_str(pk, "self_serial", self->serial);
    pd_mp_pack_kv_i64(pk, "self_not_after", self->not_after_s);
    pack_digest(pk, "self_root", s->cas->issuer);
    pd_mp_pack_kv_u64(pk, "renewals", s->cas->renewals);
    pd_mp_pack_kv_str(pk, "addr", addr);
    pack_nodes(d, pk);
    if (rotated) {
        pack_token(d, pk, "worker_token", PD_PKI_ROLE_WORKER);
        pack_token(d, pk, "manager_token", PD_PKI_ROLE_MANAGER);
        pd_mp_pack_kv_bool(pk, "rotated", 1);
    }
    return 0;
}

static int changed_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                        msgpack_packer *pk, char *err, size_t errlen)
{
    const ca_arg_t *a = arg;
    if (rc == -PD_ECONFLICT || rc == -PD_EEXISTS)
        snprintf(err, errlen, "the CA changed while this request ran (another rotation?); try again");
    if (rc)
        return rc;
    if (a->what == CA_ROTATE)
        PD_INFO(&d->log, "certificate: CA rotation started; every node renews from the new root");
    return show(d, pk, a->what == CA_ROTATE);
}

/* One store op on a CLUSTER record: create, or replace at the version read. */
static pd_store_op_t put_op(const pd_store_obj_t *cur, const char *id, const void *data, size_t len)
{
    return (pd_store_op_t){.op = cur ? PD_STORE_OP_UPDATE : PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER,
                           .version = cur ? cur->version : 0, .id = {(const uint8_t *)id, (uint32_t)strlen(id)},
                           .data = {(const uint8_t *)data, (uint32_t)len}};
}

typedef struct {
    char crt[PD_PKI_PEM_MAX], key[PD_PKI_PEM_MAX];
    char worker[PD_PKI_TOKEN_LEN + 1], manager[PD_PKI_TOKEN_LEN + 1];
    char expiry[24];
} change_bufs_t;

/* A new root and new tokens (ops 0..4), as the rotation's Raft write. */
static int rotate_ops(pd_daemon_t *d, change_bufs_t *b, pd_store_op_t *ops, uint32_t *n, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    const pd_store_obj_t *crt = pd_ca_rec(d, PD_CA_REC_CERT), *key = pd_ca_rec(d, PD_CA_REC_KEY);
    const pd_store_obj_t *tw = pd_store_get(pd_raft_node_store(d), PD_STORE_CLUSTER, PD_SWARM_TOKEN_WORKER,
                                            strlen(PD_SWARM_TOKEN_WORKER));
    const pd_store_obj_t *tm = pd_store_get(pd_raft_node_store(d), PD_STORE_CLUSTER, PD_SWARM_TOKEN_MANAGER,
                                            strlen(PD_SWARM_TOKEN_MANAGER));
    if (!crt || !key || !tw || !tm) {
        snprintf(err, errlen, "this cluster has no CA in its Raft store yet");
        return -PD_ESTATE;
    }
    if (pd_ca_rec(d, PD_CA_REC_PREV)) {
        const char *first = NULL;
        char first_buf[PD_NODE_ID_LEN + 1];
        size_t pending = pd_ca_pending(d, 0, &first, first_buf);
        snprintf(err, errlen, "a CA rotation is already in progress (%zu node(s) still on the old root%s%s); "
                              "wait for it to finish", pending, first ? ", e.g. " : "", first ? first : "");
        return -PD_ESTATE;
    }
    pd_pki_rng_t rng = pd_pki_drbg_rng(&s->drbg);
    pd_pki_ca_t root;
    pd_pki_token_t w, m;
    size_t crt_len = 0, key_len = 0;
    pd_pki_ca_init(&root);
    int rc = pd_pki_ca_create(&root, s->ca.cluster_id, (int64_t)(pd_clock_wall(&pd_clock_real) / 1000), 0, rng);
    if (rc == 0)
        rc = pd_pki_ca_cert_pem(&root, b->crt, sizeof b->crt, &crt_len);
    if (rc == 0)
        rc = pd_pki_ca_key_pem(&root, b->key, sizeof b->key, &key_len);
    if (rc == 0)
        rc = pd_pki_token_generate(&w, root.digest, rng) || pd_pki_token_generate(&m, root.digest, rng) ||
                     pd_pki_token_format(&w, b->worker, sizeof b->worker) ||
                     pd_pki_token_format(&m, b->manager, sizeof b->manager)
                 ? -PD_EINTERNAL
                 : 0;
    pd_pki_token_wipe(&w);
    pd_pki_token_wipe(&m);
    pd_pki_ca_free(&root);
    if (rc) {
        snprintf(err, errlen, "cannot make a new root CA: %s", pd_strerror(rc));
        return rc;
    }
    ops[(*n)++] = put_op(crt, PD_CA_REC_CERT, b->crt, crt_len);
    ops[(*n)++] = put_op(key, PD_CA_REC_KEY, b->key, key_len);
    ops[(*n)++] = put_op(NULL, PD_CA_REC_PREV, crt->data, crt->data_len); /* the old root, trusted meanwhile */
    ops[(*n)++] = put_op(tw, PD_SWARM_TOKEN_WORKER, b->worker, PD_PKI_TOKEN_LEN);
    ops[(*n)++] = put_op(tm, PD_SWARM_TOKEN_MANAGER, b->manager, PD_PKI_TOKEN_LEN);
    return 0;
}

static int change_after_read(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                             msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc)
        return rc;
    ca_arg_t a;
    memcpy(&a, arg, sizeof a);
    if (a.what == CA_SHOW && !a.expiry_s)
        return show(d, pk, 0);
    change_bufs_t *b = pd_calloc(1, sizeof *b);
    if (!b)
        return -PD_EINTERNAL;
    pd_store_op_t ops[6];
    uint32_t n = 0;
    if (a.what == CA_ROTATE)
        rc = rotate_ops(d, b, ops, &n, err, errlen);
    if (rc == 0 && a.expiry_s) {
        int len = snprintf(b->expiry, sizeof b->expiry, "%" PRId64, a.expiry_s);
        ops[n++] = put_op(pd_ca_rec(d, PD_CA_REC_EXPIRY), PD_CA_REC_EXPIRY, b->expiry, (size_t)len);
    }
    uint8_t *entry = NULL;
    size_t elen = 0;
    if (rc == 0) {
        pd_store_txn_t txn = {.now_ms = (int64_t)pd_clock_wall(&pd_clock_real), .ops = ops, .n_ops = n};
        if ((rc = pd_store_wire_encode_txn(&txn, &entry, &elen)) != 0)
            snprintf(err, errlen, "cannot encode the change: %s", pd_strerror(rc));
    }
    sodium_memzero(b, sizeof *b);
    pd_free(b);
    if (rc == 0)
        rc = pd_raft_node_write(d, tok, entry, elen, changed_done, &a, sizeof a, err, errlen);
    if (entry)
        sodium_memzero(entry, elen);
    pd_free(entry);
    return rc;
}

int pd_ctl_swarm_ca(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    if (!s || !s->active || !s->cas || !pd_raft_node_store(d)) {
        snprintf(err, errlen, "This node is not a swarm manager. Use 'peerctl swarm init' or 'peerctl swarm join' "
                              "to connect this node to swarm and try again.");
        return -PD_ESTATE;
    }
    ca_arg_t a = {.what = CA_SHOW};
    int rot = 0;
    char expiry[32] = "";
    if (req->args && pd_mp_get(req->args, "rotate"))
        pd_mp_get_bool(req->args, "rotate", &rot);
    if (req->args && pd_mp_get(req->args, "cert_expiry") &&
        (pd_mp_get_strbuf(req->args, "cert_expiry", expiry, sizeof expiry) != 0 ||
         pd_ca_expiry_parse(expiry, &a.expiry_s) != 0)) {
        snprintf(err, errlen, "invalid --cert-expiry '%s': a duration like 90d, 12h, 30m or 40s, from %ds to %dd",
                 expiry, PD_PKI_NODE_MIN_S, PD_PKI_NODE_DAYS_MAX);
        return -PD_EUSAGE;
    }
    a.what = rot ? CA_ROTATE : CA_SHOW;
    return pd_raft_node_read(d, &d->ctl_cur, change_after_read, &a, sizeof a, err, errlen);
}
