/* node_plan driving real Raft cores (core/raft), as node_records.c does on the leader: a worker
 * promoted joins as a learner and becomes a voter; the leader demoted hands leadership over first
 * and is then removed by its successor; demotions stop at the last voter. The records are in one
 * store and the published roles in one gossip table (the replicated and gossiped state every
 * manager would see alike); Raft messages go through the wire codec between in-memory nodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "node_plan.h"
#include "pd_alloc.h"
#include "raft_wire.h"
#include "test_node_util.h"

#define N 4 /* three bootstrap managers and one worker */
#define QCAP 4096

typedef struct {
    uint32_t to;
    uint8_t *buf;
    size_t len;
} wire_t;

static struct {
    pd_raft_t *r[N];
    pd_rng_t rng[N];
    wire_t q[QCAP];
    size_t nq;
    pd_store_t *st;
    pd_gtable_t *gt;
    uint64_t index;
    pd_node_member_t members[N];
} c;

static const char *ids[N] = {"aaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbb", "ccccccccccccccccccccccccc",
                             "wwwwwwwwwwwwwwwwwwwwwwwww"};

static uint64_t rid(const char *id)
{
    for (uint64_t i = 0; i < N; i++)
        if (strcmp(ids[i], id) == 0)
            return i + 1;
    return 99;
}

static void raft_start(uint32_t i, const uint64_t *peers, uint32_t n_peers)
{
    pd_raft_config_t cfg;
    pd_rng_seed(&c.rng[i], 7 + i);
    pd_raft_config_default(&cfg, i + 1, &c.rng[i]);
    cfg.peers = peers;
    cfg.n_peers = n_peers;
    assert_int_equal(pd_raft_new(&cfg, &c.r[i]), 0);
}

/* Drain every node's ready, then deliver what it sent; until quiet. */
static void settle(void)
{
    for (int round = 0; round < 1000; round++) {
        int any = 0;
        for (uint32_t i = 0; i < N; i++) {
            if (!c.r[i] || !pd_raft_has_ready(c.r[i]))
                continue;
            pd_raft_ready_t rd;
            pd_raft_ready(c.r[i], &rd);
            for (size_t k = 0; k < rd.n_msgs && c.nq < QCAP; k++) {
                c.q[c.nq].to = (uint32_t)rd.msgs[k].to - 1;
                assert_int_equal(pd_raft_wire_encode(&rd.msgs[k], &c.q[c.nq].buf, &c.q[c.nq].len), 0);
                c.nq++;
            }
            pd_raft_advance(c.r[i]);
            any = 1;
        }
        size_t n = c.nq;
        c.nq = 0;
        for (size_t k = 0; k < n; k++) {
            pd_raft_wire_msg_t w;
            if (c.q[k].to < N && c.r[c.q[k].to] && pd_raft_wire_decode(c.q[k].buf, c.q[k].len, &w) == 0) {
                pd_raft_step(c.r[c.q[k].to], &w.msg);
                pd_raft_wire_msg_free(&w);
            }
            pd_free(c.q[k].buf);
            any = 1;
        }
        if (!any)
            return;
    }
    fail_msg("the cluster did not settle");
}

static void ticks(int t)
{
    while (t-- > 0) {
        for (uint32_t i = 0; i < N; i++)
            if (c.r[i])
                pd_raft_tick(c.r[i]);
        settle();
    }
}

static int leader(void)
{
    for (uint32_t i = 0; i < N; i++)
        if (c.r[i] && pd_raft_role(c.r[i]) == PD_RAFT_LEADER)
            return (int)i;
    return -1;
}

static void record(uint32_t i, pd_node_role_t role)
{
    char host[16];
    snprintf(host, sizeof host, "host-%u", i);
    t_node_put(c.st, &c.index, ids[i], host, role, false);
}

/* One reconciler round on the leader, its actions carried out; a node told "manager" that runs
 * no Raft starts an empty one (it joins when the leader replicates to it). */
static void round_on_leader(void)
{
    int l = leader();
    assert_true(l >= 0);
    pd_node_plan_in_t in = {.store = c.st, .members = c.members, .n_members = N, .conf = pd_raft_conf(c.r[l]),
                            .self_raft_id = (uint64_t)l + 1, .raft_id_of = rid, .gt = c.gt};
    pd_node_act_t acts[32];
    size_t n = pd_node_plan_tick(&in, acts, 32);
    for (size_t k = 0; k < n; k++) {
        const pd_node_act_t *a = &acts[k];
        uint32_t who = (uint32_t)rid(a->node_id) - 1;
        if (a->type == PD_NODE_ACT_PUBLISH) {
            const char *v = pd_node_role_name((pd_node_role_t)a->role);
            assert_int_equal(pd_gtable_put_cluster(c.gt, PD_NODE_ROLE_TABLE, a->node_id, v, strlen(v), 1, NULL), 0);
            if (a->role == PD_NODE_MANAGER && !c.r[who]) {
                raft_start(who, NULL, 0);
                c.members[who].role = PD_NODE_MANAGER;
            }
        } else if (a->type == PD_NODE_ACT_ADD_LEARNER || a->type == PD_NODE_ACT_REMOVE) {
            (void)pd_raft_propose_conf(c.r[l], a->type == PD_NODE_ACT_REMOVE ? PD_RAFT_CC_REMOVE
                                                                             : PD_RAFT_CC_ADD_LEARNER, a->raft_id);
        } else if (a->type == PD_NODE_ACT_TRANSFER) {
            const pd_raft_conf_t *cf = pd_raft_conf(c.r[l]);
            for (uint32_t v = 0; v < cf->n_voters; v++)
                if (cf->voters[v] != (uint64_t)l + 1 && pd_raft_transfer_leader(c.r[l], cf->voters[v]) == 0)
                    break;
        }
    }
    settle();
}

static void rounds(int n)
{
    while (n-- > 0) {
        round_on_leader();
        ticks(2);
    }
}

static int setup(void **state)
{
    (void)state;
    memset(&c, 0, sizeof c);
    uint64_t peers[3] = {1, 2, 3};
    for (uint32_t i = 0; i < 3; i++)
        raft_start(i, peers, 3);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(c.members[i].node_id, sizeof c.members[i].node_id, "%s", ids[i]);
        snprintf(c.members[i].hostname, sizeof c.members[i].hostname, "host-%u", i);
        c.members[i].role = i < 3 ? PD_NODE_MANAGER : PD_NODE_WORKER;
        c.members[i].alive = 1;
    }
    assert_int_equal(pd_store_new(NULL, &c.st), 0);
    pd_gtable_config_t gc = {.node_id = ids[0]};
    assert_int_equal(pd_gtable_create(&gc, &c.gt), 0);
    for (uint32_t i = 0; i < N; i++)
        record(i, i < 3 ? PD_NODE_MANAGER : PD_NODE_WORKER);
    for (int t = 0; t < 100 && leader() < 0; t++)
        ticks(1);
    assert_true(leader() >= 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < N; i++)
        pd_raft_free(c.r[i]);
    pd_gtable_destroy(c.gt);
    pd_store_free(c.st);
    return 0;
}

static void test_promote_worker(void **state)
{
    (void)state;
    rounds(2);
    assert_null(c.r[3]); /* a worker runs no Raft */
    record(3, PD_NODE_MANAGER);
    rounds(6);
    assert_non_null(c.r[3]);
    for (uint32_t i = 0; i < N; i++) {
        assert_true(pd_raft_conf_has_voter(pd_raft_conf(c.r[i]), 4));
        assert_int_equal(pd_raft_conf(c.r[i])->n_voters, 4);
    }
    assert_int_equal(pd_raft_last_index(c.r[3]), pd_raft_last_index(c.r[leader()]));
}

static void test_demote_leader_then_down_to_one(void **state)
{
    (void)state;
    rounds(2);
    int l = leader();
    record((uint32_t)l, PD_NODE_WORKER);
    rounds(6);
    int l2 = leader();
    assert_true(l2 >= 0 && l2 != l); /* handed over, then removed by the successor */
    assert_false(pd_raft_conf_has_voter(pd_raft_conf(c.r[l2]), (uint64_t)l + 1));
    assert_int_equal(pd_raft_conf(c.r[l2])->n_voters, 2);
    pd_gtable_view_t v;
    assert_int_equal(pd_gtable_get(c.gt, PD_NODE_ROLE_TABLE, ids[l], &v), 0);
    assert_memory_equal(v.value, "worker", 6); /* published once out of the configuration */
    /* Demote every remaining manager: the last voter is never removed. */
    for (uint32_t i = 0; i < 3; i++)
        if ((int)i != l)
            record(i, PD_NODE_WORKER);
    rounds(10);
    int last = leader();
    assert_true(last >= 0);
    assert_int_equal(pd_raft_conf(c.r[last])->n_voters, 1);
    assert_true(pd_raft_conf_has_voter(pd_raft_conf(c.r[last]), (uint64_t)last + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_promote_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demote_leader_then_down_to_one, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
