/* Member table (id -> member in O(1), probe order array) and the incarnation rules for alive,
 * suspect and dead messages, after memberlist's aliveNode/suspectNode/deadNode:
 *   - alive wins over anything only with a strictly higher incarnation;
 *   - suspect applies to an alive node at an incarnation >= ours; repeats from other members
 *     confirm it (Lifeguard) and shorten the timeout;
 *   - dead/left applies at an incarnation >= ours and is final until a higher alive;
 *   - about ourselves, suspect/dead (and newer alive) are refuted with a higher incarnation. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "swim_int.h"

static void member_key(const void *val, const uint8_t **key, size_t *len)
{
    const swim_member_t *m = val;
    *key = (const uint8_t *)m->id;
    *len = m->id_len;
}

int pd_swim__members_init(pd_swim_t *s)
{
    pd_swim_map_init(&s->by_id, member_key);
    pd_swim_slab_init(&s->member_slab);
    return 0;
}

static size_t member_size(size_t id_len)
{
    return sizeof(swim_member_t) + id_len + 1;
}

static void member_free(pd_swim_t *s, swim_member_t *m)
{
    s->n_meta -= m->meta != NULL;
    pd_free(m->meta);
    pd_swim_slab_release(&s->member_slab, m, member_size(m->id_len));
}

void pd_swim__members_free(pd_swim_t *s)
{
    for (uint32_t i = 0; s->n_meta && i < s->n_nodes; i++)
        pd_free(s->nodes[i]->meta); /* the records go with the slab (no need to visit them all) */
    pd_swim_slab_free(&s->member_slab);
    pd_free(s->nodes);
    pd_free(s->suspects);
    pd_free(s->reap);
    pd_swim_map_free(&s->by_id);
    s->nodes = NULL;
    s->suspects = NULL;
    s->n_nodes = s->n_suspects = 0;
}

swim_member_t *pd_swim__find(const pd_swim_t *s, const uint8_t *id, size_t len)
{
    return pd_swim_map_get(&s->by_id, id, len);
}

/* Remember a member that just died or left, for pd_swim__reap. On allocation failure the member
 * is simply never forgotten (it stays dead in the table). */
static void reap_push(pd_swim_t *s, swim_member_t *m, uint64_t now_ms)
{
    if (s->reap_n == s->reap_cap) {
        uint32_t ncap = s->reap_cap ? s->reap_cap * 2 : 16;
        swim_reap_t *nr = pd_malloc(ncap * sizeof *nr);
        if (!nr)
            return;
        for (uint32_t i = 0; i < s->reap_n; i++)
            nr[i] = s->reap[(s->reap_head + i) % s->reap_cap];
        pd_free(s->reap);
        s->reap = nr, s->reap_cap = ncap, s->reap_head = 0;
    }
    if (++s->reap_seq == 0)
        s->reap_seq = 1;
    m->reap_seq = s->reap_seq;
    s->reap[(s->reap_head + s->reap_n++) % s->reap_cap] = (swim_reap_t){m, s->reap_seq, now_ms};
}

static void set_state(pd_swim_t *s, swim_member_t *m, int state, uint64_t now_ms)
{
    s->n_state[m->state]--;
    s->n_state[state]++;
    m->state = (uint8_t)state;
    m->state_change_ms = now_ms;
    m->reap_seq = 0; /* any older reap entry is stale now */
    s->members_gen++;
    if ((state == PD_SWIM_DEAD || state == PD_SWIM_LEFT) && m != s->self)
        reap_push(s, m, now_ms);
}

static int set_meta(pd_swim_t *s, swim_member_t *m, const uint8_t *meta, size_t len)
{
    if (len == m->meta_len && (len == 0 || memcmp(m->meta, meta, len) == 0))
        return 0;
    uint8_t *copy = NULL;
    if (len) {
        copy = pd_malloc(len);
        if (!copy)
            return -ENOMEM;
        memcpy(copy, meta, len);
    }
    s->n_meta += (copy != NULL) - (m->meta != NULL);
    pd_free(m->meta);
    m->meta = copy;
    m->meta_len = (uint16_t)len;
    return 1;
}

static void swap_nodes(pd_swim_t *s, uint32_t i, uint32_t j)
{
    swim_member_t *t = s->nodes[i];
    s->nodes[i] = s->nodes[j];
    s->nodes[j] = t;
    s->nodes[i]->probe_idx = i;
    s->nodes[j]->probe_idx = j;
}

void pd_swim__shuffle(pd_swim_t *s, pd_rng_t *rng)
{
    for (uint32_t i = s->n_nodes; i > 1; i--)
        swap_nodes(s, i - 1, (uint32_t)pd_rng_below(rng, i));
}

int pd_swim__members_reserve(pd_swim_t *s, uint32_t n)
{
    if (n > PD_SWIM_MEMBERS_MAX)
        n = PD_SWIM_MEMBERS_MAX;
    if (n > s->cap_nodes) {
        swim_member_t **nn = pd_realloc(s->nodes, n * sizeof *nn);
        if (!nn)
            return -ENOMEM;
        s->nodes = nn, s->cap_nodes = n;
    }
    return pd_swim_map_reserve(&s->by_id, n);
}

/* A new member, placed at a random position of the probe order (so joins spread evenly). */
static swim_member_t *member_new(pd_swim_t *s, pd_rng_t *rng, const pd_swim_msg_t *a, uint64_t now_ms,
                                 uint64_t id_hash)
{
    if (s->n_nodes >= PD_SWIM_MEMBERS_MAX) {
        s->stats.members_full++;
        return NULL;
    }
    if (s->n_nodes == s->cap_nodes) {
        /* x1.5: at N=10,000 doubling would leave 6,384 unused slots per node. */
        uint32_t ncap = s->cap_nodes ? s->cap_nodes + s->cap_nodes / 2 : 16;
        swim_member_t **nn = pd_realloc(s->nodes, ncap * sizeof *nn);
        if (!nn)
            return NULL;
        s->nodes = nn, s->cap_nodes = ncap;
    }
    swim_member_t *m = pd_swim_slab_alloc(&s->member_slab, member_size(a->node.len));
    if (!m)
        return NULL;
    memcpy(m->id, a->node.p, a->node.len);
    m->id_len = (uint8_t)a->node.len;
    m->addr = a->addr;
    m->inc = a->inc;
    m->susp_idx = -1;
    m->state_change_ms = now_ms;
    if (set_meta(s, m, a->meta.p, a->meta.len) < 0 || pd_swim_map_put_h(&s->by_id, m, id_hash) != 0) {
        member_free(s, m);
        return NULL;
    }
    s->nodes[s->n_nodes] = m;
    m->probe_idx = s->n_nodes++;
    s->n_state[PD_SWIM_ALIVE]++;
    s->members_gen++;
    pd_swim__digest_in(s, m);
    if (rng)
        swap_nodes(s, m->probe_idx, (uint32_t)pd_rng_below(rng, s->n_nodes));
    return m;
}

static void suspicion_clear(pd_swim_t *s, swim_member_t *m)
{
    if (m->susp_idx >= 0) {
        uint32_t i = (uint32_t)m->susp_idx;
        s->suspects[i] = s->suspects[--s->n_suspects];
        s->suspects[i].m->susp_idx = (int32_t)i;
        m->susp_idx = -1;
    }
}

void pd_swim__remove(pd_swim_t *s, swim_member_t *m)
{
    PD_ASSERT(m != s->self);
    suspicion_clear(s, m);
    uint32_t i = m->probe_idx;
    swap_nodes(s, i, s->n_nodes - 1);
    s->n_nodes--;
    if (s->probe_pos > s->n_nodes)
        s->probe_pos = s->n_nodes;
    pd_swim_map_del(&s->by_id, m);
    pd_swim__digest_out(s, m);
    s->n_state[m->state]--;
    s->members_gen++;
    if (s->probe.target == m) {
        s->probe.target = NULL;
        s->probe.phase = PROBE_IDLE;
    }
    if (s->probe_soon == m)
        s->probe_soon = NULL;
    member_free(s, m);
}

static void msg_for(const swim_member_t *m, int type, pd_swim_msg_t *out)
{
    memset(out, 0, offsetof(pd_swim_msg_t, parts));
    out->type = (uint8_t)type;
    out->inc = m->inc;
    out->node = (pd_swim_bytes_t){(const uint8_t *)m->id, m->id_len};
    out->addr = m->addr;
    out->meta = (pd_swim_bytes_t){m->meta, m->meta_len};
}

int pd_swim__queue_alive_self(pd_swim_t *s)
{
    pd_swim_msg_t a;
    msg_for(s->self, PD_SWIM_MSG_ALIVE, &a);
    return pd_swim__queue_msg(s, &a);
}

void pd_swim__refute(pd_swim_t *s, uint32_t accused_inc)
{
    uint32_t inc = s->self->inc + 1;
    if (accused_inc >= inc)
        inc = accused_inc + 1;
    pd_swim__digest_out(s, s->self);
    s->self->inc = inc;
    pd_swim__digest_in(s, s->self);
    s->members_gen++;
    s->stats.refutes++;
    /* Having to refute means we were too slow to answer someone: Lifeguard raises awareness. */
    pd_swim_awareness_apply(&s->aw, 1);
    pd_swim__queue_alive_self(s);
    PD_INFO(&s->log, "swim refute inc=%u", inc);
}

static int bytes_eq(pd_swim_bytes_t b, const uint8_t *p, size_t len)
{
    return b.len == len && (len == 0 || memcmp(b.p, p, len) == 0);
}

static void alive_self(pd_swim_t *s, const pd_swim_msg_t *a)
{
    swim_member_t *me = s->self;
    if (a->inc < me->inc || s->leaving)
        return;
    if (a->inc == me->inc && bytes_eq(a->meta, me->meta, me->meta_len) &&
        pd_swim_addr_eq(&a->addr, &me->addr))
        return;
    /* Someone speaks for us with a newer (or conflicting) view: a previous life of ours. */
    pd_swim__refute(s, a->inc);
}

void pd_swim__on_alive(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_msg_t *a)
{
    pd_swim__on_alive_h(s, now_ms, rng, a, pd_swim_hash(a->node.p, a->node.len));
}

void pd_swim__on_alive_h(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, const pd_swim_msg_t *a, uint64_t id_hash)
{
    swim_member_t *m = pd_swim_map_get_h(&s->by_id, a->node.p, a->node.len, id_hash);
    if (m == s->self && m) {
        alive_self(s, a);
        return;
    }
    if (!m) {
        m = member_new(s, rng, a, now_ms, id_hash);
        if (!m)
            return;
        pd_swim__queue_msg(s, a);
        pd_swim__emit_event(s, PD_SWIM_EV_JOIN, m);
        return;
    }
    if (a->inc <= m->inc) {
        s->stats.rx_ignored++;
        return;
    }
    int old = m->state;
    int changed = !pd_swim_addr_eq(&m->addr, &a->addr);
    pd_swim__digest_out(s, m);
    int mc = set_meta(s, m, a->meta.p, a->meta.len);
    if (mc < 0) {
        pd_swim__digest_in(s, m);
        return;
    }
    changed |= mc;
    suspicion_clear(s, m);
    m->inc = a->inc;
    m->addr = a->addr;
    s->members_gen++;
    if (old != PD_SWIM_ALIVE)
        set_state(s, m, PD_SWIM_ALIVE, now_ms);
    pd_swim__digest_in(s, m);
    pd_swim__queue_msg(s, a);
    if (old != PD_SWIM_ALIVE)
        pd_swim__emit_event(s, PD_SWIM_EV_ALIVE_AGAIN, m);
    else if (changed)
        pd_swim__emit_event(s, PD_SWIM_EV_UPDATE, m);
}

static int suspicion_add(pd_swim_t *s, swim_member_t *m, uint64_t now_ms, uint64_t from_hash)
{
    if (s->n_suspects == s->cap_suspects) {
        uint32_t ncap = s->cap_suspects ? s->cap_suspects * 2 : 16;
        swim_suspect_t *ns = pd_realloc(s->suspects, ncap * sizeof *ns);
        if (!ns)
            return -ENOMEM;
        s->suspects = ns, s->cap_suspects = ncap;
    }
    swim_suspect_t *e = &s->suspects[s->n_suspects];
    e->m = m;
    uint32_t n = pd_swim__live(s);
    uint32_t k = s->cfg.suspicion_confirmations;
    if (n < k + 2) /* too few members to expect independent confirmations */
        k = 0;
    uint64_t min = pd_swim_suspicion_min_ms(s->cfg.suspicion_mult, n, s->cfg.probe_interval_ms);
    pd_swim_suspicion_start(&e->susp, now_ms, k, min, min * s->cfg.suspicion_max_timeout_mult, from_hash);
    m->susp_idx = (int32_t)s->n_suspects++;
    return 0;
}

void pd_swim__on_suspect(pd_swim_t *s, uint64_t now_ms, const pd_swim_msg_t *msg)
{
    swim_member_t *m = pd_swim__find(s, msg->node.p, msg->node.len);
    if (!m || msg->inc < m->inc)
        return;
    if (m->susp_idx >= 0) {
        if (pd_swim_suspicion_confirm(&s->suspects[m->susp_idx].susp, pd_swim_hash(msg->from.p, msg->from.len)))
            pd_swim__queue_msg(s, msg); /* a new confirmation is worth passing on */
        return;
    }
    if (m->state != PD_SWIM_ALIVE)
        return;
    if (m == s->self) {
        if (!s->leaving)
            pd_swim__refute(s, msg->inc);
        return;
    }
    if (suspicion_add(s, m, now_ms, pd_swim_hash(msg->from.p, msg->from.len)) != 0)
        return;
    pd_swim__digest_out(s, m);
    m->inc = msg->inc;
    set_state(s, m, PD_SWIM_SUSPECT, now_ms);
    pd_swim__digest_in(s, m);
    pd_swim__queue_msg(s, msg);
    pd_swim__emit_event(s, PD_SWIM_EV_SUSPECT, m);
    if (!bytes_eq(msg->from, (const uint8_t *)s->self->id, s->self->id_len))
        pd_swim__probe_confirm(s, now_ms, m);
}

void pd_swim__on_dead(pd_swim_t *s, uint64_t now_ms, const pd_swim_msg_t *msg)
{
    swim_member_t *m = pd_swim__find(s, msg->node.p, msg->node.len);
    if (!m || msg->inc < m->inc || m->state == PD_SWIM_DEAD || m->state == PD_SWIM_LEFT)
        return;
    int left = msg->left && bytes_eq(msg->from, (const uint8_t *)m->id, m->id_len);
    if (m == s->self && !s->leaving) {
        pd_swim__refute(s, msg->inc);
        return;
    }
    suspicion_clear(s, m);
    pd_swim__digest_out(s, m);
    m->inc = msg->inc;
    set_state(s, m, left ? PD_SWIM_LEFT : PD_SWIM_DEAD, now_ms); /* no longer counted */
    pd_swim__queue_msg(s, msg);
    if (m == s->self)
        return;
    pd_swim__emit_event(s, left ? PD_SWIM_EV_LEFT : PD_SWIM_EV_DEAD, m);
    if (s->dg.notify_gone)
        s->dg.notify_gone(s->dg.ctx, m->id, left);
}

uint64_t pd_swim__suspicions_deadline(const pd_swim_t *s)
{
    uint64_t d = UINT64_MAX;
    for (uint32_t i = 0; i < s->n_suspects; i++) {
        uint64_t t = pd_swim_suspicion_deadline_ms(&s->suspects[i].susp);
        d = t < d ? t : d;
    }
    return d;
}

void pd_swim__suspicions_tick(pd_swim_t *s, uint64_t now_ms)
{
    /* Backwards: declaring one dead swap-removes it from the list. */
    for (uint32_t i = s->n_suspects; i > 0; i--) {
        if (i > s->n_suspects)
            continue;
        swim_member_t *m = s->suspects[i - 1].m;
        if (pd_swim_suspicion_deadline_ms(&s->suspects[i - 1].susp) > now_ms)
            continue;
        pd_swim_msg_t d;
        msg_for(m, PD_SWIM_MSG_DEAD, &d);
        d.meta = (pd_swim_bytes_t){NULL, 0};
        d.from = (pd_swim_bytes_t){(const uint8_t *)s->self->id, s->self->id_len};
        s->stats.deads_declared++;
        PD_INFO(&s->log, "swim suspicion timeout node=%s inc=%u", m->id, m->inc);
        pd_swim__on_dead(s, now_ms, &d);
    }
}

void pd_swim__reap(pd_swim_t *s, uint64_t now_ms)
{
    while (s->reap_n > 0) {
        swim_reap_t *e = &s->reap[s->reap_head];
        if (now_ms < e->at_ms || now_ms - e->at_ms < s->cfg.dead_reap_ms)
            break; /* the FIFO is in death order: the rest are younger */
        swim_reap_t x = *e;
        s->reap_head = (s->reap_head + 1) % s->reap_cap;
        s->reap_n--;
        /* A stale entry's member may have been freed already, but only when a newer entry for it
         * was popped first, which cannot be: entries leave in the order they came. */
        if (x.m->reap_seq == x.seq && (x.m->state == PD_SWIM_DEAD || x.m->state == PD_SWIM_LEFT))
            pd_swim__remove(s, x.m);
    }
}
