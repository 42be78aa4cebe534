/* tests/sim/lib: the simulated network. Determinism (trace hash), latency bounds, loss,
 * duplication, reordering, symmetric and one-way partitions, clogs, heal, run controls.
 *
 * Two example nodes:
 *   recorder  does nothing but log what it receives; the test sends on its behalf;
 *   flooder   a tiny rumor protocol: on a timer it starts a rumor, and each node forwards a rumor
 *             it has not seen to a few random peers, so runs depend on every random draw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "sim.h"

/* ---- recorder node ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t sent_at, at;
    uint32_t from, to, id;
} rec_t;

#define REC_MAX 40000
static rec_t g_rec[REC_MAX];
static size_t g_nrec;

typedef struct {
    uint32_t self;
} recorder_t;

static int rec_boot(pd_sim_t *sim, uint32_t node, uint64_t seed, pd_sim_disk_t *disk, void *ctx,
                    void **out)
{
    recorder_t *r = pd_malloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    r->self = node;
    *out = r;
    return 0;
}

/* Payload: u64 send time, u32 message id (host order: it never leaves the process). */
static void rec_on_message(void *st, uint64_t now, uint32_t from, const uint8_t *data, size_t len)
{
    recorder_t *r = st;
    assert_int_equal(len, 12);
    assert_true(g_nrec < REC_MAX);
    rec_t *e = &g_rec[g_nrec++];
    memcpy(&e->sent_at, data, 8);
    memcpy(&e->id, data + 8, 4);
    e->at = now;
    e->from = from;
    e->to = r->self;
}

static void rec_destroy(void *st) { pd_free(st); }

static const pd_sim_node_ops_t recorder_ops = {
    .boot = rec_boot, .on_message = rec_on_message, .destroy = rec_destroy};

static int rec_send(pd_sim_t *sim, uint32_t from, uint32_t to, uint32_t id)
{
    uint8_t buf[12];
    uint64_t now = pd_sim_now(sim);
    memcpy(buf, &now, 8);
    memcpy(buf + 8, &id, 4);
    return pd_sim_send(sim, from, to, buf, sizeof buf);
}

static pd_sim_t *rec_sim(uint32_t nodes, uint64_t seed, pd_sim_net_opts_t net)
{
    pd_sim_opts_t o = pd_sim_opts_default(&recorder_ops, nodes, seed);
    o.net = net;
    pd_sim_t *sim = NULL;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    assert_int_equal(pd_sim_start_all(sim), 0);
    g_nrec = 0;
    return sim;
}

/* How many times message `id` arrived. */
static size_t rec_count(uint32_t id)
{
    size_t n = 0;
    for (size_t i = 0; i < g_nrec; i++)
        n += g_rec[i].id == id;
    return n;
}

/* ---- flooder node ----------------------------------------------------------------------------- */

#define FLOOD_FANOUT 3
#define FLOOD_SEEN_MAX 128 /* >= 2 rumors x nodes, or forwarding never stops */

typedef struct {
    pd_sim_t *sim;
    uint32_t self;
    pd_rng_t rng;
    uint32_t rumors_started;
    uint32_t seen[FLOOD_SEEN_MAX];
    uint32_t nseen;
} flooder_t;

static int flood_boot(pd_sim_t *sim, uint32_t node, uint64_t seed, pd_sim_disk_t *disk, void *ctx,
                      void **out)
{
    assert_true(pd_sim_nodes(sim) * 2 <= FLOOD_SEEN_MAX);
    flooder_t *f = pd_calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->sim = sim;
    f->self = node;
    pd_rng_seed(&f->rng, seed);
    pd_sim_set_timer(sim, node, pd_sim_now(sim) + pd_rng_range(&f->rng, 1, 50));
    *out = f;
    return 0;
}

static bool flood_seen(flooder_t *f, uint32_t rumor)
{
    for (uint32_t i = 0; i < f->nseen; i++) {
        if (f->seen[i] == rumor)
            return true;
    }
    if (f->nseen < FLOOD_SEEN_MAX)
        f->seen[f->nseen++] = rumor;
    return false;
}

static void flood_forward(flooder_t *f, uint32_t rumor)
{
    uint32_t n = pd_sim_nodes(f->sim);
    for (int i = 0; i < FLOOD_FANOUT; i++) {
        uint32_t to = (uint32_t)pd_rng_below(&f->rng, n);
        assert_int_equal(pd_sim_send(f->sim, f->self, to, &rumor, sizeof rumor), 0);
    }
}

static void flood_on_message(void *st, uint64_t now, uint32_t from, const uint8_t *data, size_t len)
{
    flooder_t *f = st;
    uint32_t rumor;
    assert_int_equal(len, sizeof rumor);
    memcpy(&rumor, data, sizeof rumor);
    if (!flood_seen(f, rumor))
        flood_forward(f, rumor);
}

/* Each node starts two rumors, then goes quiet: runs end. */
static void flood_on_timer(void *st, uint64_t now)
{
    flooder_t *f = st;
    uint32_t rumor = f->self * 16 + f->rumors_started++;
    flood_seen(f, rumor);
    flood_forward(f, rumor);
    if (f->rumors_started < 2)
        pd_sim_set_timer(f->sim, f->self, now + pd_rng_range(&f->rng, 10, 200));
}

static void flood_destroy(void *st) { pd_free(st); }

static const pd_sim_node_ops_t flooder_ops = {.boot = flood_boot,
                                              .on_message = flood_on_message,
                                              .on_timer = flood_on_timer,
                                              .destroy = flood_destroy};

typedef struct {
    uint64_t hash;
    pd_sim_stats_t stats;
    uint64_t end_ms;
} flood_result_t;

static flood_result_t flood_run(uint64_t seed)
{
    pd_sim_opts_t o = pd_sim_opts_default(&flooder_ops, 20, seed);
    o.net.loss_p = 0.05;
    o.net.dup_p = 0.05;
    o.net.jitter_p = 0.1;
    o.net.jitter_max_ms = 30;
    pd_sim_t *sim = NULL;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    assert_int_equal(pd_sim_start_all(sim), 0);
    assert_int_equal(pd_sim_run_until_quiet(sim, 60000), 0);
    flood_result_t r = {pd_sim_trace_hash(sim), *pd_sim_stats(sim), pd_sim_now(sim)};
    pd_sim_destroy(sim);
    return r;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_same_seed_same_run(void **state)
{
    PD_SIM_FOR_EACH_SEED(it, 1000, 10)
    {
        flood_result_t a = flood_run(it.seed), b = flood_run(it.seed);
        assert_true(a.stats.delivered > 100);
        assert_true(a.hash == b.hash);
        assert_int_equal(a.end_ms, b.end_ms);
        assert_memory_equal(&a.stats, &b.stats, sizeof a.stats);
    }
}

static void test_different_seed_different_run(void **state)
{
    uint64_t hashes[16];
    for (uint64_t s = 0; s < 16; s++) {
        hashes[s] = flood_run(s + 1).hash;
        for (uint64_t t = 0; t < s; t++)
            assert_true(hashes[s] != hashes[t]);
    }
}

static void test_latency_bounds(void **state)
{
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    net.latency_min_ms = 5;
    net.latency_max_ms = 20;
    pd_sim_t *sim = rec_sim(4, 7, net);
    for (uint32_t i = 0; i < 2000; i++) {
        assert_int_equal(rec_send(sim, i % 4, (i + 1) % 4, i), 0);
        if (i % 10 == 0)
            assert_int_equal(pd_sim_run_until(sim, pd_sim_now(sim) + 3), 0);
    }
    assert_int_equal(pd_sim_run_until_quiet(sim, 100000), 0);
    assert_int_equal(g_nrec, 2000);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < g_nrec; i++) {
        uint64_t d = g_rec[i].at - g_rec[i].sent_at;
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_int_equal(lo, 5); /* both ends are reached and never passed */
    assert_int_equal(hi, 20);
    pd_sim_destroy(sim);
}

static void test_loss_rate(void **state)
{
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    net.loss_p = 0.3;
    pd_sim_t *sim = rec_sim(2, 11, net);
    for (uint32_t i = 0; i < 20000; i++) {
        assert_int_equal(rec_send(sim, 0, 1, i), 0);
        if (i % 1000 == 999) /* keep the recorder's log within bounds */
            assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    }
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    const pd_sim_stats_t *st = pd_sim_stats(sim);
    assert_int_equal(st->sent, 20000);
    assert_int_equal(st->delivered + st->dropped_loss, 20000);
    assert_in_range(st->dropped_loss, 5700, 6300); /* 30% +- 1.5% */
    pd_sim_destroy(sim);
}

static void test_duplication(void **state)
{
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    net.dup_p = 0.2;
    pd_sim_t *sim = rec_sim(2, 12, net);
    for (uint32_t i = 0; i < 5000; i++)
        assert_int_equal(rec_send(sim, 0, 1, i), 0);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    const pd_sim_stats_t *st = pd_sim_stats(sim);
    assert_in_range(st->duplicated, 900, 1100);
    assert_int_equal(st->delivered, 5000 + st->duplicated);
    size_t twice = 0;
    for (uint32_t i = 0; i < 5000; i++) {
        size_t c = rec_count(i);
        assert_in_range(c, 1, 2);
        twice += c == 2;
    }
    assert_int_equal(twice, st->duplicated);
    pd_sim_destroy(sim);
}

/* Messages on one link arrive out of send order. */
static size_t count_inversions(void)
{
    size_t inv = 0;
    for (size_t i = 1; i < g_nrec; i++)
        inv += g_rec[i].id < g_rec[i - 1].id;
    return inv;
}

static void send_stream(pd_sim_t *sim, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(rec_send(sim, 0, 1, i), 0);
        assert_int_equal(pd_sim_run_until(sim, pd_sim_now(sim) + 1), 0);
    }
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    assert_int_equal(g_nrec, n);
}

static void test_reordering(void **state)
{
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    net.latency_min_ms = net.latency_max_ms = 10; /* fixed delay: FIFO, ties by send order */
    pd_sim_t *sim = rec_sim(2, 13, net);
    send_stream(sim, 500);
    assert_int_equal(count_inversions(), 0);
    pd_sim_destroy(sim);

    net.jitter_p = 0.2;
    net.jitter_max_ms = 40;
    sim = rec_sim(2, 13, net);
    send_stream(sim, 500);
    assert_true(count_inversions() > 20);
    assert_in_range(pd_sim_stats(sim)->jittered, 70, 130);
    pd_sim_destroy(sim);
}

/* Same-time events run in the order they were scheduled. */
static void test_ties_in_schedule_order(void **state)
{
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    net.latency_min_ms = net.latency_max_ms = 5;
    pd_sim_t *sim = rec_sim(8, 14, net);
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(rec_send(sim, 7 - i, i, i), 0);
    assert_int_equal(pd_sim_next_event_ms(sim), 5);
    assert_int_equal(pd_sim_pending(sim), 8);
    for (uint32_t i = 0; i < 8; i++) {
        assert_int_equal(pd_sim_step(sim), 1);
        assert_int_equal(g_nrec, i + 1);
        assert_int_equal(g_rec[i].id, i);
        assert_int_equal(g_rec[i].at, 5);
    }
    assert_int_equal(pd_sim_step(sim), 0);
    assert_int_equal(pd_sim_next_event_ms(sim), PD_SIM_NEVER);
    pd_sim_destroy(sim);
}

static uint64_t ring_latency(void *ctx, pd_rng_t *rng, uint32_t from, uint32_t to)
{
    (void)ctx;
    (void)rng;
    return 100 + (uint64_t)from * 10 + to;
}

static void test_latency_fn(void **state)
{
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    net.latency_fn = ring_latency;
    pd_sim_t *sim = rec_sim(4, 15, net);
    assert_int_equal(rec_send(sim, 2, 3, 1), 0);
    assert_int_equal(rec_send(sim, 0, 1, 2), 0);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    assert_int_equal(g_nrec, 2);
    assert_int_equal(g_rec[0].id, 2);
    assert_int_equal(g_rec[0].at, 101);
    assert_int_equal(g_rec[1].at, 123);
    pd_sim_destroy(sim);
}

/* Send one message each way between a and b; returns how many arrived. */
static size_t exchange(pd_sim_t *sim, uint32_t a, uint32_t b)
{
    size_t before = g_nrec;
    assert_int_equal(rec_send(sim, a, b, 1), 0);
    assert_int_equal(rec_send(sim, b, a, 2), 0);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    return g_nrec - before;
}

static void test_partition_symmetric(void **state)
{
    pd_sim_t *sim = rec_sim(4, 16, pd_sim_net_opts_default());
    const uint32_t side[] = {0, 1};
    pd_sim_partition(sim, side, 2);
    assert_false(pd_sim_reachable(sim, 0, 2));
    assert_false(pd_sim_reachable(sim, 3, 1));
    assert_int_equal(exchange(sim, 0, 2), 0);
    assert_int_equal(exchange(sim, 1, 3), 0);
    assert_int_equal(exchange(sim, 0, 1), 2); /* same side: fine */
    assert_int_equal(exchange(sim, 2, 3), 2);
    assert_int_equal(pd_sim_stats(sim)->dropped_partition, 4);

    /* A partition also catches what is already in flight. */
    pd_sim_heal(sim);
    assert_int_equal(rec_send(sim, 0, 3, 9), 0);
    pd_sim_partition(sim, side, 2);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    assert_int_equal(rec_count(9), 0);
    assert_int_equal(pd_sim_stats(sim)->dropped_partition, 5);

    pd_sim_heal(sim);
    assert_true(pd_sim_reachable(sim, 0, 2));
    assert_int_equal(exchange(sim, 0, 2), 2);
    assert_int_equal(exchange(sim, 1, 3), 2);
    pd_sim_destroy(sim);
}

static void test_partition_oneway(void **state)
{
    pd_sim_t *sim = rec_sim(4, 17, pd_sim_net_opts_default());
    const uint32_t mute[] = {0};
    pd_sim_partition_oneway(sim, mute, 1); /* 0 cannot reach anyone; everyone reaches 0 */
    assert_int_equal(exchange(sim, 0, 1), 1);
    assert_int_equal(g_rec[g_nrec - 1].to, 0);
    assert_int_equal(exchange(sim, 0, 3), 1);
    assert_int_equal(g_rec[g_nrec - 1].to, 0);
    assert_int_equal(exchange(sim, 1, 2), 2);
    pd_sim_heal(sim);
    assert_int_equal(exchange(sim, 0, 1), 2);

    /* The same on a single link, between two nodes in the same group. */
    assert_int_equal(pd_sim_link_block(sim, 2, 3), 0);
    assert_false(pd_sim_reachable(sim, 2, 3));
    assert_true(pd_sim_reachable(sim, 3, 2));
    assert_int_equal(exchange(sim, 2, 3), 1);
    assert_int_equal(g_rec[g_nrec - 1].to, 2);
    assert_int_equal(exchange(sim, 1, 3), 2); /* other links untouched */
    assert_int_equal(pd_sim_link_unblock(sim, 2, 3), 0);
    assert_int_equal(exchange(sim, 2, 3), 2);
    assert_int_equal(pd_sim_link_block_both(sim, 1, 2), 0);
    assert_int_equal(exchange(sim, 1, 2), 0);
    pd_sim_heal(sim);
    assert_int_equal(exchange(sim, 1, 2), 2);
    pd_sim_destroy(sim);
}

/* Groups: three sides, with a one-way block between two of them. */
static void test_groups(void **state)
{
    pd_sim_t *sim = rec_sim(6, 18, pd_sim_net_opts_default());
    for (uint32_t i = 0; i < 6; i++)
        pd_sim_group_set(sim, i, i / 2);
    assert_int_equal(pd_sim_group(sim, 5), 2);
    pd_sim_group_block(sim, 1, 2);
    assert_int_equal(exchange(sim, 2, 4), 1); /* group 1 -/-> group 2 */
    assert_int_equal(exchange(sim, 0, 4), 2);
    assert_int_equal(exchange(sim, 0, 2), 2);
    pd_sim_group_unblock(sim, 1, 2);
    assert_int_equal(exchange(sim, 2, 4), 2);
    pd_sim_destroy(sim);
}

static void test_clog(void **state)
{
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    net.latency_min_ms = 1;
    net.latency_max_ms = 10;
    pd_sim_t *sim = rec_sim(4, 19, net);
    assert_int_equal(pd_sim_link_clog(sim, 0, 1, 100), 0);
    assert_int_equal(rec_send(sim, 0, 1, 1), 0);
    assert_int_equal(rec_send(sim, 1, 0, 2), 0); /* the reverse way is not clogged */
    assert_int_equal(rec_send(sim, 0, 2, 3), 0);
    assert_int_equal(pd_sim_run_until(sim, 50), 0);
    assert_int_equal(g_nrec, 2);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    assert_int_equal(g_nrec, 3);
    assert_int_equal(g_rec[2].id, 1);
    assert_in_range(g_rec[2].at, 101, 110);
    assert_int_equal(pd_sim_stats(sim)->clogged, 1);

    /* A node clog holds traffic both ways; after it ends all flows again. */
    pd_sim_node_clog(sim, 3, pd_sim_now(sim) + 500);
    uint64_t t0 = pd_sim_now(sim);
    assert_int_equal(exchange(sim, 2, 3), 2);
    assert_true(g_rec[g_nrec - 2].at >= t0 + 501 && g_rec[g_nrec - 1].at >= t0 + 501);
    uint64_t t1 = pd_sim_now(sim);
    assert_int_equal(exchange(sim, 2, 3), 2);
    assert_true(g_rec[g_nrec - 1].at <= t1 + 10);
    pd_sim_destroy(sim);
}

/* A runtime change of options applies to the next send. */
static void test_net_set_at_runtime(void **state)
{
    pd_sim_t *sim = rec_sim(2, 20, pd_sim_net_opts_default());
    pd_sim_net_opts_t net = pd_sim_net_get(sim);
    net.loss_p = 1.0;
    pd_sim_net_set(sim, &net);
    assert_int_equal(exchange(sim, 0, 1), 0);
    assert_int_equal(pd_sim_stats(sim)->dropped_loss, 2);
    net.loss_p = 0;
    pd_sim_net_set(sim, &net);
    assert_int_equal(exchange(sim, 0, 1), 2);
    pd_sim_destroy(sim);
}

static void test_send_errors(void **state)
{
    pd_sim_opts_t o = pd_sim_opts_default(&recorder_ops, 3, 21);
    o.msg_max = 16;
    pd_sim_t *sim = NULL;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    uint8_t big[17] = {0};
    assert_int_equal(pd_sim_send(sim, 0, 1, big, 12), -PD_ESTATE); /* node 0 not started */
    assert_int_equal(pd_sim_node_start(sim, 0), 0);
    assert_int_equal(pd_sim_node_start(sim, 0), -PD_ESTATE);
    assert_int_equal(pd_sim_send(sim, 0, 1, big, sizeof big), -PD_ETOOBIG);
    assert_int_equal(pd_sim_send(sim, 0, 1, big, 12), 0); /* to a node that is down: lost */
    assert_int_equal(pd_sim_stats(sim)->dropped_crash, 1);
    assert_int_equal(pd_sim_pending(sim), 0);
    pd_sim_destroy(sim);

    o.nodes = 0;
    assert_int_equal(pd_sim_new(&o, &sim), -PD_EUSAGE);
    o.nodes = 2;
    o.net.latency_min_ms = 9;
    o.net.latency_max_ms = 3;
    assert_int_equal(pd_sim_new(&o, &sim), -PD_EUSAGE);
}

/* A cap on events: beyond it sends are dropped and counted, and the run still ends. */
static void test_events_max(void **state)
{
    pd_sim_opts_t o = pd_sim_opts_default(&recorder_ops, 2, 22);
    o.events_max = 10;
    pd_sim_t *sim = NULL;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    assert_int_equal(pd_sim_start_all(sim), 0);
    g_nrec = 0;
    for (uint32_t i = 0; i < 15; i++)
        assert_int_equal(rec_send(sim, 0, 1, i), 0);
    assert_int_equal(pd_sim_stats(sim)->dropped_overflow, 5);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), 0);
    assert_int_equal(g_nrec, 10);
    pd_sim_destroy(sim);
}

static void test_run_until_quiet_terminates(void **state)
{
    pd_sim_opts_t o = pd_sim_opts_default(&flooder_ops, 50, 23);
    pd_sim_t *sim = NULL;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    assert_int_equal(pd_sim_start_all(sim), 0);
    assert_int_equal(pd_sim_run_until_quiet(sim, 60000), 0);
    assert_int_equal(pd_sim_pending(sim), 0);
    assert_true(pd_sim_now(sim) < 60000);
    assert_int_equal(pd_sim_step(sim), 0);
    pd_sim_destroy(sim);

    /* With a max that comes first, the run stops there with events left. */
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    assert_int_equal(pd_sim_start_all(sim), 0);
    assert_int_equal(pd_sim_run_until_quiet(sim, 20), -PD_ETIMEOUT);
    assert_int_equal(pd_sim_now(sim), 20);
    assert_true(pd_sim_pending(sim) > 0);
    assert_true(pd_sim_next_event_ms(sim) > 20);
    pd_sim_destroy(sim);

    /* steps_max bounds a run that would otherwise go on. */
    o.steps_max = 100;
    assert_int_equal(pd_sim_new(&o, &sim), 0);
    assert_int_equal(pd_sim_start_all(sim), 0);
    assert_int_equal(pd_sim_run_until_quiet(sim, UINT64_MAX), -PD_ELIMIT);
    assert_int_equal(pd_sim_stats(sim)->steps, 100);
    pd_sim_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_same_seed_same_run, pd_sim_cmocka_teardown),
        cmocka_unit_test(test_different_seed_different_run),
        cmocka_unit_test(test_latency_bounds),
        cmocka_unit_test(test_loss_rate),
        cmocka_unit_test(test_duplication),
        cmocka_unit_test(test_reordering),
        cmocka_unit_test(test_ties_in_schedule_order),
        cmocka_unit_test(test_latency_fn),
        cmocka_unit_test(test_partition_symmetric),
        cmocka_unit_test(test_partition_oneway),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_clog),
        cmocka_unit_test(test_net_set_at_runtime),
        cmocka_unit_test(test_send_errors),
        cmocka_unit_test(test_events_max),
        cmocka_unit_test(test_run_until_quiet_terminates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
