/* SWIM in the simulator under faults: 10% random loss (no live node declared dead), a slow node
 * (its messages take longer than the probe timeout: Lifeguard keeps it from getting healthy peers
 * declared dead), and a partition that heals (views converge again). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_swim_node.h"

static void test_loss_no_false_dead(void **state)
{
    (void)state;
    const uint32_t n = 50;
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    sw_world_t w;
    pd_sim_t *sim = sw_world_new(&w, n, 21, &net);
    assert_int_equal(pd_sim_start_all(sim), 0);
    assert_true(sw_run_until_converged(sim, n, 30000) > 0);
    net.loss_p = 0.10;
    pd_sim_net_set(sim, &net);
    pd_sim_run_until(sim, pd_sim_now(sim) + 120000);
    uint64_t refutes = 0, suspects = 0;
    for (uint32_t i = 0; i < n; i++) {
        refutes += pd_swim_stats(sw_core(sim, i))->refutes;
        suspects += pd_swim_stats(sw_core(sim, i))->suspects_raised;
    }
    fprintf(stderr, "swim sim: N=%u 10%% loss 120 s: %lu suspicions raised, %lu refutes, %lu false dead\n",
            n, (unsigned long)suspects, (unsigned long)refutes, (unsigned long)w.false_dead);
    assert_int_equal(w.false_dead, 0);
    sw_world_free(&w);
}

static uint32_t slow_node = 3;

static uint64_t slow_latency(void *ctx, pd_rng_t *rng, uint32_t from, uint32_t to)
{
    (void)ctx;
    if (from == slow_node || to == slow_node)
        return pd_rng_range(rng, 300, 900); /* each way: a round trip beyond the probe timeout */
    return pd_rng_range(rng, 1, 10);
}

static void test_slow_node(void **state)
{
    (void)state;
    const uint32_t n = 30;
    sw_world_t w;
    pd_sim_t *sim = sw_world_new(&w, n, 31, NULL);
    assert_int_equal(pd_sim_start_all(sim), 0);
    /* Early joiners catch up on what went round before anyone knew them with the push/pull
     * scheduled 1-3 probe intervals after their join (and the retransmit floor). */
    assert_true(sw_run_until_converged(sim, n, 30000) > 0);
    pd_sim_net_opts_t net = pd_sim_net_get(sim);
    net.latency_fn = slow_latency;
    pd_sim_net_set(sim, &net);
    pd_sim_run_until(sim, pd_sim_now(sim) + 120000);
    pd_swim_t *slow = sw_core(sim, slow_node);
    fprintf(stderr, "swim sim: slow node: awareness %d, its failed probes %lu, refutes %lu, false dead %lu\n",
            pd_swim_awareness(slow), (unsigned long)pd_swim_stats(slow)->probe_failures,
            (unsigned long)pd_swim_stats(slow)->refutes, (unsigned long)w.false_dead);
    assert_int_equal(w.false_dead, 0);
    assert_int_equal(pd_swim_count(slow, PD_SWIM_DEAD), 0);
    sw_world_free(&w);
}

static void test_partition_heals(void **state)
{
    (void)state;
    const uint32_t n = 40;
    sw_world_t w;
    pd_sim_t *sim = sw_world_new(&w, n, 41, NULL);
    assert_int_equal(pd_sim_start_all(sim), 0);
    assert_true(sw_run_until_converged(sim, n, 30000) > 0);
    uint32_t half[20];
    for (uint32_t i = 0; i < 20; i++)
        half[i] = 20 + i;
    pd_sim_partition(sim, half, 20);
    /* Long enough for each side to declare the other dead, short enough that the dead are still
     * gossiped to (gossip_to_dead_ms) when it heals, so they hear it and refute. */
    for (uint32_t i = 0; i < n; i++)
        w.crashed[i] = 1; /* dead is a right answer across a partition */
    pd_sim_run_until(sim, pd_sim_now(sim) + 20000);
    assert_true(pd_swim_count(sw_core(sim, 0), PD_SWIM_DEAD) > 0);
    uint64_t heal = pd_sim_now(sim);
    pd_sim_heal(sim);
    uint64_t t = sw_run_until_converged(sim, n, heal + 60000);
    fprintf(stderr, "swim sim: N=%u partition 20 s: node0 saw %u dead; converged %lu ms after heal\n", n,
            w.dead_seen ? 1u : 0u, (unsigned long)(t ? t - heal : 0));
    assert_true(t > 0);
    sw_world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_no_false_dead),
        cmocka_unit_test(test_slow_node),
        cmocka_unit_test(test_partition_heals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
