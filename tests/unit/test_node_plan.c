/* core/daemon/node_plan: the leader's node reconciler against a real store and gossip table:
 * records for new members (once, not for removed or unknown ones), role publication (worker only
 * once out of the configuration), learner addition, removal, the leader transferring before its own
 * removal, the last voter never removed, one membership change a round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "node_plan.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "store_wire.h"
#include "test_node_util.h"

#define A "aaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "ccccccccccccccccccccccccc"
#define W "wwwwwwwwwwwwwwwwwwwwwwwww"

typedef struct {
    pd_store_t *st;
    pd_gtable_t *gt;
    uint64_t index;
    pd_node_member_t members[8];
    size_t n_members;
    pd_raft_conf_t conf;
    pd_node_act_t acts[PD_NODE_PLAN_ACTS_MAX];
    size_t n;
    const char *creating[4];
    size_t n_creating;
} fx_t;

static fx_t fx;

/* A node's Raft id: its first byte (the ids above differ there). */
static uint64_t rid(const char *id) { return (uint64_t)(unsigned char)id[0]; }

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    assert_int_equal(pd_store_new(NULL, &fx.st), 0);
    pd_gtable_config_t gc = {.node_id = A};
    assert_int_equal(pd_gtable_create(&gc, &fx.gt), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pd_gtable_destroy(fx.gt);
    pd_store_free(fx.st);
    return 0;
}

static void member(const char *id, pd_node_role_t role, int alive)
{
    pd_node_member_t *m = &fx.members[fx.n_members++];
    snprintf(m->node_id, sizeof m->node_id, "%s", id);
    snprintf(m->hostname, sizeof m->hostname, "host-%c", id[0]);
    m->role = (uint8_t)role;
    m->alive = (uint8_t)alive;
}

static void record(const char *id, pd_node_role_t role, bool removed)
{
    char host[16];
    snprintf(host, sizeof host, "host-%c", id[0]);
    t_node_put(fx.st, &fx.index, id, host, role, removed);
}

static void voters(const char *ids)
{
    fx.conf.n_voters = 0;
    for (const char *p = ids; *p; p++)
        fx.conf.voters[fx.conf.n_voters++] = (uint64_t)(unsigned char)*p;
}

static size_t tick(void)
{
    pd_node_plan_in_t in = {.store = fx.st, .members = fx.members, .n_members = fx.n_members, .conf = &fx.conf,
                            .self_raft_id = rid(A), .raft_id_of = rid, .gt = fx.gt, .creating = fx.creating,
                            .n_creating = fx.n_creating};
    fx.n = pd_node_plan_tick(&in, fx.acts, PD_NODE_PLAN_ACTS_MAX);
    return fx.n;
}

static const pd_node_act_t *find(uint8_t type, const char *id)
{
    for (size_t i = 0; i < fx.n; i++)
        if (fx.acts[i].type == type && strcmp(fx.acts[i].node_id, id) == 0)
            return &fx.acts[i];
    return NULL;
}

static size_t count(uint8_t type)
{
    size_t k = 0;
    for (size_t i = 0; i < fx.n; i++)
        k += fx.acts[i].type == type;
    return k;
}

/* Carry out the PUBLISH actions into the gossip table. */
static void publish(void)
{
    for (size_t i = 0; i < fx.n; i++) {
        if (fx.acts[i].type != PD_NODE_ACT_PUBLISH)
            continue;
        const char *v = pd_node_role_name((pd_node_role_t)fx.acts[i].role);
        assert_int_equal(pd_gtable_put_cluster(fx.gt, PD_NODE_ROLE_TABLE, fx.acts[i].node_id, v, strlen(v), 1, NULL), 0);
    }
}

static void test_creates_records(void **state)
{
    (void)state;
    member(A, PD_NODE_MANAGER, 1);
    member(W, PD_NODE_WORKER, 1);
    member(B, PD_NODE_WORKER, 0);         /* dead: no record */
    member("not-an-id", PD_NODE_WORKER, 1); /* invalid id: no record */
    voters("a");
    tick();
    assert_int_equal(count(PD_NODE_ACT_CREATE), 2);
    const pd_node_act_t *x = find(PD_NODE_ACT_CREATE, W);
    assert_non_null(x);
    assert_string_equal(x->hostname, "host-w");
    assert_int_equal(x->role, PD_NODE_WORKER);
    assert_int_equal(find(PD_NODE_ACT_CREATE, A)->role, PD_NODE_MANAGER);
    fx.creating[fx.n_creating++] = W; /* in flight: not proposed again */
    tick();
    assert_null(find(PD_NODE_ACT_CREATE, W));
    assert_non_null(find(PD_NODE_ACT_CREATE, A));
    record(A, PD_NODE_MANAGER, false);
    record(W, PD_NODE_WORKER, true); /* a tombstone counts as a record: never made again */
    fx.n_creating = 0;
    tick();
    assert_int_equal(count(PD_NODE_ACT_CREATE), 0);
}

static void test_publishes_what_differs(void **state)
{
    (void)state;
    member(A, PD_NODE_MANAGER, 1);
    member(W, PD_NODE_WORKER, 1);
    voters("a");
    record(A, PD_NODE_MANAGER, false);
    record(W, PD_NODE_WORKER, false);
    tick();
    assert_int_equal(count(PD_NODE_ACT_PUBLISH), 2);
    assert_int_equal(find(PD_NODE_ACT_PUBLISH, W)->role, PD_NODE_WORKER);
    publish();
    tick();
    assert_int_equal(fx.n, 0); /* steady state: nothing to do */
}

static void test_promote(void **state)
{
    (void)state;
    member(A, PD_NODE_MANAGER, 1);
    member(W, PD_NODE_WORKER, 1);
    voters("a");
    record(A, PD_NODE_MANAGER, false);
    record(W, PD_NODE_WORKER, false);
    tick();
    publish();
    record(W, PD_NODE_MANAGER, false); /* node promote */
    tick();
    assert_int_equal(find(PD_NODE_ACT_PUBLISH, W)->role, PD_NODE_MANAGER);
    assert_null(find(PD_NODE_ACT_ADD_LEARNER, W)); /* it runs no Raft yet */
    publish();
    fx.members[1].role = PD_NODE_MANAGER; /* it started Raft and says so */
    tick();
    const pd_node_act_t *x = find(PD_NODE_ACT_ADD_LEARNER, W);
    assert_non_null(x);
    assert_int_equal(x->raft_id, rid(W));
    fx.conf.learners[fx.conf.n_learners++] = rid(W);
    tick();
    assert_int_equal(fx.n, 0); /* the core promotes a caught-up learner */
    fx.members[1].alive = 0;
    fx.conf.n_learners = 0;
    tick();
    assert_null(find(PD_NODE_ACT_ADD_LEARNER, W)); /* not while it is down */
}

static void test_demote_and_remove(void **state)
{
    (void)state;
    member(A, PD_NODE_MANAGER, 1);
    member(B, PD_NODE_MANAGER, 1);
    member(C, PD_NODE_MANAGER, 0);
    voters("abc");
    record(A, PD_NODE_MANAGER, false);
    record(B, PD_NODE_MANAGER, false);
    record(C, PD_NODE_MANAGER, false);
    tick();
    publish();
    record(B, PD_NODE_WORKER, false); /* demote */
    record(C, PD_NODE_MANAGER, true); /* rm --force of a down manager */
    tick();
    /* one membership change a round; "worker" is not published while still a voter */
    assert_int_equal(count(PD_NODE_ACT_REMOVE), 1);
    assert_non_null(find(PD_NODE_ACT_REMOVE, B));
    assert_null(find(PD_NODE_ACT_PUBLISH, B));
    voters("ac");
    tick();
    assert_int_equal(find(PD_NODE_ACT_PUBLISH, B)->role, PD_NODE_WORKER);
    assert_non_null(find(PD_NODE_ACT_REMOVE, C)); /* removed even though it is down */
    publish();
    voters("a");
    tick();
    assert_int_equal(count(PD_NODE_ACT_REMOVE), 0);
}

static void test_leader_demoted_transfers_first(void **state)
{
    (void)state;
    member(A, PD_NODE_MANAGER, 1);
    member(B, PD_NODE_MANAGER, 1);
    voters("ab");
    record(A, PD_NODE_WORKER, false); /* the leader itself (self = a) is demoted */
    record(B, PD_NODE_MANAGER, false);
    tick();
    assert_non_null(find(PD_NODE_ACT_TRANSFER, A));
    assert_null(find(PD_NODE_ACT_REMOVE, A));
    assert_null(find(PD_NODE_ACT_PUBLISH, A));
}

static void test_last_voter_stays(void **state)
{
    (void)state;
    member(A, PD_NODE_MANAGER, 1);
    voters("a");
    record(A, PD_NODE_WORKER, false); /* refused by the command; must not happen here either */
    tick();
    assert_int_equal(count(PD_NODE_ACT_REMOVE) + count(PD_NODE_ACT_TRANSFER), 0);
    assert_null(find(PD_NODE_ACT_PUBLISH, A));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_creates_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publishes_what_differs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demote_and_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leader_demoted_transfers_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_voter_stays, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
