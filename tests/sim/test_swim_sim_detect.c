/* Failure detection with the profile peerd runs (pd_swim_config_lan), as in the real benchmark
 * (tests/bench/gossip): N = 8, 32 and 128, five crashes one after another, each timed from the
 * crash to the first suspicion, the first and the last "dead". Bounds come from the configuration:
 *   - first suspicion: some member probes the crashed one within a few probe intervals (each of the
 *     N-1 probes it once per N-1 intervals at a random phase: P(nobody within k) ~ e^-k), plus the
 *     failing probe itself;
 *   - suspicion -> first dead: the minimum suspicion timeout plus two intervals, which holds only
 *     if confirmation probes bring suspicion_confirmations failed probes within an interval or so
 *     (round-robin alone would leave the timeout near its max, 6x the min);
 *   - first -> last dead: dissemination, a few gossip rounds;
 * and the steady-state datagram bytes per node and second stay under a budget from the probe
 * interval (one ping and one ack per member and interval, nothing else once the cluster is
 * quiet; push/pull is a digest unless states differ). A slow member gets nobody declared dead.
 * Then 10% loss for 120 s at N=32: no live node declared dead (asserted); 20% is reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_swim_node.h"

enum { KILLS = 5 };

/* N nodes with peerd's profile, joined through node 0 and converged. */
static pd_sim_t *lan_world(sw_world_t *w, uint32_t n, uint64_t seed)
{
    pd_sim_t *sim = sw_world_new(w, n, seed, NULL);
    pd_swim_config_lan(&w->cfg);
    assert_int_equal(pd_sim_start_all(sim), 0);
    assert_true(sw_run_until_converged(sim, n, 60000) > 0);
    return sim;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void detect(uint32_t n, uint64_t seed)
{
    sw_world_t w;
    pd_sim_t *sim = lan_world(&w, n, seed);
    const pd_swim_config_t *c = &w.cfg;
    /* Quiet: join news has run out of retransmits and the catch-up push/pulls are done. */
    pd_sim_run_until(sim, pd_sim_now(sim) + 40000);
    uint64_t udp0 = w.udp_bytes, pk0 = w.udp_pkts, st0 = w.stream_bytes, t0 = pd_sim_now(sim);
    pd_sim_run_until(sim, t0 + 60000);
    double secs = (double)(pd_sim_now(sim) - t0) / 1000.0;
    double udp_bps = (double)(w.udp_bytes - udp0) / secs / n;
    double pkt_ps = (double)(w.udp_pkts - pk0) / secs / n;
    double stream_bps = (double)(w.stream_bytes - st0) / secs / n;
    /* Steady state is probes and nothing else: one ping out and one ack out per member per
     * interval (2 datagrams), a few sync digests, no stream traffic unless two states differ. */
    double probe_pkts = 2000.0 / c->probe_interval_ms;
    fprintf(stderr, "swim sim detect N=%u: steady %.1f datagrams/s/node (probes alone %.1f), %.0f B/s/node "
            "payload, %.1f B/s/node streams\n", n, pkt_ps, probe_pkts, udp_bps, stream_bps);
    assert_true(pkt_ps <= probe_pkts * 1.1);
    assert_true(stream_bps <= 5.0);

    uint64_t susp_min = pd_swim_suspicion_min_ms(c->suspicion_mult, n, c->probe_interval_ms);
    uint64_t suspect_bound = 6ull * c->probe_interval_ms;
    uint64_t confirm_bound = susp_min + 2ull * c->probe_interval_ms;
    uint64_t spread_bound = 2000;
    uint64_t all[KILLS];
    uint32_t up = n;
    for (uint32_t k = 0; k < KILLS; k++) {
        uint32_t victim = 1 + k * (n - 1) / KILLS;
        w.watch = victim;
        w.crashed[victim] = 1;
        w.watch_first_suspect_ms = w.watch_first_dead_ms = w.watch_last_dead_ms = 0;
        w.watch_dead_count = 0;
        uint64_t crash = pd_sim_now(sim);
        assert_int_equal(pd_sim_node_crash(sim, victim), 0);
        up--;
        while (pd_sim_now(sim) < crash + 60000 && w.watch_dead_count < up)
            pd_sim_run_until(sim, pd_sim_now(sim) + 50);
        uint64_t s = w.watch_first_suspect_ms - crash, d = w.watch_first_dead_ms - crash;
        all[k] = w.watch_last_dead_ms - crash;
        fprintf(stderr, "swim sim detect N=%u kill %u: suspect +%lu ms (bound %lu), first dead +%lu "
                "(suspicion %lu, min %lu, bound %lu), all %u dead +%lu (spread bound %lu)\n", n, k + 1,
                (unsigned long)s, (unsigned long)suspect_bound, (unsigned long)d, (unsigned long)(d - s),
                (unsigned long)susp_min, (unsigned long)confirm_bound, w.watch_dead_count,
                (unsigned long)all[k], (unsigned long)spread_bound);
        assert_true(w.watch_first_suspect_ms > 0 && w.watch_first_dead_ms > 0);
        assert_int_equal(w.watch_dead_count, up);
        assert_true(s <= suspect_bound);
        assert_true(d - s <= confirm_bound);
        assert_true(all[k] - d <= spread_bound);
        pd_sim_run_until(sim, pd_sim_now(sim) + 5000);
    }
    qsort(all, KILLS, sizeof all[0], cmp_u64);
    fprintf(stderr, "swim sim detect N=%u: all dead median %lu ms, max %lu ms\n", n,
            (unsigned long)all[KILLS / 2], (unsigned long)all[KILLS - 1]);
    assert_int_equal(w.false_dead, 0);
    sw_world_free(&w);
}

static void test_detect_8(void **state)
{
    (void)state;
    PD_SIM_FOR_EACH_SEED(it, 101, 1)
        detect(8, it.seed);
}

static void test_detect_32(void **state)
{
    (void)state;
    PD_SIM_FOR_EACH_SEED(it, 102, 1)
        detect(32, it.seed);
}

static void test_detect_128(void **state)
{
    (void)state;
    PD_SIM_FOR_EACH_SEED(it, 103, 1)
        detect(128, it.seed);
}

static uint64_t lossy_run(double loss, uint64_t *suspects, uint64_t *refutes)
{
    const uint32_t n = 32;
    sw_world_t w;
    pd_sim_t *sim = lan_world(&w, n, 51);
    pd_sim_net_opts_t net = pd_sim_net_get(sim);
    net.loss_p = loss;
    pd_sim_net_set(sim, &net);
    pd_sim_run_until(sim, pd_sim_now(sim) + 120000);
    *suspects = *refutes = 0;
    for (uint32_t i = 0; i < n; i++) {
        const pd_swim_stats_t *st = pd_swim_stats(sw_core(sim, i));
        *refutes += st->refutes;
        *suspects += st->suspects_raised;
    }
    uint64_t fd = w.false_dead;
    sw_world_free(&w);
    return fd;
}

/* One node whose every message takes 100-250 ms more each way: its round trips (200-500 ms) are
 * beyond the 200 ms probe timeout but within the 600 ms interval. Its probes go indirect, yet
 * neither it nor anyone else may be declared dead (Lifeguard: nacks tell the prober it is the
 * slow one; its peers wait out the interval for its acks). */
static uint64_t sluggish_latency(void *ctx, pd_rng_t *rng, uint32_t from, uint32_t to)
{
    (void)ctx;
    uint64_t base = pd_rng_range(rng, 1, 10);
    return from == 7 || to == 7 ? base + pd_rng_range(rng, 100, 250) : base;
}

static void test_slow_member(void **state)
{
    (void)state;
    sw_world_t w;
    pd_sim_t *sim = lan_world(&w, 30, 61);
    pd_sim_net_opts_t net = pd_sim_net_get(sim);
    net.latency_fn = sluggish_latency;
    pd_sim_net_set(sim, &net);
    pd_sim_run_until(sim, pd_sim_now(sim) + 120000);
    pd_swim_t *slow = sw_core(sim, 7);
    const pd_swim_stats_t *st = pd_swim_stats(slow);
    fprintf(stderr, "swim sim detect: slow member: awareness %d, %lu of its probes failed, %lu refutes, "
            "%lu false dead\n", pd_swim_awareness(slow), (unsigned long)st->probe_failures,
            (unsigned long)st->refutes, (unsigned long)w.false_dead);
    assert_int_equal(w.false_dead, 0);
    assert_int_equal(pd_swim_count(slow, PD_SWIM_DEAD), 0);
    sw_world_free(&w);
}

static void test_loss(void **state)
{
    (void)state;
    uint64_t sus, ref;
    uint64_t fd10 = lossy_run(0.10, &sus, &ref);
    fprintf(stderr, "swim sim detect N=32 10%% loss 120 s: %lu suspicions, %lu refutes, %lu false dead\n",
            (unsigned long)sus, (unsigned long)ref, (unsigned long)fd10);
    uint64_t fd20 = lossy_run(0.20, &sus, &ref);
    fprintf(stderr, "swim sim detect N=32 20%% loss 120 s: %lu suspicions, %lu refutes, %lu false dead "
            "(reported, not asserted)\n", (unsigned long)sus, (unsigned long)ref, (unsigned long)fd20);
    assert_int_equal(fd10, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_8),
        cmocka_unit_test(test_detect_32),
        cmocka_unit_test(test_detect_128),
        cmocka_unit_test(test_slow_member),
        cmocka_unit_test_teardown(test_loss, pd_sim_cmocka_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
