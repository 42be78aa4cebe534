/* Raft node: construction and restart, the term/vote rules every message passes through, roles
 * (function pointers for step and tick), elections with pre-vote and the leader lease, and the
 * follower side of append / heartbeat / snapshot. The leader side is in raft_leader.c, the
 * ready/advance outbox in raft_ready.c. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "raft_int.h"

static void step_follower(pd_raft_t *r, const pd_raft_msg_t *m);
static void step_candidate(pd_raft_t *r, const pd_raft_msg_t *m);
static void tick_election(pd_raft_t *r);

void pd_raft_config_default(pd_raft_config_t *cfg, uint64_t id, pd_rng_t *rng)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->id = id;
    cfg->election_ticks = 10;
    cfg->heartbeat_ticks = 1;
    cfg->max_inflight = 64;
    cfg->max_msg_bytes = 64u * 1024u;
    cfg->max_msg_entries = 256;
    cfg->max_committed_bytes = 1u << 20;
    cfg->promote_lag = 64;
    cfg->pre_vote = 1;
    cfg->check_quorum = 1;
    cfg->auto_promote = 1;
    cfg->rng = rng;
}

static int config_check(const pd_raft_config_t *c)
{
    if (c->id == PD_RAFT_NONE || !c->rng || c->election_ticks < 2 || c->heartbeat_ticks == 0 ||
        c->heartbeat_ticks >= c->election_ticks || c->max_inflight == 0 ||
        c->max_inflight > PD_RAFT_INFLIGHT_MAX || c->max_msg_bytes == 0 ||
        c->max_msg_entries == 0 || c->n_peers > PD_RAFT_NODES_MAX)
        return -PD_EUSAGE;
    for (uint32_t i = 0; i < c->n_peers; i++) {
        if (c->peers[i] == PD_RAFT_NONE)
            return -PD_EUSAGE;
    }
    return 0;
}

static void randomize_timeout(pd_raft_t *r)
{
    uint32_t e = r->cfg.election_ticks;
    r->rand_timeout = e + (uint32_t)pd_rng_below(r->rng, e);
}

/* Restart from stable storage: snapshot, then entries after it, then the hard state. */
static int restore(pd_raft_t *r, const pd_raft_config_t *c)
{
    if (c->snapshot && c->snapshot->meta.index > 0) {
        pd_raft_snapshot_t s = *c->snapshot;
        s.data = NULL;
        if (c->snapshot->len) {
            s.data = pd_malloc(c->snapshot->len);
            if (!s.data)
                return -ENOMEM;
            memcpy(s.data, c->snapshot->data, c->snapshot->len);
        }
        r->rl.prev_index = r->rl.committed = r->rl.applied = s.meta.index;
        r->rl.prev_term = s.meta.term;
        r->conf = s.meta.conf;
        r->rl.snap = s;
    }
    size_t skip = 0;
    while (skip < c->n_entries && c->entries[skip].index <= r->rl.prev_index)
        skip++;
    if (skip < c->n_entries && c->entries[skip].index != r->rl.prev_index + 1)
        return -PD_EUSAGE;
    if (skip < c->n_entries) {
        int rc = rlog_append(&r->rl, c->entries + skip, c->n_entries - skip);
        if (rc)
            return rc;
    }
    r->rl.stable = rlog_last_index(&r->rl);
    /* a commit past the log: storage lost entries the commit covers, and what is left after the
     * snapshot may be stale (applying it would break state-machine safety) */
    if (c->hs && c->hs->commit > rlog_last_index(&r->rl))
        return -PD_ECORRUPT;
    if (c->hs) {
        r->term = c->hs->term;
        r->vote = c->hs->vote;
        rlog_commit_to(&r->rl, c->hs->commit);
    }
    /* A FORCE entry was committed the moment its lone voter wrote it; the commit index persisted
     * with it may be older (a crash right after), and without it the old membership would be back. */
    for (uint64_t i = rlog_last_index(&r->rl); i > r->rl.prev_index; i--) {
        const pd_raft_entry_t *e = &r->rl.ents[i - r->rl.prev_index - 1];
        if (e->type == PD_RAFT_ENTRY_CONF && e->len > 0 && e->data[0] == PD_RAFT_CC_FORCE) {
            rlog_commit_to(&r->rl, i);
            break;
        }
    }
    r->prev_hs = (pd_raft_hard_state_t){r->term, r->vote, r->rl.committed};
    return 0;
}

/* A new cluster: the bootstrap voters, and one committed ADD_VOTER entry per voter at term 1 so a
 * node that joins later learns the initial membership from the log. */
static int bootstrap(pd_raft_t *r, const pd_raft_config_t *c)
{
    pd_raft_entry_t ents[PD_RAFT_NODES_MAX];
    uint8_t buf[PD_RAFT_NODES_MAX][PD_RAFT_CC_LEN];
    for (uint32_t i = 0; i < c->n_peers; i++) {
        pd_raft_cc_encode(buf[i], PD_RAFT_CC_ADD_VOTER, c->peers[i]);
        ents[i] = (pd_raft_entry_t){.term = 1, .index = i + 1, .type = PD_RAFT_ENTRY_CONF,
                                    .len = PD_RAFT_CC_LEN, .data = buf[i]};
        if (pd_raft_conf_apply(&r->conf, PD_RAFT_CC_ADD_VOTER, c->peers[i]) != 0)
            return -PD_EUSAGE;
    }
    int rc = rlog_append(&r->rl, ents, c->n_peers);
    if (rc)
        return rc;
    r->term = 1;
    r->rl.committed = r->rl.applied = c->n_peers;
    return 0;
}

int pd_raft_new(const pd_raft_config_t *cfg, pd_raft_t **out)
{
    int rc = config_check(cfg);
    if (rc)
        return rc;
    pd_raft_t *r = pd_calloc(1, sizeof *r);
    raft_pr_t *prs = pd_calloc(PD_RAFT_NODES_MAX, sizeof *prs);
    if (!r || !prs) {
        pd_free(r);
        pd_free(prs);
        return -ENOMEM;
    }
    r->cfg = *cfg;
    r->cfg.hs = NULL;
    r->cfg.snapshot = NULL;
    r->cfg.entries = NULL;
    r->cfg.n_entries = 0;
    r->cfg.peers = NULL;
    r->id = cfg->id;
    r->rng = cfg->rng;
    r->log = cfg->log ? cfg->log : &pd_log_null;
    r->prs = prs;
    rlog_init(&r->rl);
    bool fresh = !cfg->hs && !(cfg->snapshot && cfg->snapshot->meta.index) && !cfg->n_entries;
    rc = (fresh && cfg->n_peers) ? bootstrap(r, cfg) : restore(r, cfg);
    if (rc) {
        pd_raft_free(r);
        return rc;
    }
    raft_become_follower(r, r->term, PD_RAFT_NONE);
    raft_prs_sync(r);
    *out = r;
    return 0;
}

void pd_raft_free(pd_raft_t *r)
{
    if (!r)
        return;
    rlog_free(&r->rl);
    pd_free(r->prs);
    pd_free(r->rsnap_buf);
    pd_free(r->reads_pending);
    pd_free(r->reads_done);
    pd_free(r->msgs);
    pd_free(r);
}

/* ---- helpers ---------------------------------------------------------------------------------- */

void raft_fence(pd_raft_t *r, uint64_t id, bool on)
{
    for (uint32_t i = 0; i < r->n_fenced; i++) {
        if (r->fenced[i] != id)
            continue;
        if (!on)
            r->fenced[i] = r->fenced[--r->n_fenced];
        return;
    }
    if (!on || id == r->id)
        return;
    if (r->n_fenced == PD_RAFT_NODES_MAX) /* full (forced again and again): the oldest goes */
        memmove(r->fenced, r->fenced + 1, --r->n_fenced * sizeof *r->fenced);
    r->fenced[r->n_fenced++] = id;
}

raft_pr_t *raft_pr_find(pd_raft_t *r, uint64_t id)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        if (r->prs[i].id == id)
            return &r->prs[i];
    }
    return NULL;
}

bool raft_promotable(const pd_raft_t *r)
{
    return pd_raft_conf_has_voter(&r->conf, r->id) && !r->rl.snap_unstable;
}

uint32_t raft_quorum_size(const pd_raft_t *r)
{
    return rq_majority(r->conf.n_voters);
}

void raft_send(pd_raft_t *r, pd_raft_msg_t *m)
{
    PD_ASSERT(m->to != r->id && m->to != PD_RAFT_NONE);
    m->from = r->id;
    if (m->term == 0)
        m->term = r->term;
    if (r->n_msgs == r->cap_msgs) {
        size_t cap = r->cap_msgs ? r->cap_msgs * 2 : 32;
        pd_raft_msg_t *nm = pd_realloc(r->msgs, cap * sizeof *nm);
        if (!nm)
            return; /* like a lost message: the protocol retries */
        r->msgs = nm;
        r->cap_msgs = cap;
    }
    r->msgs[r->n_msgs++] = *m;
}

static void reset(pd_raft_t *r, uint64_t term)
{
    if (r->term != term) {
        r->term = term;
        r->vote = PD_RAFT_NONE;
    }
    r->lead = PD_RAFT_NONE;
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    randomize_timeout(r);
    r->transferee = PD_RAFT_NONE;
    r->n_votes = 0;
    r->n_reads_pending = 0;
    uint64_t last = rlog_last_index(&r->rl);
    for (uint32_t i = 0; i < r->n_prs; i++) {
        rpr_reset(&r->prs[i], r->prs[i].id, r->prs[i].learner, last);
        if (r->prs[i].id == r->id)
            r->prs[i].match = last;
    }
}

void raft_become_follower(pd_raft_t *r, uint64_t term, uint64_t lead)
{
    bool was = r->role != PD_RAFT_FOLLOWER || r->term != term;
    reset(r, term);
    r->step = step_follower;
    r->tick = tick_election;
    r->lead = lead;
    r->role = PD_RAFT_FOLLOWER;
    if (was)
        PD_DEBUG(r->log, "raft follower term=%llu lead=%llu", (unsigned long long)term,
                 (unsigned long long)lead);
}

/* ---- elections -------------------------------------------------------------------------------- */

static raft_vote_result_t record_vote(pd_raft_t *r, uint64_t from, bool granted)
{
    uint32_t i;
    for (i = 0; i < r->n_votes && r->votes_from[i] != from; i++)
        ;
    if (i == r->n_votes && i < PD_RAFT_NODES_MAX && pd_raft_conf_has_voter(&r->conf, from)) {
        r->votes_from[i] = from;
        r->votes_granted[i] = granted;
        r->n_votes++;
    }
    uint32_t yes = 0, no = 0;
    for (i = 0; i < r->n_votes; i++)
        r->votes_granted[i] ? yes++ : no++;
    return rq_vote_result(r->conf.n_voters, yes, no);
}

static void request_votes(pd_raft_t *r, uint8_t type, uint64_t term, uint8_t flags)
{
    for (uint32_t i = 0; i < r->conf.n_voters; i++) {
        if (r->conf.voters[i] == r->id)
            continue;
        pd_raft_msg_t m = {.type = type, .to = r->conf.voters[i], .term = term,
                           .index = rlog_last_index(&r->rl), .log_term = rlog_last_term(&r->rl),
                           .flags = flags};
        raft_send(r, &m);
    }
}

static void become_candidate(pd_raft_t *r, bool transfer)
{
    reset(r, r->term + 1);
    r->step = step_candidate;
    r->tick = tick_election;
    r->vote = r->id;
    r->role = PD_RAFT_CANDIDATE;
    PD_DEBUG(r->log, "raft candidate term=%llu", (unsigned long long)r->term);
    if (record_vote(r, r->id, true) == VOTE_WON) {
        raft_become_leader(r);
        return;
    }
    request_votes(r, PD_RAFT_MSG_VOTE, r->term, transfer ? PD_RAFT_FLAG_TRANSFER : 0);
}

static void become_precandidate(pd_raft_t *r)
{
    /* Neither the term nor the vote changes: a partitioned node cannot inflate terms. */
    r->step = step_candidate;
    r->tick = tick_election;
    r->n_votes = 0;
    r->lead = PD_RAFT_NONE;
    r->role = PD_RAFT_PRECANDIDATE;
    if (record_vote(r, r->id, true) == VOTE_WON) {
        become_candidate(r, false);
        return;
    }
    request_votes(r, PD_RAFT_MSG_PREVOTE, r->term + 1, 0);
}

static void campaign(pd_raft_t *r)
{
    if (!raft_promotable(r) || r->role == PD_RAFT_LEADER)
        return;
    if (r->cfg.pre_vote)
        become_precandidate(r);
    else
        become_candidate(r, false);
}

void raft_campaign_transfer(pd_raft_t *r)
{
    if (raft_promotable(r) && r->role != PD_RAFT_LEADER)
        become_candidate(r, true);
}

void pd_raft_campaign(pd_raft_t *r)
{
    PD_ASSERT(!r->in_ready);
    campaign(r);
}

int pd_raft_leader_lost(pd_raft_t *r, uint64_t id)
{
    PD_ASSERT(!r->in_ready);
    if (r->role != PD_RAFT_FOLLOWER || id == PD_RAFT_NONE || r->lead != id || !raft_promotable(r))
        return 0;
    r->lead = PD_RAFT_NONE;
    /* Every follower hears of the loss at about the same time; campaigning at once they would
     * split the vote. Stagger by rank among the other voters (ids ascending): no two pick the same
     * tick, and a laggard that loses its election just lets the next one win a tick later. */
    uint32_t rank = 0;
    for (uint32_t i = 0; i < r->conf.n_voters; i++)
        rank += r->conf.voters[i] != id && r->conf.voters[i] < r->id;
    uint32_t wait = 1 + rank * PD_RAFT_LOST_STAGGER_TICKS;
    uint32_t at = r->rand_timeout > wait ? r->rand_timeout - wait : 0;
    if (r->election_elapsed < at)
        r->election_elapsed = at;
    return 1;
}

static void tick_election(pd_raft_t *r)
{
    r->election_elapsed++;
    if (raft_promotable(r) && r->election_elapsed >= r->rand_timeout) {
        r->election_elapsed = 0;
        campaign(r);
    }
}

void pd_raft_tick(pd_raft_t *r)
{
    PD_ASSERT(!r->in_ready);
    r->tick(r);
}

/* ---- step ------------------------------------------------------------------------------------- */

static void reply(pd_raft_t *r, const pd_raft_msg_t *m, pd_raft_msg_t *resp)
{
    resp->to = m->from;
    raft_send(r, resp);
}

static void handle_vote(pd_raft_t *r, const pd_raft_msg_t *m)
{
    bool pre = m->type == PD_RAFT_MSG_PREVOTE;
    bool can = r->vote == m->from || (r->vote == PD_RAFT_NONE && r->lead == PD_RAFT_NONE) ||
               (pre && m->term > r->term);
    pd_raft_msg_t resp = {.type = pre ? PD_RAFT_MSG_PREVOTE_RESP : PD_RAFT_MSG_VOTE_RESP};
    if (can && rlog_up_to_date(&r->rl, m->index, m->log_term)) {
        resp.term = m->term;
        reply(r, m, &resp);
        if (!pre) {
            r->election_elapsed = 0;
            r->vote = m->from;
        }
        return;
    }
    resp.term = r->term;
    resp.reject = 1;
    reply(r, m, &resp);
}

/* A message from an older term. Tell a stale leader about the new term so it steps down (with
 * check-quorum or pre-vote a partitioned node never bumps our term to do it). */
static void step_stale(pd_raft_t *r, const pd_raft_msg_t *m)
{
    if ((r->cfg.check_quorum || r->cfg.pre_vote) &&
        (m->type == PD_RAFT_MSG_APP || m->type == PD_RAFT_MSG_HEARTBEAT)) {
        pd_raft_msg_t resp = {.type = PD_RAFT_MSG_APP_RESP};
        reply(r, m, &resp);
    } else if (m->type == PD_RAFT_MSG_PREVOTE) {
        pd_raft_msg_t resp = {.type = PD_RAFT_MSG_PREVOTE_RESP, .reject = 1};
        reply(r, m, &resp);
    }
}

/* 1: the message continues to the role handler; 0: consumed. */
static int step_term(pd_raft_t *r, const pd_raft_msg_t *m)
{
    if (m->term < r->term) {
        step_stale(r, m);
        return 0;
    }
    if (m->term == r->term)
        return 1;
    bool vote_req = m->type == PD_RAFT_MSG_VOTE || m->type == PD_RAFT_MSG_PREVOTE;
    if (vote_req) {
        bool force = m->flags & PD_RAFT_FLAG_TRANSFER;
        bool in_lease = r->cfg.check_quorum && r->lead != PD_RAFT_NONE &&
                        r->election_elapsed < r->cfg.election_ticks;
        if (!force && in_lease)
            return 0; /* we heard from a leader recently: don't disrupt it */
    }
    if (m->type == PD_RAFT_MSG_PREVOTE || (m->type == PD_RAFT_MSG_PREVOTE_RESP && !m->reject))
        return 1; /* pre-vote never moves terms */
    bool from_leader = m->type == PD_RAFT_MSG_APP || m->type == PD_RAFT_MSG_HEARTBEAT ||
                       m->type == PD_RAFT_MSG_SNAP;
    raft_become_follower(r, m->term, from_leader ? m->from : PD_RAFT_NONE);
    return 1;
}

int pd_raft_step(pd_raft_t *r, const pd_raft_msg_t *m)
{
    PD_ASSERT(!r->in_ready);
    if (m->type < PD_RAFT_MSG_APP || m->type > PD_RAFT_MSG_TYPE_MAX || m->term == 0 ||
        m->from == PD_RAFT_NONE || m->from == r->id || (m->to != r->id && m->to != PD_RAFT_NONE))
        return -PD_EMALFORMED;
    if (pd_raft_fenced(r, m->from))
        return 0; /* a member removed by a forced new cluster: neither its term nor its log count */
    if (!step_term(r, m))
        return 0;
    if (m->type == PD_RAFT_MSG_VOTE || m->type == PD_RAFT_MSG_PREVOTE) {
        handle_vote(r, m);
        return 0;
    }
    r->step(r, m);
    return 0;
}

/* ---- follower side ---------------------------------------------------------------------------- */

static void handle_append(pd_raft_t *r, const pd_raft_msg_t *m)
{
    pd_raft_msg_t resp = {.type = PD_RAFT_MSG_APP_RESP};
    if (m->index < r->rl.committed) {
        resp.index = r->rl.committed;
        reply(r, m, &resp);
        return;
    }
    uint64_t last_new = 0;
    int rc = rlog_maybe_append(&r->rl, m->index, m->log_term, m->commit, m->entries,
                               m->n_entries, &last_new);
    if (rc < 0)
        return; /* out of memory: drop, the leader retries */
    if (rc == 1) {
        resp.index = last_new;
        reply(r, m, &resp);
        return;
    }
    uint64_t hint = PD_MIN(m->index, rlog_last_index(&r->rl));
    hint = rlog_find_conflict_by_term(&r->rl, hint, m->log_term);
    uint64_t hint_term = 0;
    (void)rlog_term(&r->rl, hint, &hint_term);
    resp.index = m->index;
    resp.reject = 1;
    resp.reject_hint = hint;
    resp.log_term = hint_term;
    reply(r, m, &resp);
}

static void handle_heartbeat(pd_raft_t *r, const pd_raft_msg_t *m)
{
    rlog_commit_to(&r->rl, PD_MIN(m->commit, rlog_last_index(&r->rl)));
    pd_raft_msg_t resp = {.type = PD_RAFT_MSG_HEARTBEAT_RESP, .ctx = m->ctx};
    reply(r, m, &resp);
}

static void snap_ack(pd_raft_t *r, const pd_raft_msg_t *m, uint64_t offset)
{
    pd_raft_msg_t resp = {.type = PD_RAFT_MSG_SNAP_RESP, .index = m->snap.index,
                          .snap_offset = offset};
    reply(r, m, &resp);
}

static void snap_install(pd_raft_t *r, const pd_raft_msg_t *m)
{
    pd_raft_snapshot_t s = {.meta = m->snap, .data = r->rsnap_buf, .len = r->rsnap_len};
    r->rsnap_buf = NULL;
    r->rsnap_len = r->rsnap_cap = 0;
    memset(&r->rsnap_meta, 0, sizeof r->rsnap_meta);
    rlog_restore(&r->rl, &s);
    r->conf = m->snap.conf;
    raft_prs_sync(r);
    PD_INFO(r->log, "raft snapshot installed index=%llu term=%llu",
            (unsigned long long)m->snap.index, (unsigned long long)m->snap.term);
    pd_raft_msg_t resp = {.type = PD_RAFT_MSG_APP_RESP, .index = rlog_last_index(&r->rl)};
    reply(r, m, &resp);
}

static int snap_grow(pd_raft_t *r, size_t want)
{
    if (want <= r->rsnap_cap)
        return 0;
    size_t cap = r->rsnap_cap ? r->rsnap_cap : 4096;
    while (cap < want)
        cap *= 2;
    uint8_t *b = pd_realloc(r->rsnap_buf, cap);
    if (!b)
        return -ENOMEM;
    r->rsnap_buf = b;
    r->rsnap_cap = cap;
    return 0;
}

static void handle_snap(pd_raft_t *r, const pd_raft_msg_t *m)
{
    if (m->snap.index <= r->rl.committed || r->rl.snap_unstable) {
        pd_raft_msg_t resp = {.type = PD_RAFT_MSG_APP_RESP, .index = r->rl.committed};
        if (!r->rl.snap_unstable)
            reply(r, m, &resp);
        return;
    }
    bool same = r->rsnap_meta.index == m->snap.index && r->rsnap_meta.term == m->snap.term;
    if (!same) {
        if (m->snap_offset != 0) {
            snap_ack(r, m, 0);
            return;
        }
        r->rsnap_meta = m->snap;
        r->rsnap_len = 0;
    }
    if (m->snap_offset != r->rsnap_len) {
        snap_ack(r, m, r->rsnap_len); /* duplicate or gap: tell the leader where we are */
        return;
    }
    if (r->rsnap_len + m->snap_len > PD_RAFT_SNAP_BYTES_MAX || snap_grow(r, r->rsnap_len + m->snap_len))
        return;
    if (m->snap_len)
        memcpy(r->rsnap_buf + r->rsnap_len, m->snap_data, m->snap_len);
    r->rsnap_len += m->snap_len;
    if (m->snap_done)
        snap_install(r, m);
    else
        snap_ack(r, m, r->rsnap_len);
}

static void step_follower(pd_raft_t *r, const pd_raft_msg_t *m)
{
    switch (m->type) {
    case PD_RAFT_MSG_APP:
        r->election_elapsed = 0;
        r->lead = m->from;
        handle_append(r, m);
        break;
    case PD_RAFT_MSG_HEARTBEAT:
        r->election_elapsed = 0;
        r->lead = m->from;
        handle_heartbeat(r, m);
        break;
    case PD_RAFT_MSG_SNAP:
        r->election_elapsed = 0;
        r->lead = m->from;
        handle_snap(r, m);
        break;
    case PD_RAFT_MSG_TIMEOUT_NOW:
        PD_INFO(r->log, "raft timeout-now from=%llu term=%llu", (unsigned long long)m->from,
                (unsigned long long)r->term);
        raft_campaign_transfer(r);
        break;
    default:
        break;
    }
}

static void step_candidate(pd_raft_t *r, const pd_raft_msg_t *m)
{
    uint8_t want = r->role == PD_RAFT_PRECANDIDATE ? PD_RAFT_MSG_PREVOTE_RESP : PD_RAFT_MSG_VOTE_RESP;
    switch (m->type) {
    case PD_RAFT_MSG_APP:
    case PD_RAFT_MSG_HEARTBEAT:
    case PD_RAFT_MSG_SNAP:
        raft_become_follower(r, m->term, m->from);
        step_follower(r, m);
        return;
    default:
        break;
    }
    if (m->type != want)
        return;
    switch (record_vote(r, m->from, !m->reject)) {
    case VOTE_WON:
        if (r->role == PD_RAFT_PRECANDIDATE)
            become_candidate(r, false);
        else
            raft_become_leader(r);
        break;
    case VOTE_LOST:
        raft_become_follower(r, r->term, PD_RAFT_NONE);
        break;
    case VOTE_PENDING:
        break;
    }
}

/* ---- forced new cluster ------------------------------------------------------------------------ */

int pd_raft_force_new_cluster(pd_raft_t *r, uint64_t *removed_out, uint32_t *n_removed)
{
    PD_ASSERT(!r->in_ready);
    if (!pd_raft_conf_has_voter(&r->conf, r->id) || r->rl.snap_unstable)
        return -PD_ESTATE;
    uint64_t others[PD_RAFT_NODES_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->conf.n_voters + r->conf.n_learners; i++) {
        uint64_t id = i < r->conf.n_voters ? r->conf.voters[i] : r->conf.learners[i - r->conf.n_voters];
        if (id != r->id)
            others[n++] = id;
    }
    uint8_t buf[PD_RAFT_CC_FORCE_MAX];
    size_t len = pd_raft_force_encode(buf, r->id, others, n);
    memset(&r->conf, 0, sizeof r->conf);
    r->conf.voters[0] = r->id;
    r->conf.n_voters = 1;
    for (uint32_t i = 0; i < n; i++)
        raft_fence(r, others[i], true);
    raft_prs_sync(r);
    raft_become_follower(r, r->term + PD_RAFT_FORCE_TERM_GAP - 1, PD_RAFT_NONE);
    become_candidate(r, false); /* term + GAP; the only voter wins it at once */
    PD_ASSERT(r->role == PD_RAFT_LEADER);
    uint64_t idx = 0;
    int rc = raft_append_local(r, PD_RAFT_ENTRY_CONF, buf, len, &idx);
    if (rc)
        return rc; /* the in-memory change stands; a restart returns to the persisted log */
    r->pending_conf_index = idx;
    raft_maybe_commit(r);
    PD_WARN(r->log, "raft forced a new cluster: sole voter %llu term=%llu index=%llu, %u former members fenced",
            (unsigned long long)r->id, (unsigned long long)r->term, (unsigned long long)idx, n);
    if (removed_out)
        memcpy(removed_out, others, n * sizeof *others);
    if (n_removed)
        *n_removed = n;
    return 0;
}
