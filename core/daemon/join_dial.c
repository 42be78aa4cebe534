/* The joiner's side of `swarm join` (libuv shell around join_wire.c's state machine): connect to
 * the manager's Raft port, run the exchange, store what it gave (0600) and start the cluster. The
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

struct pd_join_dial {
    pd_daemon_t *d;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t timer;
    int handles;   /* open libuv handles; freed when both closed */
    int finished;
    char addr[PD_ADDR_MAX + 8];
    pd_join_client_t jc;
};

static void dial_closed_cb(uv_handle_t *h)
{
    pd_join_dial_t *j = h->data;
    if (--j->handles == 0) {
        pd_join_client_free(&j->jc);
        pd_free(j);
    }
}

static void dial_close(pd_join_dial_t *j)
{
    if (j->d->swarm && j->d->swarm->dial == j)
        j->d->swarm->dial = NULL;
    if (!uv_is_closing((uv_handle_t *)&j->tcp))
        uv_close((uv_handle_t *)&j->tcp, dial_closed_cb);
    if (!uv_is_closing((uv_handle_t *)&j->timer))
        uv_close((uv_handle_t *)&j->timer, dial_closed_cb);
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

static void finish(pd_join_dial_t *j)
{
    if (j->finished)
        return;
    j->finished = 1;
    pd_daemon_t *d = j->d;
    pd_swarm_t *s = d->swarm;
    pd_join_client_t *c = &j->jc;
    char err[PD_CTL_ERRMSG_MAX] = "";
    int rc = c->state == PD_JOIN_C_DONE ? 0 : (c->rc ? c->rc : -PD_EINTERNAL);
    if (rc) {
        snprintf(err, sizeof err, "%s", c->err);
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
    dial_close(j);
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

typedef struct {
    uv_write_t req;
    uint8_t data[];
} dial_write_t;

static void dial_write_cb(uv_write_t *req, int status) { pd_free(req); }

static void flush_out(pd_join_dial_t *j)
{
    uint8_t buf[8192];
    size_t n;
    while ((n = pd_join_client_output(&j->jc, buf, sizeof buf)) > 0) {
        dial_write_t *w = pd_malloc(sizeof *w + n);
        if (!w) {
            pd_join_client_abort(&j->jc, -ENOMEM, "out of memory");
            return;
        }
        memcpy(w->data, buf, n);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
        if (uv_write(&w->req, (uv_stream_t *)&j->tcp, &b, 1, dial_write_cb) != 0) {
            pd_free(w);
            pd_join_client_abort(&j->jc, -PD_ECLOSED, "cannot send to the manager");
            return;
        }
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[16384];
    *buf = uv_buf_init(slab, sizeof slab);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    pd_join_dial_t *j = s->data;
    if (j->finished || nread == 0)
        return;
    if (nread < 0) {
        char why[160];
        snprintf(why, sizeof why, "the manager at %s closed the connection during the join", j->addr);
        pd_join_client_abort(&j->jc, -PD_ECLOSED, why);
    } else {
        pd_join_client_input(&j->jc, buf->base, (size_t)nread);
        flush_out(j);
    }
    if (j->jc.state == PD_JOIN_C_DONE || j->jc.state == PD_JOIN_C_FAILED)
        finish(j);
}

static void connect_cb(uv_connect_t *req, int status)
{
    pd_join_dial_t *j = req->data;
    if (j->finished || status == UV_ECANCELED)
        return;
    if (status != 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot reach the manager at %s: %s", j->addr, uv_strerror(status));
        pd_join_client_abort(&j->jc, -PD_ECLOSED, why);
        finish(j);
        return;
    }
    uv_read_start((uv_stream_t *)&j->tcp, alloc_cb, read_cb);
    flush_out(j);
    if (j->jc.state == PD_JOIN_C_FAILED)
        finish(j);
}

static void timeout_cb(uv_timer_t *t)
{
    pd_join_dial_t *j = t->data;
    char why[160];
    snprintf(why, sizeof why, "the join via %s did not finish within %u s", j->addr, PD_SWARM_JOIN_TIMEOUT_MS / 1000);
    pd_join_client_abort(&j->jc, -PD_ETIMEOUT, why);
    finish(j);
}

int pd_join_dial_start(pd_daemon_t *d, const char *token, const char *addr, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    char host[PD_ADDR_MAX];
    uint16_t port = 0;
    struct sockaddr_storage ss;
    if (pd_config_parse_hostport(addr, host, sizeof host, &port) != 0 ||
        (uv_ip4_addr(host, port ? port : PD_RN_RAFT_PORT, (struct sockaddr_in *)&ss) != 0 &&
         uv_ip6_addr(host, port ? port : PD_RN_RAFT_PORT, (struct sockaddr_in6 *)&ss) != 0)) {
        snprintf(err, errlen, "invalid manager address '%s': expected IP[:PORT]", addr);
        return -PD_EUSAGE;
    }
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
    snprintf(j->addr, sizeof j->addr, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port ? port : PD_RN_RAFT_PORT);
    char adv[PD_ADDR_MAX] = "";
    uint16_t aport;
    if (d->cfg.advertise_addr[0])
        pd_config_parse_hostport(d->cfg.advertise_addr, adv, sizeof adv, &aport);
    int rc = pd_join_client_init(&j->jc, token, d->dd.node_id, d->hostname, adv, &pd_clock_real,
                                 pd_pki_drbg_rng(&s->drbg));
    if (rc) {
        snprintf(err, errlen, "%s", j->jc.err);
        pd_join_client_free(&j->jc);
        pd_free(j);
        return rc;
    }
    uv_tcp_init(d->loop, &j->tcp);
    uv_timer_init(d->loop, &j->timer);
    j->tcp.data = j->timer.data = j->creq.data = j;
    j->handles = 2;
    s->dial = j;
    uv_timer_start(&j->timer, timeout_cb, PD_SWARM_JOIN_TIMEOUT_MS, 0);
    if ((rc = uv_tcp_connect(&j->creq, &j->tcp, (struct sockaddr *)&ss, connect_cb)) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", j->addr, uv_strerror(rc));
        j->finished = 1;
        dial_close(j);
        return -PD_ECLOSED;
    }
    PD_INFO(&d->log, "swarm join: connecting to %s", j->addr);
    return 0;
}

void pd_join_dial_cancel(pd_daemon_t *d)
{
    pd_join_dial_t *j = d->swarm ? d->swarm->dial : NULL;
    if (!j)
        return;
    j->finished = 1;
    dial_close(j);
}
