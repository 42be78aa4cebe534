/* core/daemon/vip_plan: the leader's VIP reconciler against a real store and gossip table:
 * allocation once per name (no duplicates in flight, rate limit, retry after refusal), publish only
 * what differs, release after the grace (re-registration keeps the VIP), leadership changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "store_wire.h"
#include "vip_plan.h"
#include "vip_value.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define GRACE 10000u

typedef struct {
    pd_store_t *st;
    pd_gtable_t *gt;
    pd_vip_plan_t *p;
    pd_vip_act_t acts[PD_VIP_PLAN_ROUND_ACTS_MAX];
    int n;
    uint64_t now;
} fx_t;

static fx_t fx;

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    assert_int_equal(pd_store_new(NULL, &fx.st), 0);
    pd_gtable_config_t gc = {.node_id = "m1"};
    assert_int_equal(pd_gtable_create(&gc, &fx.gt), 0);
    pd_vip_plan_config_t pc = {.range = {.net = IP(10, 96, 0, 0), .prefix = 24}, .grace_ms = GRACE,
                               .proposals_per_round = 16, .retry_ms = 5000};
    assert_int_equal(pd_vip_plan_new(&pc, &fx.p), 0);
    fx.now = 1000;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pd_vip_plan_free(fx.p);
    pd_gtable_destroy(fx.gt);
    pd_store_free(fx.st);
    return 0;
}

static int tick(uint64_t term)
{
    fx.n = pd_vip_plan_tick(fx.p, fx.now, term, fx.st, fx.gt, fx.acts, PD_VIP_PLAN_ROUND_ACTS_MAX);
    assert_true(fx.n >= 0);
    return fx.n;
}

static int count(uint8_t type)
{
    int c = 0;
    for (int i = 0; i < fx.n; i++)
        c += fx.acts[i].type == type;
    return c;
}

static void reg(const char *svc, const char *node)
{
    char tab[80];
    snprintf(tab, sizeof tab, "svc/%s", svc);
    assert_int_equal(pd_gtable_put(fx.gt, tab, node, "x", 1, fx.now, NULL), 0);
}

static void dereg(const char *svc, const char *node)
{
    char tab[80];
    snprintf(tab, sizeof tab, "svc/%s", svc);
    assert_int_equal(pd_gtable_del(fx.gt, tab, node, fx.now, NULL), 0);
}

/* Carry out every action of the last round as the shell would; proposals succeed. */
static void carry_out(void)
{
    for (int i = 0; i < fx.n; i++) {
        const pd_vip_act_t *a = &fx.acts[i];
        uint8_t *e;
        size_t len;
        pd_store_result_t res;
        uint8_t val[PD_VIP_VALUE_MAX];
        switch (a->type) {
        case PD_VIP_ACT_ALLOC:
        case PD_VIP_ACT_RELEASE:
            if (a->type == PD_VIP_ACT_ALLOC)
                assert_int_equal(pd_store_wire_encode_vip_alloc(a->name, &a->range, &e, &len), 0);
            else
                assert_int_equal(pd_store_wire_encode_vip_release(a->name, &e, &len), 0);
            assert_int_equal(pd_store_apply(fx.st, pd_store_applied_index(fx.st) + 1, 1, e, len, &res), 0);
            pd_free(e);
            pd_vip_plan_done(fx.p, a->name, a->type == PD_VIP_ACT_ALLOC, res.rc, fx.now);
            break;
        case PD_VIP_ACT_PUBLISH:
            len = pd_vip_value_encode(a->addr, a->term, val);
            assert_int_equal(pd_gtable_put_cluster(fx.gt, "vip", a->name, val, len, fx.now, NULL), 0);
            break;
        case PD_VIP_ACT_UNPUBLISH:
            assert_int_equal(pd_gtable_del_cluster(fx.gt, "vip", a->name, fx.now, NULL), 0);
            break;
        default: fail();
        }
    }
}

static int published(const char *svc, uint32_t want)
{
    pd_gtable_view_t v;
    uint32_t addr;
    uint64_t term;
    return pd_gtable_get(fx.gt, "vip", svc, &v) == 0 && pd_vip_value_decode(v.value, v.value_len, &addr, &term) == 0 &&
           addr == want;
}

/* Another writer's cluster-owned value for svc, as of term. */
static void foreign_vip(const char *svc, uint32_t addr, uint64_t term)
{
    uint8_t val[PD_VIP_VALUE_MAX];
    size_t len = pd_vip_value_encode(addr, term, val);
    assert_int_equal(pd_gtable_put_cluster(fx.gt, "vip", svc, val, len, fx.now, NULL), 0);
}

static void test_allocate_publish_steady(void **state)
{
    (void)state;
    reg("web", "n1");
    reg("web", "n2"); /* two endpoints, one service */
    assert_int_equal(tick(0), 0); /* a follower does nothing */
    assert_int_equal(tick(3), 1);
    assert_int_equal(fx.acts[0].type, PD_VIP_ACT_ALLOC);
    assert_string_equal(fx.acts[0].name, "web");
    assert_int_equal(fx.acts[0].range.net, IP(10, 96, 0, 0));
    pd_vip_act_t keep = fx.acts[0];
    /* Not applied yet: no second proposal for the name in flight. */
    assert_int_equal(tick(3), 0);
    assert_int_equal(pd_vip_plan_inflight(fx.p), 1);
    fx.acts[0] = keep;
    fx.n = 1;
    carry_out();
    assert_int_equal(pd_vip_plan_inflight(fx.p), 0);
    /* Applied: published once, then nothing while nothing changes. */
    assert_int_equal(tick(3), 1);
    assert_int_equal(fx.acts[0].type, PD_VIP_ACT_PUBLISH);
    assert_int_equal(fx.acts[0].addr, IP(10, 96, 0, 1));
    carry_out();
    assert_true(published("web", IP(10, 96, 0, 1)));
    for (int i = 0; i < 3; i++)
        assert_int_equal(tick(3), 0);
    /* Another node's (non-cluster) entry with a wrong value, and a VIP the store does not hold:
     * corrected and withdrawn, once the rewrite interval has passed since our own write. */
    assert_int_equal(pd_gtable_put(fx.gt, "vip", "web", "junk", 4, fx.now, NULL), 0);
    foreign_vip("ghost", IP(10, 96, 0, 5), 2);
    assert_int_equal(tick(3), 1); /* ghost: never written by us */
    assert_int_equal(fx.acts[0].type, PD_VIP_ACT_UNPUBLISH);
    fx.now += PD_VIP_PLAN_REWRITE_MS;
    carry_out();
    assert_int_equal(tick(3), 1);
    assert_int_equal(fx.acts[0].type, PD_VIP_ACT_PUBLISH);
    assert_int_equal(fx.acts[0].term, 3);
    carry_out();
    assert_true(published("web", IP(10, 96, 0, 1)));
    assert_int_equal(tick(3), 0);
    /* A value from a higher term (a newer leader, or another cluster on the same gossip) is left
     * alone, and so is a name we wrote less than PD_VIP_PLAN_REWRITE_MS ago. */
    fx.now += PD_VIP_PLAN_REWRITE_MS;
    foreign_vip("web", IP(10, 96, 0, 7), 4);
    foreign_vip("other", IP(10, 96, 0, 8), 4);
    assert_int_equal(tick(3), 0);
    foreign_vip("web", IP(10, 96, 0, 7), 2); /* a lower term: ours to fix */
    assert_int_equal(tick(3), 1);
    carry_out();
    assert_int_equal(pd_gtable_put(fx.gt, "vip", "web", "junk", 4, fx.now, NULL), 0);
    assert_int_equal(tick(3), 0); /* changed by another writer since our write: not before the interval */
    fx.now += PD_VIP_PLAN_REWRITE_MS;
    assert_int_equal(tick(3), 1);
    carry_out();
    assert_true(published("web", IP(10, 96, 0, 1)));
}

static void test_rate_limit_and_retry(void **state)
{
    (void)state;
    char name[16];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "s%02d", i);
        reg(name, "n1");
    }
    assert_int_equal(tick(1), 16); /* proposals_per_round */
    assert_int_equal(count(PD_VIP_ACT_ALLOC), 16);
    assert_int_equal(tick(1), 16); /* others: the first 16 are in flight */
    assert_int_equal(tick(1), 8);
    assert_int_equal(tick(1), 0);
    assert_int_equal(pd_vip_plan_inflight(fx.p), 40);
    /* A refused allocation (say the range is full) holds allocations back for retry_ms. */
    pd_vip_plan_done(fx.p, "s00", 1, -PD_ELIMIT, fx.now);
    assert_int_equal(tick(1), 0);
    fx.now += 5000;
    assert_int_equal(tick(1), 1);
    assert_string_equal(fx.acts[0].name, "s00");
}

static void test_grace_release(void **state)
{
    (void)state;
    reg("web", "n1");
    tick(1);
    carry_out();
    tick(1);
    carry_out(); /* published */
    dereg("web", "n1");
    assert_int_equal(tick(1), 0); /* the grace starts */
    fx.now += GRACE - 1;
    assert_int_equal(tick(1), 0);
    /* Re-registered inside the grace: keeps the VIP, and the count starts over when it goes. */
    reg("web", "n1");
    fx.now += 1;
    assert_int_equal(tick(1), 0);
    dereg("web", "n1");
    fx.now += 1;
    assert_int_equal(tick(1), 0);
    fx.now += GRACE - 1;
    assert_int_equal(tick(1), 0);
    /* A new leader restarts the grace (it cannot know how long the service has been gone). */
    assert_int_equal(tick(2), 0);
    fx.now += GRACE - 1;
    assert_int_equal(tick(2), 0);
    fx.now += 1;
    assert_int_equal(tick(2), 1);
    assert_int_equal(fx.acts[0].type, PD_VIP_ACT_RELEASE);
    assert_string_equal(fx.acts[0].name, "web");
    carry_out();
    uint32_t a;
    assert_int_equal(pd_store_vip_get(fx.st, "web", 3, &a), -PD_ENOTFOUND);
    /* Gone from the store: withdrawn from gossip, once. */
    assert_int_equal(tick(2), 1);
    assert_int_equal(fx.acts[0].type, PD_VIP_ACT_UNPUBLISH);
    carry_out();
    assert_int_equal(tick(2), 0);
    assert_int_equal(pd_gtable_count(fx.gt, "vip"), 0);
}

static void test_cluster_range_wins(void **state)
{
    (void)state;
    /* The store's range was fixed by an earlier leader with another --vip-range. */
    pd_store_vip_range_t other = {.net = IP(10, 200, 0, 0), .prefix = 16};
    uint8_t *e;
    size_t len;
    assert_int_equal(pd_store_wire_encode_vip_alloc("old", &other, &e, &len), 0);
    assert_int_equal(pd_store_apply(fx.st, 1, 1, e, len, NULL), 0);
    pd_free(e);
    assert_int_equal(pd_vip_plan_range_differs(fx.p, fx.st), 1);
    reg("old", "n1");
    reg("web", "n1");
    tick(1);
    assert_int_equal(count(PD_VIP_ACT_ALLOC), 1);
    assert_int_equal(count(PD_VIP_ACT_PUBLISH), 1);
    for (int i = 0; i < fx.n; i++)
        if (fx.acts[i].type == PD_VIP_ACT_ALLOC)
            assert_int_equal(fx.acts[i].range.net, IP(10, 200, 0, 0));
    carry_out();
    uint32_t a;
    assert_int_equal(pd_store_vip_get(fx.st, "web", 3, &a), 0);
    assert_int_equal(a, IP(10, 200, 0, 2));
    /* Bad configurations. */
    pd_vip_plan_t *p;
    pd_vip_plan_config_t bad = {.range = {.net = IP(10, 0, 0, 0), .prefix = 31}, .proposals_per_round = 1};
    assert_int_equal(pd_vip_plan_new(&bad, &p), -PD_EUSAGE);
    bad.range.prefix = 16;
    bad.proposals_per_round = 0;
    assert_int_equal(pd_vip_plan_new(&bad, &p), -PD_EUSAGE);
}

/* pd_vip_plan_due: when a round on unchanged inputs could act again, so that an idle leader can skip
 * rounds (each scans every service) without missing a grace, a retry or a rewrite interval. */
static void test_due(void **state)
{
    (void)state;
    assert_int_equal(pd_vip_plan_due(fx.p), 0); /* no round yet */
    reg("web", "n1");
    tick(1);
    carry_out(); /* ALLOC applied: done() makes the next round due at once */
    assert_int_equal(pd_vip_plan_due(fx.p), 0);
    tick(1);
    carry_out(); /* published */
    assert_int_equal(tick(1), 0);
    assert_int_equal(pd_vip_plan_due(fx.p), UINT64_MAX); /* steady: nothing timed */
    /* A deregistered service: due when its grace ends, and then the release comes. */
    dereg("web", "n1");
    assert_int_equal(tick(1), 0);
    uint64_t gone = fx.now;
    assert_int_equal(pd_vip_plan_due(fx.p), gone + GRACE);
    fx.now = gone + GRACE - 1;
    assert_int_equal(tick(1), 0);
    assert_int_equal(pd_vip_plan_due(fx.p), gone + GRACE);
    fx.now = gone + GRACE;
    assert_int_equal(tick(1), 1);
    assert_int_equal(fx.acts[0].type, PD_VIP_ACT_RELEASE);
    /* A refused allocation: due when the hold-back ends. */
    reg("api", "n1");
    tick(1);
    assert_int_equal(count(PD_VIP_ACT_ALLOC), 1);
    pd_vip_plan_done(fx.p, "api", 1, -PD_ELIMIT, fx.now);
    assert_int_equal(pd_vip_plan_due(fx.p), 0);
    fx.now += 1;
    tick(1);
    assert_int_equal(count(PD_VIP_ACT_ALLOC), 0);
    assert_int_equal(pd_vip_plan_due(fx.p), fx.now - 1 + 5000);
    fx.now += 5000;
    tick(1);
    assert_int_equal(count(PD_VIP_ACT_ALLOC), 1);
    carry_out();
    tick(1);
    carry_out(); /* api published */
    /* A value another writer changed right after our write: due when the rewrite interval ends. */
    uint64_t wrote = fx.now;
    assert_int_equal(pd_gtable_put(fx.gt, "vip", "api", "junk", 4, fx.now, NULL), 0);
    fx.now += 10;
    tick(1);
    assert_int_equal(count(PD_VIP_ACT_PUBLISH), 0);
    assert_int_equal(pd_vip_plan_due(fx.p), wrote + PD_VIP_PLAN_REWRITE_MS);
    fx.now = wrote + PD_VIP_PLAN_REWRITE_MS;
    tick(1);
    assert_int_equal(count(PD_VIP_ACT_PUBLISH), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_allocate_publish_steady, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_and_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grace_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_range_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
