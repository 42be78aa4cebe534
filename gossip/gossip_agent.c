#include "gossip_agent.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"

enum { AGENT_PKTS_MAX = 256 };

struct pd_gagent {
    char node_id[PD_SWIM_ID_MAX + 1];
    pd_keyring_t keyring;
    pd_gcrypto_t crypto;
    pd_swim_t *swim;
    pd_gtable_t *table;
    pd_log_t log;
    int deterministic_nonces;
    uint64_t now_ms; /* of the call in progress, for delegate callbacks */
    uint64_t next_sweep_ms;
    /* What the last sweep saw (table versions applied, membership events): the same again means
     * the same answer, and a sweep walks every entry (a DNS server's 1 ms stall each second). */
    uint64_t swept_applied, swept_events, member_events;
    int swept, sweep_more;

    uint8_t *state_buf; /* local push/pull state, rebuilt per request */
    size_t state_cap;
    uint8_t *open_buf; /* decrypted frame */
    size_t open_cap;

    pd_gagent_pkt_t pkts[AGENT_PKTS_MAX];
    uint8_t *frames[AGENT_PKTS_MAX];
    size_t n_pkts;
    pd_gagent_stats_t stats;
};

/* ---- delegate: the endpoint table on top of SWIM ---- */
static int d_local_state(void *ctx, int join, const uint8_t **data, size_t *len)
{
    pd_gagent_t *a = ctx;
    size_t cap = PD_GTABLE_STATE_MAX;
    if (!a->state_buf) {
        a->state_buf = pd_malloc(cap);
        if (!a->state_buf)
            return -ENOMEM;
        a->state_cap = cap;
    }
    size_t n = 0;
    int rc = pd_gtable_encode_state(a->table, a->state_buf, a->state_cap, &n);
    if (rc)
        return rc;
    *data = a->state_buf;
    *len = n;
    return 0;
}

static void d_merge_state(void *ctx, const uint8_t *data, size_t len, int join)
{
    pd_gagent_t *a = ctx;
    size_t changed = 0;
    pd_gtable_merge_state(a->table, data, len, a->now_ms, &changed);
}

static void d_notify_msg(void *ctx, const uint8_t *data, size_t len)
{
    pd_gagent_t *a = ctx;
    int changed = 0;
    pd_gtable_msg_t fwd;
    if (pd_gtable_merge_update_fwd(a->table, data, len, a->now_ms, &changed, &fwd) == 0 && changed)
        pd_swim_broadcast(a->swim, fwd.skey, sizeof fwd.skey, fwd.data, fwd.len);
}

static void d_notify_gone(void *ctx, const char *node_id, int left)
{
    pd_gagent_t *a = ctx;
    if (strcmp(node_id, a->node_id) != 0)
        pd_gtable_owner_down(a->table, node_id, a->now_ms);
}

static uint64_t d_state_digest(void *ctx)
{
    pd_gagent_t *a = ctx;
    return pd_gtable_state_digest(a->table);
}

void pd_gagent_config_default(pd_gagent_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    pd_swim_config_default(&cfg->swim);
    cfg->label = "peerd";
}

int pd_gagent_create(const pd_gagent_config_t *cfg, uint64_t now_ms, pd_gagent_t **out)
{
    if (!cfg->node_id || !*cfg->node_id || strlen(cfg->node_id) > PD_SWIM_ID_MAX)
        return -PD_EUSAGE;
    if ((!cfg->keyring || cfg->keyring->count == 0) && !cfg->allow_plaintext)
        return -PD_EUSAGE; /* no key and no explicit plaintext: refuse rather than talk in clear */
    pd_gagent_t *a = pd_calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    snprintf(a->node_id, sizeof a->node_id, "%s", cfg->node_id);
    a->log = cfg->log ? *cfg->log : pd_log_null;
    a->deterministic_nonces = cfg->deterministic_nonces;
    a->now_ms = now_ms;
    if (cfg->keyring)
        a->keyring = *cfg->keyring;
    int rc = pd_gcrypto_init(&a->crypto, &a->keyring, cfg->label,
                             cfg->allow_plaintext ? PD_GCRYPTO_ALLOW_PLAINTEXT : 0);
    pd_gtable_config_t tc = {.node_id = a->node_id, .log = &a->log};
    if (rc == 0)
        rc = pd_gtable_create(&tc, &a->table);
    pd_swim_delegate_t del = {a, d_local_state, d_merge_state, d_notify_msg, d_notify_gone, d_state_digest};
    /* SWIM's packet budget is for its plaintext; the sealed frame must still fit one datagram. */
    pd_swim_config_t sc = cfg->swim;
    size_t frame_extra = PD_GCRYPTO_OVERHEAD + 2 + (cfg->label ? strlen(cfg->label) : 0);
    if (sc.packet_max > frame_extra + PD_SWIM_PACKET_MIN)
        sc.packet_max -= (uint32_t)frame_extra;
    if (rc == 0)
        rc = pd_swim_create(&sc, a->node_id, &cfg->addr, cfg->meta, cfg->meta_len, &del, &a->log,
                            now_ms, &a->swim);
    if (rc == 0) {
        a->open_cap = 64 * 1024;
        a->open_buf = pd_malloc(a->open_cap);
        if (!a->open_buf)
            rc = -ENOMEM;
    }
    if (rc) {
        pd_gagent_destroy(a);
        return rc;
    }
    *out = a;
    return 0;
}

static void free_frames(pd_gagent_t *a)
{
    for (size_t i = 0; i < a->n_pkts; i++) {
        pd_free(a->frames[i]);
        a->frames[i] = NULL;
    }
    a->n_pkts = 0;
}

void pd_gagent_destroy(pd_gagent_t *a)
{
    if (!a)
        return;
    free_frames(a);
    if (a->swim)
        pd_swim_destroy(a->swim);
    if (a->table)
        pd_gtable_destroy(a->table);
    pd_keyring_free(&a->keyring);
    pd_free(a->state_buf);
    pd_free(a->open_buf);
    pd_free(a);
}

int pd_gagent_recv(pd_gagent_t *a, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *from,
                   const uint8_t *frame, size_t len, int stream)
{
    a->now_ms = now_ms;
    a->stats.frames_in++;
    a->stats.bytes_in += len;
    if (len > a->open_cap) {
        if (len > PD_GCRYPTO_FRAME_MAX)
            return -PD_ETOOBIG;
        uint8_t *nb = pd_malloc(len);
        if (!nb)
            return -ENOMEM;
        pd_free(a->open_buf);
        a->open_buf = nb;
        a->open_cap = len;
    }
    size_t n = 0;
    int rc = pd_gcrypto_open(&a->crypto, frame, len, a->open_buf, a->open_cap, &n);
    if (rc)
        return rc; /* counted in the crypto stats */
    rc = pd_swim_recv(a->swim, now_ms, rng, from, a->open_buf, n, stream ? PD_SWIM_PKT_STREAM : 0);
    if (rc)
        a->stats.decode_errors++;
    return rc;
}

/* Entries are visible only while their owner is a member. An update still being gossiped, or a
 * push/pull state from a node that restarted meanwhile, can bring back entries of a node that
 * died and was forgotten here, and the table shows an owner it never heard of as alive. Once a
 * second, if an entry or a member has changed since the last sweep, hide the entries of owners
 * SWIM does not hold alive or suspect; a JOIN or ALIVE_AGAIN event shows them again
 * (apply_events). Owners are collected first: the table must not change during the iteration. */
enum { SWEEP_OWNERS_MAX = 32 };

typedef struct {
    pd_gagent_t *a;
    char owners[SWEEP_OWNERS_MAX][PD_GTABLE_OWNER_MAX + 1];
    size_t n;
} sweep_t;

static int sweep_visit(void *ctx, const pd_gtable_view_t *e)
{
    sweep_t *sw = ctx;
    pd_swim_member_info_t mi;
    if (strcmp(e->owner, sw->a->node_id) == 0 || strcmp(e->owner, PD_GTABLE_CLUSTER_OWNER) == 0 ||
        (pd_swim_member(sw->a->swim, e->owner, &mi) == 0 &&
         (mi.state == PD_SWIM_ALIVE || mi.state == PD_SWIM_SUSPECT)))
        return 0;
    for (size_t i = 0; i < sw->n; i++) {
        if (strcmp(sw->owners[i], e->owner) == 0)
            return 0;
    }
    snprintf(sw->owners[sw->n++], sizeof sw->owners[0], "%s", e->owner);
    return sw->n == SWEEP_OWNERS_MAX; /* the rest next time */
}

static void sweep_owners(pd_gagent_t *a, uint64_t now_ms)
{
    if (now_ms < a->next_sweep_ms)
        return;
    a->next_sweep_ms = now_ms + 1000;
    uint64_t applied = pd_gtable_stats(a->table)->applied;
    if (a->swept && !a->sweep_more && applied == a->swept_applied && a->member_events == a->swept_events)
        return; /* no entry and no member changed since: nothing new to hide */
    sweep_t *sw = pd_malloc(sizeof *sw);
    if (!sw)
        return;
    sw->a = a, sw->n = 0;
    pd_gtable_foreach_prefix(a->table, "", sweep_visit, sw);
    for (size_t i = 0; i < sw->n; i++)
        pd_gtable_owner_down(a->table, sw->owners[i], now_ms);
    a->sweep_more = sw->n == SWEEP_OWNERS_MAX;
    a->swept = 1, a->swept_applied = applied, a->swept_events = a->member_events;
    pd_free(sw);
}

int pd_gagent_tick(pd_gagent_t *a, uint64_t now_ms, pd_rng_t *rng)
{
    a->now_ms = now_ms;
    pd_gtable_tick(a->table, now_ms);
    sweep_owners(a, now_ms);
    return pd_swim_tick(a->swim, now_ms, rng);
}

int pd_gagent_join(pd_gagent_t *a, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *seeds, size_t n)
{
    a->now_ms = now_ms;
    return pd_swim_join(a->swim, now_ms, rng, seeds, n);
}

int pd_gagent_leave(pd_gagent_t *a, uint64_t now_ms, pd_rng_t *rng)
{
    a->now_ms = now_ms;
    return pd_swim_leave(a->swim, now_ms, rng);
}

int pd_gagent_set_meta(pd_gagent_t *a, uint64_t now_ms, const uint8_t *meta, size_t len)
{
    a->now_ms = now_ms;
    return pd_swim_set_meta(a->swim, now_ms, meta, len);
}

int pd_gagent_put(pd_gagent_t *a, uint64_t now_ms, const char *table, const char *key, const void *value,
                  size_t len)
{
    pd_gtable_msg_t msg;
    int rc = pd_gtable_put(a->table, table, key, value, len, now_ms, &msg);
    if (rc == 0)
        rc = pd_swim_broadcast(a->swim, msg.skey, sizeof msg.skey, msg.data, msg.len);
    return rc;
}

int pd_gagent_del(pd_gagent_t *a, uint64_t now_ms, const char *table, const char *key)
{
    pd_gtable_msg_t msg;
    int rc = pd_gtable_del(a->table, table, key, now_ms, &msg);
    if (rc == 0)
        rc = pd_swim_broadcast(a->swim, msg.skey, sizeof msg.skey, msg.data, msg.len);
    return rc;
}

int pd_gagent_put_cluster(pd_gagent_t *a, uint64_t now_ms, const char *table, const char *key,
                          const void *value, size_t len)
{
    pd_gtable_msg_t msg;
    int rc = pd_gtable_put_cluster(a->table, table, key, value, len, now_ms, &msg);
    if (rc == 0)
        rc = pd_swim_broadcast(a->swim, msg.skey, sizeof msg.skey, msg.data, msg.len);
    return rc;
}

int pd_gagent_del_cluster(pd_gagent_t *a, uint64_t now_ms, const char *table, const char *key)
{
    pd_gtable_msg_t msg;
    int rc = pd_gtable_del_cluster(a->table, table, key, now_ms, &msg);
    if (rc == 0)
        rc = pd_swim_broadcast(a->swim, msg.skey, sizeof msg.skey, msg.data, msg.len);
    return rc;
}

/* Membership events also drive the table: a node back from the dead shows its entries again. */
static void apply_events(pd_gagent_t *a, const pd_swim_ready_t *r)
{
    a->member_events += r->n_events;
    for (size_t i = 0; i < r->n_events; i++) {
        const pd_swim_event_t *ev = &r->events[i];
        if (strcmp(ev->node, a->node_id) == 0)
            continue;
        if (ev->type == PD_SWIM_EV_ALIVE_AGAIN || ev->type == PD_SWIM_EV_JOIN)
            pd_gtable_owner_up(a->table, ev->node);
    }
}

static int seal_one(pd_gagent_t *a, pd_rng_t *rng, const pd_swim_packet_t *p)
{
    uint8_t nonce[PD_GCRYPTO_NONCE_LEN];
    if (a->deterministic_nonces)
        pd_rng_fill(rng, nonce, sizeof nonce);
    else
        pd_gcrypto_nonce(nonce);
    size_t cap = p->len + PD_GCRYPTO_OVERHEAD + PD_GCRYPTO_LABEL_MAX + 2, n = 0;
    uint8_t *buf = pd_malloc(cap);
    if (!buf)
        return -ENOMEM;
    int rc = pd_gcrypto_seal(&a->crypto, nonce, p->data, p->len, buf, cap, &n);
    if (rc) {
        pd_free(buf);
        return rc;
    }
    a->frames[a->n_pkts] = buf;
    a->pkts[a->n_pkts] = (pd_gagent_pkt_t){p->addr, buf, n, (p->flags & PD_SWIM_PKT_STREAM) != 0};
    a->n_pkts++;
    a->stats.frames_out++;
    a->stats.bytes_out += n;
    return 0;
}

int pd_gagent_ready(pd_gagent_t *a, pd_rng_t *rng, pd_gagent_ready_t *out)
{
    pd_swim_ready_t r;
    pd_swim_ready(a->swim, &r);
    apply_events(a, &r);
    free_frames(a);
    for (size_t i = 0; i < r.n_packets && a->n_pkts < AGENT_PKTS_MAX; i++) {
        if (seal_one(a, rng, &r.packets[i]) != 0)
            a->stats.seal_errors++;
    }
    out->pkts = a->pkts;
    out->n_pkts = a->n_pkts;
    out->events = r.events;
    out->n_events = r.n_events;
    out->next_deadline_ms = r.next_deadline_ms;
    return 0;
}

void pd_gagent_advance(pd_gagent_t *a)
{
    free_frames(a);
    pd_swim_advance(a->swim);
}

pd_swim_t *pd_gagent_swim(pd_gagent_t *a) { return a->swim; }
pd_gtable_t *pd_gagent_table(pd_gagent_t *a) { return a->table; }
pd_keyring_t *pd_gagent_keyring(pd_gagent_t *a) { return &a->keyring; }
const pd_gcrypto_stats_t *pd_gagent_crypto_stats(const pd_gagent_t *a) { return &a->crypto.stats; }
const pd_gagent_stats_t *pd_gagent_stats(const pd_gagent_t *a) { return &a->stats; }
