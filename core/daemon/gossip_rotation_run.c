/* The swarm's gossip keyring in the daemon (gossip_rotation_run.h). */
#include "gossip_rotation_run.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gossip_io.h"
#include "gossip_keyfetch.h"
#include "gossip_keys.h"
#include "gossip_rotation.h"
#include "gossip_rotation_int.h"
#include "gossip_setup.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "raft_node.h"
#include "store_wire.h"
#include "swarm.h"
#include "tls_call.h"

#define KEYS_TABLE "_gossip"
#define ANNOUNCE_KEY "rotation"
#define CANDIDATES_MAX 16u

typedef struct gkey_fetch gkey_fetch_t;

struct pd_gkey {
    pd_daemon_t *d;
    uv_timer_t timer;
    int open;
    uint64_t applied_gen;      /* record generation of the ring we hold (0: none yet) */
    int proposing;             /* the leader's write in flight */
    uint64_t crypto_seen;      /* undecryptable frames counted at the last tick */
    int fetch_wanted;          /* at start, after undecryptable frames, or a new announced phase */
    int recovering;            /* ... one of the first two: re-announce ourselves once it worked */
    uint64_t fetch_after_ms;   /* no new fetch before (backoff) */
    uint64_t recover_after_ms;
    unsigned next_cand;        /* which manager to ask next (starts at a random one: spreads the load) */
    uint64_t announced_gen;    /* the newest phase the leader announced */
    gkey_fetch_t *fetch;       /* in flight */
    uint64_t stall_logged_gen;
};

struct gkey_fetch {
    pd_gkey_t *g;
    pd_tls_call_t *call;
    char addr[PD_ADDR_MAX + 8];
    pd_pki_tls_conf_t conf; /* per fetch: always the certificate and CA the node has now */
    int conf_ready;
    pd_gkf_client_t c;
};

static uint64_t now_ms(pd_gkey_t *g) { return uv_now(g->d->loop); }
static pd_keyring_t *live(pd_daemon_t *d) { return pd_gagent_keyring(pd_gossip_io_agent(d->gossip)); }

/* --- the record in the store --- */

int pd_gkey_record_get(const pd_store_t *s, pd_gkr_record_t *out, uint64_t *version)
{
    const pd_store_obj_t *o = s ? pd_store_get(s, PD_STORE_CLUSTER, PD_GKR_RECORD_ID, strlen(PD_GKR_RECORD_ID)) : NULL;
    if (!o)
        return -PD_ENOTFOUND;
    int rc = pd_gkr_record_decode(o->data, o->data_len, out);
    if (rc == 0 && version)
        *version = o->version;
    return rc;
}

int pd_gkey_propose(pd_daemon_t *d, const pd_ctl_token_t *tok, const pd_gkr_record_t *r, uint64_t version,
                    pd_rn_done_fn done, const void *arg, size_t arg_len, char *err, size_t errlen)
{
    uint8_t buf[PD_GKR_RECORD_MAX];
    size_t len = 0;
    int rc = pd_gkr_record_encode(r, buf, sizeof buf, &len);
    pd_store_op_t op = {.op = version ? PD_STORE_OP_UPDATE : PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER,
                        .version = version, .id = {(const uint8_t *)PD_GKR_RECORD_ID, strlen(PD_GKR_RECORD_ID)},
                        .data = {buf, (uint32_t)len}};
    pd_store_txn_t txn = {.now_ms = (int64_t)pd_clock_wall(&pd_clock_real), .ops = &op, .n_ops = 1};
    uint8_t *entry = NULL;
    size_t elen = 0;
    if (rc == 0)
        rc = pd_store_wire_encode_txn(&txn, &entry, &elen);
    sodium_memzero(buf, sizeof buf);
    if (rc) {
        snprintf(err, errlen, "cannot encode the gossip keyring record: %s", pd_strerror(rc));
        return rc;
    }
    rc = pd_raft_node_write(d, tok, entry, elen, done, arg, arg_len, err, errlen);
    sodium_memzero(entry, elen);
    pd_free(entry);
    return rc;
}

/* --- the members' acks --- */

/* "keys@<node>" = [primary id, other ids...] (gossip_keys.c publishes it). */
static void member_ids(pd_daemon_t *d, const char *node, pd_gkr_member_t *m)
{
    char key[96];
    snprintf(key, sizeof key, "keys@%s", node);
    pd_gtable_view_t v;
    m->reported = 0;
    m->n_ids = 0;
    if (pd_gtable_get(pd_gagent_table(pd_gossip_io_agent(d->gossip)), KEYS_TABLE, key, &v) != 0)
        return;
    msgpack_unpacked u;
    if (pd_mp_unpack(v.value, v.value_len, &u) != 0)
        return;
    if (u.data.type == MSGPACK_OBJECT_ARRAY) {
        m->reported = 1;
        for (uint32_t i = 0; i < u.data.via.array.size && m->n_ids < PD_KEYRING_KEYS_MAX; i++) {
            const msgpack_object *o = &u.data.via.array.ptr[i];
            if (o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == PD_KEYRING_ID_LEN)
                memcpy(m->ids[m->n_ids++], o->via.bin.ptr, PD_KEYRING_ID_LEN);
        }
    }
    msgpack_unpacked_destroy(&u);
}

int pd_gkey_survey(pd_daemon_t *d, const pd_gkr_record_t *r, pd_gkey_survey_t *out)
{
    memset(out, 0, sizeof *out);
    pd_swim_t *sw = pd_gagent_swim(pd_gossip_io_agent(d->gossip));
    uint32_t total = pd_swim_count(sw, -1);
    pd_gkr_member_t *m = pd_calloc(total ? total : 1, sizeof *m);
    char (*ids)[PD_SWIM_ID_MAX + 1] = pd_calloc(total ? total : 1, sizeof *ids);
    if (!m || !ids) {
        pd_free(m);
        pd_free(ids);
        return -ENOMEM;
    }
    size_t n = 0;
    for (uint32_t i = 0; i < total; i++) {
        pd_swim_member_info_t info;
        if (pd_swim_member_at(sw, i, &info) != 0 || (info.state != PD_SWIM_ALIVE && info.state != PD_SWIM_SUSPECT))
            continue;
        snprintf(ids[n], sizeof ids[n], "%s", info.node);
        m[n].node_id = ids[n];
        member_ids(d, info.node, &m[n]);
        n++;
    }
    pd_gkr_step(r, m, n, (int64_t)pd_clock_wall(&pd_clock_real), PD_GKR_STALL_MS, &out->step);
    for (unsigned i = 0; i < out->step.n_waiting && i < PD_GKEY_WAITING_MAX; i++)
        snprintf(out->waiting[i], sizeof out->waiting[i], "%s", out->step.waiting[i]);
    memset(out->step.waiting, 0, sizeof out->step.waiting); /* they pointed into ids */
    pd_free(m);
    pd_free(ids);
    return 0;
}

/* --- converging the live ring --- */

/* Make the live ring want (install what is missing, switch the primary, drop the rest); persist it
 * and publish our key ids (the ack). Frames seal under the new primary from the next one on. */
static int apply_ring(pd_gkey_t *g, const pd_keyring_t *want, uint64_t gen, const char *from)
{
    pd_daemon_t *d = g->d;
    pd_keyring_t *kr = live(d);
    if (gen > g->applied_gen)
        g->applied_gen = gen;
    if (pd_keyring_same(kr, want))
        return 0;
    pd_keyring_converge(kr, want);
    char hex[2 * PD_KEYRING_ID_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, pd_keyring_primary(kr)->id, PD_KEYRING_ID_LEN);
    PD_INFO(&d->log, "gossip keyring now %u key(s), primary %s (record gen %llu, from %s)", kr->count, hex,
            (unsigned long long)gen, from);
    pd_gossip_keys_changed(d);
    return 1;
}

/* Our live ring is a later phase of the record's rotation (our store is replaying older records). */
static int live_ahead(pd_daemon_t *d, const pd_gkr_record_t *r)
{
    const pd_keyring_t *kr = live(d);
    uint8_t ids[PD_KEYRING_KEYS_MAX][PD_KEYRING_ID_LEN];
    for (unsigned i = 0; i < kr->count; i++)
        memcpy(ids[i], kr->keys[i].id, PD_KEYRING_ID_LEN); /* keys[0] is the primary */
    return pd_gkr_ahead(r, (const uint8_t (*)[PD_KEYRING_ID_LEN])ids, kr->count);
}

/* --- the leader's announcement --- */

typedef struct {
    uint64_t gen;
    uint8_t phase;
    uint8_t ids[2][PD_KEYRING_ID_LEN];
    unsigned n_ids;
} announce_t;

static int announce_get(pd_daemon_t *d, announce_t *a)
{
    pd_gtable_view_t v;
    memset(a, 0, sizeof *a);
    if (pd_gtable_get(pd_gagent_table(pd_gossip_io_agent(d->gossip)), KEYS_TABLE, ANNOUNCE_KEY, &v) != 0)
        return -PD_ENOTFOUND;
    msgpack_unpacked u;
    if (pd_mp_unpack(v.value, v.value_len, &u) != 0)
        return -PD_EMALFORMED;
    uint64_t phase = 0;
    const msgpack_object *ids = u.data.type == MSGPACK_OBJECT_MAP ? pd_mp_get(&u.data, "ids") : NULL;
    int rc = ids && ids->type == MSGPACK_OBJECT_ARRAY && ids->via.array.size >= 1 && ids->via.array.size <= 2 &&
                     pd_mp_get_u64(&u.data, "gen", &a->gen) == 0 && pd_mp_get_u64(&u.data, "phase", &phase) == 0
                 ? 0 : -PD_EMALFORMED;
    for (uint32_t i = 0; rc == 0 && i < ids->via.array.size; i++) {
        const msgpack_object *o = &ids->via.array.ptr[i];
        if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != PD_KEYRING_ID_LEN)
            rc = -PD_EMALFORMED;
        else
            memcpy(a->ids[a->n_ids++], o->via.bin.ptr, PD_KEYRING_ID_LEN);
    }
    a->phase = (uint8_t)phase;
    msgpack_unpacked_destroy(&u);
    return rc;
}

static void announce(pd_gkey_t *g, const pd_gkr_record_t *r)
{
    pd_daemon_t *d = g->d;
    announce_t cur;
    if (announce_get(d, &cur) == 0 && cur.gen == r->gen)
        return;
    uint8_t ids[2][PD_KEYRING_ID_LEN];
    unsigned n = pd_gkr_ring_ids(r, ids);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pd_mp_pack_kv_u64(&pk, "gen", r->gen);
    pd_mp_pack_kv_u64(&pk, "phase", r->phase);
    pd_mp_pack_cstr(&pk, "ids");
    msgpack_pack_array(&pk, n);
    for (unsigned i = 0; i < n; i++) {
        msgpack_pack_bin(&pk, PD_KEYRING_ID_LEN);
        msgpack_pack_bin_body(&pk, ids[i], PD_KEYRING_ID_LEN);
    }
    if (pd_gagent_put_cluster(pd_gossip_io_agent(d->gossip), pd_gossip_io_now(d->gossip), KEYS_TABLE, ANNOUNCE_KEY,
                              sb.data, sb.size) == 0)
        pd_gossip_io_flush(d->gossip);
    msgpack_sbuffer_destroy(&sb);
}

/* --- the leader --- */

/* arg: the gkey state. The next round reads the outcome from the store. */
static int proposed(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                    msgpack_packer *pk, char *err, size_t errlen)
{
    if (d->gkey)
        d->gkey->proposing = 0;
    if (rc && rc != -PD_ECONFLICT && rc != -PD_EEXISTS)
        PD_WARN(&d->log, "gossip keyring: the record write failed: %s", pd_strerror(rc));
    msgpack_pack_nil(pk);
    return 0;
}

static void propose_bg(pd_gkey_t *g, const pd_gkr_record_t *r, uint64_t version)
{
    char err[256] = "";
    pd_ctl_token_t none = {0};
    int rc = pd_gkey_propose(g->d, &none, r, version, proposed, NULL, 0, err, sizeof err);
    if (rc == PD_CTL_LATER)
        g->proposing = 1;
    else if (rc)
        PD_WARN(&g->d->log, "gossip keyring: %s", err[0] ? err : pd_strerror(rc));
}

static void lead(pd_gkey_t *g, const pd_gkr_record_t *r, int have, uint64_t version)
{
    pd_daemon_t *d = g->d;
    if (g->proposing)
        return;
    if (!have) { /* the first record: the key made at init */
        pd_gkr_record_t first;
        pd_gkr_record_init(&first, pd_keyring_primary(live(d))->key, (int64_t)pd_clock_wall(&pd_clock_real));
        propose_bg(g, &first, 0);
        pd_gkr_record_wipe(&first);
        return;
    }
    announce(g, r);
    if (r->phase == PD_GKR_IDLE)
        return;
    pd_gkey_survey_t sv;
    if (pd_gkey_survey(d, r, &sv) != 0)
        return;
    if (sv.step.action == PD_GKR_ADVANCE) {
        pd_gkr_record_t next;
        pd_gkr_advance(r, (int64_t)pd_clock_wall(&pd_clock_real), &next);
        PD_INFO(&d->log, "gossip key rotation: %u/%u members acked phase %s; committing %s", sv.step.acked,
                sv.step.members, pd_gkr_phase_name(r->phase), pd_gkr_phase_name(next.phase));
        propose_bg(g, &next, version);
        pd_gkr_record_wipe(&next);
    } else if (sv.step.stalled && g->stall_logged_gen != r->gen) {
        g->stall_logged_gen = r->gen;
        PD_WARN(&d->log, "gossip key rotation stalled in phase %s for %llu s: %u member(s) have not acked, e.g. %s",
                pd_gkr_phase_name(r->phase), (unsigned long long)(sv.step.waiting_ms / 1000), sv.step.n_waiting,
                sv.waiting[0]);
    }
}

/* --- fetching the ring over mutual TLS --- */

static void fetch_free(gkey_fetch_t *f)
{
    if (f->g->fetch == f)
        f->g->fetch = NULL;
    pd_gkf_client_free(&f->c); /* the exchange first: it uses the config */
    if (f->conf_ready)
        pd_pki_tls_conf_free(&f->conf);
    pd_free(f);
}

static void fetch_done(void *ctx, int call_rc, const char *call_err, const uint8_t *body, size_t len)
{
    gkey_fetch_t *f = ctx;
    pd_gkey_t *g = f->g;
    pd_daemon_t *d = g->d;
    if (call_rc == 0) {
        char from[PD_NODE_ID_LEN + 48];
        snprintf(from, sizeof from, "manager %s over mTLS", f->c.manager);
        if (f->c.resp.gen < g->announced_gen)
            g->next_cand++; /* a manager still behind the announced phase: ask another next time */
        if (f->c.resp.gen > 0 && f->c.resp.gen >= g->applied_gen &&
            apply_ring(g, &f->c.resp.ring, f->c.resp.gen, from) && g->recovering)
            /* what we gossiped under the old key (our alive, a refutation) reached nobody: say
             * it again, now readable (a new incarnation, broadcast afresh) */
            pd_daemon_gossip_republish_meta(d);
        g->fetch_wanted = g->recovering = 0;
        g->fetch_after_ms = now_ms(g) + PD_GKEY_FETCH_RETRY_MS;
    } else {
        static pd_ratelimit_t rl;
        uint64_t hidden = 0;
        if (pd_ratelimit_ok(&rl, now_ms(g), PD_LOG_RATE_INTERVAL_MS, &hidden))
            PD_WARN(&d->log, "gossip keyring fetch via %s failed: %s suppressed=%llu", f->addr, call_err,
                    (unsigned long long)hidden);
        g->next_cand++;
        g->fetch_after_ms = now_ms(g) + PD_GKEY_FETCH_RETRY_MS;
    }
    fetch_free(f);
}

/* Stop the fetch in flight (shutdown). */
static void fetch_cancel(gkey_fetch_t *f)
{
    pd_tls_call_cancel(f->call);
    fetch_free(f);
}

static int conf_init(pd_daemon_t *d, pd_pki_tls_conf_t *conf)
{
    pd_swarm_t *s = d->swarm;
    if (!s->drbg_ready) {
        if (pd_pki_drbg_init(&s->drbg) != 0)
            return -PD_EINTERNAL;
        s->drbg_ready = 1;
    }
    return pd_pki_tls_conf_init(conf, PD_PKI_TLS_CLIENT, &s->ca, &s->ident, &pd_clock_real,
                                pd_pki_drbg_rng(&s->drbg));
}

static int fetch_start(pd_gkey_t *g, const char *addr)
{
    pd_daemon_t *d = g->d;
    gkey_fetch_t *f = pd_calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->g = g;
    snprintf(f->addr, sizeof f->addr, "%s", addr);
    f->conf_ready = conf_init(d, &f->conf) == 0;
    int rc = f->conf_ready ? pd_gkf_client_init(&f->c, &f->conf, d->dd.node_id) : -PD_EINTERNAL;
    if (rc == 0)
        rc = pd_tls_call_run(d->loop, addr, &f->c.x, PD_GKEY_FETCH_TIMEOUT_MS, fetch_done, f, &f->call);
    if (rc) {
        fetch_free(f);
        return rc;
    }
    g->fetch = f;
    return 0;
}

/* Where managers answer on 2377: the ones gossip shows ("ra" in their metadata), then the hosts of
 * swarm.seeds on the default port (after a restart with a stale key gossip shows nobody). */
static unsigned candidates(pd_daemon_t *d, char out[][PD_ADDR_MAX + 8], unsigned max)
{
    unsigned n = 0;
    pd_swim_t *sw = pd_gagent_swim(pd_gossip_io_agent(d->gossip));
    uint32_t total = pd_swim_count(sw, -1);
    for (uint32_t i = 0; i < total && n < max; i++) {
        pd_swim_member_info_t m;
        char role[32] = "", ra[PD_ADDR_MAX + 8] = "";
        if (pd_swim_member_at(sw, i, &m) != 0 || m.state != PD_SWIM_ALIVE || strcmp(m.node, d->dd.node_id) == 0)
            continue;
        msgpack_unpacked u;
        if (pd_mp_unpack(m.meta, m.meta_len, &u) != 0)
            continue;
        pd_mp_get_strbuf(&u.data, "r", role, sizeof role);
        pd_mp_get_strbuf(&u.data, "ra", ra, sizeof ra);
        msgpack_unpacked_destroy(&u);
        if (strcmp(role, "manager") == 0 && ra[0])
            snprintf(out[n++], PD_ADDR_MAX + 8, "%s", ra);
    }
    for (unsigned i = 0; i < d->cfg.n_join && n < max; i++) {
        char host[PD_ADDR_MAX];
        uint16_t port = 0;
        if (pd_config_parse_hostport(d->cfg.join[i], host, sizeof host, &port) != 0 ||
            strcmp(host, d->advertise_host) == 0)
            continue;
        snprintf(out[n++], PD_ADDR_MAX + 8, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, PD_RN_RAFT_PORT);
    }
    return n;
}

static void maybe_fetch(pd_gkey_t *g)
{
    if (g->fetch || now_ms(g) < g->fetch_after_ms)
        return;
    char cands[CANDIDATES_MAX][PD_ADDR_MAX + 8];
    unsigned n = candidates(g->d, cands, CANDIDATES_MAX);
    if (n == 0) {
        g->fetch_wanted = g->recovering = 0; /* nobody to ask (the first node of a cluster) */
        return;
    }
    const char *addr = cands[g->next_cand % n];
    if (fetch_start(g, addr) != 0) {
        g->next_cand++;
        g->fetch_after_ms = now_ms(g) + PD_GKEY_FETCH_RETRY_MS;
    }
}

/* --- every tick --- */

/* Frames we could not open since the last tick: we may have missed a rotation. */
static int undecryptable(pd_gkey_t *g)
{
    const pd_gcrypto_stats_t *c = pd_gagent_crypto_stats(pd_gossip_io_agent(g->d->gossip));
    uint64_t seen = c->unknown_key + c->auth_fail;
    int more = seen > g->crypto_seen;
    g->crypto_seen = seen;
    return more;
}

static void tick(uv_timer_t *t)
{
    pd_gkey_t *g = t->data;
    pd_daemon_t *d = g->d;
    if (d->stopping || !d->gossip)
        return;
    if (undecryptable(g) && now_ms(g) >= g->recover_after_ms) {
        g->fetch_wanted = g->recovering = 1;
        g->recover_after_ms = now_ms(g) + PD_GKEY_RECOVER_EVERY_MS;
    }
    const pd_store_t *s = d->raft ? pd_raft_node_store(d) : NULL;
    pd_gkr_record_t r;
    uint64_t version = 0;
    int have = s && pd_gkey_record_get(s, &r, &version) == 0;
    if (have && r.gen >= g->applied_gen && !live_ahead(d, &r)) {
        pd_keyring_t want;
        if (pd_gkr_ring(&r, &want) == 0) {
            apply_ring(g, &want, r.gen, "the Raft store");
            pd_keyring_free(&want);
        }
    }
    if (s && pd_raft_node_leader_term(d) > 0)
        lead(g, &r, have, version);
    if (have)
        pd_gkr_record_wipe(&r);
    if (!s) { /* a worker (or a locked manager): follow the announcement */
        announce_t a;
        if (announce_get(d, &a) == 0 && a.gen >= g->applied_gen) {
            pd_keyring_t *kr = live(d);
            int same = kr->count == a.n_ids && memcmp(pd_keyring_primary(kr)->id, a.ids[0], PD_KEYRING_ID_LEN) == 0;
            for (unsigned i = 1; same && i < a.n_ids; i++)
                same = pd_keyring_find(kr, a.ids[i]) != NULL;
            if (!same && !g->fetch_wanted) { /* a new phase: fetch it after a random delay, so the
                                               * workers of a large cluster do not all dial at once */
                uint32_t members = pd_swim_count(pd_gagent_swim(pd_gossip_io_agent(d->gossip)), PD_SWIM_ALIVE);
                uint32_t spread = members * PD_GKEY_SPREAD_PER_MEMBER_MS;
                spread = spread < PD_GKEY_SPREAD_MAX_MS ? spread : PD_GKEY_SPREAD_MAX_MS;
                uint64_t at = now_ms(g) + (spread ? randombytes_uniform(spread) : 0);
                g->fetch_after_ms = at > g->fetch_after_ms ? at : g->fetch_after_ms;
                g->fetch_wanted = 1;
            }
            g->announced_gen = a.gen;
        }
    }
    if (g->fetch_wanted)
        maybe_fetch(g);
}

void pd_gkey_start(pd_daemon_t *d)
{
    if (!d->swarm || !d->swarm->active || !d->gossip || d->cfg.gossip_plaintext || d->gkey)
        return;
    pd_gkey_t *g = pd_calloc(1, sizeof *g);
    if (!g)
        return;
    g->d = d;
    g->next_cand = randombytes_random();
    g->fetch_wanted = g->recovering = 1; /* at start: a key rotated while we were down is fetched at once */
    uv_timer_init(d->loop, &g->timer);
    g->timer.data = g;
    g->open = 1;
    uv_timer_start(&g->timer, tick, 200, PD_GKEY_TICK_MS);
    d->gkey = g;
}

void pd_gkey_stop(pd_daemon_t *d)
{
    pd_gkey_t *g = d->gkey;
    if (!g)
        return;
    if (g->fetch)
        fetch_cancel(g->fetch);
    if (g->open && !uv_is_closing((uv_handle_t *)&g->timer))
        uv_close((uv_handle_t *)&g->timer, NULL);
}

void pd_gkey_free(pd_daemon_t *d)
{
    pd_gkey_t *g = d->gkey;
    if (!g)
        return;
    pd_free(g);
    d->gkey = NULL;
}

/* --- the manager's side --- */

/* The ring to hand out: the committed record's, else the live one (gen 0). */
static int serving_ring(pd_daemon_t *d, pd_keyring_t *out, uint64_t *gen, uint8_t *phase)
{
    pd_gkr_record_t r;
    const pd_store_t *s = pd_raft_node_store(d);
    *gen = 0;
    *phase = PD_GKR_IDLE;
    if (s && pd_gkey_record_get(s, &r, NULL) == 0) {
        int rc = pd_gkr_ring(&r, out);
        *gen = r.gen;
        *phase = r.phase;
        pd_gkr_record_wipe(&r);
        return rc;
    }
    if (!d->gossip)
        return -PD_ESTATE;
    pd_keyring_init(out);
    const pd_keyring_t *kr = live(d);
    int rc = 0;
    for (unsigned i = 0; i < kr->count && rc == 0; i++)
        rc = pd_keyring_install(out, kr->keys[i].key);
    if (rc == 0 && kr->count)
        rc = pd_keyring_use(out, pd_keyring_primary(kr)->key);
    return rc;
}

void pd_gkey_member_request(void *ctx, pd_rt_t *rt, uint64_t conn, const char *node_id, int manager,
                            const uint8_t *payload, size_t len)
{
    pd_daemon_t *d = ctx;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pd_keyring_t ring;
    pd_keyring_init(&ring);
    uint64_t gen = 0;
    uint8_t phase = 0;
    int rc = pd_gkf_req_decode(payload, len);
    if (rc)
        pd_gkf_resp_encode(&sb, rc, "not a request this manager knows", 0, 0, NULL);
    else if (pd_raft_node_locked(d) || !pd_raft_node_store(d))
        pd_gkf_resp_encode(&sb, -PD_ESTATE, "this manager is locked or not running Raft", 0, 0, NULL);
    else if ((rc = serving_ring(d, &ring, &gen, &phase)) != 0)
        pd_gkf_resp_encode(&sb, rc, "this manager has no gossip keyring to give", 0, 0, NULL);
    else
        pd_gkf_resp_encode(&sb, 0, NULL, gen, phase, &ring);
    if (rc == 0)
        PD_INFO(&d->log, "gossip keyring sent to %s %s over mTLS (record gen %llu, phase %s)",
                manager ? "manager" : "worker", node_id, (unsigned long long)gen, pd_gkr_phase_name(phase));
    pd_rt_conn_reply(rt, conn, sb.data, sb.size);
    sodium_memzero(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    pd_keyring_free(&ring);
}

int pd_gkey_join_ring_text(pd_daemon_t *d, char *out, size_t cap, size_t *len)
{
    pd_keyring_t ring;
    uint64_t gen;
    uint8_t phase;
    int rc = serving_ring(d, &ring, &gen, &phase);
    if (rc)
        return rc;
    rc = pd_keyring_save_text(&ring, out, cap, len);
    pd_keyring_free(&ring);
    return rc;
}
