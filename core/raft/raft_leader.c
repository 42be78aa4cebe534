/* The leader: replication (pipelined appends, probing, conflict backtracking, snapshots in
 * chunks), commit by counting current-term entries, heartbeats, check-quorum, proposals,
 * membership changes, leadership transfer and ReadIndex. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "raft_int.h"

static bool is_leader(const pd_raft_t *r)
{
    return r->role == PD_RAFT_LEADER;
}

int raft_append_local(pd_raft_t *r, uint8_t type, const void *data, size_t len, uint64_t *index_out)
{
    if (len > r->cfg.max_msg_bytes || len > UINT32_MAX)
        return -PD_ETOOBIG;
    pd_raft_entry_t e = {.term = r->term, .index = rlog_last_index(&r->rl) + 1, .type = type,
                         .len = (uint32_t)len, .data = (uint8_t *)data};
    int rc = rlog_append(&r->rl, &e, 1);
    if (rc)
        return rc;
    raft_pr_t *self = raft_pr_find(r, r->id);
    if (self)
        rpr_maybe_update(self, e.index);
    if (index_out)
        *index_out = e.index;
    return 0;
}

/* Make the progress set match the configuration: keep known peers, add new ones, drop removed. */
void raft_prs_sync(pd_raft_t *r)
{
    raft_pr_t old[PD_RAFT_NODES_MAX];
    uint32_t n_old = r->n_prs;
    memcpy(old, r->prs, n_old * sizeof *old);
    uint64_t last = rlog_last_index(&r->rl);
    uint32_t n = 0;
    for (uint32_t k = 0; k < r->conf.n_voters + r->conf.n_learners; k++) {
        bool learner = k >= r->conf.n_voters;
        uint64_t id = learner ? r->conf.learners[k - r->conf.n_voters] : r->conf.voters[k];
        uint32_t j;
        for (j = 0; j < n_old && old[j].id != id; j++)
            ;
        if (j < n_old) {
            r->prs[n] = old[j];
        } else {
            rpr_reset(&r->prs[n], id, learner, last);
            if (id == r->id)
                r->prs[n].match = last;
        }
        r->prs[n].learner = learner;
        n++;
    }
    r->n_prs = n;
}

/* ---- sending ---------------------------------------------------------------------------------- */

static void send_snap_chunk(pd_raft_t *r, raft_pr_t *p)
{
    const pd_raft_snapshot_t *s = &r->rl.snap;
    if (p->snap_index != s->meta.index)
        rpr_become_snapshot(p, s->meta.index); /* a newer snapshot replaced it: start over */
    uint64_t off = PD_MIN(p->snap_acked, s->len);
    uint64_t n = PD_MIN((uint64_t)r->cfg.max_msg_bytes, s->len - off);
    pd_raft_msg_t m = {.type = PD_RAFT_MSG_SNAP, .to = p->id, .snap = s->meta, .snap_offset = off,
                       .snap_len = (uint32_t)n, .snap_done = off + n == s->len};
    /* snap_data is resolved in ready(): the snapshot may be replaced before then. */
    raft_send(r, &m);
    p->snap_idle_ticks = 0;
}

static void send_snapshot(pd_raft_t *r, raft_pr_t *p)
{
    PD_ASSERT(r->rl.snap.meta.index > 0);
    rpr_become_snapshot(p, r->rl.snap.meta.index);
    PD_DEBUG(r->log, "raft sending snapshot to=%llu index=%llu", (unsigned long long)p->id,
             (unsigned long long)p->snap_index);
    send_snap_chunk(r, p);
}

bool raft_send_append(pd_raft_t *r, raft_pr_t *p, bool send_if_empty)
{
    if (p->id == r->id || rpr_paused(p, r->cfg.max_inflight))
        return false;
    uint64_t prev = p->next - 1, prev_term;
    if (rlog_term(&r->rl, prev, &prev_term) != 0) {
        send_snapshot(r, p);
        return false;
    }
    size_t n = 0;
    (void)rlog_slice(&r->rl, p->next, rlog_last_index(&r->rl), r->cfg.max_msg_entries,
                     r->cfg.max_msg_bytes, &n);
    if (n == 0 && !send_if_empty)
        return false;
    /* entries are resolved in ready() from index + 1; they stay in the log until then. */
    pd_raft_msg_t m = {.type = PD_RAFT_MSG_APP, .to = p->id, .index = prev, .log_term = prev_term,
                       .commit = r->rl.committed, .n_entries = (uint32_t)n};
    raft_send(r, &m);
    rpr_sent(p, prev + n, n);
    return n > 0;
}

static void send_all(pd_raft_t *r, raft_pr_t *p)
{
    while (raft_send_append(r, p, false))
        ;
}

void raft_bcast_append(pd_raft_t *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        raft_pr_t *p = &r->prs[i];
        if (p->id == r->id)
            continue;
        if (raft_send_append(r, p, true))
            send_all(r, p);
    }
}

static void send_heartbeat(pd_raft_t *r, raft_pr_t *p)
{
    pd_raft_msg_t m = {.type = PD_RAFT_MSG_HEARTBEAT, .to = p->id,
                       .commit = PD_MIN(p->match, r->rl.committed), .ctx = r->read_seq};
    raft_send(r, &m);
}

static void bcast_heartbeat(pd_raft_t *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id != r->id)
            send_heartbeat(r, &r->prs[i]);
    }
}

/* ---- commit ----------------------------------------------------------------------------------- */

bool raft_maybe_commit(pd_raft_t *r)
{
    uint64_t m[PD_RAFT_NODES_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        if (!r->prs[i].learner)
            m[n++] = r->prs[i].match;
    }
    if (n == 0)
        return false;
    uint64_t idx = rq_committed_index(m, n);
    /* Only entries of the current term commit by counting (Raft §5.4.2, Figure 8). */
    if (idx <= r->rl.committed || !rlog_match(&r->rl, idx, r->term))
        return false;
    rlog_commit_to(&r->rl, idx);
    raft_reads_release(r);
    return true;
}

static bool committed_in_term(const pd_raft_t *r)
{
    uint64_t t;
    return rlog_term(&r->rl, r->rl.committed, &t) == 0 && t == r->term;
}

void raft_become_leader(pd_raft_t *r)
{
    PD_ASSERT(r->role != PD_RAFT_FOLLOWER);
    uint64_t term = r->term;
    raft_become_follower(r, term, PD_RAFT_NONE); /* the common reset */
    r->step = raft_step_leader;
    r->tick = raft_tick_heartbeat;
    r->lead = r->id;
    r->role = PD_RAFT_LEADER;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id == r->id)
            rpr_become_replicate(&r->prs[i]);
        r->prs[i].recent_active = true;
    }
    r->pending_conf_index = rlog_last_index(&r->rl); /* be conservative about older changes */
    PD_INFO(r->log, "raft became leader term=%llu last=%llu", (unsigned long long)r->term,
            (unsigned long long)rlog_last_index(&r->rl));
    if (raft_append_local(r, PD_RAFT_ENTRY_NORMAL, NULL, 0, NULL) != 0)
        return; /* out of memory: no no-op; check-quorum or the next election fixes it */
    raft_maybe_commit(r);
    raft_bcast_append(r);
}

/* ---- ReadIndex -------------------------------------------------------------------------------- */

static bool read_confirmed(const pd_raft_t *r, uint64_t seq)
{
    uint32_t acks = 0;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        const raft_pr_t *p = &r->prs[i];
        if (!p->learner && (p->id == r->id || p->read_ack >= seq))
            acks++;
    }
    return acks >= raft_quorum_size(r);
}

void raft_reads_release(pd_raft_t *r)
{
    if (!is_leader(r) || !committed_in_term(r))
        return;
    size_t k = 0;
    while (k < r->n_reads_pending && read_confirmed(r, r->reads_pending[k].seq)) {
        raft_read_t *q = &r->reads_pending[k];
        uint64_t idx = q->index ? q->index : r->rl.committed;
        r->reads_done[r->n_reads_done++] = (pd_raft_read_state_t){q->ctx, idx};
        k++;
    }
    if (k) {
        memmove(r->reads_pending, r->reads_pending + k,
                (r->n_reads_pending - k) * sizeof(raft_read_t));
        r->n_reads_pending -= k;
    }
}

int pd_raft_read_index(pd_raft_t *r, uint64_t ctx)
{
    PD_ASSERT(!r->in_ready);
    if (!is_leader(r))
        return -PD_ENOTLEADER;
    if (r->n_reads_pending + r->n_reads_done >= PD_RAFT_READS_MAX)
        return -PD_ELIMIT;
    if (!r->reads_pending) {
        r->reads_pending = pd_malloc(PD_RAFT_READS_MAX * sizeof *r->reads_pending);
        r->reads_done = pd_malloc(PD_RAFT_READS_MAX * sizeof *r->reads_done);
        if (!r->reads_pending || !r->reads_done) {
            pd_free(r->reads_pending);
            pd_free(r->reads_done);
            r->reads_pending = NULL;
            r->reads_done = NULL;
            return -ENOMEM;
        }
    }
    uint64_t idx = committed_in_term(r) ? r->rl.committed : 0;
    r->reads_pending[r->n_reads_pending++] = (raft_read_t){ctx, idx, ++r->read_seq};
    raft_reads_release(r); /* a single voter confirms at once */
    if (r->n_reads_pending)
        bcast_heartbeat(r);
    return 0;
}

/* ---- leader step ------------------------------------------------------------------------------ */

static void handle_app_reject(pd_raft_t *r, raft_pr_t *p, const pd_raft_msg_t *m)
{
    uint64_t hint = m->reject_hint;
    if (m->log_term > 0)
        hint = rlog_find_conflict_by_term(&r->rl, hint, m->log_term);
    if (!rpr_maybe_decr_to(p, m->index, hint))
        return;
    if (p->state == PR_REPLICATE)
        rpr_become_probe(p);
    raft_send_append(r, p, true);
}

static void maybe_send_timeout_now(pd_raft_t *r, raft_pr_t *p)
{
    if (p->id != r->transferee || p->match != rlog_last_index(&r->rl))
        return;
    pd_raft_msg_t m = {.type = PD_RAFT_MSG_TIMEOUT_NOW, .to = p->id};
    raft_send(r, &m);
}

static void handle_app_resp(pd_raft_t *r, raft_pr_t *p, const pd_raft_msg_t *m)
{
    if (m->reject) {
        handle_app_reject(r, p, m);
        return;
    }
    bool was_paused = rpr_paused(p, r->cfg.max_inflight);
    if (!rpr_maybe_update(p, m->index))
        return;
    if (p->state == PR_PROBE)
        rpr_become_replicate(p);
    else if (p->state == PR_SNAPSHOT && p->match >= p->snap_index)
        rpr_become_probe(p);
    else if (p->state == PR_REPLICATE)
        rpr_infl_free_to(p, m->index);
    if (raft_maybe_commit(r))
        raft_bcast_append(r);
    else if (was_paused)
        raft_send_append(r, p, true);
    send_all(r, p);
    maybe_send_timeout_now(r, p);
}

static void handle_heartbeat_resp(pd_raft_t *r, raft_pr_t *p, const pd_raft_msg_t *m)
{
    p->probe_sent = false;
    if (p->state == PR_REPLICATE && p->infl_count >= r->cfg.max_inflight && p->infl_count > 0) {
        p->infl_start = (p->infl_start + 1) % PD_RAFT_INFLIGHT_MAX; /* let one more go */
        p->infl_count--;
    }
    if (p->match < rlog_last_index(&r->rl))
        raft_send_append(r, p, true);
    if (m->ctx > p->read_ack) {
        p->read_ack = m->ctx;
        raft_reads_release(r);
    }
}

static void handle_snap_resp(pd_raft_t *r, raft_pr_t *p, const pd_raft_msg_t *m)
{
    if (p->state != PR_SNAPSHOT || m->index != p->snap_index)
        return;
    p->snap_acked = m->snap_offset;
    p->snap_idle_ticks = 0;
    if (p->snap_acked < r->rl.snap.len || p->snap_index != r->rl.snap.meta.index)
        send_snap_chunk(r, p);
}

void raft_step_leader(pd_raft_t *r, const pd_raft_msg_t *m)
{
    raft_pr_t *p = raft_pr_find(r, m->from);
    if (!p)
        return;
    p->recent_active = true;
    switch (m->type) {
    case PD_RAFT_MSG_APP_RESP: handle_app_resp(r, p, m); break;
    case PD_RAFT_MSG_HEARTBEAT_RESP: handle_heartbeat_resp(r, p, m); break;
    case PD_RAFT_MSG_SNAP_RESP: handle_snap_resp(r, p, m); break;
    default: break;
    }
}

/* ---- leader tick ------------------------------------------------------------------------------ */

static bool quorum_active(pd_raft_t *r)
{
    uint32_t active = 0;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        raft_pr_t *p = &r->prs[i];
        if (!p->learner && (p->id == r->id || p->recent_active))
            active++;
        if (p->id != r->id)
            p->recent_active = false;
    }
    return active >= raft_quorum_size(r);
}

/* A follower in replicate whose match did not move for a whole round while behind: its appends
 * were lost. Fall back to probing from match + 1. */
static void unstick(pd_raft_t *r)
{
    uint64_t last = rlog_last_index(&r->rl);
    for (uint32_t i = 0; i < r->n_prs; i++) {
        raft_pr_t *p = &r->prs[i];
        if (p->id != r->id && p->state == PR_REPLICATE && p->match < last &&
            p->match == p->stall_match) {
            rpr_become_probe(p);
            raft_send_append(r, p, true);
        }
        p->stall_match = p->match;
    }
}

static void maybe_auto_promote(pd_raft_t *r)
{
    if (!r->cfg.auto_promote || r->pending_conf_index > r->rl.applied || r->transferee)
        return;
    uint64_t last = rlog_last_index(&r->rl);
    for (uint32_t i = 0; i < r->n_prs; i++) {
        raft_pr_t *p = &r->prs[i];
        if (p->learner && p->match > 0 && p->match + r->cfg.promote_lag >= last) {
            (void)pd_raft_propose_conf(r, PD_RAFT_CC_PROMOTE, p->id);
            return;
        }
    }
}

static void snapshot_resends(pd_raft_t *r)
{
    uint32_t limit = PD_MAX(2u, r->cfg.election_ticks / 2);
    for (uint32_t i = 0; i < r->n_prs; i++) {
        raft_pr_t *p = &r->prs[i];
        if (p->state == PR_SNAPSHOT && ++p->snap_idle_ticks >= limit)
            send_snap_chunk(r, p); /* a chunk or its ack was lost */
    }
}

static bool election_round(pd_raft_t *r)
{
    r->election_elapsed = 0;
    if (r->cfg.check_quorum && !quorum_active(r)) {
        PD_INFO(r->log, "raft leader lost quorum, stepping down term=%llu",
                (unsigned long long)r->term);
        raft_become_follower(r, r->term, PD_RAFT_NONE);
        return false;
    }
    if (r->transferee) {
        PD_INFO(r->log, "raft leadership transfer to=%llu timed out", (unsigned long long)r->transferee);
        r->transferee = PD_RAFT_NONE;
    }
    unstick(r);
    return true;
}

void raft_tick_heartbeat(pd_raft_t *r)
{
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->election_elapsed >= r->cfg.election_ticks && !election_round(r))
        return;
    if (!pd_raft_conf_has_voter(&r->conf, r->id) && !pd_raft_conf_has_learner(&r->conf, r->id)) {
        raft_become_follower(r, r->term, PD_RAFT_NONE); /* removed and the removal applied */
        return;
    }
    snapshot_resends(r);
    if (r->heartbeat_elapsed >= r->cfg.heartbeat_ticks) {
        r->heartbeat_elapsed = 0;
        bcast_heartbeat(r);
        maybe_auto_promote(r);
    }
}

/* ---- proposals -------------------------------------------------------------------------------- */

int pd_raft_propose(pd_raft_t *r, const void *data, size_t len, uint64_t *index_out)
{
    PD_ASSERT(!r->in_ready);
    if (!is_leader(r))
        return -PD_ENOTLEADER;
    if (r->transferee)
        return -PD_ESTATE;
    int rc = raft_append_local(r, PD_RAFT_ENTRY_NORMAL, data, len, index_out);
    if (rc)
        return rc;
    raft_maybe_commit(r);
    raft_bcast_append(r);
    return 0;
}

static int conf_check(const pd_raft_t *r, pd_raft_cc_type_t type, uint64_t node)
{
    if (r->pending_conf_index > r->rl.applied)
        return -PD_ESTATE; /* one change at a time */
    pd_raft_conf_t c = r->conf;
    int rc = pd_raft_conf_apply(&c, type, node);
    if (rc)
        return rc;
    if (c.n_voters == 0)
        return -PD_ESTATE;
    if (type == PD_RAFT_CC_PROMOTE) {
        const raft_pr_t *p = raft_pr_find((pd_raft_t *)r, node);
        if (!p || p->match == 0 || p->match + r->cfg.promote_lag < rlog_last_index(&r->rl))
            return -PD_ESTATE; /* not caught up yet */
    }
    return 0;
}

int pd_raft_propose_conf(pd_raft_t *r, pd_raft_cc_type_t type, uint64_t node)
{
    PD_ASSERT(!r->in_ready);
    if (!is_leader(r))
        return -PD_ENOTLEADER;
    if (r->transferee)
        return -PD_ESTATE;
    int rc = conf_check(r, type, node);
    if (rc)
        return rc;
    uint8_t buf[PD_RAFT_CC_LEN];
    pd_raft_cc_encode(buf, type, node);
    uint64_t idx;
    rc = raft_append_local(r, PD_RAFT_ENTRY_CONF, buf, sizeof buf, &idx);
    if (rc)
        return rc;
    r->pending_conf_index = idx;
    PD_INFO(r->log, "raft conf change proposed type=%d node=%llu index=%llu", (int)type,
            (unsigned long long)node, (unsigned long long)idx);
    raft_maybe_commit(r);
    raft_bcast_append(r);
    return 0;
}

int pd_raft_transfer_leader(pd_raft_t *r, uint64_t to)
{
    PD_ASSERT(!r->in_ready);
    if (!is_leader(r))
        return -PD_ENOTLEADER;
    if (to == r->id)
        return 0;
    raft_pr_t *p = raft_pr_find(r, to);
    if (!p)
        return -PD_ENOTFOUND;
    if (p->learner)
        return -PD_ESTATE;
    r->transferee = to;
    r->election_elapsed = 0; /* the transfer must finish within one election timeout */
    PD_INFO(r->log, "raft transferring leadership to=%llu", (unsigned long long)to);
    if (p->match == rlog_last_index(&r->rl))
        maybe_send_timeout_now(r, p);
    else
        raft_send_append(r, p, true);
    return 0;
}
