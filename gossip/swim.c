/* SWIM core entry points: lifecycle, input dispatch, the outbox and the deadline. The protocol
 * logic lives in swim_members.c (state rules), swim_probe.c (failure detection) and swim_sync.c
 * (gossip and push/pull). */
#include "swim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "swim_int.h"

void pd_swim_config_default(pd_swim_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->probe_interval_ms = 1000;
    c->probe_timeout_ms = 500;
    c->indirect_checks = 3;
    c->retransmit_mult = 4;
    c->retransmit_min = 12;
    c->suspicion_mult = 4;
    c->suspicion_max_timeout_mult = 6;
    c->suspicion_confirmations = 3;
    c->awareness_max = 8;
    c->gossip_interval_ms = 200;
    c->gossip_nodes = 3;
    c->gossip_to_dead_ms = 30000;
    c->pushpull_interval_ms = 30000;
    c->pushpull_timeout_ms = 10000;
    c->pushpull_max_inflight = 16;
    c->pushpull_accept_per_s = 128;
    c->dead_reap_ms = 30000;
    c->packet_max = PD_SWIM_PACKET_DEFAULT;
    c->queue_max = PD_SWIM_QUEUE_MAX;
    c->tcp_fallback = 1;
}

/* Detection time is (wait until some member probes the crashed node: about one probe interval,
 * exponentially distributed, since every member probes it once per N-1 intervals at a random phase)
 * + (that probe: one interval) + (the suspicion timeout: its minimum once suspicion_confirmations
 * independent failed probes are in, which confirmation probes bring within about one interval)
 * + dissemination. The probe interval is the lever on the first two and scales the third; each
 * probe costs a ping and an ack per member and interval (about 180 IP bytes sealed: 94 + 87),
 * which is the floor of the gossip bandwidth: 500 ms keeps it near 360 B/s per node, under
 * memberlist's ~370-400 at 1 s (its packets are bigger). A direct ack on a LAN takes well under a
 * millisecond, so the probe timeout is 200 ms (awareness stretches it when we are the slow one).
 * A suspect gets 2 x log10(N) intervals at least, and 6 times that until confirmations arrive: a
 * live node rarely fails three independent probes, and it hears of its suspicion at once (buddy
 * system). Gossip rounds every 100 ms: news still goes out retransmit-limit times in all (no more
 * bytes per update, none in a quiet cluster), only twice as fast, so refutations win their race
 * with suspicion timeouts by more and a death reaches every member ~150 ms sooner at N=128. */
void pd_swim_config_lan(pd_swim_config_t *c)
{
    pd_swim_config_default(c);
    c->probe_interval_ms = 500;
    c->probe_timeout_ms = 200;
    c->suspicion_mult = 2;
    c->gossip_interval_ms = 100;
}

int pd_swim_config_check(const pd_swim_config_t *c)
{
    int ok = c->probe_interval_ms > 0 && c->probe_timeout_ms > 0 &&
             c->probe_timeout_ms <= c->probe_interval_ms && c->indirect_checks <= PD_SWIM_INDIRECT_MAX &&
             c->retransmit_mult > 0 && c->retransmit_min <= PD_SWIM_RETRANSMIT_MAX &&
             c->suspicion_mult > 0 && c->suspicion_max_timeout_mult >= 1 &&
             c->suspicion_confirmations <= PD_SWIM_SUSPICION_CONFIRM_MAX && c->awareness_max >= 1 &&
             c->awareness_max <= PD_SWIM_AWARENESS_MAX && c->gossip_interval_ms > 0 &&
             c->pushpull_max_inflight <= PD_SWIM_PUSHPULL_CONCURRENT_MAX &&
             c->packet_max >= PD_SWIM_PACKET_MIN && c->packet_max <= PD_SWIM_UDP_MAX &&
             c->queue_max > 0 && c->queue_max <= PD_SWIM_QUEUE_MAX;
    return ok ? 0 : -PD_EUSAGE;
}

/* ---- helpers shared by the other files ---- */

uint32_t pd_swim__live(const pd_swim_t *s)
{
    return s->n_state[PD_SWIM_ALIVE] + s->n_state[PD_SWIM_SUSPECT];
}

uint64_t pd_swim__scaled(const pd_swim_t *s, uint64_t base_ms)
{
    return pd_swim_awareness_scale(&s->aw, base_ms);
}

uint32_t pd_swim__next_seq(pd_swim_t *s)
{
    return ++s->seq;
}

/* ---- outbox ---- */

/* Outbox arenas above this are given back at advance (a big push/pull must not pin memory), and
 * so are packet and event arrays above OUTBOX_ITEMS_KEEP entries (merging a join answer emits one
 * event per member: 1.7 MB at N=10,000, which a node would otherwise keep for its lifetime). */
enum { OUTBOX_KEEP = 64 * 1024, OUTBOX_ITEMS_KEEP = 256 };

static int out_reserve(pd_swim_t *s, size_t len, size_t *off)
{
    if (len > SIZE_MAX / 2 - s->out_len)
        return -PD_ETOOBIG;
    if (s->out_len + len > s->out_cap) {
        size_t ncap = s->out_cap ? s->out_cap : 4096;
        while (ncap < s->out_len + len)
            ncap *= 2;
        uint8_t *nb = pd_realloc(s->out_buf, ncap);
        if (!nb)
            return -ENOMEM;
        s->out_buf = nb, s->out_cap = ncap;
    }
    *off = s->out_len;
    s->out_len += len;
    return 0;
}

static int grow_pkts(pd_swim_t *s)
{
    uint32_t ncap = s->cap_out_pkts ? s->cap_out_pkts * 2 : 16;
    pd_swim_packet_t *np = pd_realloc(s->out_pkts, ncap * sizeof *np);
    if (!np)
        return -ENOMEM;
    s->out_pkts = np;
    size_t *no = pd_realloc(s->out_pkt_off, ncap * sizeof *no);
    if (!no)
        return -ENOMEM;
    s->out_pkt_off = no, s->cap_out_pkts = ncap;
    return 0;
}

int pd_swim__emit_packet(pd_swim_t *s, const pd_swim_addr_t *to, const char *node, const uint8_t *data,
                         size_t len, uint32_t flags)
{
    if (s->n_out_pkts >= PD_SWIM_OUTBOX_PACKETS_MAX) {
        s->stats.outbox_dropped++;
        return -PD_ELIMIT;
    }
    size_t off;
    if ((s->n_out_pkts == s->cap_out_pkts && grow_pkts(s) != 0) || out_reserve(s, len, &off) != 0) {
        s->stats.outbox_dropped++;
        return -ENOMEM;
    }
    memcpy(s->out_buf + off, data, len);
    pd_swim_packet_t *p = &s->out_pkts[s->n_out_pkts];
    s->out_pkt_off[s->n_out_pkts++] = off;
    p->addr = *to;
    size_t nl = node ? strnlen(node, PD_SWIM_ID_MAX) : 0;
    memcpy(p->node, node ? node : "", nl);
    p->node[nl] = '\0';
    p->data = NULL; /* set by pd_swim_ready: the arena may still move */
    p->len = len;
    p->flags = flags;
    return 0;
}

static int resize_evs(pd_swim_t *s, uint32_t ncap)
{
    pd_swim_event_t *ne = pd_realloc(s->out_evs, ncap * sizeof *ne);
    if (!ne)
        return -ENOMEM;
    s->out_evs = ne;
    size_t *no = pd_realloc(s->out_ev_off, ncap * sizeof *no);
    if (!no)
        return -ENOMEM;
    s->out_ev_off = no, s->cap_out_evs = ncap;
    return 0;
}

int pd_swim__reserve_events(pd_swim_t *s, uint32_t n)
{
    return s->cap_out_evs - s->n_out_evs >= n ? 0 : resize_evs(s, s->n_out_evs + n);
}

void pd_swim__emit_event(pd_swim_t *s, int type, const swim_member_t *m)
{
    if (s->n_out_evs == s->cap_out_evs && resize_evs(s, s->cap_out_evs ? s->cap_out_evs * 2 : 16) != 0) {
        s->stats.outbox_dropped++;
        return;
    }
    size_t off = SIZE_MAX;
    int with_meta = m->meta_len && (type == PD_SWIM_EV_JOIN || type == PD_SWIM_EV_UPDATE ||
                                    type == PD_SWIM_EV_ALIVE_AGAIN);
    if (with_meta && out_reserve(s, m->meta_len, &off) == 0)
        memcpy(s->out_buf + off, m->meta, m->meta_len);
    pd_swim_event_t *e = &s->out_evs[s->n_out_evs];
    s->out_ev_off[s->n_out_evs++] = off;
    e->type = (uint8_t)type;
    memcpy(e->node, m->id, (size_t)m->id_len + 1);
    e->addr = m->addr;
    e->inc = m->inc;
    e->meta_len = off == SIZE_MAX ? 0 : m->meta_len;
    e->meta = NULL;
    PD_DEBUG(&s->log, "swim event type=%d node=%s inc=%u", type, m->id, m->inc);
}

typedef struct {
    pd_swim_bytes_t *parts;
    uint32_t n;
    uint8_t *scratch;
    size_t used;
} piggy_t;

static void piggy_emit(void *ctx, const uint8_t *data, size_t len)
{
    piggy_t *pg = ctx;
    memcpy(pg->scratch + pg->used, data, len);
    pg->parts[pg->n++] = (pd_swim_bytes_t){pg->scratch + pg->used, (uint32_t)len};
    pg->used += len;
}

uint32_t pd_swim__retransmit_limit(const pd_swim_t *s)
{
    uint32_t limit = pd_swim_retransmit_limit(s->cfg.retransmit_mult, pd_swim__live(s));
    return limit < s->cfg.retransmit_min ? s->cfg.retransmit_min : limit;
}

int pd_swim__send_udp(pd_swim_t *s, const pd_swim_addr_t *to, const char *node,
                      const pd_swim_bytes_t *parts, uint32_t n)
{
    size_t budget = s->cfg.packet_max, fixed = 0, scratch_cap = 2 * (size_t)budget + 64;
    for (uint32_t i = 0; i < n; i++)
        fixed += parts[i].len + PD_SWIM_COMPOUND_PART_OVERHEAD;
    if (n == 1 && fixed > budget)
        return pd_swim__emit_packet(s, to, node, parts[0].p, parts[0].len, 0);
    pd_swim_bytes_t *all = s->piggy;
    if (n)
        memcpy(all, parts, n * sizeof *parts);
    piggy_t pg = {all, n, s->scratch, 0};
    size_t left = budget > fixed + PD_SWIM_COMPOUND_OVERHEAD ? budget - fixed - PD_SWIM_COMPOUND_OVERHEAD : 0;
    /* The queued messages are copied into the first half of the scratch (they fit the budget);
     * the compound is encoded after them. */
    pd_swim_queue_fill(&s->queue, pd_swim__retransmit_limit(s), left, PD_SWIM_COMPOUND_PART_OVERHEAD,
                       PD_SWIM_COMPOUND_MAX - n, piggy_emit, &pg);
    if (pg.n == 0)
        return 0; /* nothing to send (gossip with an empty queue) */
    if (pg.n == 1)
        return pd_swim__emit_packet(s, to, node, all[0].p, all[0].len, 0);
    size_t len = 0;
    int rc = pd_swim_wire_encode_compound(all, pg.n, s->scratch + pg.used, scratch_cap - pg.used, &len);
    return rc ? rc : pd_swim__emit_packet(s, to, node, s->scratch + pg.used, len, 0);
}

int pd_swim__send_msg(pd_swim_t *s, const pd_swim_addr_t *to, const char *node, const pd_swim_msg_t *m,
                      uint32_t flags)
{
    uint8_t buf[2048];
    size_t len;
    int rc = pd_swim_wire_encode(m, buf, sizeof buf, &len);
    if (rc)
        return rc;
    if (flags & PD_SWIM_PKT_STREAM)
        return pd_swim__emit_packet(s, to, node, buf, len, flags);
    pd_swim_bytes_t part = {buf, (uint32_t)len};
    return pd_swim__send_udp(s, to, node, &part, 1);
}

int pd_swim__queue_msg(pd_swim_t *s, const pd_swim_msg_t *m)
{
    if (s->quiet_merge && (m->type == PD_SWIM_MSG_ALIVE || m->type == PD_SWIM_MSG_DEAD) &&
        !(m->node.len == s->self->id_len && memcmp(m->node.p, s->self->id, m->node.len) == 0))
        return 0;
    uint8_t buf[2048], key[1 + PD_SWIM_ID_MAX];
    size_t len;
    int rc = pd_swim_wire_encode(m, buf, sizeof buf, &len);
    if (rc)
        return rc;
    /* One queued message per node: a newer alive/suspect/dead replaces the older one. */
    key[0] = 'n';
    memcpy(key + 1, m->node.p, m->node.len);
    uint64_t ev = s->queue.evicted;
    rc = pd_swim_queue_push(&s->queue, key, 1 + m->node.len, buf, len);
    s->stats.queue_evicted += s->queue.evicted - ev;
    return rc;
}

/* ---- lifecycle ---- */

int pd_swim_create(const pd_swim_config_t *cfg, const char *id, const pd_swim_addr_t *addr,
                   const uint8_t *meta, size_t meta_len, const pd_swim_delegate_t *delegate,
                   const pd_log_t *log, uint64_t now_ms, pd_swim_t **out)
{
    size_t id_len = id ? strlen(id) : 0;
    if (pd_swim_config_check(cfg) || !pd_swim_id_valid((const uint8_t *)id, id_len) || !addr ||
        meta_len > PD_SWIM_META_MAX)
        return -PD_EUSAGE;
    pd_swim_t *s = pd_calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    s->log = log ? *log : pd_log_null;
    if (delegate)
        s->dg = *delegate;
    pd_swim__members_init(s);
    pd_swim_queue_init(&s->queue, cfg->queue_max);
    s->scratch = pd_malloc(2 * (size_t)cfg->packet_max + 64);
    s->rx = pd_malloc(sizeof *s->rx);
    if (!s->scratch || !s->rx) {
        pd_swim_destroy(s);
        return -ENOMEM;
    }
    pd_swim_awareness_init(&s->aw, (int)cfg->awareness_max);
    pd_swim_msg_t me = {.type = PD_SWIM_MSG_ALIVE, .inc = 1, .addr = *addr,
                        .node = {(const uint8_t *)id, (uint32_t)id_len}, .meta = {meta, (uint32_t)meta_len}};
    pd_swim__on_alive(s, now_ms, NULL, &me); /* creates the self member */
    s->self = pd_swim__find(s, (const uint8_t *)id, id_len);
    s->n_out_evs = 0; /* no join event for ourselves */
    if (!s->self) {
        pd_swim_destroy(s);
        return -ENOMEM;
    }
    s->next_probe_ms = now_ms + cfg->probe_interval_ms;
    s->next_gossip_ms = now_ms + cfg->gossip_interval_ms;
    s->next_pushpull_ms = now_ms + cfg->pushpull_interval_ms;
    s->next_reap_ms = now_ms + cfg->probe_interval_ms;
    *out = s;
    return 0;
}

void pd_swim_destroy(pd_swim_t *s)
{
    if (!s)
        return;
    pd_swim_advance(s);
    pd_free(s->out_pkts);
    pd_free(s->out_pkt_off);
    pd_free(s->out_evs);
    pd_free(s->out_ev_off);
    pd_free(s->out_buf);
    pd_free(s->scratch);
    pd_free(s->rx);
    pd_free(s->pp_nodes);
    pd_swim_queue_free(&s->queue);
    pd_swim__members_free(s);
    pd_free(s);
}

/* ---- inputs ---- */

static void dispatch(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *from,
                     const pd_swim_msg_t *m, uint32_t flags)
{
    switch (m->type) {
    case PD_SWIM_MSG_PING: pd_swim__on_ping(s, from, m, flags); break;
    case PD_SWIM_MSG_PING_REQ: pd_swim__on_ping_req(s, now_ms, from, m); break;
    case PD_SWIM_MSG_ACK: pd_swim__on_ack(s, now_ms, m); break;
    case PD_SWIM_MSG_NACK: pd_swim__on_nack(s, m); break;
    case PD_SWIM_MSG_SUSPECT: pd_swim__on_suspect(s, now_ms, m); break;
    case PD_SWIM_MSG_ALIVE: pd_swim__on_alive(s, now_ms, rng, m); break;
    case PD_SWIM_MSG_DEAD: pd_swim__on_dead(s, now_ms, m); break;
    case PD_SWIM_MSG_PUSHPULL:
        if (flags & PD_SWIM_PKT_STREAM)
            pd_swim__on_pushpull(s, now_ms, rng, from, m);
        else
            s->stats.rx_ignored++; /* full state only over streams: no UDP amplification */
        break;
    case PD_SWIM_MSG_SYNC: pd_swim__on_sync(s, now_ms, from, m); break;
    case PD_SWIM_MSG_USER:
        if (s->dg.notify_msg)
            s->dg.notify_msg(s->dg.ctx, m->payload.p, m->payload.len);
        break;
    default: s->stats.rx_ignored++; break; /* nested compound */
    }
}

static void count_error(pd_swim_t *s, int rc)
{
    s->stats.rx_decode_errors++;
    if (rc == -PD_EUNKNOWN_TYPE)
        s->stats.rx_unknown_type++;
    else if (rc == -PD_EVERSION)
        s->stats.rx_bad_version++;
}

/* The parts of a compound are mostly news about random members, each a lookup into a member
 * table that is cold (at scale it is far bigger than any cache), then often a queue update. Ask
 * for every part's slots first, then for the members they point to, before handling any: the
 * misses then overlap instead of costing one memory round trip after another. Hints only. */
static void prefetch_parts(const pd_swim_t *s, const pd_swim_msg_t *m)
{
    uint64_t h[PD_SWIM_COMPOUND_MAX];
    uint8_t key[1 + PD_SWIM_ID_MAX];
    for (uint32_t i = 0; i < m->n_parts; i++) {
        pd_swim_bytes_t node;
        h[i] = 0;
        if (pd_swim_wire_peek_node(m->parts[i].p, m->parts[i].len, &node) != 0 || node.len == 0 ||
            node.len > PD_SWIM_ID_MAX)
            continue;
        h[i] = pd_swim_hash(node.p, node.len);
        pd_swim_map_prefetch_slot(&s->by_id, h[i]);
        key[0] = 'n'; /* the queue key of news about that node (pd_swim__queue_msg) */
        memcpy(key + 1, node.p, node.len);
        pd_swim_map_prefetch_slot(&s->queue.keys, pd_swim_hash(key, 1 + node.len));
    }
    for (uint32_t i = 0; i < m->n_parts; i++) {
        if (h[i])
            pd_swim_map_prefetch_val(&s->by_id, h[i]);
    }
}

int pd_swim_recv(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *from,
                 const uint8_t *data, size_t len, uint32_t flags)
{
    s->stats.rx_packets++;
    if (!(flags & PD_SWIM_PKT_STREAM) && len > PD_SWIM_UDP_MAX) {
        count_error(s, -PD_ETOOBIG);
        return -PD_ETOOBIG;
    }
    pd_swim_msg_t *m = s->rx; /* not re-entrant: delegates may only call pd_swim_broadcast */
    int rc = pd_swim_wire_decode(data, len, m);
    if (rc) {
        count_error(s, rc);
        return rc;
    }
    if (m->type != PD_SWIM_MSG_COMPOUND) {
        dispatch(s, now_ms, rng, from, m, flags);
    } else {
        prefetch_parts(s, m);
        pd_swim_msg_t part;
        for (uint32_t i = 0; i < m->n_parts; i++) {
            int prc = pd_swim_wire_decode(m->parts[i].p, m->parts[i].len, &part);
            if (prc) {
                count_error(s, prc);
                continue; /* one bad part does not spoil the others */
            }
            dispatch(s, now_ms, rng, from, &part, flags);
            pd_swim_wire_release(&part);
        }
    }
    pd_swim_wire_release(m);
    return 0;
}

int pd_swim_tick(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng)
{
    pd_swim__probe_tick(s, now_ms, rng);
    pd_swim__suspicions_tick(s, now_ms);
    if (now_ms >= s->next_gossip_ms) {
        pd_swim__gossip_tick(s, now_ms, rng);
        s->next_gossip_ms = now_ms + s->cfg.gossip_interval_ms;
    }
    pd_swim__pushpull_tick(s, now_ms, rng);
    if (now_ms >= s->next_reap_ms) {
        pd_swim__reap(s, now_ms);
        s->next_reap_ms = now_ms + s->cfg.probe_interval_ms;
    }
    return 0;
}

int pd_swim_join(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *seeds, size_t n)
{
    s->n_seeds = 0;
    for (size_t i = 0; i < n && s->n_seeds < PD_SWIM_SEEDS_MAX; i++) {
        if (!pd_swim_addr_eq(&seeds[i], &s->self->addr))
            s->seeds[s->n_seeds++] = seeds[i];
    }
    s->next_join_ms = now_ms;
    return pd_swim__join_tick(s, now_ms, rng);
}

int pd_swim_leave(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng)
{
    (void)rng;
    if (s->leaving)
        return 0;
    s->leaving = 1;
    pd_swim_msg_t d = {.type = PD_SWIM_MSG_DEAD, .inc = s->self->inc, .left = 1,
                       .node = {(const uint8_t *)s->self->id, s->self->id_len},
                       .from = {(const uint8_t *)s->self->id, s->self->id_len}};
    pd_swim__on_dead(s, now_ms, &d); /* marks us left and queues the message */
    s->probe.phase = PROBE_IDLE;
    return 0;
}

int pd_swim_set_meta(pd_swim_t *s, uint64_t now_ms, const uint8_t *meta, size_t len)
{
    if (len > PD_SWIM_META_MAX)
        return -PD_EUSAGE;
    if (s->leaving)
        return -PD_ESTATE;
    uint8_t *copy = NULL;
    if (len) {
        copy = pd_malloc(len);
        if (!copy)
            return -ENOMEM;
        memcpy(copy, meta, len);
    }
    pd_swim__digest_out(s, s->self);
    s->n_meta += (copy != NULL) - (s->self->meta != NULL);
    pd_free(s->self->meta);
    s->self->meta = copy;
    s->self->meta_len = (uint16_t)len;
    s->self->inc++;
    pd_swim__digest_in(s, s->self);
    s->self->state_change_ms = now_ms;
    s->members_gen++;
    return pd_swim__queue_alive_self(s);
}

int pd_swim_broadcast(pd_swim_t *s, const void *key, size_t key_len, const uint8_t *payload, size_t len)
{
    if (key_len == 0 || key_len > PD_SWIM_USER_KEY_MAX || len == 0 || len > PD_SWIM_USER_MSG_MAX)
        return -PD_EUSAGE;
    uint8_t buf[PD_SWIM_USER_MSG_MAX + 64], qkey[PD_SWIM_QKEY_MAX];
    pd_swim_msg_t m = {.type = PD_SWIM_MSG_USER, .payload = {payload, (uint32_t)len}};
    size_t n;
    int rc = pd_swim_wire_encode(&m, buf, sizeof buf, &n);
    if (rc)
        return rc;
    qkey[0] = 'u';
    memcpy(qkey + 1, key, key_len);
    uint64_t ev = s->queue.evicted;
    rc = pd_swim_queue_push(&s->queue, qkey, 1 + key_len, buf, n);
    s->stats.queue_evicted += s->queue.evicted - ev;
    return rc;
}

/* ---- outbox drain ---- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t pd_swim_next_deadline_ms(const pd_swim_t *s)
{
    uint64_t d = min_u64(s->next_gossip_ms, s->next_reap_ms);
    d = min_u64(d, pd_swim__probe_deadline(s));
    d = min_u64(d, pd_swim__suspicions_deadline(s));
    if (s->n_seeds)
        d = min_u64(d, s->next_join_ms);
    return min_u64(d, pd_swim__pushpull_deadline(s));
}

void pd_swim_ready(pd_swim_t *s, pd_swim_ready_t *out)
{
    for (uint32_t i = 0; i < s->n_out_pkts; i++)
        s->out_pkts[i].data = s->out_buf + s->out_pkt_off[i];
    for (uint32_t i = 0; i < s->n_out_evs; i++)
        s->out_evs[i].meta = s->out_ev_off[i] == SIZE_MAX ? NULL : s->out_buf + s->out_ev_off[i];
    out->packets = s->out_pkts;
    out->n_packets = s->n_out_pkts;
    out->events = s->out_evs;
    out->n_events = s->n_out_evs;
    out->next_deadline_ms = pd_swim_next_deadline_ms(s);
}

void pd_swim_advance(pd_swim_t *s)
{
    s->n_out_pkts = 0;
    s->n_out_evs = 0;
    s->out_len = 0;
    if (s->out_cap > OUTBOX_KEEP) {
        pd_free(s->out_buf);
        s->out_buf = NULL;
        s->out_cap = 0;
    }
    if (s->cap_out_pkts > OUTBOX_ITEMS_KEEP) {
        pd_free(s->out_pkts);
        pd_free(s->out_pkt_off);
        s->out_pkts = NULL;
        s->out_pkt_off = NULL;
        s->cap_out_pkts = 0;
    }
    if (s->cap_out_evs > OUTBOX_ITEMS_KEEP) {
        pd_free(s->out_evs);
        pd_free(s->out_ev_off);
        s->out_evs = NULL;
        s->out_ev_off = NULL;
        s->cap_out_evs = 0;
    }
}

/* ---- queries ---- */

static void info_of(const swim_member_t *m, pd_swim_member_info_t *out)
{
    memcpy(out->node, m->id, (size_t)m->id_len + 1);
    out->addr = m->addr;
    out->inc = m->inc;
    out->state = m->state;
    out->meta_len = m->meta_len;
    out->meta = m->meta;
    out->state_change_ms = m->state_change_ms;
}

int pd_swim_member(const pd_swim_t *s, const char *id, pd_swim_member_info_t *out)
{
    const swim_member_t *m = pd_swim__find(s, (const uint8_t *)id, strlen(id));
    if (!m)
        return -PD_ENOTFOUND;
    info_of(m, out);
    return 0;
}

uint32_t pd_swim_count(const pd_swim_t *s, int state)
{
    if (state < 0 || state > PD_SWIM_LEFT)
        return s->n_nodes;
    return s->n_state[state];
}

int pd_swim_member_at(const pd_swim_t *s, uint32_t i, pd_swim_member_info_t *out)
{
    if (i >= s->n_nodes)
        return -PD_ENOTFOUND;
    info_of(s->nodes[i], out);
    return 0;
}

int pd_swim_awareness(const pd_swim_t *s)
{
    return pd_swim_awareness_score(&s->aw);
}

uint32_t pd_swim_incarnation(const pd_swim_t *s)
{
    return s->self->inc;
}

uint32_t pd_swim_pending(const pd_swim_t *s)
{
    return pd_swim_queue_len(&s->queue);
}

const pd_swim_stats_t *pd_swim_stats(const pd_swim_t *s)
{
    return &s->stats;
}
