/* The manager's side of certificate renewal: a request on an ALPN session of the Raft port (the
 * peer's certificate verified, removed nodes already refused by the TLS peer check) is decided and
 * signed (cert_wire.c), the issue is recorded through Raft ("cert.<node id>": the leader learns who
 * is on which root from it), and only then is the certificate sent. A refusal changes nothing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ca_state.h"
#include "cert_wire.h"
#include "node_records.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "raft_node.h"
#include "raft_transport.h"
#include "store_wire.h"

#define RENEWALS_IN_FLIGHT_MAX 32

typedef struct {
    pd_rt_t *rt;
    uint64_t conn;
    pd_cert_resp_t resp;
    pd_pki_node_info_t info; /* what the new certificate says */
} pending_renewal_t;

static int renewals_in_flight;

static void reply(pd_rt_t *rt, uint64_t conn, const pd_cert_resp_t *resp)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (pd_cert_resp_encode(resp, &sb) == 0)
        pd_rt_conn_reply(rt, conn, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void refuse(pd_daemon_t *d, pd_rt_t *rt, uint64_t conn, int rc, const char *err, const char *node_id)
{
    pd_cert_resp_t *resp = pd_malloc(sizeof *resp);
    PD_WARN(&d->log, "certificate renewal for node %s refused: %s", node_id, err);
    if (!resp)
        return; /* the node sees the connection drop, and retries */
    pd_cert_resp_refuse(resp, rc, err);
    reply(rt, conn, resp);
    pd_free(resp);
}

/* The issue is recorded (or not): now the node learns the outcome. arg: the pending renewal. */
static int renewal_recorded(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                            msgpack_packer *pk, char *err, size_t errlen)
{
    pending_renewal_t *pr;
    memcpy(&pr, arg, sizeof pr);
    renewals_in_flight--;
    if (rc) {
        char why[PD_CERT_ERR_MAX];
        snprintf(why, sizeof why, "certificate renewal refused: the managers could not record it: %s; try again",
                 pd_strerror(rc));
        refuse(d, pr->rt, pr->conn, rc, why, pr->info.node_id);
    } else {
        PD_INFO(&d->log, "certificate issued to node %s as %s: serial %.16s..., valid until %lld", pr->info.node_id,
                pd_pki_role_name(pr->info.role), pr->info.serial, (long long)pr->info.not_after_s);
        reply(pr->rt, pr->conn, &pr->resp);
    }
    memset(pr, 0, sizeof *pr);
    pd_free(pr);
    msgpack_pack_nil(pk);
    return 0;
}

static int record_issue(pd_daemon_t *d, pending_renewal_t *pr, const pd_pki_ca_t *signer, char *err, size_t errlen)
{
    pd_store_op_t ops[2];
    pd_ca_issue_rec_t rec;
    int n = pd_ca_issue_ops(d, signer->digest, &pr->info, &rec, ops);
    if (n < 0) {
        snprintf(err, errlen, "cannot record the certificate: %s", pd_strerror(n));
        return n;
    }
    pd_store_txn_t txn = {.now_ms = (int64_t)pd_clock_wall(&pd_clock_real), .ops = ops, .n_ops = (uint32_t)n};
    uint8_t *entry = NULL;
    size_t elen = 0;
    int rc = pd_store_wire_encode_txn(&txn, &entry, &elen);
    if (rc) {
        snprintf(err, errlen, "cannot encode the certificate record: %s", pd_strerror(rc));
        return rc;
    }
    pd_ctl_token_t none = {0}; /* no control client: renewal_recorded answers the node itself */
    rc = pd_raft_node_write(d, &none, entry, elen, renewal_recorded, &pr, sizeof pr, err, errlen);
    pd_free(entry);
    return rc == PD_CTL_LATER ? 0 : rc;
}

static pd_pki_role_t record_role(pd_daemon_t *d, const char *node_id, int *removed)
{
    const pd_store_t *st = pd_raft_node_store(d);
    pd_node_rec_t *r = pd_malloc(sizeof *r);
    pd_pki_role_t role = PD_PKI_ROLE_NONE;
    *removed = 0;
    if (st && r && pd_node_rec_get(st, node_id, r) == 0) {
        role = r->role == PD_NODE_MANAGER ? PD_PKI_ROLE_MANAGER : PD_PKI_ROLE_WORKER;
        *removed = r->removed;
    }
    pd_free(r);
    return role;
}

void pd_cert_server_request(void *ctx, pd_rt_t *rt, uint64_t conn, const pd_pki_node_info_t *peer,
                            const uint8_t *body, size_t len)
{
    pd_daemon_t *d = ctx;
    pd_swarm_t *s = d->swarm;
    pending_renewal_t *pr = pd_calloc(1, sizeof *pr);
    pd_cert_req_t *req = pd_calloc(1, sizeof *req);
    char *bundle = pd_malloc(PD_CERT_BUNDLE_MAX);
    char err[PD_CERT_ERR_MAX] = "";
    const char *why = NULL;
    pd_pki_ca_t signer;
    pd_pki_ca_init(&signer);
    int rc = pr && req && bundle ? 0 : -ENOMEM;
    if (rc) {
        snprintf(err, sizeof err, "certificate renewal refused: out of memory");
        goto refused;
    }
    pr->rt = rt;
    pr->conn = conn;
    if ((rc = pd_cert_req_decode(body, len, req, &why)) != 0) {
        snprintf(err, sizeof err, "certificate renewal refused: %s", why);
        goto refused;
    }
    if (renewals_in_flight >= RENEWALS_IN_FLIGHT_MAX) {
        rc = -PD_ELIMIT;
        snprintf(err, sizeof err, "certificate renewal refused: too many at once; try again");
        goto refused;
    }
    char serr[160];
    size_t blen = pd_ca_store_bundle(d, bundle, PD_CERT_BUNDLE_MAX);
    if (!s || !s->active || blen == 0 || pd_ca_signer(d, &signer, serr, sizeof serr) != 0) {
        rc = -PD_ESTATE;
        snprintf(err, sizeof err, "certificate renewal refused: this manager cannot sign certificates yet");
        goto refused;
    }
    int removed = 0;
    pd_cert_policy_t pol = {.signer = &signer, .bundle = bundle, .bundle_len = blen,
                            .record_role = record_role(d, peer->node_id, &removed), .validity_s = pd_ca_validity_s(d),
                            .now_s = (int64_t)(pd_clock_wall(&pd_clock_real) / 1000), .rng = pd_pki_drbg_rng(&s->drbg)};
    pol.removed = removed;
    if ((rc = pd_cert_answer(req, peer, &pol, &pr->resp)) != 0) {
        snprintf(err, sizeof err, "%s", pr->resp.err);
        goto refused;
    }
    if ((rc = pd_pki_cert_verify(&signer, pr->resp.cert, pr->resp.cert_len, pol.now_s, &pr->info, &why)) != 0) {
        snprintf(err, sizeof err, "certificate renewal refused: the new certificate does not verify: %s", why);
        goto refused;
    }
    if ((rc = record_issue(d, pr, &signer, err, sizeof err)) != 0)
        goto refused;
    renewals_in_flight++;
    pr = NULL; /* renewal_recorded owns it */
    goto out;
refused:
    refuse(d, rt, conn, rc, err, peer->node_id);
out:
    pd_pki_ca_free(&signer);
    pd_free(bundle);
    pd_free(req);
    if (pr) {
        memset(pr, 0, sizeof *pr);
        pd_free(pr);
    }
}
