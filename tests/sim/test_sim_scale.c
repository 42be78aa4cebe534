/* tests/sim/lib at scale: 10,000 ping/pong nodes, each pinging random peers on a timer, with and
 * without faults. Checks the accounting adds up and that the run is fast and repeatable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "sim.h"

#define NODES 10000u
#define PINGS_PER_NODE 3u

enum { MSG_PING = 1, MSG_PONG = 2 };

typedef struct {
    pd_sim_t *sim;
    uint32_t self;
    pd_rng_t rng;
    uint32_t pings_sent;
    uint64_t next_ping;
} pinger_t;

static uint64_t g_pings, g_pongs;

static int ping_boot(pd_sim_t *sim, uint32_t node, uint64_t seed, pd_sim_disk_t *disk, void *ctx,
                     void **out)
{
    pinger_t *p = pd_malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    *p = (pinger_t){.sim = sim, .self = node};
    pd_rng_seed(&p->rng, seed);
    p->next_ping = pd_sim_now(sim) + pd_rng_range(&p->rng, 1, 1000);
    *out = p;
    return 0;
}

static void ping_send(pinger_t *p, uint32_t to, uint8_t type)
{
    uint8_t msg[9] = {type};
    memcpy(msg + 1, &p->self, 4);
    memcpy(msg + 5, &p->pings_sent, 4);
    assert_int_equal(pd_sim_send(p->sim, p->self, to, msg, sizeof msg), 0);
}

static void ping_on_message(void *st, uint64_t now, uint32_t from, const uint8_t *data, size_t len)
{
    pinger_t *p = st;
    assert_int_equal(len, 9);
    if (data[0] == MSG_PING) {
        g_pings++;
        ping_send(p, from, MSG_PONG);
    } else {
        assert_int_equal(data[0], MSG_PONG);
        g_pongs++;
    }
}

static void ping_on_timer(void *st, uint64_t now)
{
    pinger_t *p = st;
    uint32_t to = (uint32_t)pd_rng_below(&p->rng, NODES - 1);
    to += to >= p->self; /* anyone but itself */
    ping_send(p, to, MSG_PING);
    p->pings_sent++;
    p->next_ping = p->pings_sent < PINGS_PER_NODE ? now + pd_rng_range(&p->rng, 100, 1000)
                                                  : PD_SIM_NEVER;
}

static uint64_t ping_deadline(void *st) { return ((pinger_t *)st)->next_ping; }
static void ping_destroy(void *st) { pd_free(st); }

static const pd_sim_node_ops_t pinger_ops = {.boot = ping_boot,
                                             .on_message = ping_on_message,
                                             .on_timer = ping_on_timer,
                                             .next_deadline = ping_deadline,
                                             .destroy = ping_destroy};

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_10k_nodes_clean(void **state)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    g_pings = g_pongs = 0;
    pd_sim_opts_t o = pd_sim_opts_default(&pinger_ops, NODES, 10000);
    pd_sim_t *sim = NULL;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    assert_int_equal(pd_sim_start_all(sim), 0);
    assert_int_equal(pd_sim_run_until_quiet(sim, 60000), 0);
    const pd_sim_stats_t *st = pd_sim_stats(sim);
    assert_int_equal(g_pings, NODES * PINGS_PER_NODE);
    assert_int_equal(g_pongs, NODES * PINGS_PER_NODE);
    assert_int_equal(st->delivered, 2 * NODES * PINGS_PER_NODE);
    assert_int_equal(st->timers, NODES * PINGS_PER_NODE);
    pd_sim_destroy(sim);
    double s = elapsed_s(&t0);
    fprintf(stderr, "sim: 10k nodes, %u messages: %.2f s\n", 2 * NODES * PINGS_PER_NODE, s);
    assert_true(s < 20.0); /* a few seconds under ASan on 2 cores; generous for a busy machine */
}

typedef struct {
    uint64_t hash, pongs;
} faulty_result_t;

/* Loss, duplicates, jitter, a partition of a tenth of the nodes, crashes and restarts. */
static faulty_result_t faulty_run(uint64_t seed)
{
    g_pings = g_pongs = 0;
    pd_sim_opts_t o = pd_sim_opts_default(&pinger_ops, NODES, seed);
    o.net.loss_p = 0.05;
    o.net.dup_p = 0.02;
    o.net.jitter_p = 0.1;
    o.net.jitter_max_ms = 200;
    pd_sim_t *sim = NULL;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    assert_int_equal(pd_sim_start_all(sim), 0);
    static uint32_t side[NODES / 10];
    for (uint32_t i = 0; i < NODES / 10; i++)
        side[i] = i * 10;
    pd_sim_partition(sim, side, NODES / 10);
    assert_int_equal(pd_sim_run_until(sim, 800), 0);
    for (uint32_t i = 0; i < 100; i++) {
        uint32_t n = (uint32_t)pd_rng_below(pd_sim_rng(sim), NODES);
        if (pd_sim_node_up(sim, n))
            assert_int_equal(pd_sim_node_crash(sim, n), 0);
    }
    pd_sim_heal(sim);
    assert_int_equal(pd_sim_run_until(sim, 1500), 0);
    for (uint32_t i = 0; i < NODES; i++) {
        if (!pd_sim_node_up(sim, i))
            assert_int_equal(pd_sim_node_restart(sim, i), 0);
    }
    assert_int_equal(pd_sim_run_until_quiet(sim, 60000), 0);
    const pd_sim_stats_t *st = pd_sim_stats(sim);
    uint64_t dropped = st->dropped_loss + st->dropped_partition + st->dropped_crash;
    assert_int_equal(st->sent + st->duplicated, st->delivered + dropped);
    assert_true(st->dropped_partition > 0 && st->dropped_crash > 0 && st->dropped_loss > 0);
    assert_true(g_pongs < g_pings);
    faulty_result_t r = {pd_sim_trace_hash(sim), g_pongs};
    pd_sim_destroy(sim);
    return r;
}

static void test_10k_nodes_faulty_repeatable(void **state)
{
    PD_SIM_FOR_EACH_SEED(it, 77, 1)
    {
        faulty_result_t a = faulty_run(it.seed), b = faulty_run(it.seed);
        assert_true(a.hash == b.hash);
        assert_int_equal(a.pongs, b.pongs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_10k_nodes_clean),
        cmocka_unit_test_teardown(test_10k_nodes_faulty_repeatable, pd_sim_cmocka_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
