/* The manager's side of `swarm join`: a request on an anonymous TLS session of the Raft port is
 * decided and signed (join_wire.c), the node id is recorded through Raft ("joined.<id>": a replay,
 * even to another manager, finds it), and only then is the certificate sent. A refusal changes
 * nothing and says why to both sides (the joiner's error, this node's log). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ca_state.h"
#include "gossip_io.h"
#include "gossip_setup.h"
#include "gossip_rotation_run.h"
#include "join_wire.h"
#include "node_records.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "raft_node.h"
#include "raft_transport.h"
#include "store_wire.h"
#include "swarm.h"

#define JOINS_IN_FLIGHT_MAX 16

typedef struct {
    pd_rt_t *rt;
    uint64_t conn;
    pd_join_resp_t resp;
    char node_id[PD_NODE_ID_LEN + 1];
    char role[16];
    uint8_t issuer[PD_PKI_DIGEST_LEN]; /* the root that signed the certificate */
} pending_join_t;

static int joins_in_flight;

static void reply(pd_daemon_t *d, pd_rt_t *rt, uint64_t conn, const pd_join_resp_t *resp)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (pd_join_resp_encode(resp, &sb) == 0)
        pd_rt_conn_reply(rt, conn, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void refuse(pd_daemon_t *d, pd_rt_t *rt, uint64_t conn, pd_join_resp_t *resp, int rc, const char *err,
                   const char *node_id)
{
    PD_WARN(&d->log, "swarm join from node %s refused: %s", node_id && node_id[0] ? node_id : "?", err);
    pd_join_resp_refuse(resp, rc, err);
    reply(d, rt, conn, resp);
}

static int was_joined(void *ctx, const char *node_id)
{
    pd_daemon_t *d = ctx;
    char id[64];
    int n = snprintf(id, sizeof id, PD_SWARM_JOINED_PREFIX "%s", node_id);
    return pd_store_get(pd_raft_node_store(d), PD_STORE_CLUSTER, id, (size_t)n) != NULL;
}

/* The join is recorded (or not): now the joiner learns the outcome. arg: the pending join. */
static int join_recorded(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                         msgpack_packer *pk, char *err, size_t errlen)
{
    pending_join_t *pj;
    memcpy(&pj, arg, sizeof pj);
    joins_in_flight--;
    if (rc == -PD_EEXISTS) {
        char why[PD_JOIN_ERR_MAX];
        snprintf(why, sizeof why, "join refused: node %s has already joined this cluster (a replayed join)",
                 pj->node_id);
        refuse(d, pj->rt, pj->conn, &pj->resp, rc, why, pj->node_id);
    } else if (rc) {
        char why[PD_JOIN_ERR_MAX];
        snprintf(why, sizeof why, "join refused: the managers could not record the join: %s", pd_strerror(rc));
        refuse(d, pj->rt, pj->conn, &pj->resp, rc, why, pj->node_id);
    } else {
        PD_INFO(&d->log, "swarm join: node %s joined as %s", pj->node_id, pj->role);
        reply(d, pj->rt, pj->conn, &pj->resp);
    }
    memset(pj, 0, sizeof *pj);
    pd_free(pj);
    msgpack_pack_nil(pk);
    return 0;
}

/* Propose "joined.<node id>" (create: it fails if it exists, on whichever manager raced us), with
 * the record of the certificate issued (ca_state.h). */
static int record_join(pd_daemon_t *d, pending_join_t *pj, const pd_join_req_t *req, char *err, size_t errlen)
{
    char id[64];
    int n = snprintf(id, sizeof id, PD_SWARM_JOINED_PREFIX "%s", req->node_id);
    pd_store_op_t ops[3] = {{.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER,
                             .id = {(const uint8_t *)id, (uint32_t)n},
                             .data = {(const uint8_t *)pj->role, (uint32_t)strlen(pj->role)}}};
    pd_pki_ca_t pub;
    pd_pki_node_info_t info;
    pd_ca_issue_rec_t rec;
    const char *why = NULL;
    pd_pki_ca_init(&pub);
    int rc = pd_pki_ca_load(&pub, pj->resp.ca, pj->resp.ca_len, NULL, 0, &why);
    if (rc == 0)
        rc = pd_pki_cert_verify(&pub, pj->resp.cert, pj->resp.cert_len, (int64_t)(pd_clock_wall(&pd_clock_real) / 1000),
                                &info, &why);
    int k = rc == 0 ? pd_ca_issue_ops(d, pub.digest, &info, &rec, ops + 1) : rc;
    pd_pki_ca_free(&pub);
    if (k < 0) {
        snprintf(err, errlen, "cannot record the certificate issued: %s", why ? why : pd_strerror(k));
        return k;
    }
    pd_store_txn_t txn = {.now_ms = (int64_t)pd_clock_wall(&pd_clock_real), .ops = ops, .n_ops = 1 + (uint32_t)k};
    uint8_t *entry = NULL;
    size_t elen = 0;
    rc = pd_store_wire_encode_txn(&txn, &entry, &elen);
    if (rc) {
        snprintf(err, errlen, "cannot encode the join record: %s", pd_strerror(rc));
        return rc;
    }
    pd_ctl_token_t none = {0}; /* no control client: join_recorded answers the joiner itself */
    rc = pd_raft_node_write(d, &none, entry, elen, join_recorded, &pj, sizeof pj, err, errlen);
    pd_free(entry);
    return rc == PD_CTL_LATER ? 0 : rc;
}

/* A manager-token join makes the new node a Raft voter. The daemon has no runtime membership change
 * yet (Raft members are the bootstrap set; promote/demote as conf changes come with node records,
 * branch `nodes`), so this refuses, before anything is signed or recorded, with the way around it. */
int pd_join_make_manager(pd_daemon_t *d, const char *node_id, const char *addr, char *err, size_t errlen)
{
    (void)addr;
    /* Nothing to do here beyond checking we can: the joiner starts with a manager certificate and
     * an empty Raft that never bootstraps (swarm.seeds), gossip shows it as a manager, and the
     * leader's node reconciler (node_records.c) creates its record with the manager role, adds it
     * as a learner and the Raft core promotes it once caught up, as for `node promote`. */
    if (!d->nodes || !d->raft) {
        snprintf(err, errlen, "join refused: node %s cannot join as a manager: this node runs no manager", node_id);
        return -PD_ESTATE;
    }
    if (pd_node_is_removed(d, node_id)) {
        snprintf(err, errlen, "join refused: node %s was removed from the cluster", node_id);
        return -PD_ESTATE;
    }
    return 0;
}


void pd_join_server_request(void *ctx, pd_rt_t *rt, uint64_t conn, const uint8_t *body, size_t len)
{
    pd_daemon_t *d = ctx;
    pd_swarm_t *s = d->swarm;
    pending_join_t *pj = pd_calloc(1, sizeof *pj);
    pd_join_req_t *req = pd_calloc(1, sizeof *req);
    char *keyring = pd_malloc(PD_JOIN_KEYRING_MAX);
    char err[PD_JOIN_ERR_MAX] = "";
    const char *why = NULL;
    pd_pki_token_t worker, manager;
    int have_w = 0, have_m = 0;
    pd_pki_ca_t signer;
    pd_pki_ca_init(&signer);
    if (!pj || !req || !keyring) {
        pd_free(pj);
        pd_free(req);
        pd_free(keyring);
        return; /* the joiner sees the connection drop */
    }
    pj->rt = rt;
    pj->conn = conn;
    int rc = pd_join_req_decode(body, len, req, &why);
    if (rc) {
        snprintf(err, sizeof err, "join refused: %s", why);
        goto refused;
    }
    snprintf(pj->node_id, sizeof pj->node_id, "%s", req->node_id);
    char serr[160];
    if (!s || !s->active || pd_ca_signer(d, &signer, serr, sizeof serr) != 0) {
        rc = -PD_ESTATE;
        snprintf(err, sizeof err, "join refused: this manager cannot sign certificates yet");
        goto refused;
    }
    if (joins_in_flight >= JOINS_IN_FLIGHT_MAX) {
        rc = -PD_ELIMIT;
        snprintf(err, sizeof err, "join refused: too many joins at once; try again");
        goto refused;
    }
    have_w = pd_swarm_token_get(d, PD_PKI_ROLE_WORKER, &worker, NULL) == 0;
    have_m = pd_swarm_token_get(d, PD_PKI_ROLE_MANAGER, &manager, NULL) == 0;
    if (!have_w && !have_m) {
        rc = -PD_ESTATE;
        snprintf(err, sizeof err, "join refused: this manager has no join tokens yet");
        goto refused;
    }
    size_t klen = 0; /* the committed ring of the current rotation phase (gossip_rotation_run.h) */
    if ((rc = pd_gkey_join_ring_text(d, keyring, PD_JOIN_KEYRING_MAX, &klen)) != 0) {
        PD_WARN(&d->log, "swarm join: no gossip keyring to hand out: %s", pd_strerror(rc));
        snprintf(err, sizeof err, "join refused: this manager cannot read its gossip keyring");
        goto refused;
    }
    char seed_buf[PD_JOIN_SEEDS_MAX][PD_ADDR_MAX];
    const char *seeds[PD_JOIN_SEEDS_MAX];
    unsigned n_seeds = pd_swarm_gossip_seeds(d, 1, seed_buf, PD_JOIN_SEEDS_MAX);
    for (unsigned i = 0; i < n_seeds; i++)
        seeds[i] = seed_buf[i];
    pd_join_server_t srv = {
        .policy = {.ca_digest = signer.digest, .worker = have_w ? &worker : NULL, .manager = have_m ? &manager : NULL,
                   .joined = was_joined, .ctx = d},
        .ca = &signer, .rng = pd_pki_drbg_rng(&s->drbg), .now_s = (int64_t)(pd_clock_wall(&pd_clock_real) / 1000),
        .validity_s = pd_ca_validity_s(d),
        .keyring = keyring, .keyring_len = klen, .seeds = seeds, .n_seeds = n_seeds};
    rc = pd_join_answer(req, &srv, &pj->resp);
    if (rc) {
        snprintf(err, sizeof err, "%s", pj->resp.err);
        goto refused;
    }
    snprintf(pj->role, sizeof pj->role, "%s", pd_pki_role_name(pj->resp.role));
    if (pj->resp.role == PD_PKI_ROLE_MANAGER &&
        (rc = pd_join_make_manager(d, req->node_id, req->addr, err, sizeof err)) != 0)
        goto refused;
    rc = record_join(d, pj, req, err, sizeof err);
    if (rc)
        goto refused;
    joins_in_flight++;
    pj = NULL; /* join_recorded owns it */
    goto out;
refused:
    refuse(d, rt, conn, &pj->resp, rc, err, req->node_id);
out:
    pd_pki_ca_free(&signer);
    if (have_w)
        pd_pki_token_wipe(&worker);
    if (have_m)
        pd_pki_token_wipe(&manager);
    memset(keyring, 0, PD_JOIN_KEYRING_MAX);
    pd_free(keyring);
    memset(req, 0, sizeof *req);
    pd_free(req);
    if (pj) {
        memset(pj, 0, sizeof *pj);
        pd_free(pj);
    }
}
