/* SWIM at scale in the deterministic simulator (tests/sim/lib): N nodes (default 10,000) with
 * 1-10 ms latency, run single-threaded on a virtual clock. Measures
 *   1. join convergence: every node starts at t=0 and joins through one of S seeds (nodes 1..S-1
 *      join through node 0); virtual time until every node holds all N alive and none suspect;
 *   2. steady state: gossip bytes (datagrams and streams) per node per second over a window;
 *   3. crash detection: one node crashes; time to the first suspicion and until every other node
 *      has declared it dead;
 *   4. wall time and peak RSS of the whole run.
 * Usage: gossip_sim [-n N] [-s seeds] [-S seed] [-w steady_window_s] [-t max_join_s]
 * Nodes are the sim tests' (tests/sim/test_swim_node.h). Built by build.sh against a release build's static libraries; results in docs/bench/gossip_sim.md. */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "pd_alloc.h"
#include "test_swim_node.h" /* the simulated SWIM node, shared with the sim tests */

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static uint64_t queued_peak; /* broadcasts queued on all nodes together, at the join's samples */

/* Nodes that see every up node alive and nothing suspect. */
static uint32_t full_views(pd_sim_t *sim, uint32_t n, uint32_t up, uint32_t *min_alive)
{
    uint32_t full = 0, mn = UINT32_MAX;
    uint64_t queued = 0;
    for (uint32_t i = 0; i < n; i++) {
        pd_swim_t *sw = sw_core(sim, i);
        if (!sw)
            continue;
        queued += pd_swim_pending(sw);
        uint32_t a = pd_swim_count(sw, PD_SWIM_ALIVE);
        mn = a < mn ? a : mn;
        full += a == up && pd_swim_count(sw, PD_SWIM_SUSPECT) == 0;
    }
    *min_alive = mn;
    queued_peak = queued > queued_peak ? queued : queued_peak;
    return full;
}

int main(int argc, char **argv)
{
    uint32_t n = 10000, seeds = 16;
    uint64_t seed = 1, window_s = 30, max_join_s = 300;
    int opt;
    while ((opt = getopt(argc, argv, "n:s:S:w:t:")) != -1) {
        switch (opt) {
        case 'n': n = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 's': seeds = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'w': window_s = strtoull(optarg, NULL, 10); break;
        case 't': max_join_s = strtoull(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: %s [-n N] [-s seeds] [-S seed] [-w steady_s] [-t max_join_s]\n", argv[0]);
            return 2;
        }
    }
    /* One process holds every node: keep freed memory instead of returning it to the kernel
     * (push/pull buffers are large and short-lived; page faults were ~15% of the run). */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    sw_world_t w;
    pd_sim_t *sim = sw_world_new(&w, n, seed, NULL);
    w.join_seeds = seeds < 1 ? 1 : seeds;
    printf("gossip_sim: N=%u seeds=%u sim-seed=%lu latency 1-10 ms, no loss\n", w.n, w.join_seeds,
           (unsigned long)seed);
    double t0 = wall_s();
    if (pd_sim_start_all(sim) != 0)
        return 1;

    /* 1. join convergence */
    uint64_t conv = 0;
    uint32_t mn = 0, full = 0;
    for (uint64_t t = 250; t <= max_join_s * 1000; t += 250) {
        pd_sim_run_until(sim, t);
        full = full_views(sim, w.n, w.n, &mn);
        if (t % 5000 == 0)
            printf("  t=%5.1f s  full views %5u/%u  min alive %5u  wall %.1f s  rss %ld MB\n", t / 1000.0,
                   full, w.n, mn, wall_s() - t0, rss_mb());
        if (full == w.n) {
            conv = t;
            break;
        }
    }
    double t_join = wall_s() - t0;
    const pd_sim_stats_t *ss = pd_sim_stats(sim);
    printf("join: %s at %.2f s virtual (%lu sim messages, %.1f MB udp, %.1f MB stream), wall %.1f s\n",
           conv ? "converged" : "NOT converged", conv / 1000.0, (unsigned long)ss->delivered,
           w.udp_bytes / 1e6, w.stream_bytes / 1e6, t_join);
    if (!conv)
        return 1;

    /* 2. steady state: let the join's broadcasts drain (every queue empty, at most 120 s), then
     * measure a window. */
    uint64_t drain0 = pd_sim_now(sim), queued = 1;
    double td0 = wall_s();
    while (queued && pd_sim_now(sim) < drain0 + 120000) {
        pd_sim_run_until(sim, pd_sim_now(sim) + 1000);
        queued = 0;
        for (uint32_t i = 0; i < w.n; i++)
            queued += pd_swim_pending(sw_core(sim, i));
    }
    printf("drain: broadcast queues %s %.1f s after convergence (%lu left), wall %.1f s\n",
           queued ? "NOT empty" : "empty", (pd_sim_now(sim) - drain0) / 1000.0, (unsigned long)queued,
           wall_s() - td0);
    uint64_t ub = w.udp_bytes, sb = w.stream_bytes, up = w.udp_pkts, sp = w.stream_pkts;
    double tw = wall_s();
    pd_sim_run_until(sim, pd_sim_now(sim) + window_s * 1000);
    double per = (double)w.n * (double)window_s;
    printf("steady state (%lu s window): %.1f B/node/s udp (%.2f pkts/node/s), %.1f B/node/s stream "
           "(%.4f msgs/node/s), wall %.1f s\n",
           (unsigned long)window_s, (w.udp_bytes - ub) / per, (w.udp_pkts - up) / per,
           (w.stream_bytes - sb) / per, (w.stream_pkts - sp) / per, wall_s() - tw);

    /* 3. crash detection */
    uint32_t victim = w.n / 2 + 1;
    w.watch = victim;
    w.crashed[victim] = 1;
    uint64_t crash = pd_sim_now(sim);
    double tc = wall_s();
    pd_sim_node_crash(sim, victim);
    while (pd_sim_now(sim) < crash + 300000 && w.watch_dead_count < w.n - 1)
        pd_sim_run_until(sim, pd_sim_now(sim) + 250);
    printf("crash of n%u: first suspect +%.2f s, first dead +%.2f s, all %u others dead +%.2f s%s, "
           "wall %.1f s\n",
           victim, (w.watch_first_suspect_ms - crash) / 1000.0, (w.watch_first_dead_ms - crash) / 1000.0,
           w.watch_dead_count, (w.watch_last_dead_ms - crash) / 1000.0, w.watch_dead_count == w.n - 1 ? "" : " (INCOMPLETE)",
           wall_s() - tc);
    uint64_t refutes = 0, suspects = 0, evicted = 0;
    for (uint32_t i = 0; i < w.n; i++) {
        pd_swim_t *sw = sw_core(sim, i);
        if (sw)
            refutes += pd_swim_stats(sw)->refutes, suspects += pd_swim_stats(sw)->suspects_raised,
            evicted += pd_swim_stats(sw)->queue_evicted;
    }
    printf("broadcast queues during the join: peak %lu queued on all nodes (%.0f per node), %lu evicted\n",
           (unsigned long)queued_peak, (double)queued_peak / w.n, (unsigned long)evicted);
    printf("false dead %lu, suspicions raised %lu, refutes %lu\n", (unsigned long)w.false_dead,
           (unsigned long)suspects, (unsigned long)refutes);
    printf("total: %.2f s virtual, wall %.1f s, peak RSS %ld MB, %lu sim messages\n",
           pd_sim_now(sim) / 1000.0, wall_s() - t0, rss_mb(), (unsigned long)pd_sim_stats(sim)->delivered);
    double td = wall_s();
    int failed = w.false_dead != 0 || w.watch_dead_count != w.n - 1;
    sw_world_free(&w);
    printf("teardown wall %.1f s\n", wall_s() - td);
    return failed;
}
