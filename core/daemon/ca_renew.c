/* Every node renews its own certificate: a timer checks whether it is due (the renewal window, a
 * new root, an old root dropped, a role change), then asks a manager over the renewal RPC with a
 * new key, stores the answer (node.key.new → ca.crt → node.crt → node.key) and reloads TLS: new
 * connections use the new certificate, working ones go on with the old configs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ca_state.h"
#include "cert_wire.h"
#include "gossip_io.h"
#include "gossip_setup.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_file.h"
#include "pd_mp.h"
#include "raft_node.h"

#define MANAGERS_MAX 16

static int64_t wall_s(void) { return (int64_t)(pd_clock_wall(&pd_clock_real) / 1000); }

static void own_roots_id(pd_swarm_t *s, char out[PD_CA_ROOTS_ID_LEN + 1])
{
    pd_ca_roots_id(s->ca.digest, s->ca_prev.crt.raw.len ? s->ca_prev.digest : NULL, out);
}

/* A manager during a rotation, while workers are still on the old root (pd_ca_rotation_pending):
 * they trust only the old root until they renew, through a manager still on it. */
static int manager_waits(pd_daemon_t *d, const pd_pki_node_info_t *info)
{
    const pd_store_obj_t *prev = pd_ca_rec(d, PD_CA_REC_PREV);
    int64_t now = wall_s();
    if (!prev || (uint64_t)(pd_clock_wall(&pd_clock_real) - (uint64_t)prev->created_ms) > PD_CA_MANAGER_WAIT_MS ||
        info->not_after_s - now < (info->not_after_s - pd_pki_issued_at_s(info)) / 5)
        return 0;
    const char *first;
    char buf[PD_NODE_ID_LEN + 1];
    return pd_ca_pending(d, 1, &first, buf) > 0;
}

/* Why this node should renew now, or NULL. */
static const char *due(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    pd_ca_state_t *cas = s->cas;
    const pd_pki_node_info_t *info = &s->ident.info;
    if ((info->role == PD_PKI_ROLE_MANAGER) != !d->cfg.worker)
        return d->cfg.worker ? "demoted to worker" : "promoted to manager";
    if (manager_waits(d, info))
        return NULL;
    if (memcmp(cas->issuer, s->ca.digest, PD_PKI_DIGEST_LEN) != 0)
        return "the cluster CA was rotated";
    if (!pd_raft_node_store(d) && d->gossip) { /* a worker hears of roots changes by gossip */
        pd_gtable_view_t v;
        char mine[PD_CA_ROOTS_ID_LEN + 1];
        own_roots_id(s, mine);
        if (pd_gtable_get(pd_gagent_table(pd_gossip_io_agent(d->gossip)), PD_CA_GOSSIP_TABLE, PD_CA_GOSSIP_KEY,
                          &v) == 0 &&
            (v.value_len != strlen(mine) || memcmp(v.value, mine, v.value_len) != 0))
            return "the cluster's CA roots changed";
    }
    if (pd_pki_renew_due(info, wall_s(), cas->jitter))
        return "its renewal time came";
    return NULL;
}

/* Raft addresses of the managers to ask: this node first when it is one, then live managers. */
static unsigned manager_addrs(pd_daemon_t *d, char out[][PD_ADDR_MAX + 8], unsigned max)
{
    unsigned n = 0;
    if (d->raft && n < max)
        pd_swarm_manager_addr(d, out[n++], PD_ADDR_MAX + 8);
    pd_swim_t *sw = d->gossip ? pd_gagent_swim(pd_gossip_io_agent(d->gossip)) : NULL;
    uint32_t total = sw ? pd_swim_count(sw, -1) : 0;
    for (uint32_t i = 0; i < total && n < max; i++) {
        pd_swim_member_info_t m;
        char host[256], role[32];
        msgpack_unpacked u;
        if (pd_swim_member_at(sw, i, &m) != 0 || m.state != PD_SWIM_ALIVE || strcmp(m.node, d->dd.node_id) == 0)
            continue;
        pd_gossip_meta_decode(m.meta, m.meta_len, host, sizeof host, role, sizeof role);
        if (strcmp(role, "manager") != 0 || !m.meta_len || pd_mp_unpack(m.meta, m.meta_len, &u) != 0)
            continue;
        if (pd_mp_get_strbuf(&u.data, "ra", out[n], PD_ADDR_MAX + 8) == 0 && out[n][0])
            n++;
        msgpack_unpacked_destroy(&u);
    }
    return n;
}

/* A node that was down for a whole CA rotation holds a certificate that no manager trusts any
 * more, and no retry can mend that: the log says what does. */
static const char *renew_hint(const char *why)
{
    return why && strstr(why, "not signed by this cluster's CA")
               ? "; if this node was down during a CA rotation it must leave (peerctl swarm leave, "
                 "--force on a manager) and join again with a current token (docs/pki.md)"
               : "";
}

static void retry_later(pd_daemon_t *d, const char *what, const char *why)
{
    pd_ca_state_t *cas = d->swarm->cas;
    cas->renew_failures++;
    cas->next_try_ms = uv_now(d->loop) + cas->backoff_ms;
    cas->backoff_ms = cas->backoff_ms * 2 > PD_CA_RETRY_MAX_MS ? PD_CA_RETRY_MAX_MS : cas->backoff_ms * 2;
    static pd_ratelimit_t rl;
    uint64_t hidden = 0;
    if (pd_ratelimit_ok(&rl, uv_now(d->loop), PD_LOG_RATE_INTERVAL_MS, &hidden))
        PD_WARN(&d->log, "certificate renewal: %s: %s%s (retrying; suppressed=%llu)", what, why, renew_hint(why),
                (unsigned long long)hidden);
}

/* The answer's certificate and bundle, written so that a crash at any point leaves a loadable
 * pair (swarm_state.c finishes an interrupted one from node.key.new). */
static int store_renewal(pd_daemon_t *d, const pd_cert_resp_t *resp, char *err, size_t errlen)
{
    pd_ca_state_t *cas = d->swarm->cas;
    char *pem = pd_malloc(PD_PKI_PEM_MAX);
    size_t len = 0;
    int rc = pem ? pd_pki_ident_key_pem(&cas->next, pem, PD_PKI_PEM_MAX, &len) : -ENOMEM;
    if (rc == 0)
        rc = pd_swarm_write(d, "node.key.new", pem, len, err, errlen);
    if (rc == 0)
        rc = pd_swarm_write(d, "ca.crt", resp->ca, resp->ca_len, err, errlen);
    if (rc == 0)
        rc = pd_swarm_write(d, "node.crt", resp->cert, resp->cert_len, err, errlen);
    if (rc == 0) {
        char from[PD_PATH_MAX + 32], to[PD_PATH_MAX + 32];
        snprintf(from, sizeof from, "%s/node.key.new", d->cfg.data_dir);
        snprintf(to, sizeof to, "%s/node.key", d->cfg.data_dir);
        rc = rename(from, to) == 0 ? pd_fsync_dir(d->cfg.data_dir) : -errno;
        if (rc)
            snprintf(err, errlen, "cannot rename %s into place: %s", from, strerror(-rc));
    }
    if (pem)
        sodium_memzero(pem, PD_PKI_PEM_MAX);
    pd_free(pem);
    return rc;
}

/* Check the answer against what we asked, then install it. */
static int install(pd_daemon_t *d, const pd_cert_resp_t *resp, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    pd_ca_state_t *cas = s->cas;
    pd_pki_ca_t cur, prev;
    pd_pki_ca_init(&cur);
    pd_pki_ca_init(&prev);
    const char *why = NULL;
    int rc = pd_pki_ca_load_bundle(&cur, &prev, resp->ca, resp->ca_len, &why);
    if (rc == 0 && strcmp(cur.cluster_id, s->ca.cluster_id) != 0) {
        why = "the CA bundle names another cluster";
        rc = -PD_EAUTH;
    }
    if (rc == 0)
        rc = pd_pki_ident_set_cert(&cas->next, &cur, resp->cert, resp->cert_len, wall_s(), &why);
    if (rc == 0 && strcmp(cas->next.info.node_id, d->dd.node_id) != 0) {
        why = "the certificate names another node";
        rc = -PD_EAUTH;
    }
    if (rc) {
        snprintf(err, errlen, "bad answer: %s", why ? why : pd_strerror(rc));
    } else if ((rc = store_renewal(d, resp, err, errlen)) == 0) {
        pd_pki_ident_free(&s->ident);
        s->ident = cas->next; /* moved: mbedTLS contexts own heap memory, the struct may move */
        pd_pki_ident_init(&cas->next);
        pd_pki_ca_free(&s->ca);
        pd_pki_ca_free(&s->ca_prev);
        s->ca = cur;
        s->ca_prev = prev;
        pd_pki_ca_init(&cur);
        pd_pki_ca_init(&prev);
        s->role = s->ident.info.role;
        pd_ca_note_issuer(d);
        pd_ca_tls_reload(d);
    }
    pd_pki_ca_free(&cur);
    pd_pki_ca_free(&prev);
    return rc;
}

static void renew_done(void *ctx, int rc, const char *err, const uint8_t *body, size_t len)
{
    pd_daemon_t *d = ctx;
    pd_ca_state_t *cas = d->swarm->cas;
    cas->call = NULL;
    if (rc)
        return retry_later(d, "no answer", err);
    pd_cert_resp_t *resp = pd_malloc(sizeof *resp);
    const char *why = NULL;
    char ierr[256] = "";
    if (!resp)
        return retry_later(d, "no answer", "out of memory");
    if ((rc = pd_cert_resp_decode(body, len, resp, &why)) != 0)
        retry_later(d, "bad answer", why);
    else if (resp->rc)
        retry_later(d, "refused by the manager", resp->err);
    else if ((rc = install(d, resp, ierr, sizeof ierr)) != 0)
        retry_later(d, "cannot install the new certificate", ierr);
    else {
        const pd_pki_node_info_t *info = &d->swarm->ident.info;
        cas->renewals++;
        cas->backoff_ms = PD_CA_RETRY_MIN_MS;
        cas->next_try_ms = uv_now(d->loop) + PD_CA_RETRY_MIN_MS;
        PD_INFO(&d->log, "certificate renewed: %s, serial %.16s..., valid until %lld", pd_pki_role_name(info->role),
                info->serial, (long long)info->not_after_s);
    }
    sodium_memzero(resp, sizeof *resp);
    pd_free(resp);
}

static void start(pd_daemon_t *d, const char *why)
{
    pd_swarm_t *s = d->swarm;
    pd_ca_state_t *cas = s->cas;
    char addrs[MANAGERS_MAX][PD_ADDR_MAX + 8];
    unsigned n = manager_addrs(d, addrs, MANAGERS_MAX);
    if (n == 0)
        return retry_later(d, why, "no manager reachable");
    pd_cert_req_t *req = pd_calloc(1, sizeof *req);
    if (!req)
        return retry_later(d, why, "out of memory");
    pd_pki_rng_t rng = pd_pki_drbg_rng(&s->drbg);
    int rc = pd_pki_ident_generate(&cas->next, rng);
    if (rc == 0)
        rc = pd_pki_ident_csr(&cas->next, d->dd.node_id, rng, req->csr, sizeof req->csr, &req->csr_len);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (rc == 0)
        rc = pd_cert_req_encode(req, &sb);
    const char *addr = addrs[cas->pick++ % n];
    if (rc == 0)
        rc = pd_tls_call_start(d->loop, addr, &cas->tls->renew, sb.data, sb.size, PD_CERT_MSG_MAX, PD_CA_CALL_TIMEOUT_MS,
                               renew_done, d, &cas->call);
    msgpack_sbuffer_destroy(&sb);
    pd_free(req);
    if (rc)
        return retry_later(d, why, pd_strerror(rc));
    PD_INFO(&d->log, "certificate renewal (%s): asking the manager at %s", why, addr);
}

void pd_ca_renew_check(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    pd_ca_state_t *cas = s ? s->cas : NULL;
    if (!cas || !s->active || cas->call || !cas->tls || !s->drbg_ready || uv_now(d->loop) < cas->next_try_ms)
        return;
    const char *why = due(d);
    if (why)
        start(d, why);
}

static void tick(uv_timer_t *t)
{
    pd_daemon_t *d = t->data;
    pd_swarm_t *s = d->swarm;
    if (d->stopping || !s || !s->active || !s->cas)
        return;
    pd_ca_tls_sweep(d);
    if (!s->cas->tls && pd_ca_tls_reload(d) != 0) /* a worker: no transport built it */
        return;
    if (pd_raft_node_store(d))
        pd_ca_sync_from_store(d);
    if (pd_raft_node_leader_term(d))
        pd_ca_lead_round(d);
    else
        s->cas->published[0] = '\0'; /* leading again later: publish again */
    pd_ca_renew_check(d);
}

void pd_ca_start(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    if (!s || !s->active || pd_ca_state_open(d) != 0 || s->cas->timer_open)
        return;
    if (!s->drbg_ready && pd_pki_drbg_init(&s->drbg) == 0)
        s->drbg_ready = 1;
    uv_timer_init(d->loop, &s->cas->timer);
    s->cas->timer.data = d;
    s->cas->timer_open = 1;
    uv_timer_start(&s->cas->timer, tick, PD_CA_TICK_MS, PD_CA_TICK_MS);
}
