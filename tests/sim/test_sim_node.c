/* tests/sim/lib: nodes. Timers (set, replace, disarm, next_deadline), crash (state dropped,
 * in-flight messages lost, unsynced disk lost), restart from the disk, scheduled calls, boot
 * failures, and the seed helpers and failure report.
 *
 * The example node "keeper" is what a Raft wrapper will look like in miniature: at boot it reads
 * a durable counter from its disk, bumps and syncs it, and it also keeps an unsynced journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_buggify.h"
#include "pd_err.h"
#include "sim.h"

/* ---- keeper node ------------------------------------------------------------------------------ */

#define KEEPER_MAX 8
#define JOURNAL_OFF 8 /* bytes 0..7: durable boot counter; then journal bytes */

typedef struct {
    pd_sim_t *sim;
    uint32_t self;
    pd_sim_disk_t *disk;
    uint64_t boot_no;   /* read back from disk + 1 */
    uint64_t seed;
    uint32_t received;
    uint64_t period_ms; /* 0: no ticking */
    uint64_t next_tick;
} keeper_t;

/* What the test can see after a node is gone. */
static struct {
    uint64_t seeds[KEEPER_MAX][4];
    uint64_t boot_no[KEEPER_MAX];
    uint32_t received[KEEPER_MAX];
    uint32_t ticks[KEEPER_MAX];
    uint64_t last_tick_at[KEEPER_MAX];
    int fail_boot; /* node index whose next boot fails, or -1 */
    uint64_t tick_period_ms;
} g;

static int keeper_boot(pd_sim_t *sim, uint32_t node, uint64_t seed, pd_sim_disk_t *disk, void *ctx,
                       void **out)
{
    assert_true(node < KEEPER_MAX);
    assert_ptr_equal(ctx, &g);
    if (g.fail_boot == (int)node) {
        g.fail_boot = -1;
        return -ENOMEM;
    }
    keeper_t *k = pd_calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    *k = (keeper_t){.sim = sim, .self = node, .disk = disk, .seed = seed};
    uint64_t prev = 0;
    if (pd_sim_disk_read(disk, 0, &prev, sizeof prev) != sizeof prev)
        prev = 0;
    k->boot_no = prev + 1;
    assert_int_equal(pd_sim_disk_write(disk, 0, &k->boot_no, sizeof k->boot_no), 0);
    pd_sim_disk_sync(disk);
    g.boot_no[node] = k->boot_no;
    if (k->boot_no <= 4)
        g.seeds[node][k->boot_no - 1] = seed;
    k->period_ms = g.tick_period_ms;
    k->next_tick = k->period_ms ? pd_sim_now(sim) + k->period_ms : PD_SIM_NEVER;
    *out = k;
    return 0;
}

static void keeper_on_message(void *st, uint64_t now, uint32_t from, const uint8_t *data, size_t len)
{
    keeper_t *k = st;
    g.received[k->self] = ++k->received;
    /* Journal every message, unsynced: a crash may lose or tear these bytes. */
    uint64_t size = pd_sim_disk_size(k->disk);
    assert_int_equal(pd_sim_disk_write(k->disk, PD_MAX(size, (uint64_t)JOURNAL_OFF), data, len), 0);
}

static void keeper_on_timer(void *st, uint64_t now)
{
    keeper_t *k = st;
    assert_int_equal(now, k->next_tick);
    g.ticks[k->self]++;
    g.last_tick_at[k->self] = now;
    k->next_tick = now + k->period_ms;
}

static uint64_t keeper_deadline(void *st) { return ((keeper_t *)st)->next_tick; }

static void keeper_destroy(void *st) { pd_free(st); }

static const pd_sim_node_ops_t keeper_ops = {.boot = keeper_boot,
                                             .on_message = keeper_on_message,
                                             .on_timer = keeper_on_timer,
                                             .next_deadline = keeper_deadline,
                                             .destroy = keeper_destroy};

static pd_sim_t *keeper_sim(uint32_t nodes, uint64_t seed, uint64_t tick_ms)
{
    memset(&g, 0, sizeof g);
    g.fail_boot = -1;
    g.tick_period_ms = tick_ms;
    pd_sim_opts_t o = pd_sim_opts_default(&keeper_ops, nodes, seed);
    o.ctx = &g;
    o.net.latency_min_ms = o.net.latency_max_ms = 10;
    pd_sim_t *sim = NULL;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    assert_int_equal(pd_sim_start_all(sim), 0);
    return sim;
}

/* ---- timers ----------------------------------------------------------------------------------- */

static void test_next_deadline_rearms(void **state)
{
    pd_sim_t *sim = keeper_sim(3, 1, 100);
    assert_int_equal(pd_sim_timer(sim, 0), 100);
    assert_int_equal(pd_sim_run_until(sim, 1050), 0);
    assert_int_equal(pd_sim_now(sim), 1050);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(g.ticks[i], 10);
        assert_int_equal(g.last_tick_at[i], 1000);
        assert_int_equal(pd_sim_timer(sim, i), 1100);
    }
    assert_int_equal(pd_sim_stats(sim)->timers, 30);
    /* A node with a periodic timer is never quiet. */
    assert_int_equal(pd_sim_run_until_quiet(sim, 2000), -PD_ETIMEOUT);
    assert_int_equal(pd_sim_now(sim), 2000);
    assert_int_equal(g.ticks[0], 20);
    pd_sim_destroy(sim);
}

/* Plain set_timer: replace, disarm, clamp to now. The timer must fire exactly when set. */
static uint64_t g_fired_at;
static void note_timer(void *st, uint64_t now) { g_fired_at = now; }

static void test_set_timer(void **state)
{
    pd_sim_node_ops_t ops = keeper_ops;
    ops.next_deadline = NULL;
    ops.on_timer = note_timer;
    memset(&g, 0, sizeof g);
    g.fail_boot = -1;
    pd_sim_opts_t o = pd_sim_opts_default(&ops, 2, 2);
    o.ctx = &g;
    pd_sim_t *sim = NULL;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    assert_int_equal(pd_sim_start_all(sim), 0);
    assert_int_equal(pd_sim_pending(sim), 0);
    pd_sim_set_timer(sim, 1, 500);
    pd_sim_set_timer(sim, 1, 300); /* replaces: one timer per node */
    assert_int_equal(pd_sim_pending(sim), 1);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    assert_int_equal(g_fired_at, 300);
    assert_int_equal(pd_sim_stats(sim)->timers, 1);
    pd_sim_set_timer(sim, 0, 1000);
    pd_sim_set_timer(sim, 0, PD_SIM_NEVER);
    assert_int_equal(pd_sim_timer(sim, 0), PD_SIM_NEVER);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    assert_int_equal(pd_sim_stats(sim)->timers, 1);
    pd_sim_set_timer(sim, 0, 5); /* in the past: fires now */
    assert_int_equal(pd_sim_timer(sim, 0), pd_sim_now(sim));
    assert_int_equal(pd_sim_step(sim), 1);
    assert_int_equal(g_fired_at, pd_sim_now(sim));
    pd_sim_destroy(sim);
}

/* ---- crash and restart ------------------------------------------------------------------------ */

static void test_crash_drops_in_flight(void **state)
{
    pd_sim_t *sim = keeper_sim(3, 3, 0);
    assert_int_equal(pd_sim_send(sim, 0, 1, "m1", 2), 0); /* arrives at 10 */
    assert_int_equal(pd_sim_send(sim, 1, 2, "m2", 2), 0); /* 1 sent it: still arrives */
    assert_int_equal(pd_sim_run_until(sim, 5), 0);
    assert_int_equal(pd_sim_node_crash(sim, 1), 0);
    assert_false(pd_sim_node_up(sim, 1));
    assert_null(pd_sim_node_state(sim, 1));
    assert_int_equal(pd_sim_node_crash(sim, 1), -PD_ESTATE);
    assert_int_equal(pd_sim_send(sim, 0, 1, "m3", 2), 0); /* to a down node: lost at once */
    assert_int_equal(pd_sim_send(sim, 1, 0, "m4", 2), -PD_ESTATE); /* a down node cannot send */
    assert_int_equal(pd_sim_run_until(sim, 6), 0);
    assert_int_equal(pd_sim_node_restart(sim, 1), 0); /* back before m1 would have landed */
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    assert_int_equal(g.received[1], 0); /* m1 died with the old boot */
    assert_int_equal(g.received[2], 1);
    const pd_sim_stats_t *st = pd_sim_stats(sim);
    assert_int_equal(st->dropped_crash, 2);
    assert_int_equal(st->crashes, 1);
    assert_int_equal(st->boots, 4);
    /* After the restart, traffic flows again. */
    assert_int_equal(pd_sim_send(sim, 0, 1, "m5", 2), 0);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    assert_int_equal(g.received[1], 1);
    pd_sim_destroy(sim);
}

static void test_restart_boots_from_disk(void **state)
{
    pd_sim_t *sim = keeper_sim(2, 4, 0);
    assert_int_equal(g.boot_no[0], 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pd_sim_send(sim, 1, 0, "journal", 7), 0);
        assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
        assert_int_equal(pd_sim_node_crash(sim, 0), 0);
        assert_int_equal(pd_sim_node_restart(sim, 0), 0);
    }
    /* The synced counter survived every crash; each boot saw the one before it. */
    assert_int_equal(g.boot_no[0], 4);
    assert_int_equal(pd_sim_node_boots(sim, 0), 4);
    assert_int_equal(((keeper_t *)pd_sim_node_state(sim, 0))->boot_no, 4);
    /* Every boot got its own rng seed. */
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < i; j++)
            assert_true(g.seeds[0][i] != g.seeds[0][j]);
    }
    /* Each crash met one unsynced journal write and kept it, tore it or lost it. */
    pd_sim_disk_t *d = pd_sim_node_disk(sim, 0);
    assert_in_range(pd_sim_disk_size(d), 8, 8 + 3 * 7);
    const pd_sim_disk_stats_t *ds = pd_sim_disk_stats(d);
    assert_int_equal(ds->crashes, 3);
    assert_true(ds->ops_lost + ds->ops_torn <= 3);
    pd_sim_destroy(sim);
}

/* Over many seeds, what crashes do to an unsynced journal varies; the same seed repeats it. */
static uint64_t journal_after_crash(uint64_t seed)
{
    pd_sim_t *sim = keeper_sim(2, seed, 0);
    assert_int_equal(pd_sim_send(sim, 1, 0, "0123456789", 10), 0);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    assert_int_equal(pd_sim_node_crash(sim, 0), 0);
    uint64_t size = pd_sim_disk_size(pd_sim_node_disk(sim, 0));
    assert_memory_equal(pd_sim_disk_data(pd_sim_node_disk(sim, 0)) + 8, "0123456789", size - 8);
    pd_sim_destroy(sim);
    return size;
}

static void test_crash_outcomes_by_seed(void **state)
{
    unsigned lost = 0, kept = 0, torn = 0;
    for (uint64_t s = 0; s < 100; s++) {
        uint64_t size = journal_after_crash(s);
        assert_int_equal(journal_after_crash(s), size);
        lost += size == 8;
        kept += size == 18;
        torn += size > 8 && size < 18;
    }
    assert_true(lost > 10 && kept > 10 && torn > 10);
}

/* ---- scheduled calls, boot failures ----------------------------------------------------------- */

static void crash_node_2(pd_sim_t *sim, void *arg)
{
    *(uint64_t *)arg = pd_sim_now(sim);
    assert_int_equal(pd_sim_node_crash(sim, 2), 0);
}

static void restart_node_2(pd_sim_t *sim, void *arg) { assert_int_equal(pd_sim_node_restart(sim, 2), 0); }

static void test_schedule(void **state)
{
    pd_sim_t *sim = keeper_sim(3, 5, 50);
    uint64_t crashed_at = 0;
    assert_int_equal(pd_sim_schedule(sim, 120, crash_node_2, &crashed_at), 0);
    assert_int_equal(pd_sim_schedule(sim, 400, restart_node_2, NULL), 0);
    assert_int_equal(pd_sim_run_until(sim, 300), 0);
    assert_int_equal(crashed_at, 120);
    assert_false(pd_sim_node_up(sim, 2));
    assert_int_equal(g.ticks[2], 2); /* 50, 100; none while down */
    assert_int_equal(pd_sim_run_until(sim, 1000), 0);
    assert_true(pd_sim_node_up(sim, 2));
    assert_int_equal(g.ticks[2], 2 + 12); /* rebooted at 400: 450 .. 1000 */
    assert_int_equal(g.ticks[0], 20);
    assert_int_equal(pd_sim_stats(sim)->calls, 2);
    pd_sim_destroy(sim);
}

static void test_boot_failure(void **state)
{
    pd_sim_t *sim = keeper_sim(3, 6, 0);
    assert_int_equal(pd_sim_node_crash(sim, 1), 0);
    g.fail_boot = 1;
    assert_int_equal(pd_sim_node_restart(sim, 1), -ENOMEM);
    assert_false(pd_sim_node_up(sim, 1));
    assert_int_equal(pd_sim_stats(sim)->boot_failures, 1);
    assert_int_equal(pd_sim_node_restart(sim, 1), 0);
    assert_int_equal(pd_sim_node_boots(sim, 1), 2);
    pd_sim_destroy(sim); /* nodes still up are destroyed: ASan checks nothing leaks */
}

/* ---- buggify ---------------------------------------------------------------------------------- */

#ifdef PD_SIMULATION
static unsigned buggify_fires(uint64_t seed)
{
    pd_sim_opts_t o = pd_sim_opts_default(&keeper_ops, 1, seed);
    o.ctx = &g;
    o.buggify_enable_p = 1.0;
    o.buggify_fire_p = 0.5;
    pd_sim_t *sim = NULL;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    unsigned fires = 0;
    for (int i = 0; i < 1000; i++)
        fires += PD_BUGGIFY() != 0;
    pd_sim_destroy(sim);
    assert_int_equal(PD_BUGGIFY(), 0); /* off again once the run is over */
    return fires;
}
#endif

static void test_buggify_follows_seed(void **state)
{
#ifdef PD_SIMULATION
    unsigned a = buggify_fires(8), b = buggify_fires(8), c = buggify_fires(9);
    assert_in_range(a, 400, 600);
    assert_int_equal(a, b);
    assert_true(a != c);
#else
    skip();
#endif
}

/* ---- seeds and the failure report ------------------------------------------------------------- */

/* Run fn with stderr captured into buf. */
static void capture_stderr(void (*fn)(void), char *buf, size_t cap)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    fn();
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, cap - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
}

static void report_now(void) { pd_sim_report_failure(); }

static void test_seed_env(void **state)
{
    unsetenv("PD_SIM_SEED");
    unsetenv("PD_SIM_SEEDS");
    assert_int_equal(pd_sim_seed_from_env(42), 42);
    assert_int_equal(pd_sim_seed_count_from_env(20), 20);
    setenv("PD_SIM_SEED", "1234", 1);
    assert_int_equal(pd_sim_seed_from_env(42), 1234);
    assert_int_equal(pd_sim_seed_count_from_env(20), 1);
    setenv("PD_SIM_SEEDS", "5000", 1);
    assert_int_equal(pd_sim_seed_count_from_env(20), 5000);
    unsetenv("PD_SIM_SEEDS");

    uint64_t n = 0, last = 0;
    PD_SIM_FOR_EACH_SEED(it, 42, 20)
    {
        n++;
        last = it.seed;
    }
    assert_int_equal(n, 1);
    assert_int_equal(last, 1234);
    unsetenv("PD_SIM_SEED");
    n = 0;
    PD_SIM_FOR_EACH_SEED(it, 42, 20)
    {
        assert_int_equal(it.seed, 42 + n);
        n++;
    }
    assert_int_equal(n, 20);

    char out[256];
    capture_stderr(report_now, out, sizeof out);
    assert_string_equal(out, ""); /* the loop finished: no seed is current */
    pd_sim_seed_enter(987654321);
    capture_stderr(report_now, out, sizeof out);
    pd_sim_seed_leave();
    assert_string_equal(out, "sim: failed with seed 987654321 (rerun with PD_SIM_SEED=987654321)\n");
}

static jmp_buf g_fail_jmp;
static void fail_by_longjmp(const char *file, int line) { longjmp(g_fail_jmp, 1); }

static pd_sim_t *g_assert_sim;
static void failing_check(void)
{
    pd_sim_set_fail_handler(fail_by_longjmp);
    if (setjmp(g_fail_jmp) == 0)
        PD_SIM_ASSERT(g_assert_sim, pd_sim_now(g_assert_sim) == 1);
    pd_sim_set_fail_handler(NULL);
}

static void test_sim_assert_prints_seed(void **state)
{
    g_assert_sim = keeper_sim(1, 31337, 0);
    assert_int_equal(pd_sim_run_until(g_assert_sim, 77), 0);
    char out[512];
    capture_stderr(failing_check, out, sizeof out);
    assert_non_null(strstr(out, "sim check failed at t=77 ms: pd_sim_now(g_assert_sim) == 1"));
    assert_non_null(strstr(out, "sim: failed with seed 31337 (rerun with PD_SIM_SEED=31337)\n"));
    PD_SIM_ASSERT(g_assert_sim, pd_sim_now(g_assert_sim) == 77); /* a passing check is silent */
    pd_sim_destroy(g_assert_sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_deadline_rearms),
        cmocka_unit_test(test_set_timer),
        cmocka_unit_test(test_crash_drops_in_flight),
        cmocka_unit_test(test_restart_boots_from_disk),
        cmocka_unit_test(test_crash_outcomes_by_seed),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_boot_failure),
        cmocka_unit_test(test_buggify_follows_seed),
        cmocka_unit_test_teardown(test_seed_env, pd_sim_cmocka_teardown),
        cmocka_unit_test(test_sim_assert_prints_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
