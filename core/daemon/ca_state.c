/* The CA in the Raft store, the trust bundle, and the TLS config sets built from this node's
 * certificate (see ca_state.h). */
#include "ca_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "raft_node.h"
#include "raft_transport.h"

static int64_t wall_s(void) { return (int64_t)(pd_clock_wall(&pd_clock_real) / 1000); }

int pd_ca_state_open(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    if (!s)
        return -PD_ESTATE;
    if (s->cas)
        return 0;
    s->cas = pd_calloc(1, sizeof *s->cas);
    if (!s->cas)
        return -ENOMEM;
    pd_pki_ident_init(&s->cas->next);
    s->cas->jitter = randombytes_random();
    s->cas->backoff_ms = PD_CA_RETRY_MIN_MS;
    return 0;
}

/* --- TLS config sets ---------------------------------------------------------------------------- */

static void set_free(pd_tls_set_t *set)
{
    pd_pki_tls_conf_free(&set->server);
    pd_pki_tls_conf_free(&set->client);
    pd_pki_tls_conf_free(&set->renew);
    pd_pki_ident_free(&set->ident);
    pd_free(set);
}

static unsigned set_sessions(const pd_tls_set_t *set)
{
    return set->server.sessions + set->client.sessions + set->renew.sessions;
}

/* The root that signed our certificate (the other one, if any, is trusted as well). */
static const pd_pki_ca_t *own_root(pd_swarm_t *s)
{
    if (s->ca_prev.crt.raw.len && pd_pki_ca_signed(&s->ca, s->ident.crt.raw.p, s->ident.crt.raw.len) != 1)
        return &s->ca_prev;
    return &s->ca;
}

static int conf_make(pd_pki_tls_conf_t *c, pd_pki_tls_side_t side, pd_swarm_t *s, pd_tls_set_t *set,
                     const char *alpn)
{
    const pd_pki_ca_t *own = own_root(s), *other = own == &s->ca ? &s->ca_prev : &s->ca;
    int rc = pd_pki_tls_conf_init(c, side, own, &set->ident, &pd_clock_real, pd_pki_drbg_rng(&s->drbg));
    if (rc)
        return rc;
    if (other->crt.raw.len)
        rc = pd_pki_tls_conf_add_ca(c, other);
    if (rc == 0 && alpn)
        rc = pd_pki_tls_conf_set_alpn(c, alpn);
    pd_pki_tls_conf_set_peer_check(c, pd_swarm_peer_check, s);
    return rc;
}

/* A set from s->ident: its own copy of the key and certificate (the configs reference the key). */
static int set_build(pd_swarm_t *s, pd_tls_set_t **out)
{
    pd_tls_set_t *set = pd_calloc(1, sizeof *set);
    char *pem = pd_malloc(PD_PKI_PEM_MAX);
    size_t len = 0;
    const char *why = NULL;
    int rc = set && pem ? 0 : -ENOMEM;
    if (set) /* zeroed mbedTLS contexts are initialised ones: every conf is safe to free */
        pd_pki_ident_init(&set->ident);
    if (rc == 0 && !s->drbg_ready) {
        rc = pd_pki_drbg_init(&s->drbg);
        s->drbg_ready = rc == 0;
    }
    if (rc == 0 && (rc = pd_pki_ident_key_pem(&s->ident, pem, PD_PKI_PEM_MAX, &len)) == 0)
        rc = pd_pki_ident_load_key(&set->ident, pem, len, &why);
    if (rc == 0 && (rc = pd_pki_ident_cert_pem(&s->ident, pem, PD_PKI_PEM_MAX, &len)) == 0)
        rc = pd_pki_ident_set_cert(&set->ident, own_root(s), pem, len, wall_s(), &why);
    if (rc == 0)
        rc = conf_make(&set->server, PD_PKI_TLS_SERVER, s, set, PD_CERT_ALPN);
    if (rc == 0)
        rc = conf_make(&set->client, PD_PKI_TLS_CLIENT, s, set, NULL);
    if (rc == 0)
        rc = conf_make(&set->renew, PD_PKI_TLS_CLIENT, s, set, PD_CERT_ALPN);
    if (rc == 0)
        pd_pki_tls_conf_allow_anonymous(&set->server); /* joiners: the join RPC only */
    if (pem)
        sodium_memzero(pem, PD_PKI_PEM_MAX);
    pd_free(pem);
    if (rc) {
        if (set)
            set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

int pd_ca_transport_tls(pd_daemon_t *d, pd_rt_tls_t *out)
{
    pd_swarm_t *s = d->swarm;
    int rc = s && s->active ? pd_ca_state_open(d) : -PD_ESTATE;
    if (rc)
        return rc;
    pd_ca_state_t *cas = s->cas;
    if (!cas->tls && (rc = set_build(s, &cas->tls)) != 0) {
        PD_ERROR(&d->log, "raft transport: cannot set up mutual TLS from this node's certificate: %s",
                 pd_strerror(rc));
        return rc;
    }
    *out = (pd_rt_tls_t){.server = &cas->tls->server, .client = &cas->tls->client,
                         .join = pd_join_server_request, .join_ctx = d};
    return 0;
}

void pd_ca_attach(pd_daemon_t *d, pd_rt_t *rt)
{
    pd_rt_tls_t tls;
    if (!rt || pd_ca_transport_tls(d, &tls) != 0)
        return;
    (void)pd_rt_set_tls(rt, &tls);
    pd_rt_set_cert_rpc(rt, pd_cert_server_request, d);
}

int pd_ca_tls_reload(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    int rc = pd_ca_state_open(d);
    pd_tls_set_t *set = NULL;
    if (rc == 0)
        rc = set_build(s, &set);
    if (rc) {
        PD_WARN(&d->log, "certificate: cannot rebuild the TLS configs: %s (the old ones stay)", pd_strerror(rc));
        return rc;
    }
    pd_ca_state_t *cas = s->cas;
    if (cas->tls) { /* connections made with it keep it until they end */
        cas->tls->next = cas->retired;
        cas->retired = cas->tls;
    }
    cas->tls = set;
    pd_rt_t *rt = pd_raft_node_transport(d);
    if (rt)
        pd_ca_attach(d, rt);
    return 0;
}

void pd_ca_tls_sweep(pd_daemon_t *d)
{
    pd_ca_state_t *cas = d->swarm ? d->swarm->cas : NULL;
    for (pd_tls_set_t **pp = cas ? &cas->retired : NULL; pp && *pp;) {
        pd_tls_set_t *set = *pp;
        if (set_sessions(set) == 0) {
            *pp = set->next;
            set_free(set);
        } else {
            pp = &set->next;
        }
    }
}

void pd_ca_note_issuer(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    if (!s || !s->cas || !s->ident.has_crt)
        return;
    memcpy(s->cas->issuer, own_root(s)->digest, PD_PKI_DIGEST_LEN);
    s->cas->jitter = randombytes_random(); /* a new place in the next window */
}

/* --- the CA in the Raft store ---------------------------------------------------------------------- */

const pd_store_obj_t *pd_ca_rec(pd_daemon_t *d, const char *id)
{
    const pd_store_t *st = d->raft ? pd_raft_node_store(d) : NULL;
    return st ? pd_store_get(st, PD_STORE_CLUSTER, id, strlen(id)) : NULL;
}

int pd_ca_signer(pd_daemon_t *d, pd_pki_ca_t *out, char *err, size_t errlen)
{
    const pd_store_obj_t *crt = pd_ca_rec(d, PD_CA_REC_CERT), *key = pd_ca_rec(d, PD_CA_REC_KEY);
    const char *why = NULL;
    if (!crt || !key) {
        snprintf(err, errlen, "this manager has no CA key in its Raft store yet");
        return -PD_ESTATE;
    }
    int rc = pd_pki_ca_load(out, crt->data, crt->data_len, key->data, key->data_len, &why);
    if (rc)
        snprintf(err, errlen, "the CA in the Raft store does not load: %s", why ? why : pd_strerror(rc));
    return rc;
}

int64_t pd_ca_validity_s(pd_daemon_t *d)
{
    const pd_store_obj_t *o = pd_ca_rec(d, PD_CA_REC_EXPIRY);
    char buf[24];
    if (!o || o->data_len == 0 || o->data_len >= sizeof buf)
        return 0;
    memcpy(buf, o->data, o->data_len);
    buf[o->data_len] = '\0';
    long long v = strtoll(buf, NULL, 10);
    return v >= PD_PKI_NODE_MIN_S && v <= (long long)PD_PKI_NODE_DAYS_MAX * 86400 ? (int64_t)v : 0;
}

static size_t append(char *out, size_t cap, size_t off, const void *p, size_t n)
{
    if (off + n + 1 > cap)
        return 0;
    memcpy(out + off, p, n);
    out[off + n] = '\0';
    return off + n;
}

size_t pd_ca_store_bundle(pd_daemon_t *d, char *out, size_t cap)
{
    const pd_store_obj_t *crt = pd_ca_rec(d, PD_CA_REC_CERT), *prev = pd_ca_rec(d, PD_CA_REC_PREV);
    size_t n = crt ? append(out, cap, 0, crt->data, crt->data_len) : 0;
    if (n && prev)
        n = append(out, cap, n, prev->data, prev->data_len);
    return n;
}

size_t pd_ca_bundle(pd_swarm_t *s, char *out, size_t cap)
{
    size_t n = 0, m = 0;
    if (pd_pki_ca_cert_pem(&s->ca, out, cap, &n) != 0)
        return 0;
    if (s->ca_prev.crt.raw.len && pd_pki_ca_cert_pem(&s->ca_prev, out + n, cap - n, &m) != 0)
        return 0;
    return n + m;
}

static int same_root(const pd_pki_ca_t *a, const pd_pki_ca_t *b)
{
    if (a->crt.raw.len == 0 || b->crt.raw.len == 0)
        return a->crt.raw.len == b->crt.raw.len;
    return memcmp(a->digest, b->digest, PD_PKI_DIGEST_LEN) == 0;
}

int pd_ca_sync_from_store(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    char *pem = pd_malloc(PD_CERT_BUNDLE_MAX);
    size_t len = pem ? pd_ca_store_bundle(d, pem, PD_CERT_BUNDLE_MAX) : 0;
    pd_pki_ca_t cur, prev;
    pd_pki_ca_init(&cur);
    pd_pki_ca_init(&prev);
    const char *why = NULL;
    char err[256] = "";
    int changed = 0;
    /* Called every renewal tick: parse the bundle only when the store's copy, or the roots this
     * node holds (set on other paths too: start, renewal answers), changed since the last call. */
    if (len) {
        uint8_t seen[sizeof s->ca_bundle_seen];
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, sizeof seen);
        crypto_generichash_update(&h, (const uint8_t *)pem, len);
        crypto_generichash_update(&h, s->ca.digest, sizeof s->ca.digest);
        crypto_generichash_update(&h, s->ca_prev.digest, sizeof s->ca_prev.digest);
        crypto_generichash_final(&h, seen, sizeof seen);
        if (sodium_memcmp(seen, s->ca_bundle_seen, sizeof seen) == 0)
            len = 0;
        else
            memcpy(s->ca_bundle_seen, seen, sizeof seen);
    }
    if (len && pd_pki_ca_load_bundle(&cur, &prev, pem, len, &why) == 0 &&
        (!same_root(&cur, &s->ca) || !same_root(&prev, &s->ca_prev))) {
        if (pd_swarm_write(d, "ca.crt", pem, len, err, sizeof err) != 0) {
            PD_WARN(&d->log, "certificate: cannot store the new trust bundle: %s", err);
            sodium_memzero(s->ca_bundle_seen, sizeof s->ca_bundle_seen); /* try again next time */
        } else {
            char a[PD_CA_ROOTS_ID_LEN + 1];
            pd_ca_roots_id(cur.digest, prev.crt.raw.len ? prev.digest : NULL, a);
            pd_pki_ca_free(&s->ca);
            pd_pki_ca_free(&s->ca_prev);
            s->ca = cur; /* mbedTLS contexts are plain structs owning heap memory: moving is fine */
            s->ca_prev = prev;
            pd_pki_ca_init(&cur);
            pd_pki_ca_init(&prev);
            PD_INFO(&d->log, "certificate: the cluster's CA roots are now %s (new root : old root)", a);
            pd_ca_tls_reload(d);
            changed = 1;
        }
    }
    pd_pki_ca_free(&cur);
    pd_pki_ca_free(&prev);
    pd_free(pem);
    return changed;
}

int pd_ca_issue_ops(pd_daemon_t *d, const uint8_t issuer[PD_PKI_DIGEST_LEN], const pd_pki_node_info_t *info,
                    pd_ca_issue_rec_t *rec, pd_store_op_t ops[2])
{
    pd_ca_certrec_t r = {.not_after_s = info->not_after_s, .role = info->role};
    memcpy(r.issuer, issuer, PD_PKI_DIGEST_LEN);
    snprintf(r.serial, sizeof r.serial, "%s", info->serial);
    int idn = snprintf(rec->id, sizeof rec->id, PD_CA_REC_NODE "%s", info->node_id);
    size_t dn = pd_ca_certrec_format(&r, rec->data, sizeof rec->data);
    if (idn <= 0 || (size_t)idn >= sizeof rec->id || dn == 0)
        return -PD_EINTERNAL;
    pd_store_bytes_t id = {(const uint8_t *)rec->id, (uint32_t)idn};
    const pd_store_obj_t *old = pd_ca_rec(d, rec->id);
    int n = 0;
    if (old) /* replace: delete at the version read, then create (a racing issue fails, and retries) */
        ops[n++] = (pd_store_op_t){.op = PD_STORE_OP_DELETE, .kind = PD_STORE_CLUSTER, .version = old->version, .id = id};
    ops[n++] = (pd_store_op_t){.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER, .id = id,
                               .data = {(const uint8_t *)rec->data, (uint32_t)dn}};
    return n;
}

/* --- lifecycle ------------------------------------------------------------------------------------- */

void pd_ca_close(pd_daemon_t *d)
{
    pd_ca_state_t *cas = d->swarm ? d->swarm->cas : NULL;
    if (!cas)
        return;
    if (cas->timer_open && !uv_is_closing((uv_handle_t *)&cas->timer))
        uv_close((uv_handle_t *)&cas->timer, NULL);
    pd_tls_call_cancel(cas->call);
    cas->call = NULL;
}

void pd_ca_free(pd_daemon_t *d)
{
    pd_ca_state_t *cas = d->swarm ? d->swarm->cas : NULL;
    if (!cas)
        return;
    while (cas->retired) {
        pd_tls_set_t *set = cas->retired;
        cas->retired = set->next;
        set_free(set);
    }
    if (cas->tls)
        set_free(cas->tls);
    pd_pki_ident_free(&cas->next);
    pd_free(cas);
    d->swarm->cas = NULL;
}
