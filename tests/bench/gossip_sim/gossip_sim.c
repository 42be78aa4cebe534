/* SWIM at scale in the deterministic simulator (tests/sim/lib): N nodes (default 10,000) with
 * 1-10 ms latency, run single-threaded on a virtual clock. Two ways to form the cluster:
 *   -m storm (default): every node starts at t=0 and joins through one of S seeds (nodes 1..S-1
 *      join through node 0): a join storm, whose gossip grows as N^2 x retransmit limit;
 *   -m staged: the first N-J nodes form an established cluster first: each sends its join push/pull
 *      to a seed and receives, as the seed's answer, one full state listing those N-J members (built
 *      by the production encoder, decoded and merged by the production core: exactly what a joiner
 *      gets from a seed that already knows everyone). The answer is handed to each node directly
 *      instead of through the simulated network (the seeds' side of the bootstrap is not
 *      simulated); everything after it is: each node's catch-up with a random member (a sync
 *      datagram; a full push/pull only if their states differ), then the last J nodes join through
 *      random members of the cluster (-j J, default 1). -T T merges the bootstrap answers on T
 *      threads (default 1; each node's core is its own, and the outboxes are flushed in node order
 *      by one thread, so the run is the same for any T).
 * Then, for both:
 *   1. join convergence: virtual time until every node holds all N alive and none suspect;
 *   2. steady state: gossip bytes (datagrams and streams) per node per second over a window;
 *   3. crash detection: one node crashes; time to the first suspicion and until every other node
 *      has declared it dead;
 *   4. wall time and peak RSS of the whole run.
 * Usage: gossip_sim [-m storm|staged] [-j joiners] [-T bootstrap_threads] [-n N] [-s seeds] [-S seed]
 *                   [-w steady_window_s] [-t max_join_s]
 * At N=10,000 run it as GLIBC_TUNABLES=glibc.malloc.hugetlb=1 gossip_sim -m staged: the heap then
 * uses transparent huge pages (the run fills ~9.5 GB, and 4 KB page faults cost a fifth of it).
 * Nodes are the sim tests' (tests/sim/test_swim_node.h). Built by build.sh against a release build's static libraries; results in docs/bench/gossip_sim.md. */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
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

/* Heap bytes in use (not freed) and held from the kernel: their gap is allocator slack. */
static void heap_mb(double *in_use, double *held)
{
    struct mallinfo2 mi = mallinfo2();
    *in_use = (double)mi.uordblks / 1e6;
    *held = (double)(mi.arena + mi.hblkhd) / 1e6;
}

static double cpu_s(void) /* user + sys: steadier than wall time on a shared machine */
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static uint64_t queued_peak; /* broadcasts queued on all nodes together, at the join's samples */

/* Nodes among the first n that see `up` nodes alive and nothing suspect. */
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

/* The answer a seed that knows the first `members` nodes gives to a join: their records, each
 * alive at incarnation 1 (as every node starts), in one push/pull state. Encoded once; only the
 * sequence number of each request differs. */
typedef struct {
    char (*ids)[16];
    pd_swim_msg_t *reply;
    uint8_t *nodes_enc, *buf;
    size_t cap, len; /* buf holds the answer encoded for reply->seq when len > 0 */
} seed_answer_t;

static int seed_answer_init(seed_answer_t *a, uint32_t members)
{
    memset(a, 0, sizeof *a);
    pd_swim_wire_node_t *recs = calloc(members, sizeof *recs);
    a->ids = calloc(members, sizeof *a->ids);
    a->reply = calloc(1, sizeof *a->reply);
    if (!recs || !a->ids || !a->reply)
        return -1;
    for (uint32_t i = 0; i < members; i++) {
        int l = snprintf(a->ids[i], sizeof a->ids[i], "n%u", i);
        recs[i] = (pd_swim_wire_node_t){{(const uint8_t *)a->ids[i], (uint32_t)l}, pd_simg_addr(i), {NULL, 0},
                                        1, PD_SWIM_ALIVE};
    }
    size_t cap = pd_swim_wire_nodes_size_max(recs, members), len = 0;
    a->nodes_enc = malloc(cap);
    int rc = a->nodes_enc ? pd_swim_wire_encode_nodes(recs, members, a->nodes_enc, cap, &len) : -1;
    free(recs);
    if (rc)
        return -1;
    *a->reply = (pd_swim_msg_t){.type = PD_SWIM_MSG_PUSHPULL, .join = 1, .reply = 1, .n_nodes = members,
                                .nodes_enc = {a->nodes_enc, (uint32_t)len}};
    a->cap = pd_swim_wire_size_max(a->reply);
    a->buf = malloc(a->cap);
    return a->buf ? 0 : -1;
}

static void seed_answer_free(seed_answer_t *a)
{
    free(a->ids), free(a->reply), free(a->nodes_enc), free(a->buf);
}

/* Node i joins through `via`: its join push/pull is answered with the full state at once (the
 * request itself is consumed here, as the seed would consume it). Touches node i's core and the
 * caller's decode scratch only; the answer is read-only, encoded beforehand for the sequence
 * number a fresh node's first request carries. The outbox (the join events) is left to the
 * caller's sw_flush. */
static int bootstrap_core(pd_sim_t *sim, const seed_answer_t *a, pd_swim_msg_t *req, uint32_t i)
{
    sw_node_t *nd = pd_sim_node_state(sim, i);
    uint64_t now = pd_sim_now(sim);
    pd_swim_addr_t seed = pd_simg_addr(i == 0 ? 1 : 0);
    if (pd_swim_join(nd->sw, now, &nd->rng, &seed, 1) != 0)
        return -1;
    pd_swim_ready_t r;
    pd_swim_ready(nd->sw, &r);
    int rc = -1;
    for (size_t k = 0; k < r.n_packets && rc != 0; k++) {
        if (!(r.packets[k].flags & PD_SWIM_PKT_STREAM) || pd_swim_wire_decode(r.packets[k].data, r.packets[k].len, req))
            continue;
        if (req->type == PD_SWIM_MSG_PUSHPULL && req->join && !req->reply && req->seq == a->reply->seq)
            rc = 0;
        pd_swim_wire_release(req);
    }
    pd_swim_advance(nd->sw);
    if (rc || pd_swim_recv(nd->sw, now, &nd->rng, &seed, a->buf, a->len, PD_SWIM_PKT_STREAM) != 0)
        return -1;
    return 0;
}

/* One bootstrap thread's share of a chunk: nodes from, from + step, ... below to. */
typedef struct {
    pd_sim_t *sim;
    const seed_answer_t *a;
    pd_swim_msg_t *req;
    uint32_t from, to, step, failed;
} boot_job_t;

static void *boot_run(void *arg)
{
    boot_job_t *j = arg;
    for (uint32_t i = j->from; i < j->to && j->failed == UINT32_MAX; i += j->step) {
        if (bootstrap_core(j->sim, j->a, j->req, i) != 0)
            j->failed = i;
    }
    return NULL;
}

/* Staged: form the established cluster of the first `members` nodes and let their catch-up
 * push/pulls run (they come 1-3 probe intervals after a join), then start the joins of the rest. */
enum { BOOT_THREADS_MAX = 8 };
static int staged_start(pd_sim_t *sim, sw_world_t *w, uint32_t members, uint32_t threads, double t0)
{
    seed_answer_t a;
    if (seed_answer_init(&a, members) != 0) {
        fprintf(stderr, "gossip_sim: out of memory\n");
        return -1;
    }
    /* Every fresh core's first request (its join) carries sequence number 1: one encoding. */
    a.reply->seq = 1;
    if (pd_swim_wire_encode(a.reply, a.buf, a.cap, &a.len) != 0) {
        seed_answer_free(&a);
        return -1;
    }
    /* In chunks: `threads` threads merge a chunk's answers (each node's core is its own), then
     * this thread flushes their outboxes in node order, so the run is the same for any count. */
    enum { CHUNK = 64 };
    boot_job_t jobs[BOOT_THREADS_MAX];
    pthread_t th[BOOT_THREADS_MAX];
    pd_swim_msg_t *reqs = calloc(threads, sizeof *reqs);
    uint32_t next_report = 2000;
    for (uint32_t base = 0; reqs && base < members; base += CHUNK) {
        uint32_t end = base + CHUNK < members ? base + CHUNK : members, failed = UINT32_MAX;
        for (uint32_t t = 0; t < threads; t++)
            jobs[t] = (boot_job_t){sim, &a, &reqs[t], base + t, end, threads, UINT32_MAX};
        int started[BOOT_THREADS_MAX] = {0};
        for (uint32_t t = 1; t < threads; t++)
            started[t] = pthread_create(&th[t], NULL, boot_run, &jobs[t]) == 0;
        boot_run(&jobs[0]);
        for (uint32_t t = 1; t < threads; t++) {
            if (started[t])
                pthread_join(th[t], NULL);
            else
                boot_run(&jobs[t]); /* no thread: its share is done here */
        }
        for (uint32_t t = 0; t < threads; t++)
            failed = jobs[t].failed < failed ? jobs[t].failed : failed;
        if (failed != UINT32_MAX) {
            fprintf(stderr, "gossip_sim: bootstrap of n%u failed\n", failed);
            free(reqs);
            seed_answer_free(&a);
            return -1;
        }
        for (uint32_t i = base; i < end; i++) {
            sw_node_t *nd = pd_sim_node_state(sim, i);
            sw_flush(nd);
            pd_sim_set_timer(sim, i, pd_swim_next_deadline_ms(nd->sw));
        }
        if (end >= next_report) {
            double used, held;
            heap_mb(&used, &held);
            printf("  bootstrap %5u/%u  wall %.1f s  cpu %.1f s  rss %ld MB  heap in use %.0f MB\n", end, members,
                   wall_s() - t0, cpu_s(), rss_mb(), used);
            fflush(stdout);
            next_report += 2000;
        }
    }
    if (!reqs) {
        seed_answer_free(&a);
        return -1;
    }
    free(reqs);
    printf("bootstrap: %u nodes hold the %u-member state (%.0f KB answer each), wall %.1f s, cpu %.1f s, rss %ld MB\n",
           members, members, a.reply->nodes_enc.len / 1e3, wall_s() - t0, cpu_s(), rss_mb());
    size_t state_bytes = a.len;
    seed_answer_free(&a);
    double used, held;
    heap_mb(&used, &held);
    printf("bootstrap heap: %.0f MB in use, %.0f MB held (%.1f B per (node, member) pair in use)\n", used, held,
           used * 1e6 / ((double)members * members));
    uint64_t stream0 = w->stream_bytes;
    pd_sim_run_until(sim, pd_sim_now(sim) + 5000);
    uint32_t mn = 0, full = full_views(sim, members, members, &mn);
    uint64_t pp_bytes = w->stream_bytes - stream0, syncs = 0, differed = 0, pp_sent = 0;
    for (uint32_t i = 0; i < members; i++) {
        const pd_swim_stats_t *st = pd_swim_stats(sw_core(sim, i));
        syncs += st->syncs_sent, differed += st->syncs_differed, pp_sent += st->pushpull_sent;
    }
    printf("settled: %u/%u full views (min alive %u) 5 s after; catch-ups: %lu syncs sent, %lu found a difference, "
           "%lu full push/pulls started after the joins (%.1f MB of streams); wall %.1f s, cpu %.1f s, rss %ld MB\n",
           full, members, mn, (unsigned long)syncs, (unsigned long)differed, (unsigned long)(pp_sent - members),
           pp_bytes / 1e6, wall_s() - t0, cpu_s(), rss_mb());
    /* Periodic anti-entropy (one per node per interval, too rare for the steady window): a sync
     * datagram, and a full exchange (a state each way) only when the digests differ. */
    uint64_t iv = w->cfg.pushpull_interval_ms;
    for (uint64_t c = 32; c < members; c *= 2)
        iv += w->cfg.pushpull_interval_ms;
    uint8_t sb[64];
    size_t sync_len = 0;
    pd_swim_msg_t sm = {.type = PD_SWIM_MSG_SYNC, .digest = UINT64_MAX};
    pd_swim_wire_encode(&sm, sb, sizeof sb, &sync_len);
    printf("periodic anti-entropy: every %.0f s per node a %zu-byte sync; a full exchange of 2 x %.1f KB only when "
           "states differ: %.2f B/node/s in a quiet cluster, %.1f B/node/s if every sync found a difference\n",
           iv / 1000.0, sync_len, state_bytes / 1e3, sync_len / (iv / 1000.0),
           (sync_len + 2.0 * state_bytes) / (iv / 1000.0));
    if (full != members)
        return -1;
    uint64_t now = pd_sim_now(sim);
    for (uint32_t i = members; i < w->n; i++) {
        sw_node_t *nd = pd_sim_node_state(sim, i);
        pd_swim_addr_t seed = pd_simg_addr((uint32_t)pd_rng_below(&nd->rng, members));
        pd_swim_join(nd->sw, now, &nd->rng, &seed, 1);
        sw_flush(nd);
        pd_sim_set_timer(sim, i, pd_swim_next_deadline_ms(nd->sw));
    }
    printf("join: %u node(s) join the established cluster at t=%.2f s\n", w->n - members, now / 1000.0);
    return 0;
}

int main(int argc, char **argv)
{
    uint32_t n = 10000, seeds = 16, joiners = 1, threads = 1;
    uint64_t seed = 1, window_s = 30, max_join_s = 300;
    int staged = 0, opt;
    while ((opt = getopt(argc, argv, "m:j:n:s:S:w:t:T:")) != -1) {
        switch (opt) {
        case 'T': threads = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'm': staged = strcmp(optarg, "staged") == 0; break;
        case 'j': joiners = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'n': n = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 's': seeds = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'w': window_s = strtoull(optarg, NULL, 10); break;
        case 't': max_join_s = strtoull(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: %s [-m storm|staged] [-j joiners] [-T bootstrap_threads] [-n N] [-s seeds] "
                            "[-S seed] [-w steady_s] [-t max_join_s]\n", argv[0]);
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
    if (staged && (joiners < 1 || joiners >= n || n - joiners < 2)) {
        fprintf(stderr, "gossip_sim: -j needs 1 <= joiners <= N - 2\n");
        return 2;
    }
    if (threads < 1 || threads > BOOT_THREADS_MAX) {
        fprintf(stderr, "gossip_sim: -T needs 1..%d\n", BOOT_THREADS_MAX);
        return 2;
    }
    w.no_join = (uint8_t)staged;
    if (staged)
        printf("gossip_sim: staged, N=%u (%u established + %u joining) sim-seed=%lu latency 1-10 ms, no loss, "
               "bootstrap threads %u\n", w.n, w.n - joiners, joiners, (unsigned long)seed, threads);
    else
        printf("gossip_sim: join storm, N=%u seeds=%u sim-seed=%lu latency 1-10 ms, no loss\n", w.n, w.join_seeds,
               (unsigned long)seed);
    double t0 = wall_s();
    if (pd_sim_start_all(sim) != 0)
        return 1;
    if (staged && staged_start(sim, &w, w.n - joiners, threads, t0) != 0)
        return 1;

    /* 1. join convergence */
    uint64_t conv = 0, join_at = pd_sim_now(sim);
    uint32_t mn = 0, full = 0;
    double tj0 = wall_s(), cj0 = cpu_s();
    for (uint64_t t = join_at + 250; t <= join_at + max_join_s * 1000; t += 250) {
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
    const pd_sim_stats_t *ss = pd_sim_stats(sim);
    printf("join: %s %.2f s virtual after the join started (%lu sim messages, %.1f MB udp, %.1f MB stream "
           "in all), wall %.1f s, cpu %.1f s\n",
           conv ? "converged" : "NOT converged", conv ? (conv - join_at) / 1000.0 : 0.0, (unsigned long)ss->delivered,
           w.udp_bytes / 1e6, w.stream_bytes / 1e6, wall_s() - tj0, cpu_s() - cj0);
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
    printf("total: %.2f s virtual, wall %.1f s, cpu %.1f s, peak RSS %ld MB, %lu sim messages\n",
           pd_sim_now(sim) / 1000.0, wall_s() - t0, cpu_s(), rss_mb(), (unsigned long)pd_sim_stats(sim)->delivered);
    double td = wall_s();
    int failed = w.false_dead != 0 || w.watch_dead_count != w.n - 1;
    sw_world_free(&w);
    printf("teardown wall %.1f s\n", wall_s() - td);
    return failed;
}
