/* The joiner's side of `swarm join`: run join_wire.c's exchange with the manager's Raft port over
 * tls_call.c, store what it gave (0600) and start the cluster. The
 * `swarm join` request is answered at the end, with the manager's refusal when there is one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "join_wire.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "raft_node.h"
#include "swarm.h"
#include "tls_call.h"

struct pd_join_dial {
    pd_daemon_t *d;
    pd_tls_call_t *call;
    char addr[PD_ADDR_MAX + 8];
    pd_join_client_t jc;
};

static void dial_free(pd_join_dial_t *j)
{
    if (j->d->swarm && j->d->swarm->dial == j)
        j->d->swarm->dial = NULL;
    pd_join_client_free(&j->jc);
    pd_free(j);
}

/* Store the join's result: the certificate last, since its presence makes the node a member. */
static int store_result(pd_daemon_t *d, pd_join_client_t *c, char *err, size_t errlen)
{
    char *pem = pd_malloc(PD_PKI_PEM_MAX);
    size_t len = 0;
    int rc = pem ? 0 : -ENOMEM;
    if (rc == 0)
        rc = pd_swarm_write(d, "ca.crt", c->resp->ca, c->resp->ca_len, err, errlen);
    if (rc == 0)
        rc = pd_swarm_write(d, "gossip.keyring", c->resp->keyring, c->resp->keyring_len, err, errlen);
    if (rc == 0) {
        char seeds[PD_SWARM_SEEDS_TEXT_MAX];
        size_t off = 0;
        for (unsigned i = 0; i < c->resp->n_seeds && off < sizeof seeds; i++)
            off += (size_t)snprintf(seeds + off, sizeof seeds - off, "%s\n", c->resp->seeds[i]);
        rc = pd_swarm_write(d, "swarm.seeds", seeds, off < sizeof seeds ? off : sizeof seeds - 1, err, errlen);
    }
    if (rc == 0 && (rc = pd_pki_ident_key_pem(&c->ident, pem, PD_PKI_PEM_MAX, &len)) == 0)
        rc = pd_swarm_write(d, "node.key", pem, len, err, errlen);
    if (rc == 0)
        rc = pd_swarm_write(d, "node.crt", c->resp->cert, c->resp->cert_len, err, errlen);
    if (pem)
        memset(pem, 0, PD_PKI_PEM_MAX);
    pd_free(pem);
    if (rc && !err[0])
        snprintf(err, errlen, "cannot store the cluster state: %s", pd_strerror(rc));
    return rc;
}

static void dial_done(void *ctx, int call_rc, const char *call_err, const uint8_t *body, size_t len)
{
    pd_join_dial_t *j = ctx;
    pd_daemon_t *d = j->d;
    pd_swarm_t *s = d->swarm;
    pd_join_client_t *c = &j->jc;
    char err[PD_CTL_ERRMSG_MAX] = "";
    int rc = call_rc;
    if (rc) {
        if (rc == -PD_ETIMEOUT)
            snprintf(err, sizeof err, "the join via %s did not finish within %u s", j->addr,
                     PD_SWARM_JOIN_TIMEOUT_MS / 1000);
        else
            snprintf(err, sizeof err, "%s", call_err);
        PD_WARN(&d->log, "swarm join via %s failed: %s", j->addr, err);
    } else if ((rc = store_result(d, c, err, sizeof err)) != 0 || (rc = pd_swarm_open(d, err, sizeof err)) < 0) {
        PD_ERROR(&d->log, "swarm join: %s", err);
        char ferr[256];
        pd_swarm_forget(d, ferr, sizeof ferr); /* no half-joined state */
    } else {
        rc = 0;
        PD_INFO(&d->log, "swarm join: joined cluster %s as %s via %s", c->resp->cluster_id,
                pd_pki_role_name(c->resp->role), j->addr);
    }
    pd_ctl_token_t tok = s->join_tok;
    dial_free(j);
    pd_join_start_done(d, rc, err); /* --join-token at start: retry or stop */
    if (rc) {
        pd_daemon_ctl_answer(d, &tok, rc, err, NULL, 0);
        return;
    }
    pd_daemon_start_cluster(d);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pd_mp_pack_kv_str(&pk, "node_id", d->dd.node_id);
    pd_mp_pack_kv_str(&pk, "role", pd_pki_role_name(s->role));
    pd_daemon_ctl_answer(d, &tok, 0, NULL, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

int pd_join_dial_start(pd_daemon_t *d, const char *token, const char *addr, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    if (!s->drbg_ready) {
        if (pd_pki_drbg_init(&s->drbg) != 0) {
            snprintf(err, errlen, "cannot seed the random generator");
            return -PD_EINTERNAL;
        }
        s->drbg_ready = 1;
    }
    pd_join_dial_t *j = pd_calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->d = d;
    char adv[PD_ADDR_MAX] = "";
    uint16_t aport;
    if (d->cfg.advertise_addr[0])
        pd_config_parse_hostport(d->cfg.advertise_addr, adv, sizeof adv, &aport);
    int rc = pd_join_client_init(&j->jc, token, d->dd.node_id, d->hostname, adv, &pd_clock_real,
                                 pd_pki_drbg_rng(&s->drbg));
    if (rc) {
        snprintf(err, errlen, "%s", j->jc.x.err);
        dial_free(j);
        return rc;
    }
    rc = pd_tls_call_run(d->loop, addr, &j->jc.x, PD_SWARM_JOIN_TIMEOUT_MS, dial_done, j, &j->call);
    if (rc) {
        if (rc == -PD_EUSAGE)
            snprintf(err, errlen, "invalid manager address '%s': expected IP[:PORT]", addr);
        else
            snprintf(err, errlen, "cannot connect to %s: %s", addr, pd_strerror(rc));
        dial_free(j);
        return rc;
    }
    snprintf(j->addr, sizeof j->addr, "%s", pd_tls_call_peer(j->call));
    s->dial = j;
    PD_INFO(&d->log, "swarm join: connecting to %s", j->addr);
    return 0;
}

void pd_join_dial_cancel(pd_daemon_t *d)
{
    pd_join_dial_t *j = d->swarm ? d->swarm->dial : NULL;
    if (!j)
        return;
    pd_tls_call_cancel(j->call);
    dial_free(j);
}
