/* core/raft: elections, pre-vote, check-quorum, replication and commit rules, conflict
 * backtracking, snapshots, membership, leadership transfer, ReadIndex. A tiny deterministic
 * network moves messages between N cores by hand (every message goes through the wire codec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_rng.h"
#include "raft.h"
#include "raft_wire.h"

#define NMAX 6
#define QMAX 100000
#define APPLIED_MAX 4096

typedef struct {
    uint32_t from, to; /* node slots (id = slot + 1) */
    uint8_t *buf;
    size_t len;
} qmsg_t;

typedef struct {
    uint64_t term;
    uint32_t len;
    uint8_t data[64];
    bool set;
} applied_t;

typedef struct {
    uint32_t n;
    pd_raft_t *r[NMAX];
    pd_rng_t rng[NMAX];
    bool cut[NMAX][NMAX]; /* cut[a][b]: a's messages to b are dropped */
    qmsg_t *q;
    size_t nq;
    applied_t applied[NMAX][APPLIED_MAX]; /* what each node applied, by index */
    uint64_t applied_upto[NMAX];
    uint64_t snap_installs[NMAX];
    pd_raft_read_state_t reads[NMAX][16];
    size_t n_reads[NMAX];
    uint64_t rejects_to[NMAX]; /* APP_RESP rejections sent by node */
    uint64_t snap_chunks_to[NMAX];
} net_t;

static net_t *net;

static void cfg_for(pd_raft_config_t *c, uint32_t slot, uint32_t n_peers, const uint64_t *peers)
{
    pd_raft_config_default(c, slot + 1, &net->rng[slot]);
    c->peers = peers;
    c->n_peers = n_peers;
}

static void net_add(uint32_t slot, const pd_raft_config_t *c)
{
    pd_rng_seed(&net->rng[slot], 1000 + slot);
    assert_int_equal(pd_raft_new(c, &net->r[slot]), 0);
    net->applied_upto[slot] = pd_raft_applied(net->r[slot]);
    if (slot + 1 > net->n)
        net->n = slot + 1;
}

static void net_new(uint32_t n)
{
    net = test_calloc(1, sizeof *net);
    net->q = test_calloc(QMAX, sizeof *net->q);
    uint64_t peers[NMAX];
    for (uint32_t i = 0; i < n; i++)
        peers[i] = i + 1;
    for (uint32_t i = 0; i < n; i++) {
        pd_raft_config_t c;
        pd_rng_seed(&net->rng[i], 1000 + i);
        cfg_for(&c, i, n, peers);
        net_add(i, &c);
    }
}

static void net_free(void)
{
    for (uint32_t i = 0; i < NMAX; i++)
        pd_raft_free(net->r[i]);
    for (size_t i = 0; i < net->nq; i++)
        pd_free(net->q[i].buf);
    test_free(net->q);
    test_free(net);
    net = NULL;
}

static void record_apply(uint32_t s, const pd_raft_entry_t *e)
{
    assert_true(e->index < APPLIED_MAX);
    assert_int_equal(e->index, net->applied_upto[s] + 1); /* in order, exactly once */
    applied_t *a = &net->applied[s][e->index];
    a->set = true;
    a->term = e->term;
    a->len = e->len < 64 ? e->len : 64;
    if (a->len)
        memcpy(a->data, e->data, a->len);
    net->applied_upto[s] = e->index;
    /* state-machine safety across nodes */
    for (uint32_t o = 0; o < net->n; o++) {
        applied_t *b = &net->applied[o][e->index];
        if (o != s && b->set) {
            assert_int_equal(b->term, a->term);
            assert_int_equal(b->len, a->len);
            assert_memory_equal(b->data, a->data, a->len);
        }
    }
}

static void enqueue(uint32_t s, const pd_raft_msg_t *m)
{
    uint32_t to = (uint32_t)m->to - 1;
    assert_true(to < NMAX);
    if (m->type == PD_RAFT_MSG_APP_RESP && m->reject)
        net->rejects_to[s]++;
    if (m->type == PD_RAFT_MSG_SNAP)
        net->snap_chunks_to[to]++;
    if (net->cut[s][to] || !net->r[to])
        return;
    assert_true(net->nq < QMAX);
    qmsg_t *q = &net->q[net->nq++];
    q->from = s;
    q->to = to;
    assert_int_equal(pd_raft_wire_encode(m, &q->buf, &q->len), 0);
}

/* Drain one node's ready: persist (nothing to do in memory), send, apply, advance. */
static bool drain(uint32_t s)
{
    pd_raft_t *r = net->r[s];
    if (!r || !pd_raft_has_ready(r))
        return false;
    pd_raft_ready_t rd;
    pd_raft_ready(r, &rd);
    if (rd.snapshot) {
        net->snap_installs[s]++;
        net->applied_upto[s] = rd.snapshot->meta.index;
    }
    for (size_t i = 0; i < rd.n_msgs; i++)
        enqueue(s, &rd.msgs[i]);
    for (size_t i = 0; i < rd.n_committed; i++)
        record_apply(s, &rd.committed[i]);
    for (size_t i = 0; i < rd.n_reads; i++) {
        assert_true(rd.reads[i].index <= net->applied_upto[s]);
        if (net->n_reads[s] < 16)
            net->reads[s][net->n_reads[s]++] = rd.reads[i];
    }
    pd_raft_advance(r);
    return true;
}

static void deliver_one(size_t k)
{
    qmsg_t q = net->q[k];
    if (getenv("RAFT_TRACE")) {
        pd_raft_wire_msg_t t;
        if (pd_raft_wire_decode(q.buf, q.len, &t) == 0) {
            fprintf(stderr, "%u->%u %s term=%llu idx=%llu n=%u rej=%u off=%llu slen=%u done=%u\n", q.from + 1, q.to + 1,
                    pd_raft_msg_type_name(t.msg.type), (unsigned long long)t.msg.term,
                    (unsigned long long)t.msg.index, t.msg.n_entries, t.msg.reject,
                    (unsigned long long)t.msg.snap_offset, t.msg.snap_len, t.msg.snap_done);
            pd_raft_wire_msg_free(&t);
        }
    }
    memmove(net->q + k, net->q + k + 1, (net->nq - k - 1) * sizeof *net->q);
    net->nq--;
    if (!net->cut[q.from][q.to] && net->r[q.to]) {
        pd_raft_wire_msg_t w;
        assert_int_equal(pd_raft_wire_decode(q.buf, q.len, &w), 0);
        pd_raft_step(net->r[q.to], &w.msg);
        pd_raft_wire_msg_free(&w);
    }
    pd_free(q.buf);
}

/* Until nothing is left to persist or deliver. */
static void stabilize(void)
{
    for (int rounds = 0; rounds < 100000; rounds++) {
        bool any = false;
        for (uint32_t s = 0; s < net->n; s++)
            any |= drain(s);
        if (net->nq) {
            deliver_one(0);
            any = true;
        }
        if (!any)
            return;
    }
    fail_msg("network did not settle");
}

static void tick_all(int ticks)
{
    for (int t = 0; t < ticks; t++) {
        for (uint32_t s = 0; s < net->n; s++) {
            if (net->r[s])
                pd_raft_tick(net->r[s]);
        }
        stabilize();
    }
}

static void isolate(uint32_t s, bool on)
{
    for (uint32_t o = 0; o < NMAX; o++) {
        net->cut[s][o] = on;
        net->cut[o][s] = on;
    }
}

static int leader_slot(void)
{
    int found = -1;
    for (uint32_t s = 0; s < net->n; s++) {
        if (net->r[s] && pd_raft_role(net->r[s]) == PD_RAFT_LEADER) {
            if (found >= 0 && pd_raft_term(net->r[s]) == pd_raft_term(net->r[found]))
                fail_msg("two leaders in one term");
            if (found < 0 || pd_raft_term(net->r[s]) > pd_raft_term(net->r[found]))
                found = (int)s;
        }
    }
    return found;
}

static int elect(void)
{
    for (int i = 0; i < 200 && leader_slot() < 0; i++)
        tick_all(1);
    int l = leader_slot();
    assert_true(l >= 0);
    return l;
}

static void propose_str(uint32_t s, const char *str)
{
    assert_int_equal(pd_raft_propose(net->r[s], str, strlen(str), NULL), 0);
}

/* ---- election -------------------------------------------------------------------------------- */

static void test_single_node(void **state)
{
    (void)state;
    net_new(1);
    tick_all(25);
    assert_int_equal(pd_raft_role(net->r[0]), PD_RAFT_LEADER);
    propose_str(0, "x=1");
    stabilize();
    uint64_t last = pd_raft_last_index(net->r[0]);
    assert_int_equal(pd_raft_commit(net->r[0]), last);
    assert_int_equal(net->applied_upto[0], last);
    assert_memory_equal(net->applied[0][last].data, "x=1", 3);
    net_free();
}

static void test_three_elect_one(void **state)
{
    (void)state;
    net_new(3);
    int l = elect();
    tick_all(5);
    assert_int_equal(leader_slot(), l);
    for (uint32_t s = 0; s < 3; s++) {
        assert_int_equal(pd_raft_leader(net->r[s]), (uint64_t)l + 1);
        assert_int_equal(pd_raft_term(net->r[s]), pd_raft_term(net->r[l]));
    }
    propose_str((uint32_t)l, "a");
    propose_str((uint32_t)l, "b");
    stabilize();
    uint64_t last = pd_raft_last_index(net->r[l]);
    for (uint32_t s = 0; s < 3; s++) {
        tick_all(1);
        assert_int_equal(net->applied_upto[s], last);
    }
    net_free();
}

static void test_prevote_partitioned_node(void **state)
{
    (void)state;
    net_new(3);
    int l = elect();
    uint64_t term = pd_raft_term(net->r[l]);
    uint32_t f = (uint32_t)(l + 1) % 3;
    isolate(f, true);
    tick_all(100); /* f times out many times */
    assert_int_equal(pd_raft_term(net->r[f]), term); /* pre-vote never bumped its term */
    assert_int_not_equal(pd_raft_role(net->r[f]), PD_RAFT_LEADER);
    isolate(f, false);
    tick_all(5);
    assert_int_equal(leader_slot(), l); /* not disrupted */
    assert_int_equal(pd_raft_term(net->r[l]), term);
    assert_int_equal(pd_raft_leader(net->r[f]), (uint64_t)l + 1);
    net_free();
}

static void test_check_quorum_step_down(void **state)
{
    (void)state;
    net_new(3);
    int l = elect();
    isolate((uint32_t)l, true);
    for (int i = 0; i < 25; i++) {
        pd_raft_tick(net->r[l]);
        stabilize();
    }
    assert_int_equal(pd_raft_role(net->r[l]), PD_RAFT_FOLLOWER);
    /* the others elect a new leader in a higher term */
    int nl = elect();
    assert_int_not_equal(nl, l);
    isolate((uint32_t)l, false);
    tick_all(5);
    assert_int_equal(pd_raft_leader(net->r[l]), (uint64_t)nl + 1);
    net_free();
}

/* The transport saw the leader's connection close: the followers elect a new leader within the
 * spread, far sooner than an election timeout; a false alarm on one follower disrupts nobody. */
static void test_leader_lost(void **state)
{
    (void)state;
    net_new(3);
    int l = elect();
    uint64_t lid = (uint64_t)l + 1, term = pd_raft_term(net->r[l]);
    uint32_t a = (uint32_t)(l + 1) % 3, b = (uint32_t)(l + 2) % 3;
    assert_int_equal(pd_raft_leader_lost(net->r[a], lid + 7), 0); /* not our leader: ignored */
    assert_int_equal(pd_raft_leader_lost(net->r[l], lid), 0);     /* the leader itself: ignored */

    /* false alarm on one follower: the other's lease refuses its pre-vote, the leader stays */
    assert_int_equal(pd_raft_leader_lost(net->r[a], lid), 1);
    tick_all(2 * (int)PD_RAFT_LOST_STAGGER_TICKS + 2);
    assert_int_equal(leader_slot(), l);
    assert_int_equal(pd_raft_term(net->r[l]), term);
    assert_int_equal(pd_raft_leader(net->r[a]), lid);

    /* the leader really is gone */
    isolate((uint32_t)l, true);
    assert_int_equal(pd_raft_leader_lost(net->r[a], lid), 1);
    assert_int_equal(pd_raft_leader_lost(net->r[b], lid), 1);
    int ticks = 0;
    while (ticks < 40 && (pd_raft_role(net->r[a]) != PD_RAFT_LEADER && pd_raft_role(net->r[b]) != PD_RAFT_LEADER)) {
        tick_all(1);
        ticks++;
    }
    assert_true(pd_raft_role(net->r[a]) == PD_RAFT_LEADER || pd_raft_role(net->r[b]) == PD_RAFT_LEADER);
    /* the lower-ranked follower campaigns on the first tick and wins: no split vote, no timeout */
    assert_int_equal(ticks, 1);
    assert_int_equal(pd_raft_role(net->r[a < b ? a : b]), PD_RAFT_LEADER);
    net_free();
}

/* ---- replication ------------------------------------------------------------------------------ */

static pd_raft_entry_t ent(uint64_t term, uint64_t index)
{
    static uint8_t noop[1];
    return (pd_raft_entry_t){.term = term, .index = index, .len = 0, .data = noop};
}

/* Entries 1..3: the bootstrap of voters 1, 2, 3 in term 1 (a restart's stored log). */
static void bootstrap_ents(uint8_t cc[3][PD_RAFT_CC_LEN], pd_raft_entry_t *ents)
{
    for (int i = 0; i < 3; i++) {
        pd_raft_cc_encode(cc[i], PD_RAFT_CC_ADD_VOTER, (uint64_t)i + 1);
        ents[i] = (pd_raft_entry_t){1, (uint64_t)i + 1, PD_RAFT_ENTRY_CONF, PD_RAFT_CC_LEN, cc[i]};
    }
}

/* Figure 8: a new leader must not commit an entry of an older term by counting replicas; it
 * commits it only together with an entry of its own term. Node 1 restarts (term 2) with entry 4
 * from term 2 that node 2 also holds. */
static void test_figure8_commit_rule(void **state)
{
    (void)state;
    net = test_calloc(1, sizeof *net);
    net->q = test_calloc(QMAX, sizeof *net->q);
    uint8_t cc[3][PD_RAFT_CC_LEN];
    pd_raft_entry_t ents[4];
    bootstrap_ents(cc, ents);
    ents[3] = ent(2, 4);
    pd_raft_hard_state_t hs = {.term = 2, .vote = 0, .commit = 3};
    pd_raft_config_t c;
    cfg_for(&c, 0, 0, NULL);
    c.hs = &hs;
    c.entries = ents;
    c.n_entries = 4;
    net_add(0, &c);
    pd_raft_t *r = net->r[0];
    pd_raft_ready_t rd;
    pd_raft_ready(r, &rd); /* applies the conf entries 1..3 */
    pd_raft_advance(r);
    assert_int_equal(pd_raft_conf(r)->n_voters, 3);
    pd_raft_campaign(r);
    pd_raft_msg_t m = {.type = PD_RAFT_MSG_PREVOTE_RESP, .from = 2, .to = 1, .term = 3};
    assert_int_equal(pd_raft_step(r, &m), 0);
    assert_int_equal(pd_raft_role(r), PD_RAFT_CANDIDATE);
    m.type = PD_RAFT_MSG_VOTE_RESP;
    assert_int_equal(pd_raft_step(r, &m), 0);
    assert_int_equal(pd_raft_role(r), PD_RAFT_LEADER);
    assert_int_equal(pd_raft_last_index(r), 5); /* the no-op of term 3 */
    pd_raft_ready(r, &rd);
    pd_raft_advance(r);
    /* node 2 acknowledges entry 4 (term 2): a majority holds it, yet it must not commit */
    m = (pd_raft_msg_t){.type = PD_RAFT_MSG_APP_RESP, .from = 2, .to = 1, .term = 3, .index = 4};
    pd_raft_step(r, &m);
    assert_int_equal(pd_raft_commit(r), 3);
    /* node 2 acknowledges entry 5 (term 3): now 4 and 5 commit */
    m.index = 5;
    pd_raft_step(r, &m);
    assert_int_equal(pd_raft_commit(r), 5);
    net_free();
}

/* A follower with a long divergent tail from an old term is repaired in a couple of round trips
 * thanks to the (hint index, hint term) rejection. */
static void test_conflict_backtracking(void **state)
{
    (void)state;
    net = test_calloc(1, sizeof *net);
    net->q = test_calloc(QMAX, sizeof *net->q);
    static pd_raft_entry_t good[40], bad[200];
    uint8_t cc[3][PD_RAFT_CC_LEN];
    for (int i = 0; i < 3; i++) {
        pd_raft_cc_encode(cc[i], PD_RAFT_CC_ADD_VOTER, (uint64_t)i + 1);
        good[i] = bad[i] =
            (pd_raft_entry_t){1, (uint64_t)i + 1, PD_RAFT_ENTRY_CONF, PD_RAFT_CC_LEN, cc[i]};
    }
    for (uint64_t i = 3; i < 40; i++)
        good[i] = ent(3, i + 1);
    for (uint64_t i = 3; i < 200; i++)
        bad[i] = ent(2, i + 1);
    pd_raft_hard_state_t hs = {.term = 3, .commit = 3};
    for (uint32_t s = 0; s < 3; s++) {
        pd_raft_config_t c;
        cfg_for(&c, s, 0, NULL);
        c.hs = &hs;
        c.entries = s == 2 ? bad : good;
        c.n_entries = s == 2 ? 200 : 40;
        net_add(s, &c);
    }
    stabilize();
    pd_raft_campaign(net->r[0]);
    stabilize();
    assert_int_equal(pd_raft_role(net->r[0]), PD_RAFT_LEADER);
    tick_all(3);
    assert_int_equal(pd_raft_last_index(net->r[2]), pd_raft_last_index(net->r[0]));
    assert_int_equal(pd_raft_term_at(net->r[2], 40), 3);
    assert_true(net->rejects_to[2] <= 2);
    assert_int_equal(net->applied_upto[2], pd_raft_last_index(net->r[0]));
    net_free();
}

static void test_snapshot_send_install(void **state)
{
    (void)state;
    net = test_calloc(1, sizeof *net);
    net->q = test_calloc(QMAX, sizeof *net->q);
    uint64_t peers[3] = {1, 2, 3};
    for (uint32_t s = 0; s < 3; s++) {
        pd_raft_config_t c;
        cfg_for(&c, s, 3, peers);
        c.max_msg_bytes = 100; /* many chunks */
        net_add(s, &c);
    }
    int l = elect();
    uint32_t f = (uint32_t)(l + 1) % 3;
    isolate(f, true);
    for (int i = 0; i < 30; i++)
        propose_str((uint32_t)l, "entry");
    stabilize();
    uint8_t snap[1000];
    for (size_t i = 0; i < sizeof snap; i++)
        snap[i] = (uint8_t)(i * 7);
    uint64_t applied = pd_raft_applied(net->r[l]);
    assert_int_equal(pd_raft_compact(net->r[l], applied, snap, sizeof snap, 0), 0);
    assert_int_equal(pd_raft_first_index(net->r[l]), applied + 1);
    assert_int_equal(pd_raft_compact(net->r[l], applied, snap, sizeof snap, 0), -PD_ESTATE);
    isolate(f, false);
    tick_all(5);
    assert_int_equal(net->snap_installs[f], 1);
    assert_true(net->snap_chunks_to[f] >= 10);
    const pd_raft_snapshot_t *got = pd_raft_snapshot(net->r[f]);
    assert_int_equal(got->meta.index, applied);
    assert_int_equal(got->len, sizeof snap);
    assert_memory_equal(got->data, snap, sizeof snap);
    assert_int_equal(got->meta.conf.n_voters, 3);
    propose_str((uint32_t)l, "after");
    tick_all(2);
    assert_int_equal(net->applied_upto[f], pd_raft_last_index(net->r[l]));
    net_free();
}

/* ---- membership ------------------------------------------------------------------------------- */

static void test_learner_promote(void **state)
{
    (void)state;
    net_new(3);
    int l = elect();
    for (int i = 0; i < 10; i++)
        propose_str((uint32_t)l, "w");
    stabilize();
    pd_raft_config_t c;
    cfg_for(&c, 3, 0, NULL); /* joins with nothing: learns membership from the log */
    net_add(3, &c);
    assert_int_equal(pd_raft_propose_conf(net->r[l], PD_RAFT_CC_PROMOTE, 4), -PD_ENOTFOUND);
    assert_int_equal(pd_raft_propose_conf(net->r[l], PD_RAFT_CC_ADD_LEARNER, 4), 0);
    assert_int_equal(pd_raft_propose_conf(net->r[l], PD_RAFT_CC_ADD_LEARNER, 5), -PD_ESTATE);
    stabilize();
    tick_all(5); /* caught up: the leader promotes it */
    for (uint32_t s = 0; s < 4; s++) {
        assert_true(pd_raft_conf_has_voter(pd_raft_conf(net->r[s]), 4));
        assert_int_equal(pd_raft_conf(net->r[s])->n_voters, 4);
        assert_int_equal(pd_raft_conf(net->r[s])->n_learners, 0);
    }
    propose_str((uint32_t)l, "four");
    tick_all(2);
    assert_int_equal(net->applied_upto[3], pd_raft_last_index(net->r[l]));
    net_free();
}

static void test_remove_follower_and_leader(void **state)
{
    (void)state;
    net_new(3);
    int l = elect();
    uint32_t f = (uint32_t)(l + 1) % 3;
    assert_int_equal(pd_raft_propose_conf(net->r[l], PD_RAFT_CC_REMOVE, f + 1), 0);
    tick_all(2);
    assert_int_equal(pd_raft_conf(net->r[l])->n_voters, 2);
    isolate(f, true); /* gone */
    propose_str((uint32_t)l, "two");
    tick_all(2);
    uint32_t o = (uint32_t)(l + 2) % 3;
    assert_int_equal(net->applied_upto[o], pd_raft_last_index(net->r[l]));
    /* now the leader removes itself: it steps down and the survivor leads alone */
    assert_int_equal(pd_raft_propose_conf(net->r[l], PD_RAFT_CC_REMOVE, (uint64_t)l + 1), 0);
    tick_all(2);
    assert_int_not_equal(pd_raft_role(net->r[l]), PD_RAFT_LEADER);
    tick_all(40);
    assert_int_equal(pd_raft_role(net->r[o]), PD_RAFT_LEADER);
    assert_int_equal(pd_raft_conf(net->r[o])->n_voters, 1);
    net_free();
}

static void test_leadership_transfer(void **state)
{
    (void)state;
    net_new(3);
    int l = elect();
    uint32_t t = (uint32_t)(l + 1) % 3;
    propose_str((uint32_t)l, "before");
    uint64_t term = pd_raft_term(net->r[l]);
    assert_int_equal(pd_raft_transfer_leader(net->r[l], t + 1), 0);
    assert_int_equal(pd_raft_propose(net->r[l], "x", 1, NULL), -PD_ESTATE);
    stabilize(); /* no ticks needed */
    assert_int_equal(pd_raft_role(net->r[t]), PD_RAFT_LEADER);
    assert_int_equal(pd_raft_term(net->r[t]), term + 1);
    assert_int_equal(pd_raft_role(net->r[l]), PD_RAFT_FOLLOWER);
    assert_int_equal(pd_raft_transfer_leader(net->r[l], t + 1), -PD_ENOTLEADER);
    assert_int_equal(pd_raft_transfer_leader(net->r[t], 9), -PD_ENOTFOUND);
    net_free();
}

static void test_read_index(void **state)
{
    (void)state;
    net_new(3);
    int l = elect();
    uint32_t f = (uint32_t)(l + 1) % 3;
    propose_str((uint32_t)l, "k=v");
    stabilize();
    assert_int_equal(pd_raft_read_index(net->r[f], 1), -PD_ENOTLEADER);
    assert_int_equal(pd_raft_read_index(net->r[l], 77), 0);
    stabilize();
    assert_int_equal(net->n_reads[l], 1);
    assert_int_equal(net->reads[l][0].ctx, 77);
    assert_int_equal(net->reads[l][0].index, pd_raft_commit(net->r[l]));
    /* a leader cut off from everyone cannot confirm a read */
    isolate((uint32_t)l, true);
    assert_int_equal(pd_raft_read_index(net->r[l], 78), 0);
    stabilize();
    assert_int_equal(net->n_reads[l], 1);
    net_free();
}

static void test_single_node_read_and_restart(void **state)
{
    (void)state;
    net_new(1);
    tick_all(25);
    assert_int_equal(pd_raft_read_index(net->r[0], 5), 0);
    stabilize();
    assert_int_equal(net->n_reads[0], 1);
    assert_int_equal(pd_raft_new(&(pd_raft_config_t){0}, &(pd_raft_t *){NULL}), -PD_EUSAGE);
    net_free();
}

/* A hard state whose commit is past the stored log means storage lost entries the commit covers
 * (a torn write kept the hard state, not its entries: found by the raft sim with the WAL's old
 * record order); the entries left may be stale, so the restart is refused rather than applying
 * them as committed. */
static void test_restart_commit_past_log(void **state)
{
    (void)state;
    uint8_t cc[3][PD_RAFT_CC_LEN];
    pd_raft_entry_t ents[5];
    bootstrap_ents(cc, ents);
    ents[3] = ent(2, 4);
    ents[4] = ent(2, 5); /* stale: the cluster committed another entry 5 in term 3 */
    pd_rng_t rng;
    pd_rng_seed(&rng, 7);
    pd_raft_config_t c;
    pd_raft_config_default(&c, 1, &rng);
    pd_raft_hard_state_t hs = {.term = 3, .vote = 2, .commit = 7};
    c.hs = &hs;
    c.entries = ents;
    c.n_entries = 5;
    pd_raft_t *r = NULL;
    assert_int_equal(pd_raft_new(&c, &r), -PD_ECORRUPT);
    assert_null(r);
    hs.commit = 5; /* the commit covers only what is stored: fine */
    assert_int_equal(pd_raft_new(&c, &r), 0);
    assert_int_equal(pd_raft_commit(r), 5);
    pd_raft_free(r);
}

/* ---- forced new cluster ------------------------------------------------------------------------ */

/* Two of three voters are gone: the survivor forces a one-voter cluster, keeps every entry it
 * holds (committed before, and its own uncommitted tail), leads at once in a new term, commits
 * new writes alone; an empty node then joins it as before. */
static void test_force_new_cluster(void **state)
{
    (void)state;
    net_new(3);
    int l = elect();
    propose_str((uint32_t)l, "kept-1");
    propose_str((uint32_t)l, "kept-2");
    stabilize();
    uint32_t s = (uint32_t)(l + 1) % 3, a = (uint32_t)l, b = (uint32_t)(l + 2) % 3;
    uint64_t commit = pd_raft_commit(net->r[s]), term = pd_raft_term(net->r[a]);
    isolate(a, true);
    isolate(b, true);
    tick_all(60);
    assert_int_not_equal(pd_raft_role(net->r[s]), PD_RAFT_LEADER); /* no quorum */
    assert_int_equal(pd_raft_commit(net->r[s]), commit);

    uint64_t removed[PD_RAFT_NODES_MAX];
    uint32_t n_removed = 0;
    assert_int_equal(pd_raft_force_new_cluster(net->r[s], removed, &n_removed), 0);
    assert_int_equal(n_removed, 2);
    assert_true(removed[0] == a + 1 || removed[1] == a + 1);
    assert_true(removed[0] == b + 1 || removed[1] == b + 1);
    assert_int_equal(pd_raft_role(net->r[s]), PD_RAFT_LEADER);
    assert_true(pd_raft_term(net->r[s]) >= term + PD_RAFT_FORCE_TERM_GAP);
    const pd_raft_conf_t *c = pd_raft_conf(net->r[s]);
    assert_int_equal(c->n_voters, 1);
    assert_int_equal(c->voters[0], s + 1);
    assert_int_equal(c->n_learners, 0);
    assert_true(pd_raft_fenced(net->r[s], a + 1) && pd_raft_fenced(net->r[s], b + 1));
    assert_int_equal(pd_raft_commit(net->r[s]), pd_raft_last_index(net->r[s]));
    stabilize();
    assert_int_equal(net->applied_upto[s], pd_raft_last_index(net->r[s]));
    assert_memory_equal(net->applied[s][commit - 1].data, "kept-1", 6);
    assert_memory_equal(net->applied[s][commit].data, "kept-2", 6);

    propose_str(s, "after");
    stabilize();
    assert_int_equal(net->applied_upto[s], pd_raft_last_index(net->r[s]));
    assert_int_equal(pd_raft_force_new_cluster(net->r[s], NULL, NULL), 0); /* again: harmless */
    stabilize();
    assert_int_equal(pd_raft_role(net->r[s]), PD_RAFT_LEADER);

    /* back to more managers: an empty node joins as a learner and is promoted */
    pd_raft_free(net->r[b]);
    net->r[b] = NULL;
    isolate(b, false);
    pd_raft_config_t cf;
    cfg_for(&cf, b, 0, NULL);
    net_add(b, &cf);
    assert_int_equal(pd_raft_propose_conf(net->r[s], PD_RAFT_CC_ADD_LEARNER, b + 1), 0);
    tick_all(8);
    assert_false(pd_raft_fenced(net->r[s], b + 1)); /* added back on purpose: no longer fenced */
    assert_int_equal(pd_raft_conf(net->r[s])->n_voters, 2);
    assert_int_equal(pd_raft_conf(net->r[b])->n_voters, 2);
    assert_int_equal(net->applied_upto[b], pd_raft_last_index(net->r[s]));
    assert_memory_equal(net->applied[b][commit].data, "kept-2", 6);
    net_free();
}

/* A former member that comes back with the old configuration and a higher term (it kept
 * campaigning, or it led the old majority elsewhere) cannot unseat the forced leader, nor make it
 * take its old log: everything it sends is dropped. */
static void test_force_stale_member_fenced(void **state)
{
    (void)state;
    net_new(3);
    int l = elect();
    propose_str((uint32_t)l, "x");
    stabilize();
    uint32_t s = (uint32_t)l, a = (uint32_t)(l + 1) % 3, b = (uint32_t)(l + 2) % 3;
    isolate(a, true);
    isolate(b, true);
    assert_int_equal(pd_raft_force_new_cluster(net->r[s], NULL, NULL), 0);
    stabilize();
    uint64_t term = pd_raft_term(net->r[s]), last = pd_raft_last_index(net->r[s]);

    /* a restarts from an old disk: the three bootstrap voters, and a term above the forced one */
    pd_raft_free(net->r[a]);
    net->r[a] = NULL;
    uint8_t cc[3][PD_RAFT_CC_LEN];
    pd_raft_entry_t ents[3];
    bootstrap_ents(cc, ents);
    uint64_t high = term + 100;
    pd_raft_hard_state_t hs = {.term = high, .commit = 3};
    pd_raft_config_t cf;
    cfg_for(&cf, a, 0, NULL);
    cf.hs = &hs;
    cf.entries = ents;
    cf.n_entries = 3;
    net_add(a, &cf);
    isolate(a, false);
    isolate(b, true); /* still gone (with it, a would lead the old majority: a split the fence contains) */
    tick_all(60); /* it campaigns: pre-votes and votes to s are dropped */
    assert_int_equal(pd_raft_role(net->r[s]), PD_RAFT_LEADER);
    assert_int_equal(pd_raft_term(net->r[s]), term);

    /* as a leader of that term it sends an append that conflicts with committed entries */
    pd_raft_entry_t stale = {.term = high, .index = 4, .type = PD_RAFT_ENTRY_NORMAL, .len = 5,
                             .data = (uint8_t *)"stale"};
    pd_raft_msg_t app = {.type = PD_RAFT_MSG_APP, .from = a + 1, .to = s + 1, .term = high, .index = 3,
                         .log_term = 1, .commit = 4, .entries = &stale, .n_entries = 1};
    assert_int_equal(pd_raft_step(net->r[s], &app), 0);
    pd_raft_msg_t vote = {.type = PD_RAFT_MSG_VOTE, .from = a + 1, .to = s + 1, .term = high + 1, .index = 99,
                          .log_term = high, .flags = PD_RAFT_FLAG_TRANSFER};
    assert_int_equal(pd_raft_step(net->r[s], &vote), 0);
    stabilize();
    assert_int_equal(pd_raft_role(net->r[s]), PD_RAFT_LEADER);
    assert_int_equal(pd_raft_term(net->r[s]), term);
    assert_int_equal(pd_raft_last_index(net->r[s]), last);
    assert_int_not_equal(pd_raft_term_at(net->r[s], 4), high);
    propose_str(s, "still");
    stabilize();
    assert_int_equal(pd_raft_commit(net->r[s]), last + 1);
    net_free();
}

/* A restart whose persisted commit index is older than the FORCE entry (a crash right after the
 * entry was written): the entry counts as committed, and the node comes back alone and leads. */
static void test_force_restart_commit(void **state)
{
    (void)state;
    uint8_t cc[3][PD_RAFT_CC_LEN], force[PD_RAFT_CC_FORCE_MAX];
    pd_raft_entry_t ents[6];
    bootstrap_ents(cc, ents);
    ents[3] = ent(2, 4);
    ents[4] = ent(3, 5); /* the forced leader's no-op */
    uint64_t fenced[2] = {2, 3};
    size_t flen = pd_raft_force_encode(force, 1, fenced, 2);
    assert_int_equal(flen, PD_RAFT_CC_LEN + 16);
    ents[5] = (pd_raft_entry_t){3, 6, PD_RAFT_ENTRY_CONF, (uint32_t)flen, force};
    uint64_t node = 0, back[PD_RAFT_NODES_MAX];
    uint32_t nb = 0;
    assert_int_equal(pd_raft_force_decode(force, flen, &node, back, &nb), 0);
    assert_true(node == 1 && nb == 2 && back[0] == 2 && back[1] == 3);
    assert_int_equal(pd_raft_force_decode(force, flen - 1, &node, back, &nb), -PD_EMALFORMED);
    assert_int_equal(pd_raft_force_decode(cc[0], PD_RAFT_CC_LEN, &node, back, &nb), -PD_EMALFORMED);

    net = test_calloc(1, sizeof *net);
    net->q = test_calloc(QMAX, sizeof *net->q);
    pd_raft_hard_state_t hs = {.term = 3, .vote = 1, .commit = 4};
    pd_raft_config_t c;
    cfg_for(&c, 0, 0, NULL);
    c.hs = &hs;
    c.entries = ents;
    c.n_entries = 6;
    net_add(0, &c);
    assert_int_equal(pd_raft_commit(net->r[0]), 6);
    stabilize(); /* applies through the FORCE entry */
    assert_int_equal(net->applied_upto[0], 6);
    assert_int_equal(pd_raft_conf(net->r[0])->n_voters, 1);
    assert_true(pd_raft_fenced(net->r[0], 2) && pd_raft_fenced(net->r[0], 3));
    tick_all(25);
    assert_int_equal(pd_raft_role(net->r[0]), PD_RAFT_LEADER);
    assert_true(pd_raft_term(net->r[0]) > 3);
    net_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_node),
        cmocka_unit_test(test_three_elect_one),
        cmocka_unit_test(test_prevote_partitioned_node),
        cmocka_unit_test(test_check_quorum_step_down),
        cmocka_unit_test(test_leader_lost),
        cmocka_unit_test(test_figure8_commit_rule),
        cmocka_unit_test(test_conflict_backtracking),
        cmocka_unit_test(test_snapshot_send_install),
        cmocka_unit_test(test_learner_promote),
        cmocka_unit_test(test_remove_follower_and_leader),
        cmocka_unit_test(test_leadership_transfer),
        cmocka_unit_test(test_read_index),
        cmocka_unit_test(test_single_node_read_and_restart),
        cmocka_unit_test(test_restart_commit_past_log),
        cmocka_unit_test(test_force_new_cluster),
        cmocka_unit_test(test_force_stale_member_fenced),
        cmocka_unit_test(test_force_restart_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
