/* peerctl swarm init / join / join-token / leave. */
#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "ca_state.h"
#include "raft_node.h"
#include "store_wire.h"
#include "swarm.h"

static int already_member(pd_daemon_t *d, char *err, size_t errlen)
{
    if (pd_swarm_in_cluster(d)) {
        snprintf(err, errlen, "This node is already part of a swarm. Use 'peerctl swarm leave' to leave this "
                              "swarm and join another one.");
        return -PD_ESTATE;
    }
    if (d->swarm && d->swarm->dial) {
        snprintf(err, errlen, "a 'swarm join' is already in progress on this node");
        return -PD_ESTATE;
    }
    return 0;
}

int pd_ctl_swarm_init(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    int force = 0;
    if (req->args && pd_mp_get(req->args, "force_new_cluster"))
        pd_mp_get_bool(req->args, "force_new_cluster", &force);
    if (force)
        return pd_ctl_swarm_force_new_cluster(d, err, errlen);
    int rc = already_member(d, err, errlen);
    if (rc)
        return rc;
    char adv[PD_ADDR_MAX] = "", host[PD_ADDR_MAX];
    uint16_t port = 0;
    if (req->args && pd_mp_get(req->args, "advertise_addr") &&
        (pd_mp_get_strbuf(req->args, "advertise_addr", adv, sizeof adv) != 0 ||
         (adv[0] && pd_config_parse_hostport(adv, host, sizeof host, &port) != 0))) {
        snprintf(err, errlen, "invalid --advertise-addr: expected IP[:PORT]");
        return -PD_EUSAGE;
    }
    char expiry[32] = "";
    int64_t expiry_s = 0;
    if (req->args && pd_mp_get(req->args, "cert_expiry") &&
        (pd_mp_get_strbuf(req->args, "cert_expiry", expiry, sizeof expiry) != 0 ||
         pd_ca_expiry_parse(expiry, &expiry_s) != 0 || !d->swarm || !d->swarm->cas)) {
        snprintf(err, errlen, "invalid --cert-expiry '%s': a duration like 90d, 12h, 30m or 40s, from %ds to %dd",
                 expiry, PD_PKI_NODE_MIN_S, PD_PKI_NODE_DAYS_MAX);
        return -PD_EUSAGE;
    }
    if (adv[0])
        snprintf(d->cfg.advertise_addr, sizeof d->cfg.advertise_addr, "%s", adv);
    if (expiry_s)
        d->swarm->cas->init_expiry_s = expiry_s;
    rc = pd_swarm_init_state(d, err, errlen);
    if (rc)
        return rc;
    pd_daemon_start_cluster(d);
    if (d->stopping || !d->raft) {
        snprintf(err, errlen, "the cluster failed to start (see the peerd log)");
        return -PD_EINTERNAL;
    }
    d->swarm->init_tok = d->ctl_cur;
    d->swarm->init_waiting = 1; /* answered when the tokens commit (pd_swarm_after_start) */
    return PD_CTL_LATER;
}

int pd_ctl_swarm_join(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    char token[PD_PKI_TOKEN_INPUT_MAX + 1], addr[PD_ADDR_MAX];
    if (!req->args || pd_mp_get_strbuf(req->args, "token", token, sizeof token) != 0 ||
        pd_mp_get_strbuf(req->args, "addr", addr, sizeof addr) != 0) {
        snprintf(err, errlen, "swarm.join needs token and addr (the manager's IP[:PORT])");
        return -PD_EUSAGE;
    }
    int rc = already_member(d, err, errlen);
    if (rc)
        return rc;
    rc = pd_join_dial_start(d, token, addr, err, errlen);
    if (rc)
        return rc;
    d->swarm->join_tok = d->ctl_cur;
    return PD_CTL_LATER;
}

/* --- join-token -------------------------------------------------------------------------------- */

static int manager_only(pd_daemon_t *d, char *err, size_t errlen)
{
    if (!d->swarm || !d->swarm->active || !d->raft) {
        snprintf(err, errlen, "This node is not a swarm manager. Use 'peerctl swarm init' or 'peerctl swarm join' "
                              "to connect this node to swarm and try again.");
        return -PD_ESTATE;
    }
    return 0;
}

static pd_pki_role_t role_arg(const pd_ctl_request_t *req)
{
    char role[16] = "";
    if (req->args)
        pd_mp_get_strbuf(req->args, "role", role, sizeof role);
    return strcmp(role, "worker") == 0 ? PD_PKI_ROLE_WORKER
           : strcmp(role, "manager") == 0 ? PD_PKI_ROLE_MANAGER : PD_PKI_ROLE_NONE;
}

/* arg: one byte, the role */
static int token_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                      msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc == -PD_ECONFLICT)
        snprintf(err, errlen, "the token changed while it was being rotated; try again");
    if (rc)
        return rc;
    pd_pki_role_t role = (pd_pki_role_t)((const uint8_t *)arg)[0];
    pd_pki_token_t t;
    if (pd_swarm_token_get(d, role, &t, NULL) != 0) {
        snprintf(err, errlen, "this cluster has no %s join token yet", pd_pki_role_name(role));
        return -PD_ENOTFOUND;
    }
    char text[PD_PKI_TOKEN_LEN + 1], addr[PD_ADDR_MAX + 8];
    pd_pki_token_format(&t, text, sizeof text);
    pd_pki_token_wipe(&t);
    pd_swarm_manager_addr(d, addr, sizeof addr);
    msgpack_pack_map(pk, 3);
    pd_mp_pack_kv_str(pk, "role", pd_pki_role_name(role));
    pd_mp_pack_kv_str(pk, "token", text);
    pd_mp_pack_kv_str(pk, "addr", addr);
    memset(text, 0, sizeof text);
    return 0;
}

/* A new token replaces the old one through Raft (an update at the version read: a concurrent
 * rotation fails instead of being lost); the old one then fails with "wrong, or rotated". */
static int rotate(pd_daemon_t *d, const pd_ctl_token_t *tok, pd_pki_role_t role, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    pd_pki_token_t old, fresh;
    uint64_t version = 0;
    if (pd_swarm_token_get(d, role, &old, &version) != 0) {
        snprintf(err, errlen, "this cluster has no %s join token to rotate", pd_pki_role_name(role));
        return -PD_ENOTFOUND;
    }
    pd_pki_token_wipe(&old);
    char text[PD_PKI_TOKEN_LEN + 1];
    int rc = pd_pki_token_generate(&fresh, s->ca.digest, pd_pki_drbg_rng(&s->drbg));
    if (rc == 0)
        rc = pd_pki_token_format(&fresh, text, sizeof text);
    pd_pki_token_wipe(&fresh);
    if (rc) {
        snprintf(err, errlen, "cannot make a join token: %s", pd_strerror(rc));
        return rc;
    }
    const char *id = role == PD_PKI_ROLE_MANAGER ? PD_SWARM_TOKEN_MANAGER : PD_SWARM_TOKEN_WORKER;
    pd_store_op_t op = {.op = PD_STORE_OP_UPDATE, .kind = PD_STORE_CLUSTER, .version = version,
                        .id = {(const uint8_t *)id, (uint32_t)strlen(id)},
                        .data = {(const uint8_t *)text, PD_PKI_TOKEN_LEN}};
    pd_store_txn_t txn = {.now_ms = (int64_t)pd_clock_wall(&pd_clock_real), .ops = &op, .n_ops = 1};
    uint8_t *entry = NULL;
    size_t elen = 0;
    rc = pd_store_wire_encode_txn(&txn, &entry, &elen);
    memset(text, 0, sizeof text);
    if (rc) {
        snprintf(err, errlen, "cannot encode the token: %s", pd_strerror(rc));
        return rc;
    }
    uint8_t r = (uint8_t)role;
    rc = pd_raft_node_write(d, tok, entry, elen, token_done, &r, 1, err, errlen);
    pd_free(entry);
    return rc;
}

/* A rotation reads first (linearizable) so it updates the latest version. */
static int rotate_after_read(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                             msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc)
        return rc;
    return rotate(d, tok, (pd_pki_role_t)((const uint8_t *)arg)[0], err, errlen);
}

int pd_ctl_swarm_join_token(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                            size_t errlen)
{
    pd_pki_role_t role = role_arg(req);
    if (role == PD_PKI_ROLE_NONE) {
        snprintf(err, errlen, "swarm.join_token needs role: worker or manager");
        return -PD_EUSAGE;
    }
    int rc = manager_only(d, err, errlen);
    if (rc)
        return rc;
    int rot = 0;
    if (req->args && pd_mp_get(req->args, "rotate"))
        pd_mp_get_bool(req->args, "rotate", &rot);
    uint8_t r = (uint8_t)role;
    return pd_raft_node_read(d, &d->ctl_cur, rot ? rotate_after_read : token_done, &r, 1, err, errlen);
}

/* --- leave ------------------------------------------------------------------------------------- */

static void leave_timer_closed(uv_handle_t *h) { pd_free(h); }

static void leave_cb(uv_timer_t *t)
{
    pd_daemon_t *d = t->data;
    uv_close((uv_handle_t *)t, leave_timer_closed);
    pd_daemon_shutdown(d, "swarm leave");
}

int pd_ctl_swarm_leave(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    if (!pd_swarm_in_cluster(d)) {
        snprintf(err, errlen, "This node is not part of a swarm");
        return -PD_ESTATE;
    }
    if (!s || !s->active) {
        snprintf(err, errlen, "this node is a gossip-only member (started with --join, no certificate): stop "
                              "peerd to take it out of the gossip pool");
        return -PD_ESTATE;
    }
    int force = 0;
    if (req->args && pd_mp_get(req->args, "force"))
        pd_mp_get_bool(req->args, "force", &force);
    if (s->role == PD_PKI_ROLE_MANAGER && !force) {
        snprintf(err, errlen, "You are attempting to leave the swarm on a node that participates as a manager. "
                              "The only way to restore a swarm that has lost consensus is to reinitialize it with "
                              "'--force-new-cluster'. Use '--force' to suppress this message.");
        return -PD_ESTATE;
    }
    uv_timer_t *t = pd_calloc(1, sizeof *t);
    if (!t)
        return -PD_EINTERNAL;
    s->restart = 1; /* after the clean stop: forget the state, run again waiting for init/join */
    uv_timer_init(d->loop, t);
    t->data = d;
    uv_timer_start(t, leave_cb, 10, 0); /* after this reply is written */
    PD_INFO(&d->log, "swarm leave%s: stopping the cluster role", force ? " --force" : "");
    msgpack_pack_map(pk, 1);
    pd_mp_pack_kv_str(pk, "node_id", d->dd.node_id);
    return 0;
}
