/* Failure detection: one probe per (awareness-scaled) probe interval, round-robin over a shuffled
 * member list. Direct ping; after the (scaled) probe timeout, ping-req through up to
 * indirect_checks alive members, which nack if the target stays silent, plus a ping over a
 * stream (TCP fallback). No ack by the end of the interval: suspect the target, tell it so at once
 * (buddy system), and raise our awareness by the nacks we missed (a missing nack hints that we,
 * not the target, are the problem).
 *
 * Confirmation probes: a node that hears a new suspicion from someone else probes the suspect
 * itself right away (or at its next probe slot) if it is one of about suspicion_confirmations + 1
 * members picked by a hash of (its id, the suspect's id). Lifeguard's suspicion timeout only
 * shrinks to its minimum with that many independent confirmations; waiting for round-robin to
 * bring the suspect up on other members takes (N-1)/k probe intervals on average, which is most
 * of the detection time. A live suspect answers these probes (and hears of its suspicion from
 * them, so it refutes sooner); a dead one fails them within one interval. The probe replaces the
 * member's next round-robin probe: no extra traffic.
 * Also the relay side of ping-req. */
#include <string.h>

#include "swim_int.h"

static pd_swim_bytes_t self_id(const pd_swim_t *s)
{
    return (pd_swim_bytes_t){(const uint8_t *)s->self->id, s->self->id_len};
}

static pd_swim_bytes_t id_of(const swim_member_t *m)
{
    return (pd_swim_bytes_t){(const uint8_t *)m->id, m->id_len};
}

static uint32_t tag_of(const swim_member_t *m)
{
    return pd_swim_id_tag((const uint8_t *)m->id, m->id_len);
}

static swim_member_t *next_target(pd_swim_t *s, pd_rng_t *rng)
{
    for (uint32_t tries = 0; tries <= s->n_nodes; tries++) {
        if (s->probe_pos >= s->n_nodes) {
            pd_swim__shuffle(s, rng);
            s->probe_pos = 0;
        }
        swim_member_t *m = s->nodes[s->probe_pos++];
        if (m != s->self && (m->state == PD_SWIM_ALIVE || m->state == PD_SWIM_SUSPECT))
            return m;
    }
    return NULL;
}

static int probeable(const pd_swim_t *s, const swim_member_t *m)
{
    return m && m != s->self && (m->state == PD_SWIM_ALIVE || m->state == PD_SWIM_SUSPECT);
}

/* target: a confirmation probe's suspect, or NULL for the next one in round-robin order. */
static void probe_start(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng, swim_member_t *target)
{
    uint64_t iv = pd_swim__scaled(s, s->cfg.probe_interval_ms);
    s->next_probe_ms = now_ms + iv;
    if (!target && probeable(s, s->probe_soon))
        target = s->probe_soon;
    s->probe_soon = NULL;
    swim_member_t *t = target ? target : next_target(s, rng);
    if (!t)
        return;
    s->probe.phase = PROBE_DIRECT;
    s->probe.target = t;
    s->probe.seq = pd_swim__next_seq(s);
    s->probe.expected_nacks = s->probe.nacks = 0;
    s->probe.direct_deadline_ms = now_ms + pd_swim__scaled(s, s->cfg.probe_timeout_ms);
    s->probe.end_ms = now_ms + iv;
    s->stats.probes++;

    uint8_t pbuf[256], sbuf[256];
    size_t plen, slen;
    /* The target by its tag and no "from" (the ack goes back to the packet's source): every byte
     * of a probe is paid once per probe interval by every member. */
    pd_swim_msg_t ping = {.type = PD_SWIM_MSG_PING, .seq = s->probe.seq, .node_tag = tag_of(t)};
    if (pd_swim_wire_encode(&ping, pbuf, sizeof pbuf, &plen) != 0)
        return;
    pd_swim_bytes_t parts[2];
    uint32_t n = 0;
    if (t->state == PD_SWIM_SUSPECT) {
        /* Buddy system: tell the suspect first, so it can refute before it is declared dead. */
        pd_swim_msg_t sus = {.type = PD_SWIM_MSG_SUSPECT, .inc = t->inc, .node = id_of(t), .from = self_id(s)};
        if (pd_swim_wire_encode(&sus, sbuf, sizeof sbuf, &slen) == 0)
            parts[n++] = (pd_swim_bytes_t){sbuf, (uint32_t)slen};
    }
    parts[n++] = (pd_swim_bytes_t){pbuf, (uint32_t)plen};
    pd_swim__send_udp(s, &t->addr, t->id, parts, n);
}

static void probe_indirect(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng)
{
    swim_member_t *t = s->probe.target, *relays[PD_SWIM_INDIRECT_MAX];
    s->probe.phase = PROBE_INDIRECT;
    uint32_t k = pd_swim__pick(s, rng, now_ms, s->cfg.indirect_checks, t, 0, relays);
    pd_swim_msg_t req = {.type = PD_SWIM_MSG_PING_REQ, .seq = s->probe.seq, .node = id_of(t),
                         .addr = t->addr, .from = self_id(s), .nack = 1};
    uint32_t sent = 0;
    for (uint32_t i = 0; i < k; i++) {
        if (relays[i]->state != PD_SWIM_ALIVE)
            continue; /* a suspect relay would only add noise */
        sent += pd_swim__send_msg(s, &relays[i]->addr, relays[i]->id, &req, 0) == 0;
    }
    s->probe.expected_nacks = sent;
    s->stats.indirect_sent += sent;
    if (s->cfg.tcp_fallback) {
        pd_swim_msg_t ping = {.type = PD_SWIM_MSG_PING, .seq = s->probe.seq, .node_tag = tag_of(t)};
        if (pd_swim__send_msg(s, &t->addr, t->id, &ping, PD_SWIM_PKT_STREAM) == 0)
            s->stats.fallback_sent++;
    }
}

static void probe_failed(pd_swim_t *s, uint64_t now_ms)
{
    swim_member_t *t = s->probe.target;
    int delta = 1;
    if (s->probe.expected_nacks > 0)
        delta = (int)(s->probe.expected_nacks - (s->probe.nacks < s->probe.expected_nacks
                                                     ? s->probe.nacks : s->probe.expected_nacks));
    pd_swim_awareness_apply(&s->aw, delta);
    s->probe.phase = PROBE_IDLE;
    s->probe.target = NULL;
    s->stats.probe_failures++;
    if (!t || (t->state != PD_SWIM_ALIVE && t->state != PD_SWIM_SUSPECT))
        return;
    PD_INFO(&s->log, "swim probe failed node=%s nacks=%u/%u", t->id, s->probe.nacks,
            s->probe.expected_nacks);
    pd_swim_msg_t sus = {.type = PD_SWIM_MSG_SUSPECT, .inc = t->inc, .node = id_of(t), .from = self_id(s)};
    if (t->state == PD_SWIM_ALIVE)
        s->stats.suspects_raised++;
    pd_swim__on_suspect(s, now_ms, &sus);
    /* Buddy system at once: if the target is alive after all, it refutes now rather than when
     * gossip or the next probe brings it the news. */
    pd_swim__send_msg(s, &t->addr, t->id, &sus, 0);
}

void pd_swim__probe_confirm(pd_swim_t *s, uint64_t now_ms, swim_member_t *m)
{
    if (s->leaving || !probeable(s, m) || s->probe.target == m)
        return;
    uint32_t live = pd_swim__live(s), others = live > 2 ? live - 2 : 0; /* minus us and the suspect */
    uint32_t want = s->cfg.suspicion_confirmations + 1;
    if (want == 1 || others == 0)
        return;
    if (others > want) {
        uint8_t key[2 * PD_SWIM_ID_MAX];
        memcpy(key, s->self->id, s->self->id_len);
        memcpy(key + s->self->id_len, m->id, m->id_len);
        if (pd_swim_hash(key, (size_t)s->self->id_len + m->id_len) % others >= want)
            return;
    }
    if (s->probe.phase == PROBE_IDLE)
        probe_start(s, now_ms, NULL, m);
    else
        s->probe_soon = m;
}

static void relay_send(pd_swim_t *s, swim_relay_t *r, int type)
{
    pd_swim_msg_t m = {.type = (uint8_t)type, .seq = r->orig_seq, .from = self_id(s)};
    pd_swim__send_msg(s, &r->requester, NULL, &m, 0);
}

static void relay_drop(pd_swim_t *s, uint32_t i)
{
    s->relays[i] = s->relays[--s->n_relays];
}

static void relays_tick(pd_swim_t *s, uint64_t now_ms)
{
    for (uint32_t i = s->n_relays; i > 0; i--) {
        swim_relay_t *r = &s->relays[i - 1];
        if (r->nack && !r->nack_sent && now_ms >= r->nack_deadline_ms) {
            relay_send(s, r, PD_SWIM_MSG_NACK);
            r->nack_sent = 1;
            s->stats.nacks_sent++;
        }
        if (now_ms >= r->expire_ms)
            relay_drop(s, i - 1);
    }
}

void pd_swim__probe_tick(pd_swim_t *s, uint64_t now_ms, pd_rng_t *rng)
{
    if (s->probe.phase == PROBE_DIRECT && now_ms >= s->probe.direct_deadline_ms)
        probe_indirect(s, now_ms, rng);
    if (s->probe.phase != PROBE_IDLE && now_ms >= s->probe.end_ms)
        probe_failed(s, now_ms);
    relays_tick(s, now_ms);
    if (!s->leaving && now_ms >= s->next_probe_ms)
        probe_start(s, now_ms, rng, NULL);
}

uint64_t pd_swim__probe_deadline(const pd_swim_t *s)
{
    uint64_t d = s->leaving ? UINT64_MAX : s->next_probe_ms;
    if (s->probe.phase == PROBE_DIRECT && s->probe.direct_deadline_ms < d)
        d = s->probe.direct_deadline_ms;
    if (s->probe.phase != PROBE_IDLE && s->probe.end_ms < d)
        d = s->probe.end_ms;
    for (uint32_t i = 0; i < s->n_relays; i++) {
        const swim_relay_t *r = &s->relays[i];
        if (r->nack && !r->nack_sent && r->nack_deadline_ms < d)
            d = r->nack_deadline_ms;
        if (r->expire_ms < d)
            d = r->expire_ms;
    }
    return d;
}

void pd_swim__on_ping(pd_swim_t *s, const pd_swim_addr_t *from, const pd_swim_msg_t *m, uint32_t flags)
{
    int for_us = m->node.len ? m->node.len == s->self->id_len && memcmp(m->node.p, s->self->id, m->node.len) == 0
                             : m->node_tag == tag_of(s->self);
    if (!for_us) {
        s->stats.rx_ignored++; /* meant for a previous owner of our address */
        return;
    }
    pd_swim_msg_t ack = {.type = PD_SWIM_MSG_ACK, .seq = m->seq};
    char node[PD_SWIM_ID_MAX + 1];
    memcpy(node, m->from.p ? (const char *)m->from.p : "", m->from.len);
    node[m->from.len] = '\0';
    pd_swim__send_msg(s, from, node, &ack, flags & PD_SWIM_PKT_STREAM);
}

void pd_swim__on_ping_req(pd_swim_t *s, uint64_t now_ms, const pd_swim_addr_t *from, const pd_swim_msg_t *m)
{
    if (s->n_relays >= PD_SWIM_RELAY_MAX) {
        s->stats.relays_dropped++;
        return;
    }
    swim_relay_t *r = &s->relays[s->n_relays];
    memset(r, 0, sizeof *r);
    r->nack = m->nack;
    r->local_seq = pd_swim__next_seq(s);
    r->orig_seq = m->seq;
    r->requester = *from;
    /* Nack at 80% of the probe timeout (Lifeguard), so it reaches the requester before its
     * probe interval, which started a probe timeout before this ping-req, ends. */
    r->nack_deadline_ms = now_ms + s->cfg.probe_timeout_ms * 4ull / 5;
    r->expire_ms = now_ms + 2ull * s->cfg.probe_interval_ms;
    s->n_relays++; /* r stays valid: nothing below touches the relays */
    pd_swim_msg_t ping = {.type = PD_SWIM_MSG_PING, .seq = r->local_seq,
                          .node_tag = pd_swim_id_tag(m->node.p, m->node.len)};
    char node[PD_SWIM_ID_MAX + 1];
    memcpy(node, m->node.p, m->node.len);
    node[m->node.len] = '\0';
    pd_swim__send_msg(s, &m->addr, node, &ping, 0);
}

void pd_swim__on_ack(pd_swim_t *s, uint64_t now_ms, const pd_swim_msg_t *m)
{
    (void)now_ms;
    if (s->probe.phase != PROBE_IDLE && m->seq == s->probe.seq) {
        pd_swim_awareness_apply(&s->aw, -1);
        s->probe.phase = PROBE_IDLE;
        s->probe.target = NULL;
        s->stats.probe_acks++;
        return;
    }
    for (uint32_t i = 0; i < s->n_relays; i++) {
        swim_relay_t *r = &s->relays[i];
        if (r->local_seq == m->seq) {
            relay_send(s, r, PD_SWIM_MSG_ACK);
            relay_drop(s, i);
            return;
        }
    }
    s->stats.rx_ignored++; /* late or unknown ack */
}

void pd_swim__on_nack(pd_swim_t *s, const pd_swim_msg_t *m)
{
    /* Not a reason to fail the probe before the interval ends, though every relay may have
     * nacked by then: a live member whose round trip is beyond the probe timeout (a loaded host)
     * still acks within the interval, and failing it early had it suspected on most probes
     * (test_swim_sim_detect: test_slow_member). */
    if (s->probe.phase == PROBE_INDIRECT && m->seq == s->probe.seq)
        s->probe.nacks++;
    s->stats.nacks_recv++;
}
