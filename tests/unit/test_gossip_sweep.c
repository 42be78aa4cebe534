/* gossip/gossip_agent's owner sweep: entries whose owner SWIM does not hold alive or suspect (an
 * update still in flight about a node forgotten here, a push/pull from a node that restarted) are
 * hidden within a sweep (once a second). The sweep skips its walk while no entry and no member
 * has changed; these checks make sure the skip never keeps a new stranger's entry visible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gossip_agent.h"
#include "pd_err.h"

typedef struct {
    pd_gagent_t *a;
    pd_rng_t rng;
    pd_keyring_t ring;
    uint64_t now;
} fx_t;

static fx_t fx;

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    pd_rng_seed(&fx.rng, 7);
    pd_keyring_init(&fx.ring);
    uint8_t k[PD_KEYRING_KEY_LEN];
    for (int i = 0; i < PD_KEYRING_KEY_LEN; i++)
        k[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(pd_keyring_install(&fx.ring, k), 0);
    pd_gagent_config_t c;
    pd_gagent_config_default(&c);
    c.node_id = "me";
    c.addr = (pd_swim_addr_t){.family = 4, .ip = {127, 0, 0, 1}, .port = 7946};
    c.keyring = &fx.ring;
    c.label = "sweep-test";
    c.deterministic_nonces = 1;
    fx.now = 1000;
    assert_int_equal(pd_gagent_create(&c, fx.now, &fx.a), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pd_gagent_destroy(fx.a);
    pd_keyring_free(&fx.ring);
    return 0;
}

/* An update written by node `owner` (which this agent's SWIM has never heard of) arrives. */
static void arrive(const char *owner, const char *table, const char *key)
{
    pd_gtable_t *other;
    pd_gtable_config_t gc = {.node_id = owner};
    assert_int_equal(pd_gtable_create(&gc, &other), 0);
    pd_gtable_msg_t msg;
    assert_int_equal(pd_gtable_put(other, table, key, "10.0.0.9", 8, fx.now, &msg), 0);
    int changed = 0;
    assert_int_equal(pd_gtable_merge_update(pd_gagent_table(fx.a), msg.data, msg.len, fx.now, &changed), 0);
    assert_int_equal(changed, 1);
    pd_gtable_destroy(other);
}

static int visible(const char *table, const char *key)
{
    pd_gtable_view_t v;
    return pd_gtable_get(pd_gagent_table(fx.a), table, key, &v) == 0;
}

/* Tick for `ms` in 100 ms steps, as the shell does. */
static void run_for(uint64_t ms)
{
    for (uint64_t end = fx.now + ms; fx.now < end;) {
        fx.now += 100;
        pd_gagent_tick(fx.a, fx.now, &fx.rng);
        pd_gagent_ready_t r;
        pd_gagent_ready(fx.a, &fx.rng, &r);
        pd_gagent_advance(fx.a);
    }
}

/* A stranger's entry arrives: visible at first, hidden after a sweep, and ours stay. */
static void stranger_hidden_within_a_sweep(const char *owner, const char *table)
{
    arrive(owner, table, owner);
    assert_true(visible(table, owner));
    run_for(1100);
    assert_false(visible(table, owner));
    assert_true(visible("svc/web", "me"));
    assert_true(visible("vip", "web"));
}

static void test_strangers_hidden_after_quiet_sweeps(void **state)
{
    (void)state;
    /* Our own and cluster-owned entries are never swept. */
    assert_int_equal(pd_gagent_put(fx.a, fx.now, "svc/web", "me", "10.0.0.1", 8), 0);
    assert_int_equal(pd_gagent_put_cluster(fx.a, fx.now, "vip", "web", "10.96.0.1", 9), 0);
    stranger_hidden_within_a_sweep("ghost1", "svc/web");
    /* Several quiet seconds (the sweeps skip their walk), then another stranger. */
    run_for(3000);
    stranger_hidden_within_a_sweep("ghost2", "svc/api");
    assert_false(visible("svc/web", "ghost1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_strangers_hidden_after_quiet_sweeps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
