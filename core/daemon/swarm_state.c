/* The node's cluster identity on disk (CA, node key and certificate, seeds), `swarm init`'s state,
 * and the join tokens in the Raft store. */
#include "swarm.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ca_state.h"
#include "gossip_io.h"
#include "gossip_rotation_run.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "raft_node.h"
#include "raft_transport.h"
#include "store_wire.h"

static int64_t wall_s(void) { return (int64_t)(pd_clock_wall(&pd_clock_real) / 1000); }

static int state_read(pd_daemon_t *d, const char *name, char *buf, size_t cap, size_t *len, int private_key,
                      char *err, size_t errlen)
{
    char path[PD_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", d->cfg.data_dir, name);
    return pd_pki_file_read(path, buf, cap, len, private_key, err, errlen);
}

static int state_exists(pd_daemon_t *d, const char *name)
{
    char path[PD_PATH_MAX + 32];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", d->cfg.data_dir, name);
    return stat(path, &st) == 0;
}

int pd_swarm_write(pd_daemon_t *d, const char *name, const void *data, size_t len, char *err, size_t errlen)
{
    return pd_pki_file_write(d->cfg.data_dir, name, data, len, err, errlen);
}

static int ensure_drbg(pd_swarm_t *s)
{
    if (s->drbg_ready)
        return 0;
    int rc = pd_pki_drbg_init(&s->drbg);
    s->drbg_ready = rc == 0;
    return rc;
}

static pd_swarm_t *swarm_of(pd_daemon_t *d)
{
    if (!d->swarm) {
        d->swarm = pd_calloc(1, sizeof *d->swarm);
        if (d->swarm) {
            pd_pki_ca_init(&d->swarm->ca);
            pd_pki_ca_init(&d->swarm->ca_prev);
            pd_pki_ident_init(&d->swarm->ident);
            if (pd_ca_state_open(d) != 0) {
                pd_free(d->swarm);
                d->swarm = NULL;
            }
        }
    }
    return d->swarm;
}

/* node.crt with node.key, or (a renewal stopped between its two renames) with node.key.new, which
 * then becomes node.key. Against the root that signed it: the current one or the previous one. */
static int load_node_cert(pd_daemon_t *d, const char *key_name, const char *crt, size_t crt_len, char *key,
                          const char **why)
{
    pd_swarm_t *s = d->swarm;
    char ferr[256];
    size_t key_len = 0;
    int rc = state_read(d, key_name, key, PD_PKI_PEM_MAX, &key_len, 1, ferr, sizeof ferr);
    if (rc == 0)
        rc = pd_pki_ident_load_key(&s->ident, key, key_len, why);
    if (rc == 0 && (rc = pd_pki_ident_set_cert(&s->ident, &s->ca, crt, crt_len, wall_s(), why)) != 0 &&
        s->ca_prev.crt.raw.len)
        rc = pd_pki_ident_set_cert(&s->ident, &s->ca_prev, crt, crt_len, wall_s(), why);
    return rc;
}

/* The trust bundle (ca.crt) and this node's key + certificate from the data dir. */
static int load_identity(pd_daemon_t *d, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    char *crt = pd_malloc(PD_CERT_BUNDLE_MAX), *key = pd_malloc(PD_PKI_PEM_MAX);
    size_t crt_len = 0;
    const char *why = NULL;
    int rc = crt && key ? 0 : -ENOMEM;
    if (state_exists(d, "ca.key"))
        PD_WARN(&d->log, "%s/ca.key is not used: the CA key lives in the Raft store; delete the file",
                d->cfg.data_dir);
    if (rc == 0)
        rc = state_read(d, "ca.crt", crt, PD_CERT_BUNDLE_MAX, &crt_len, 0, err, errlen);
    if (rc == 0 && (rc = pd_pki_ca_load_bundle(&s->ca, &s->ca_prev, crt, crt_len, &why)) != 0)
        snprintf(err, errlen, "%s/ca.crt: %s", d->cfg.data_dir, why ? why : pd_strerror(rc));
    if (rc == 0)
        rc = state_read(d, "node.crt", crt, PD_PKI_PEM_MAX, &crt_len, 0, err, errlen);
    if (rc == 0 && (rc = load_node_cert(d, "node.key", crt, crt_len, key, &why)) != 0 &&
        state_exists(d, "node.key.new") && load_node_cert(d, "node.key.new", crt, crt_len, key, &why) == 0) {
        char path[PD_PATH_MAX + 32], to[PD_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/node.key.new", d->cfg.data_dir);
        snprintf(to, sizeof to, "%s/node.key", d->cfg.data_dir);
        rc = rename(path, to) == 0 ? 0 : -errno;
        PD_INFO(&d->log, "certificate: finished a renewal that was interrupted (node.key.new)");
    }
    if (rc && !err[0])
        snprintf(err, errlen, "%s/node.crt: %s", d->cfg.data_dir, why ? why : pd_strerror(rc));
    if (rc == 0 && strcmp(s->ident.info.node_id, d->dd.node_id) != 0) {
        snprintf(err, errlen, "%s/node.crt names node %s, but this node is %s", d->cfg.data_dir,
                 s->ident.info.node_id, d->dd.node_id);
        rc = -PD_EAUTH;
    }
    if (rc == 0)
        pd_ca_note_issuer(d);
    if (key)
        memset(key, 0, PD_PKI_PEM_MAX);
    pd_free(crt);
    pd_free(key);
    return rc;
}

/* swarm.seeds: one gossip address per line, into cfg.join (for workers; managers find each other
 * through Raft state and gossip alike). */
static void load_seeds(pd_daemon_t *d)
{
    char buf[PD_SWARM_SEEDS_TEXT_MAX], err[256];
    size_t len = 0;
    if (state_read(d, "swarm.seeds", buf, sizeof buf, &len, 0, err, sizeof err) != 0)
        return;
    d->cfg.n_join = 0;
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line && d->cfg.n_join < PD_JOIN_MAX;
         line = strtok_r(NULL, "\n", &save))
        if (line[0])
            snprintf(d->cfg.join[d->cfg.n_join++], PD_ADDR_MAX, "%s", line);
}

int pd_swarm_open(pd_daemon_t *d, char *err, size_t errlen)
{
    pd_swarm_t *s = swarm_of(d);
    if (!s)
        return -ENOMEM;
    if (!state_exists(d, "node.crt"))
        return 0;
    int rc = load_identity(d, err, errlen);
    if (rc)
        return rc;
    s->active = 1;
    s->role = s->ident.info.role;
    if (s->role == PD_PKI_ROLE_WORKER) {
        d->cfg.worker = 1;
        d->cfg.bootstrap_expect = 0;
    } else {
        d->cfg.worker = 0;
        /* the init node makes a one-voter cluster (state recovers); a manager that joined by token
         * (it has seeds) waits for the leader to add it, and must never bootstrap its own */
        d->cfg.bootstrap_expect = state_exists(d, "swarm.seeds") ? 0 : 1;
    }
    load_seeds(d);
    return 1;
}

int pd_swarm_init_state(pd_daemon_t *d, char *err, size_t errlen)
{
    pd_swarm_t *s = swarm_of(d);
    if (!s)
        return -ENOMEM;
    int rc = ensure_drbg(s);
    if (rc) {
        snprintf(err, errlen, "cannot seed the random generator: %s", pd_strerror(rc));
        return rc;
    }
    pd_pki_rng_t rng = pd_pki_drbg_rng(&s->drbg);
    pd_rng_t idrng;
    pd_rng_seed(&idrng, pd_rng_os_seed());
    char cluster_id[26];
    pd_store_id_new(&idrng, cluster_id);
    int64_t now = wall_s();
    char *pem = pd_malloc(PD_PKI_PEM_MAX), *csr = pd_malloc(PD_PKI_PEM_MAX);
    size_t len = 0, csr_len = 0;
    const char *why = NULL;
    rc = pem && csr ? 0 : -ENOMEM;
    pd_pki_ca_free(&s->ca);
    pd_pki_ca_free(&s->ca_prev);
    pd_pki_ident_free(&s->ident);
    pd_pki_ident_init(&s->ident);
    if (rc == 0)
        rc = pd_pki_ca_create(&s->ca, cluster_id, now, 0, rng);
    if (rc == 0)
        rc = pd_pki_ident_generate(&s->ident, rng);
    if (rc == 0)
        rc = pd_pki_ident_csr(&s->ident, d->dd.node_id, rng, csr, PD_PKI_PEM_MAX, &csr_len);
    if (rc == 0)
        rc = pd_pki_ca_sign_csr(&s->ca, csr, csr_len, d->dd.node_id, PD_PKI_ROLE_MANAGER, now, s->cas->init_expiry_s, rng, pem,
                                PD_PKI_PEM_MAX, &len, &why);
    if (rc == 0)
        rc = pd_pki_ident_set_cert(&s->ident, &s->ca, pem, len, now, &why);
    if (rc) {
        snprintf(err, errlen, "cannot make the cluster CA and this node's certificate: %s",
                 why ? why : pd_strerror(rc));
        goto out;
    }
    /* The CA key stays in memory until it is committed to the Raft store with the tokens (never a
     * file); the certificate last: its presence is what marks the node as a member. */
    if ((rc = pd_pki_ca_cert_pem(&s->ca, csr, PD_PKI_PEM_MAX, &csr_len)) != 0 ||
        (rc = pd_swarm_write(d, "ca.crt", csr, csr_len, err, errlen)) != 0)
        goto out;
    if ((rc = pd_pki_ident_key_pem(&s->ident, csr, PD_PKI_PEM_MAX, &csr_len)) != 0 ||
        (rc = pd_swarm_write(d, "node.key", csr, csr_len, err, errlen)) != 0)
        goto out;
    if ((rc = pd_swarm_write(d, "node.crt", pem, len, err, errlen)) != 0)
        goto out;
    s->active = 1;
    s->role = PD_PKI_ROLE_MANAGER;
    pd_ca_note_issuer(d);
    d->cfg.worker = 0;
    d->cfg.bootstrap_expect = 1;
    d->cfg.n_join = 0;
    PD_INFO(&d->log, "swarm init: cluster %s, CA and manager certificate made", cluster_id);
out:
    if (csr)
        memset(csr, 0, PD_PKI_PEM_MAX);
    pd_free(csr);
    pd_free(pem);
    if (rc && !err[0])
        snprintf(err, errlen, "cannot write the cluster state: %s", pd_strerror(rc));
    return rc;
}

/* --- tokens in the Raft store ------------------------------------------------------------------ */

int pd_swarm_token_get(pd_daemon_t *d, pd_pki_role_t role, pd_pki_token_t *out, uint64_t *version)
{
    const pd_store_t *st = d->raft ? pd_raft_node_store(d) : NULL;
    const char *id = role == PD_PKI_ROLE_MANAGER ? PD_SWARM_TOKEN_MANAGER : PD_SWARM_TOKEN_WORKER;
    const pd_store_obj_t *o = st ? pd_store_get(st, PD_STORE_CLUSTER, id, strlen(id)) : NULL;
    const char *why;
    if (!o || pd_pki_token_parse(out, (const char *)o->data, o->data_len, &why) != 0)
        return -PD_ENOTFOUND;
    if (version)
        *version = o->version;
    return 0;
}

void pd_swarm_manager_addr(pd_daemon_t *d, char *out, size_t cap)
{
    char host[PD_ADDR_MAX];
    uint16_t port = 0;
    pd_config_parse_hostport(d->cfg.listen_addr, host, sizeof host, &port);
    snprintf(out, cap, strchr(d->advertise_host, ':') ? "[%s]:%u" : "%s:%u", d->advertise_host,
             port ? port : PD_RN_RAFT_PORT);
}

/* arg: the worker token text */
static int tokens_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                       msgpack_packer *pk, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    if (s)
        s->init_waiting = 0;
    if (rc) {
        PD_WARN(&d->log, "swarm init: the join tokens were not committed: %s", pd_strerror(rc));
        snprintf(err, errlen, "the cluster was made, but its join tokens were not committed (%s); "
                              "'peerctl swarm join-token worker' makes them", pd_strerror(rc));
        return rc;
    }
    char addr[PD_ADDR_MAX + 8];
    pd_swarm_manager_addr(d, addr, sizeof addr);
    PD_INFO(&d->log, "swarm: join tokens and the CA committed");
    if (s && s->ca.has_key) { /* the Raft store has the key now: none in memory any more */
        pd_pki_ca_t pub;
        const char *why = NULL;
        pd_pki_ca_init(&pub);
        if (pd_pki_ca_load(&pub, s->ca.crt.raw.p, s->ca.crt.raw.len, NULL, 0, &why) == 0) {
            pd_pki_ca_free(&s->ca);
            s->ca = pub;
        }
    }
    msgpack_pack_map(pk, 3);
    pd_mp_pack_kv_str(pk, "node_id", d->dd.node_id);
    pd_mp_pack_kv_str(pk, "addr", addr);
    pd_mp_pack_cstr(pk, "worker_token");
    msgpack_pack_str(pk, arg_len);
    msgpack_pack_str_body(pk, arg, arg_len);
    return 0;
}

/* Propose both tokens as new CLUSTER objects. */
static int tokens_write(pd_daemon_t *d, const pd_ctl_token_t *tok, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    pd_pki_rng_t rng = pd_pki_drbg_rng(&s->drbg);
    char w[PD_PKI_TOKEN_LEN + 1], m[PD_PKI_TOKEN_LEN + 1];
    int rc = pd_pki_token_generate(&s->new_worker, s->ca.digest, rng);
    if (rc == 0)
        rc = pd_pki_token_generate(&s->new_manager, s->ca.digest, rng);
    if (rc == 0)
        rc = pd_pki_token_format(&s->new_worker, w, sizeof w);
    if (rc == 0)
        rc = pd_pki_token_format(&s->new_manager, m, sizeof m);
    if (rc) {
        snprintf(err, errlen, "cannot make join tokens: %s", pd_strerror(rc));
        return rc;
    }
    /* this node's certificate is recorded like a joiner's ("joined.<node id>" = its role): node
     * promote reads it */
    char self[64];
    int self_len = snprintf(self, sizeof self, PD_SWARM_JOINED_PREFIX "%s", d->dd.node_id);
    pd_store_op_t ops[9] = {
        {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER,
         .id = {(const uint8_t *)PD_SWARM_TOKEN_WORKER, (uint32_t)strlen(PD_SWARM_TOKEN_WORKER)},
         .data = {(const uint8_t *)w, PD_PKI_TOKEN_LEN}},
        {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER,
         .id = {(const uint8_t *)PD_SWARM_TOKEN_MANAGER, (uint32_t)strlen(PD_SWARM_TOKEN_MANAGER)},
         .data = {(const uint8_t *)m, PD_PKI_TOKEN_LEN}},
        {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER, .id = {(const uint8_t *)self, (uint32_t)self_len},
         .data = {(const uint8_t *)"manager", 7}},
    };
    uint32_t n_ops = 3;
    /* the CA: certificate, key, validity, and the record of this node's certificate */
    char *crt = pd_malloc(PD_PKI_PEM_MAX), *key = pd_malloc(PD_PKI_PEM_MAX), expiry[24];
    size_t crt_len = 0, key_len = 0;
    pd_ca_issue_rec_t rec;
    rc = crt && key ? 0 : -ENOMEM;
    if (rc == 0)
        rc = pd_pki_ca_cert_pem(&s->ca, crt, PD_PKI_PEM_MAX, &crt_len);
    if (rc == 0)
        rc = pd_pki_ca_key_pem(&s->ca, key, PD_PKI_PEM_MAX, &key_len);
    if (rc == 0) {
        ops[n_ops++] = (pd_store_op_t){.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER,
                                       .id = {(const uint8_t *)PD_CA_REC_CERT, (uint32_t)strlen(PD_CA_REC_CERT)},
                                       .data = {(const uint8_t *)crt, (uint32_t)crt_len}};
        ops[n_ops++] = (pd_store_op_t){.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER,
                                       .id = {(const uint8_t *)PD_CA_REC_KEY, (uint32_t)strlen(PD_CA_REC_KEY)},
                                       .data = {(const uint8_t *)key, (uint32_t)key_len}};
        if (s->cas->init_expiry_s) {
            int n = snprintf(expiry, sizeof expiry, "%lld", (long long)s->cas->init_expiry_s);
            ops[n_ops++] = (pd_store_op_t){.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER,
                                           .id = {(const uint8_t *)PD_CA_REC_EXPIRY, (uint32_t)strlen(PD_CA_REC_EXPIRY)},
                                           .data = {(const uint8_t *)expiry, (uint32_t)n}};
        }
        int k = pd_ca_issue_ops(d, s->ca.digest, &s->ident.info, &rec, ops + n_ops);
        rc = k < 0 ? k : 0;
        n_ops += k > 0 ? (uint32_t)k : 0;
    }
    pd_store_txn_t txn = {.now_ms = (int64_t)pd_clock_wall(&pd_clock_real), .ops = ops, .n_ops = n_ops};
    uint8_t *entry = NULL;
    size_t elen = 0;
    if (rc == 0)
        rc = pd_store_wire_encode_txn(&txn, &entry, &elen);
    if (key)
        sodium_memzero(key, PD_PKI_PEM_MAX);
    pd_free(key);
    pd_free(crt);
    if (rc == 0)
        rc = pd_raft_node_write(d, tok, entry, elen, tokens_done, w, PD_PKI_TOKEN_LEN, err, errlen);
    else
        snprintf(err, errlen, "cannot encode the cluster's first records: %s", pd_strerror(rc));
    if (entry)
        sodium_memzero(entry, elen);
    pd_free(entry);
    memset(m, 0, sizeof m);
    return rc == PD_CTL_LATER ? 0 : rc;
}

static void tokens_timer_cb(uv_timer_t *t)
{
    pd_daemon_t *d = t->data;
    pd_swarm_t *s = d->swarm;
    if (d->stopping || !d->raft)
        return;
    if (pd_raft_node_leader_term(d) == 0) {
        if (uv_now(d->loop) < s->tokens_deadline_ms)
            return;
        if (s->init_waiting)
            pd_daemon_ctl_answer(d, &s->init_tok, -PD_ETIMEOUT,
                                 "the cluster was made, but this node did not become the Raft leader in time", NULL, 0);
        s->init_waiting = 0;
        uv_timer_stop(t);
        return;
    }
    uv_timer_stop(t);
    pd_pki_token_t tk;
    if (pd_swarm_token_get(d, PD_PKI_ROLE_WORKER, &tk, NULL) == 0) { /* already there (a restart) */
        pd_pki_token_wipe(&tk);
        return;
    }
    char err[256] = "";
    pd_ctl_token_t none = {0};
    int rc = tokens_write(d, s->init_waiting ? &s->init_tok : &none, err, sizeof err);
    if (rc) {
        PD_WARN(&d->log, "swarm: %s", err);
        if (s->init_waiting)
            pd_daemon_ctl_answer(d, &s->init_tok, rc, err, NULL, 0);
        s->init_waiting = 0;
    }
}

void pd_swarm_after_start(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    pd_ca_start(d); /* every member: certificate renewal */
    if (!s || !s->active || s->role != PD_PKI_ROLE_MANAGER || !s->ca.has_key || !d->raft)
        return;
    if (ensure_drbg(s) != 0)
        return;
    if (!s->timer_open) {
        uv_timer_init(d->loop, &s->timer);
        s->timer.data = d;
        s->timer_open = 1;
    }
    s->tokens_deadline_ms = uv_now(d->loop) + PD_SWARM_INIT_WAIT_MS;
    uv_timer_start(&s->timer, tokens_timer_cb, 50, 100);
}

/* --- the transport's TLS ---------------------------------------------------------------------- */

int pd_swarm_peer_check(void *ctx, const pd_pki_node_info_t *peer)
{
    pd_swarm_t *s = ctx;
    return s->removed_check ? s->removed_check(s->removed_ctx, peer) : 0;
}

void pd_swarm_set_removed_check(pd_daemon_t *d, pd_pki_peer_check_fn fn, void *ctx)
{
    pd_swarm_t *s = swarm_of(d);
    if (!s)
        return;
    s->removed_check = fn;
    s->removed_ctx = ctx;
}

int pd_swarm_transport_tls(pd_daemon_t *d, pd_rt_tls_t *out, char *err, size_t errlen)
{
    pd_swarm_t *s = d->swarm;
    if (!s || !s->active) {
        snprintf(err, errlen, "no node certificate: a manager is made only by 'swarm init' or a join with the "
                              "manager token");
        return -PD_ESTATE;
    }
    int rc = ensure_drbg(s);
    if (rc == 0)
        rc = pd_ca_transport_tls(d, out);
    if (rc)
        goto fail;
    PD_INFO(&d->log, "raft transport: mutual TLS as %s %s of cluster %s", pd_pki_role_name(s->role),
            s->ident.info.node_id, s->ca.cluster_id);
    return 0;
fail:
    snprintf(err, errlen, "cannot set up TLS for the Raft transport: %s", pd_strerror(rc));
    return rc;
}

void pd_swarm_attach_transport(pd_daemon_t *d, pd_rt_t *rt)
{
    pd_ca_attach(d, rt);                                /* the renewal RPC */
    pd_rt_set_member_rpc(rt, pd_gkey_member_request, d); /* members fetch the gossip keyring */
}

int pd_swarm_in_cluster(const pd_daemon_t *d)
{
    return d->gossip != NULL || (d->swarm && d->swarm->active);
}

/* --- leaving ---------------------------------------------------------------------------------- */

static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (!dir)
            return -errno;
        struct dirent *e;
        int rc = 0;
        while ((e = readdir(dir)) && rc == 0) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[PD_PATH_MAX + 300];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rc = remove_tree(sub);
        }
        closedir(dir);
        return rc ? rc : (rmdir(path) == 0 ? 0 : -errno);
    }
    return unlink(path) == 0 ? 0 : -errno;
}

int pd_swarm_forget(pd_daemon_t *d, char *err, size_t errlen)
{
    static const char *const names[] = {"node.crt", "node.key", "node.key.new", "ca.key", "ca.crt", "swarm.seeds",
                                        "gossip.keyring", "raft", "node_id"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[PD_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", d->cfg.data_dir, names[i]);
        int rc = remove_tree(path);
        if (rc) {
            snprintf(err, errlen, "cannot remove %s: %s", path, strerror(-rc));
            return rc;
        }
    }
    /* a new node id: the cluster remembers the old one as joined, so a rejoin is a new node */
    return pd_datadir_node_id(&d->dd, d->cfg.data_dir, err, errlen);
}

void pd_swarm_close(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    if (!s)
        return;
    if (s->timer_open && !uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, NULL);
    pd_ca_close(d);
    pd_swarm_seeds_stop(d);
    pd_join_start_stop(d);
    pd_join_dial_cancel(d);
}

void pd_swarm_free(pd_daemon_t *d)
{
    pd_swarm_t *s = d->swarm;
    if (!s)
        return;
    pd_ca_free(d);
    pd_pki_ident_free(&s->ident);
    pd_pki_ca_free(&s->ca);
    pd_pki_ca_free(&s->ca_prev);
    pd_pki_token_wipe(&s->new_worker);
    pd_pki_token_wipe(&s->new_manager);
    if (s->drbg_ready)
        pd_pki_drbg_free(&s->drbg);
    pd_free(s);
    d->swarm = NULL;
}
