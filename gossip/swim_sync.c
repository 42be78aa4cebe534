/* Dissemination: periodic gossip of queued broadcasts to a few random members (including the
 * recently dead, so a wrongly accused node hears it and refutes), and push/pull full-state sync
 * over streams, on join and periodically with an interval that grows with the cluster.
 *
 * A periodic push/pull starts as a sync: one datagram with a digest of our state (live members'
 * id, incarnation, address and metadata, summed so that order does not matter, plus the
 * delegate's digest). The peer answers with a full push/pull over a stream only if its own digest
 * differs. Anti-entropy still compares every pair that memberlist's push/pull would, but a quiet
 * cluster no longer ships every member's record (and the whole endpoint table) over TCP every
 * 30 s: at N=128 that was 2/3 of all gossip bytes. The catch-up after a join starts as a sync
 * too: the join answer was the seed's whole state, so a joiner usually holds what the cluster
 * holds, and only one that missed news gets the full exchange (at N=10,000 a full one is 2 x 259
 * KB per joiner). The digest is a running sum, updated as members change (pd_swim__digest_in/out),
 * not recomputed over the table. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "swim_int.h"

static int eligible(const pd_swim_t *s, const swim_member_t *m, uint64_t now_ms, int include_dead)
{
    if (m == s->self)
        return 0;
    if (m->state == PD_SWIM_ALIVE || m->state == PD_SWIM_SUSPECT)
        return 1;
    return include_dead && now_ms - m->state_change_ms < s->cfg.gossip_to_dead_ms;
}

uint32_t pd_swim__pick(pd_swim_t *s, pd_rng_t *rng, uint64_t now_ms, uint32_t k, const swim_member_t *not,
                       int include_dead, swim_member_t **out)
{
    uint32_t n = 0, tries = 3 * s->n_nodes;
    if (tries > 4096)
        tries = 4096; /* bounded work; a mostly-dead table just gossips less */
    for (uint32_t t = 0; t < tries && n < k; t++) {
        swim_member_t *m = s->nodes[pd_rng_below(rng, s->n_nodes)];
        if (m == not || !eligible(s, m, now_ms, include_dead))
            continue;
        int dup = 0;
        for (uint32_t i = 0; i < n && !dup; i++)
            dup = out[i] == m;
        if (!dup)
            out[n++] = m;
    }
    return n;
}

void pd_swim__gossip_tick(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng)
{
    swim_member_t *to[PD_SWIM_INDIRECT_MAX];
    uint32_t k = s->cfg.gossip_nodes < PD_SWIM_INDIRECT_MAX ? s->cfg.gossip_nodes : PD_SWIM_INDIRECT_MAX;
    int queued = pd_swim_queue_len(&s->queue) > 0;
    if (!queued && s->n_state[PD_SWIM_DEAD] == 0)
        return;
    uint32_t n = pd_swim__pick(s, rng, now_ms, k, NULL, 1, to);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t before = s->n_out_pkts;
        if (to[i]->state == PD_SWIM_DEAD) {
            /* Tell a node we think dead that it is, whatever the queue holds: after a partition
             * heals this is how the wrongly accused hear it and refute, long after the dead
             * broadcast itself ran out of retransmits. */
            uint8_t buf[256];
            size_t len;
            pd_swim_msg_t d = {.type = PD_SWIM_MSG_DEAD, .inc = to[i]->inc,
                               .node = {(const uint8_t *)to[i]->id, to[i]->id_len},
                               .from = {(const uint8_t *)s->self->id, s->self->id_len}};
            if (pd_swim_wire_encode(&d, buf, sizeof buf, &len) != 0)
                continue;
            pd_swim_bytes_t part = {buf, (uint32_t)len};
            pd_swim__send_udp(s, &to[i]->addr, to[i]->id, &part, 1);
        } else if (queued && pd_swim_queue_len(&s->queue) > 0) {
            pd_swim__send_udp(s, &to[i]->addr, to[i]->id, NULL, 0);
        }
        s->stats.gossip_sent += s->n_out_pkts - before;
    }
}

uint64_t pd_swim__pushpull_interval(uint64_t base_ms, uint32_t n)
{
    /* memberlist pushPullScale: x (ceil(log2(n) - log2(32)) + 1) above 32 nodes. */
    uint64_t mult = 1;
    for (uint64_t c = 32; c < n; c *= 2)
        mult++;
    return base_ms * mult;
}

/* The encoded member array, rebuilt when the table changed. Under a join storm (more than
 * PP_STALE_AFTER requests answered this second) a join reply may also reuse one up to a probe
 * interval old: a seed then answers many joins per second while its table changes with each, and
 * a slightly stale list is harmless (gossip and the joiner's catch-up push/pull bring the rest).
 * Anything else gets the current table. */
enum { PP_STALE_AFTER = 8 };
static int nodes_encode(pd_swim_t *s, uint64_t now_ms, int join_reply)
{
    if (s->pp_nodes && s->pp_nodes_gen == s->members_gen)
        return 0;
    if (s->pp_nodes && join_reply && s->pp_window_count > PP_STALE_AFTER &&
        now_ms - s->pp_nodes_ms < s->cfg.probe_interval_ms)
        return 0;
    pd_swim_wire_node_t *nodes = pd_malloc((size_t)s->n_nodes * sizeof *nodes);
    if (!nodes)
        return -ENOMEM;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        const swim_member_t *x = s->nodes[i];
        nodes[i] = (pd_swim_wire_node_t){{(const uint8_t *)x->id, x->id_len}, x->addr, {x->meta, x->meta_len},
                                         x->inc, x->state};
    }
    size_t cap = pd_swim_wire_nodes_size_max(nodes, s->n_nodes), len = 0;
    int rc = 0;
    if (cap > s->pp_nodes_cap || cap < s->pp_nodes_cap / 4) {
        uint8_t *nb = pd_malloc(cap);
        if (!nb)
            rc = -ENOMEM;
        else {
            pd_free(s->pp_nodes);
            s->pp_nodes = nb, s->pp_nodes_cap = cap;
        }
    }
    if (rc == 0)
        rc = pd_swim_wire_encode_nodes(nodes, s->n_nodes, s->pp_nodes, s->pp_nodes_cap, &len);
    pd_free(nodes);
    if (rc) {
        pd_free(s->pp_nodes);
        s->pp_nodes = NULL;
        s->pp_nodes_cap = 0;
        return rc;
    }
    s->pp_nodes_len = len;
    s->pp_nodes_count = s->n_nodes;
    s->pp_nodes_gen = s->members_gen;
    s->pp_nodes_ms = now_ms;
    return 0;
}

/* Encode our whole state (every tracked member plus the delegate's state). */
static int state_encode(pd_swim_t *s, uint64_t now_ms, uint32_t seq, int join, int reply, uint8_t **out,
                        size_t *len_out)
{
    int rc = nodes_encode(s, now_ms, join && reply);
    if (rc)
        return rc;
    pd_swim_msg_t *m = pd_calloc(1, sizeof *m);
    uint8_t *buf = NULL;
    rc = -ENOMEM;
    if (!m)
        goto out;
    *m = (pd_swim_msg_t){.type = PD_SWIM_MSG_PUSHPULL, .seq = seq, .join = (uint8_t)join,
                         .reply = (uint8_t)reply, .n_nodes = s->pp_nodes_count,
                         .nodes_enc = {s->pp_nodes, (uint32_t)s->pp_nodes_len}};
    const uint8_t *ud = NULL;
    size_t ul = 0;
    if (s->dg.local_state && s->dg.local_state(s->dg.ctx, join, &ud, &ul) == 0 && ul <= PD_SWIM_USER_STATE_MAX)
        m->payload = (pd_swim_bytes_t){ud, (uint32_t)ul};
    size_t cap = pd_swim_wire_size_max(m);
    rc = -PD_ETOOBIG;
    if (cap > PD_SWIM_PUSHPULL_MAX)
        goto out;
    rc = -ENOMEM;
    if (!(buf = pd_malloc(cap)))
        goto out;
    rc = pd_swim_wire_encode(m, buf, cap, len_out);
out:
    pd_free(m);
    if (s->pp_window_count <= PP_STALE_AFTER) {
        /* Not a busy seed: keep no copy (at N=10,000 it is 350 KB per node). */
        pd_free(s->pp_nodes);
        s->pp_nodes = NULL;
        s->pp_nodes_cap = s->pp_nodes_len = 0;
    }
    if (rc)
        pd_free(buf);
    else
        *out = buf;
    return rc;
}

static int state_send(pd_swim_t *s, uint64_t now_ms, const pd_swim_addr_t *to, const char *node, uint32_t seq,
                      int join, int reply)
{
    uint8_t *buf;
    size_t len;
    int rc = state_encode(s, now_ms, seq, join, reply, &buf, &len);
    if (rc) {
        PD_WARN(&s->log, "swim push/pull encode failed err=%s", pd_err_name(rc));
        return rc;
    }
    rc = pd_swim__emit_packet(s, to, node, buf, len, PD_SWIM_PKT_STREAM);
    pd_free(buf);
    return rc;
}

int pd_swim__pushpull_send(pd_swim_t *s, uint64_t now_ms, const pd_swim_addr_t *to, const char *node,
                           int join)
{
    if (s->n_pp >= s->cfg.pushpull_max_inflight) {
        s->stats.pushpull_refused++;
        return -PD_ELIMIT;
    }
    uint32_t seq = pd_swim__next_seq(s);
    int rc = state_send(s, now_ms, to, node, seq, join, 0);
    if (rc)
        return rc;
    s->pp[s->n_pp++] = (swim_pp_t){seq, (uint8_t)join, now_ms + s->cfg.pushpull_timeout_ms};
    s->stats.pushpull_sent++;
    return 0;
}

int pd_swim__join_tick(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng)
{
    if (s->n_seeds == 0 || now_ms < s->next_join_ms)
        return 0;
    if (s->leaving) {
        s->n_seeds = 0;
        return 0;
    }
    /* Joined only once a seed answered: knowing others is not enough, since a seed that nodes
     * join through learns them without being in the cluster itself (an island). */
    /* A busy seed may refuse (pushpull_accept_per_s): retry after 2-3 probe intervals. */
    s->next_join_ms = now_ms + 2ull * s->cfg.probe_interval_ms + pd_rng_below(rng, s->cfg.probe_interval_ms);
    int sent = 0, rc = 0;
    for (uint32_t i = 0; i < s->n_seeds; i++) {
        rc = pd_swim__pushpull_send(s, now_ms, &s->seeds[i], NULL, 1);
        sent += rc == 0;
    }
    return sent > 0 ? 0 : rc;
}

enum { CATCHUP_MAX = 3 }; /* catch-up push/pulls after one join, at most */

static void catchup_schedule(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng)
{
    uint64_t d = s->catchup_delay_ms;
    uint64_t at = now_ms + d + (rng ? pd_rng_below(rng, 2 * d) : d);
    if (at < s->next_pushpull_ms) {
        s->next_pushpull_ms = at;
        s->catchup_armed = 1;
    } else {
        s->catchup_delay_ms = 0; /* the periodic push/pull comes first anyway */
    }
}

/* 8 bytes at p (fewer at the end, zero-padded), little-endian whatever the host. */
static uint64_t le_word(const uint8_t *p, size_t n)
{
    uint64_t w = 0;
    for (size_t i = 0; i < n && i < 8; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 32);
}

static uint64_t mix_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    h = mix(h, n);
    for (size_t i = 0; i < n; i += 8)
        h = mix(h, le_word(p + i, n - i));
    return h;
}

/* A member's share of the digest: id, incarnation, address and metadata, a word at a time (a
 * node adds one per member it learns: 10^8 at N=10,000 in the simulator). Byte order fixed, so
 * that nodes of any architecture agree. */
static uint64_t member_hash(const swim_member_t *m)
{
    uint64_t h = mix_bytes(0x243f6a8885a308d3ULL, (const uint8_t *)m->id, m->id_len);
    h = mix(h, (uint64_t)m->inc << 32 | (uint64_t)m->addr.family << 16 | m->addr.port);
    h = mix_bytes(h, m->addr.ip, m->addr.family == 6 ? 16 : 4);
    h = mix_bytes(h, m->meta, m->meta_len);
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

/* Alive and suspect count alike: a suspicion is news gossip carries, not a difference to repair
 * with a full exchange. Dead, left and forgotten members count alike too (reaping times differ). */
static int counted(const swim_member_t *m)
{
    return m->state == PD_SWIM_ALIVE || m->state == PD_SWIM_SUSPECT;
}

void pd_swim__digest_out(pd_swim_t *s, const swim_member_t *m)
{
    if (counted(m))
        s->members_sum -= member_hash(m);
}

void pd_swim__digest_in(pd_swim_t *s, const swim_member_t *m)
{
    if (counted(m))
        s->members_sum += member_hash(m);
}

static uint64_t local_digest(pd_swim_t *s)
{
#ifndef NDEBUG
    if (s->members_sum_checked_gen != s->members_gen) {
        /* Test builds: every change went through digest_out/in. */
        uint64_t sum = 0;
        for (uint32_t i = 0; i < s->n_nodes; i++)
            sum += counted(s->nodes[i]) ? member_hash(s->nodes[i]) : 0;
        PD_ASSERT(sum == s->members_sum);
        s->members_sum_checked_gen = s->members_gen;
    }
#endif
    uint64_t d = 1 + s->members_sum;
    if (s->dg.state_digest)
        d += s->dg.state_digest(s->dg.ctx) * 0x9e3779b97f4a7c15ULL;
    return d;
}

static void sync_send(pd_swim_t *s, const swim_member_t *peer)
{
    pd_swim_msg_t m = {.type = PD_SWIM_MSG_SYNC, .digest = local_digest(s)};
    if (pd_swim__send_msg(s, &peer->addr, peer->id, &m, 0) == 0)
        s->stats.syncs_sent++;
}

void pd_swim__on_sync(pd_swim_t *s, uint64_t now_ms, const pd_swim_addr_t *from, const pd_swim_msg_t *m)
{
    if (s->leaving || m->digest == local_digest(s))
        return;
    s->stats.syncs_differed++;
    pd_swim__pushpull_send(s, now_ms, from, NULL, 0);
}

void pd_swim__pushpull_tick(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng)
{
    pd_swim__join_tick(s, now_ms, rng);
    for (uint32_t i = s->n_pp; i > 0; i--) {
        if (s->pp[i - 1].deadline_ms <= now_ms)
            s->pp[i - 1] = s->pp[--s->n_pp]; /* unanswered: forget it */
    }
    if (now_ms < s->next_pushpull_ms)
        return;
    s->next_pushpull_ms = now_ms + pd_swim__pushpull_interval(s->cfg.pushpull_interval_ms, pd_swim__live(s));
    /* A delegate with state but no digest of it would make every sync look equal. */
    int full = s->dg.local_state && !s->dg.state_digest;
    if (s->catchup_armed) {
        s->catchup_armed = 0;
        uint32_t live = pd_swim__live(s);
        if (++s->catchup_count < CATCHUP_MAX && live > s->catchup_live &&
            live - s->catchup_live > s->catchup_live / 8) {
            s->catchup_live = live; /* still growing fast: once more, later */
            s->catchup_delay_ms *= 2;
            catchup_schedule(s, now_ms, rng);
        }
    }
    swim_member_t *peer;
    if (s->leaving || pd_swim__pick(s, rng, now_ms, 1, NULL, 0, &peer) != 1 || peer->state != PD_SWIM_ALIVE)
        return;
    if (full)
        pd_swim__pushpull_send(s, now_ms, &peer->addr, peer->id, 0);
    else
        sync_send(s, peer);
}

uint64_t pd_swim__pushpull_deadline(const pd_swim_t *s)
{
    uint64_t d = s->next_pushpull_ms;
    for (uint32_t i = 0; i < s->n_pp; i++)
        d = s->pp[i].deadline_ms < d ? s->pp[i].deadline_ms : d;
    return d;
}

/* memberlist mergeState: alive as alive, left as left, dead or suspect only as our own suspicion
 * (we verify it ourselves rather than trust a remote death). */
/* A full state is thousands of lookups into our (cold) member table: look AHEAD records ahead
 * for their slots and half as far for the members, so the cache misses overlap. */
enum { MERGE_AHEAD = 16 };
static void merge_prefetch(const pd_swim_t *s, const pd_swim_msg_t *m, uint32_t i, uint64_t *ring)
{
    uint32_t far = i + MERGE_AHEAD, near = i + MERGE_AHEAD / 2;
    if (far < m->n_nodes) {
        uint64_t h = pd_swim_hash(m->nodes[far].id.p, m->nodes[far].id.len);
        ring[far % MERGE_AHEAD] = h;
        pd_swim_map_prefetch_slot(&s->by_id, h);
    }
    if (near < m->n_nodes)
        pd_swim_map_prefetch_val(&s->by_id, ring[near % MERGE_AHEAD]);
}

static void merge(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_msg_t *m)
{
    pd_swim_bytes_t me = {(const uint8_t *)s->self->id, s->self->id_len};
    uint64_t ring[MERGE_AHEAD];
    if (m->n_nodes > s->n_nodes) { /* a join answer: the table and the join events grow once */
        (void)pd_swim__members_reserve(s, m->n_nodes + 1);
        (void)pd_swim__reserve_events(s, m->n_nodes - s->n_nodes);
    }
    for (uint32_t i = 0; i < MERGE_AHEAD && i < m->n_nodes; i++) {
        ring[i] = pd_swim_hash(m->nodes[i].id.p, m->nodes[i].id.len);
        pd_swim_map_prefetch_slot(&s->by_id, ring[i]);
    }
    for (uint32_t i = 0; i < MERGE_AHEAD / 2 && i < m->n_nodes; i++)
        pd_swim_map_prefetch_val(&s->by_id, ring[i]);
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        uint64_t h = ring[i % MERGE_AHEAD]; /* before merge_prefetch reuses the slot */
        merge_prefetch(s, m, i, ring);
        const pd_swim_wire_node_t *r = &m->nodes[i];
        pd_swim_msg_t x;
        memset(&x, 0, offsetof(pd_swim_msg_t, parts));
        x.inc = r->inc, x.node = r->id, x.addr = r->addr, x.meta = r->meta;
        if (r->state == PD_SWIM_ALIVE) {
            x.type = PD_SWIM_MSG_ALIVE;
            pd_swim__on_alive_h(s, now_ms, rng, &x, h);
        } else if (r->state == PD_SWIM_LEFT) {
            x.type = PD_SWIM_MSG_DEAD, x.left = 1, x.from = r->id;
            pd_swim__on_dead(s, now_ms, &x);
        } else {
            x.type = PD_SWIM_MSG_SUSPECT, x.from = me;
            pd_swim__on_suspect(s, now_ms, &x);
        }
    }
}

void pd_swim__on_pushpull(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_addr_t *from,
                          const pd_swim_msg_t *m)
{
    int join = m->join;
    if (!m->reply) {
        if (now_ms - s->pp_window_ms >= 1000) {
            s->pp_window_ms = now_ms;
            s->pp_window_count = 0;
        }
        if (s->pp_window_count >= s->cfg.pushpull_accept_per_s) {
            s->stats.pushpull_refused++;
            return;
        }
        s->pp_window_count++;
        state_send(s, now_ms, from, NULL, m->seq, m->join, 1);
    } else {
        uint32_t i = 0;
        while (i < s->n_pp && s->pp[i].seq != m->seq)
            i++;
        if (i == s->n_pp) {
            s->stats.rx_ignored++; /* unsolicited or late reply */
            return;
        }
        join = s->pp[i].join;
        s->pp[i] = s->pp[--s->n_pp];
    }
    s->stats.pushpull_recv++;
    /* The answer to our join is the seed's view, which the cluster already knows and gossips:
     * learn it without queueing it again (at N=10,000 that would be 10,000 broadcasts per joiner).
     * Unless others already joined through us: then they need to hear it from us. */
    s->quiet_merge = m->reply && join && pd_swim__live(s) <= 1;
    merge(s, now_ms, rng, m);
    s->quiet_merge = 0;
    if (m->reply && join)
        s->n_seeds = 0; /* joined: periodic push/pull takes over */
    if (m->reply && join && !s->catchup_done) {
        /* Joined. What the cluster learnt while we were joining (news whose retransmits ran out
         * while it was small, or that went round before anyone knew us) comes with an early
         * push/pull with a random member; repeated with a doubling delay while the cluster is
         * still growing fast (a join storm), see pd_swim__pushpull_tick. */
        s->catchup_done = 1;
        s->catchup_delay_ms = s->cfg.probe_interval_ms;
        s->catchup_live = pd_swim__live(s);
        catchup_schedule(s, now_ms, rng);
    }
    if (s->dg.merge_remote_state && m->payload.len)
        s->dg.merge_remote_state(s->dg.ctx, m->payload.p, m->payload.len, join);
}
