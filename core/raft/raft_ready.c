/* The outbox: ready() gathers what to persist, send, apply and serve; advance() records that it
 * was done (stable index, applied index and the membership changes it applied). Also compaction
 * and read-only accessors. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "raft_int.h"

static pd_raft_hard_state_t hard_state(const pd_raft_t *r)
{
    return (pd_raft_hard_state_t){r->term, r->vote, r->rl.committed};
}

static bool hs_equal(pd_raft_hard_state_t a, pd_raft_hard_state_t b)
{
    return a.term == b.term && a.vote == b.vote && a.commit == b.commit;
}

/* The committed entries to hand out now: (applied, committed], bounded in bytes. */
static const pd_raft_entry_t *committed_slice(const pd_raft_t *r, size_t *n)
{
    *n = 0;
    if (r->rl.snap_unstable || r->rl.committed <= r->rl.applied)
        return NULL;
    return rlog_slice(&r->rl, r->rl.applied + 1, r->rl.committed, SIZE_MAX,
                      r->cfg.max_committed_bytes, n);
}

/* Reads are served once the state machine reaches their index. */
static size_t reads_servable(const pd_raft_t *r, uint64_t applied_to)
{
    size_t k = 0;
    while (k < r->n_reads_done && r->reads_done[k].index <= applied_to)
        k++;
    return k;
}

int pd_raft_has_ready(const pd_raft_t *r)
{
    size_t n;
    const pd_raft_entry_t *c = committed_slice(r, &n);
    uint64_t applied_to = n ? c[n - 1].index : r->rl.applied;
    return r->rl.snap_unstable || !hs_equal(hard_state(r), r->prev_hs) ||
           rlog_last_index(&r->rl) > r->rl.stable || n > 0 || r->n_msgs > 0 ||
           reads_servable(r, applied_to) > 0;
}

/* Fill in the borrowed pointers of queued messages; drop the ones the log no longer backs (the
 * node stepped down, or entries / the snapshot were replaced after the message was queued). */
static bool resolve_msg(const pd_raft_t *r, pd_raft_msg_t *m)
{
    if (m->type == PD_RAFT_MSG_APP && m->n_entries > 0) {
        uint64_t t;
        if (m->term != r->term || r->role != PD_RAFT_LEADER ||
            rlog_term(&r->rl, m->index, &t) != 0 || t != m->log_term ||
            m->index + m->n_entries > rlog_last_index(&r->rl))
            return false;
        m->entries = &r->rl.ents[m->index - r->rl.prev_index];
    }
    if (m->type == PD_RAFT_MSG_SNAP) {
        const pd_raft_snapshot_t *s = &r->rl.snap;
        if (m->term != r->term || s->meta.index != m->snap.index ||
            m->snap_offset + m->snap_len > s->len)
            return false;
        m->snap_data = m->snap_len ? s->data + m->snap_offset : NULL;
    }
    return true;
}

static void resolve_msgs(pd_raft_t *r)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n_msgs; i++) {
        if (resolve_msg(r, &r->msgs[i]))
            r->msgs[k++] = r->msgs[i];
    }
    r->n_msgs = k;
}

void pd_raft_ready(pd_raft_t *r, pd_raft_ready_t *rd)
{
    PD_ASSERT(!r->in_ready);
    memset(rd, 0, sizeof *rd);
    r->in_ready = true;
    r->rd_hs = hard_state(r);
    r->rd_has_hs = !hs_equal(r->rd_hs, r->prev_hs);
    rd->has_hs = r->rd_has_hs;
    rd->hs = r->rd_hs;
    r->rd_snap = r->rl.snap_unstable;
    if (r->rd_snap)
        rd->snapshot = &r->rl.snap;
    uint64_t last = rlog_last_index(&r->rl);
    r->rd_stable_to = last;
    if (last > r->rl.stable) {
        rd->entries = &r->rl.ents[r->rl.stable - r->rl.prev_index];
        rd->n_entries = (size_t)(last - r->rl.stable);
    }
    size_t n = 0;
    const pd_raft_entry_t *c = committed_slice(r, &n);
    rd->committed = c;
    rd->n_committed = n;
    r->rd_applied_to = n ? c[n - 1].index : r->rl.applied;
    resolve_msgs(r);
    rd->msgs = r->msgs;
    rd->n_msgs = r->n_msgs;
    r->rd_n_reads = reads_servable(r, r->rd_applied_to);
    rd->reads = r->reads_done;
    rd->n_reads = r->rd_n_reads;
    rd->role = r->role;
    rd->leader = r->lead;
}

/* A forced new cluster: the configuration is the one voter, the others are fenced. On the node
 * that forced it this repeats what pd_raft_force_new_cluster did; elsewhere (a member added
 * later replays the log, or a restart) it is where the change happens. */
static void apply_force_entry(pd_raft_t *r, const pd_raft_entry_t *e)
{
    uint64_t node, fenced[PD_RAFT_NODES_MAX];
    uint32_t n = 0;
    if (pd_raft_force_decode(e->data, e->len, &node, fenced, &n) != 0) {
        PD_WARN(r->log, "raft force entry not applied index=%llu: malformed", (unsigned long long)e->index);
        return;
    }
    memset(&r->conf, 0, sizeof r->conf);
    r->conf.voters[0] = node;
    r->conf.n_voters = 1;
    for (uint32_t i = 0; i < n; i++)
        raft_fence(r, fenced[i], true);
    PD_INFO(r->log, "raft forced new cluster applied index=%llu voter=%llu fenced=%u", (unsigned long long)e->index,
            (unsigned long long)node, n);
    raft_prs_sync(r);
}

void raft_apply_conf_entry(pd_raft_t *r, const pd_raft_entry_t *e)
{
    if (e->len > 0 && e->data[0] == PD_RAFT_CC_FORCE) {
        apply_force_entry(r, e);
        return;
    }
    pd_raft_cc_type_t type;
    uint64_t node;
    int rc = pd_raft_cc_decode(e->data, e->len, &type, &node);
    if (rc == 0)
        rc = pd_raft_conf_apply(&r->conf, type, node);
    if (rc) {
        PD_WARN(r->log, "raft conf entry not applied index=%llu err=%s", (unsigned long long)e->index,
                pd_err_name(rc));
        return;
    }
    PD_INFO(r->log, "raft conf applied index=%llu type=%d node=%llu voters=%u learners=%u",
            (unsigned long long)e->index, (int)type, (unsigned long long)node, r->conf.n_voters,
            r->conf.n_learners);
    if (type != PD_RAFT_CC_REMOVE)
        raft_fence(r, node, false); /* added back on purpose */
    raft_prs_sync(r);
    if (r->role == PD_RAFT_LEADER && type == PD_RAFT_CC_REMOVE && r->transferee == node)
        r->transferee = PD_RAFT_NONE;
}

/* Membership changes take effect as they are applied. */
static void apply_to(pd_raft_t *r, uint64_t to)
{
    bool changed = false;
    for (uint64_t i = r->rl.applied + 1; i <= to; i++) {
        const pd_raft_entry_t *e = &r->rl.ents[i - r->rl.prev_index - 1];
        if (e->type == PD_RAFT_ENTRY_CONF) {
            raft_apply_conf_entry(r, e);
            changed = true;
        }
    }
    r->rl.applied = to;
    if (!changed || r->role != PD_RAFT_LEADER)
        return;
    if (!pd_raft_conf_has_voter(&r->conf, r->id)) {
        PD_INFO(r->log, "raft leader removed from voters, stepping down");
        raft_become_follower(r, r->term, PD_RAFT_NONE);
        return;
    }
    raft_maybe_commit(r);  /* the quorum may have shrunk */
    raft_bcast_append(r); /* new commit index; new members get their first append */
}

void pd_raft_advance(pd_raft_t *r)
{
    PD_ASSERT(r->in_ready);
    r->in_ready = false;
    if (r->rd_has_hs)
        r->prev_hs = r->rd_hs;
    if (r->rd_snap)
        r->rl.snap_unstable = false;
    if (r->rd_stable_to > r->rl.stable)
        r->rl.stable = r->rd_stable_to;
    r->n_msgs = 0;
    if (r->rd_n_reads) {
        memmove(r->reads_done, r->reads_done + r->rd_n_reads,
                (r->n_reads_done - r->rd_n_reads) * sizeof *r->reads_done);
        r->n_reads_done -= r->rd_n_reads;
    }
    r->rd_n_reads = 0;
    if (r->rd_applied_to > r->rl.applied)
        apply_to(r, r->rd_applied_to);
}

int pd_raft_compact(pd_raft_t *r, uint64_t index, const void *data, size_t len, uint64_t keep_entries)
{
    PD_ASSERT(!r->in_ready);
    if (index != r->rl.applied || index <= r->rl.snap.meta.index || index < r->rl.prev_index)
        return -PD_ESTATE;
    pd_raft_snapshot_t s = {.len = len};
    if (rlog_term(&r->rl, index, &s.meta.term) != 0)
        return -PD_ESTATE;
    s.meta.index = index;
    s.meta.conf = r->conf;
    if (len) {
        s.data = pd_malloc(len);
        if (!s.data)
            return -ENOMEM;
        memcpy(s.data, data, len);
    }
    rlog_compact(&r->rl, &s, keep_entries);
    PD_DEBUG(r->log, "raft compacted index=%llu first=%llu", (unsigned long long)index,
             (unsigned long long)(r->rl.prev_index + 1));
    return 0;
}

/* ---- accessors -------------------------------------------------------------------------------- */

pd_raft_role_t pd_raft_role(const pd_raft_t *r) { return r->role; }
uint64_t pd_raft_id(const pd_raft_t *r) { return r->id; }
uint64_t pd_raft_term(const pd_raft_t *r) { return r->term; }
uint64_t pd_raft_leader(const pd_raft_t *r) { return r->lead; }
uint64_t pd_raft_commit(const pd_raft_t *r) { return r->rl.committed; }
uint64_t pd_raft_applied(const pd_raft_t *r) { return r->rl.applied; }
uint64_t pd_raft_last_index(const pd_raft_t *r) { return rlog_last_index(&r->rl); }
uint64_t pd_raft_first_index(const pd_raft_t *r) { return r->rl.prev_index + 1; }
const pd_raft_conf_t *pd_raft_conf(const pd_raft_t *r) { return &r->conf; }
const pd_raft_snapshot_t *pd_raft_snapshot(const pd_raft_t *r) { return &r->rl.snap; }

int pd_raft_fenced(const pd_raft_t *r, uint64_t id)
{
    for (uint32_t i = 0; i < r->n_fenced; i++)
        if (r->fenced[i] == id)
            return 1;
    return 0;
}

uint64_t pd_raft_term_at(const pd_raft_t *r, uint64_t index)
{
    uint64_t t = 0;
    return rlog_term(&r->rl, index, &t) == 0 ? t : 0;
}

int pd_raft_progress_match(const pd_raft_t *r, uint64_t node, uint64_t *match_out)
{
    if (r->role != PD_RAFT_LEADER)
        return -PD_ENOTLEADER;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id == node) {
            *match_out = r->prs[i].match;
            return 0;
        }
    }
    return -PD_ENOTFOUND;
}

const char *pd_raft_role_name(pd_raft_role_t role)
{
    static const char *const names[] = {"follower", "precandidate", "candidate", "leader"};
    return (unsigned)role < PD_ARRAY_LEN(names) ? names[role] : "?";
}

const char *pd_raft_msg_type_name(int type)
{
    static const char *const names[] = {"?", "app", "app_resp", "vote", "vote_resp", "prevote",
                                        "prevote_resp", "heartbeat", "heartbeat_resp", "snap",
                                        "snap_resp", "timeout_now"};
    return type >= 0 && (unsigned)type < PD_ARRAY_LEN(names) ? names[type] : "?";
}
