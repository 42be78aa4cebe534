/* The deterministic simulator: a whole cluster in one process and one thread, driven by a seed.
 *
 * One seed fixes everything: the network's delays, losses, duplicates and reorderings, each node's
 * rng, which unsynced disk writes a crash keeps, and so the whole run. Rerunning a seed replays the
 * run event by event, and the trace hash (pd_sim_trace_hash) proves it. Models: TigerBeetle's VOPR
 * (packet simulator, simulated storage, seed printed on failure) and FoundationDB's sim2 (one
 * process, clogged links, kill and restart).
 *
 * Time. A virtual clock (pd_clock_sim_t) that moves only when the simulator takes the next event.
 * Events are ordered by (time, seq): seq is a global counter, so two events at the same millisecond
 * always run in the order they were scheduled. Nothing reads the real clock.
 *
 * Nodes. N slots (up to PD_SIM_NODES_MAX; 10,000 is routine). Each runs the code behind a
 * pd_sim_node_ops_t, a struct of function pointers. A node owns its state; the simulator owns the
 * node's disk, which outlives crashes. A node talks to the world only through:
 *   pd_sim_send(sim, self, to, data, len)    the simulator copies the bytes
 *   pd_sim_set_timer(sim, self, at_ms)       one timer per node; setting it replaces the old one
 *   pd_sim_disk_*(disk, ...)                 the disk handed to boot
 *
 * Wrapping a sans-IO core (gossip, raft) looks like this:
 *
 *     static void wrap_on_message(void *st, uint64_t now_ms, uint32_t from,
 *                                 const uint8_t *data, size_t len)
 *     {
 *         my_node_t *n = st;
 *         core_step(n->core, now_ms, from, data, len);  // input: (now, rng, event)
 *         flush(n);                                       // outbox -> disk, then pd_sim_send
 *     }
 *     static uint64_t wrap_next_deadline(void *st) { return core_deadline(((my_node_t *)st)->core); }
 *
 * where flush() writes and syncs what the core asks to persist (pd_sim_disk_write, _sync), then
 * sends each outbox message with pd_sim_send, then calls the core's advance. With next_deadline set
 * in the ops, the simulator re-arms the node's timer after every callback, so the wrapper never
 * calls pd_sim_set_timer itself.
 *
 * Faults, all runtime calls as well as options: latency (uniform in [min, max] or a callback),
 * loss, duplication, reordering (extra jitter delay), symmetric and one-way partitions (by group or
 * by link), clogged links and nodes (traffic held until a time), heal, crash (state dropped, the
 * messages in flight to the node lost, unsynced disk writes lost or torn) and restart (boot again
 * from the disk).
 *
 * Errors: functions returning int give 0 or a negative code from pd_err.h / -errno. Misuse (a node
 * index out of range, a NULL sim) is a programmer error and trips an assertion.
 *
 * Not thread-safe: one simulator per thread. All memory comes from pd_alloc.h. */
#ifndef PD_SIM_H
#define PD_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_clock.h"
#include "pd_rng.h"

/* ---- Limits ------------------------------------------------------------------------------- */

#define PD_SIM_NEVER UINT64_MAX               /* "no timer" / "no event" time */
#define PD_SIM_NODES_MAX (1u << 20)           /* node slots per simulator */
#define PD_SIM_GROUPS_MAX 64u                 /* partition groups (see pd_sim_group_set) */
#define PD_SIM_MSG_MAX (1u << 20)             /* default cap on one message's bytes */
#define PD_SIM_EVENTS_MAX (1u << 22)          /* default cap on events pending at once */
#define PD_SIM_DISK_MAX ((uint64_t)64 << 20)  /* size cap of one simulated disk */

typedef struct pd_sim pd_sim_t;
typedef struct pd_sim_disk pd_sim_disk_t;

/* ---- Node interface ----------------------------------------------------------------------- */

/* What one simulated node runs. Every callback gets the state that boot returned. A callback may
 * call pd_sim_send, pd_sim_set_timer, pd_sim_schedule and the disk functions; it must not crash,
 * restart or destroy its own node (schedule that with pd_sim_schedule instead). */
typedef struct {
    /* Start a node, fresh or after a crash. `seed` is this boot's rng seed (it differs per boot);
     * `disk` holds whatever survived earlier crashes and stays valid until pd_sim_destroy; `ctx` is
     * pd_sim_opts_t.ctx. Store sim and node in the state to send later. May send and set a timer.
     * Returns 0 and sets *state_out, or a negative code (the node then stays down). Required. */
    int (*boot)(pd_sim_t *sim, uint32_t node, uint64_t seed, pd_sim_disk_t *disk, void *ctx,
                void **state_out);
    /* A message arrived. `data` is borrowed for the call. Required. */
    void (*on_message)(void *state, uint64_t now_ms, uint32_t from, const uint8_t *data, size_t len);
    /* The node's timer fired. The timer is cleared first: re-arm it (or use next_deadline). May be
     * NULL if the node never sets a timer. */
    void (*on_timer)(void *state, uint64_t now_ms);
    /* Optional. When set, after boot and after each callback the simulator arms the node's timer
     * at the returned absolute time (PD_SIM_NEVER: no timer). */
    uint64_t (*next_deadline)(void *state);
    /* Free the state. Called on crash and by pd_sim_destroy for every node that is up. Must not
     * send (messages would come from a dead node); it may touch the disk. Required. */
    void (*destroy)(void *state);
} pd_sim_node_ops_t;

/* ---- Network options ---------------------------------------------------------------------- */

/* Custom delay for one message (replaces the uniform [min, max] draw). Must use only `rng` for
 * randomness so the run stays deterministic. */
typedef uint64_t (*pd_sim_latency_fn)(void *ctx, pd_rng_t *rng, uint32_t from, uint32_t to);

typedef struct {
    uint64_t latency_min_ms;      /* one-way delay drawn uniformly in [min, max] ... */
    uint64_t latency_max_ms;
    pd_sim_latency_fn latency_fn; /* ... unless this is set */
    void *latency_ctx;
    double loss_p;                /* each message (and each duplicate) dropped with this chance */
    double dup_p;                 /* chance a message is delivered twice (independent delays) */
    double jitter_p;              /* chance a message gets extra delay in [1, jitter_max_ms]: */
    uint64_t jitter_max_ms;       /*   reordering even when min == max */
} pd_sim_net_opts_t;

/* Defaults: latency 1..10 ms, no loss, no duplicates, no jitter. */
pd_sim_net_opts_t pd_sim_net_opts_default(void);

/* ---- Simulator ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t seed;                  /* the run's seed; everything random derives from it */
    uint32_t nodes;                 /* node slots, 1..PD_SIM_NODES_MAX; all start down */
    const pd_sim_node_ops_t *ops;   /* shared by every node; must outlive the simulator */
    void *ctx;                      /* handed to ops->boot */
    pd_sim_net_opts_t net;
    uint64_t start_ms;              /* virtual time at creation */
    uint64_t epoch_ms;              /* wall clock = epoch_ms + virtual time */
    size_t msg_max;                 /* 0: PD_SIM_MSG_MAX */
    size_t events_max;              /* 0: PD_SIM_EVENTS_MAX; beyond it sends are dropped */
    uint64_t steps_max;             /* 0: unlimited; else run calls stop with -PD_ELIMIT */
    double buggify_enable_p;        /* > 0 turns PD_BUGGIFY() on for this run (PD_SIMULATION */
    double buggify_fire_p;          /*   builds), from an rng stream of the run's seed */
} pd_sim_opts_t;

/* Defaults: seed 1, the given ops, net defaults, clock at 0, wall epoch 2026-01-01. */
pd_sim_opts_t pd_sim_opts_default(const pd_sim_node_ops_t *ops, uint32_t nodes, uint64_t seed);

/* Create a simulator with every node down (boot them with pd_sim_start_all or
 * pd_sim_node_start). Returns 0, -ENOMEM or -PD_EUSAGE (bad options). */
int pd_sim_new(const pd_sim_opts_t *opts, pd_sim_t **out);
/* Destroy every running node (ops->destroy), then all pending events, disks and the simulator.
 * Not from inside a callback or a scheduled call. */
void pd_sim_destroy(pd_sim_t *sim);

uint64_t pd_sim_seed(const pd_sim_t *sim);
uint32_t pd_sim_nodes(const pd_sim_t *sim);
uint64_t pd_sim_now(const pd_sim_t *sim);
/* The virtual clock as a pd_clock_t, for code that takes a clock interface. */
pd_clock_t *pd_sim_clock(pd_sim_t *sim);
/* An rng for the test's own workload decisions (which node to crash, what to send). It is its own
 * stream, so using it does not shift the network's or the nodes' draws. */
pd_rng_t *pd_sim_rng(pd_sim_t *sim);

/* ---- Nodes -------------------------------------------------------------------------------- */

/* Boot one node (it must be down). Returns 0 or the boot callback's error. */
int pd_sim_node_start(pd_sim_t *sim, uint32_t node);
/* Boot every node that is down, in index order. Returns 0 or the first error (and stops). */
int pd_sim_start_all(pd_sim_t *sim);
/* Crash a running node: destroy its state, clear its timer, lose what is in flight to it, and
 * crash its disk (unsynced writes lost, the last surviving one maybe torn). Messages it already
 * sent stay in flight. Returns 0, or -PD_ESTATE if the node is down. */
int pd_sim_node_crash(pd_sim_t *sim, uint32_t node);
/* Boot a crashed node again with the disk as the crash left it: pd_sim_node_start by another name. */
int pd_sim_node_restart(pd_sim_t *sim, uint32_t node);
bool pd_sim_node_up(const pd_sim_t *sim, uint32_t node);
/* The running node's state (NULL when down), for checkers that look inside. */
void *pd_sim_node_state(const pd_sim_t *sim, uint32_t node);
pd_sim_disk_t *pd_sim_node_disk(pd_sim_t *sim, uint32_t node);
/* Boots so far (1 after the first start, 2 after one restart, ...). */
uint32_t pd_sim_node_boots(const pd_sim_t *sim, uint32_t node);

/* Send `len` bytes from `from` to `to` (may be the sender itself). The bytes are copied. Callable
 * from a node's callback or from the test (as if `from` sent it). Like UDP: a message lost to a
 * fault is still a success; the counters tell. Returns 0, -PD_ETOOBIG (over msg_max), -PD_ESTATE
 * (`from` is down) or -ENOMEM. */
int pd_sim_send(pd_sim_t *sim, uint32_t from, uint32_t to, const void *data, size_t len);
/* Arm the node's one timer at absolute time at_ms (clamped to now; PD_SIM_NEVER disarms). The
 * node must be up. */
void pd_sim_set_timer(pd_sim_t *sim, uint32_t node, uint64_t at_ms);
uint64_t pd_sim_timer(const pd_sim_t *sim, uint32_t node); /* PD_SIM_NEVER if none */

/* Run fn(sim, arg) at virtual time at_ms (clamped to now): for fault workloads ("crash node 3 at
 * 500 ms") and for actions a node must not do to itself. Returns 0, -PD_ELIMIT or -ENOMEM. */
typedef void (*pd_sim_call_fn)(pd_sim_t *sim, void *arg);
int pd_sim_schedule(pd_sim_t *sim, uint64_t at_ms, pd_sim_call_fn fn, void *arg);

/* ---- Network faults (runtime) --------------------------------------------------------------- */

void pd_sim_net_set(pd_sim_t *sim, const pd_sim_net_opts_t *net);
pd_sim_net_opts_t pd_sim_net_get(const pd_sim_t *sim);

/* Partitions by group: every node is in one group (0 at start, < PD_SIM_GROUPS_MAX), and traffic
 * from group a to group b flows unless (a, b) is blocked. A message is checked when sent and again
 * when it arrives, so a partition also catches what is already in flight. */
void pd_sim_group_set(pd_sim_t *sim, uint32_t node, uint32_t group);
uint32_t pd_sim_group(const pd_sim_t *sim, uint32_t node);
void pd_sim_group_block(pd_sim_t *sim, uint32_t from_group, uint32_t to_group);   /* one way */
void pd_sim_group_unblock(pd_sim_t *sim, uint32_t from_group, uint32_t to_group);
/* Symmetric split: the listed nodes go to group 1, all others to group 0, and 0 <-> 1 is blocked. */
void pd_sim_partition(pd_sim_t *sim, const uint32_t *nodes, size_t n);
/* One-way split: the listed nodes (group 1) cannot reach the rest (group 0); the rest reach them. */
void pd_sim_partition_oneway(pd_sim_t *sim, const uint32_t *nodes, size_t n);

/* Per-link faults, kept in a hash table (memory grows with the links touched, not N^2). */
int pd_sim_link_block(pd_sim_t *sim, uint32_t from, uint32_t to);    /* from -/-> to only */
int pd_sim_link_unblock(pd_sim_t *sim, uint32_t from, uint32_t to);
int pd_sim_link_block_both(pd_sim_t *sim, uint32_t a, uint32_t b);
/* Clog a link until until_ms: messages sent on it meanwhile are held and arrive only after the
 * clog ends (their delay counts from until_ms). What is already in flight is not affected. */
int pd_sim_link_clog(pd_sim_t *sim, uint32_t from, uint32_t to, uint64_t until_ms);
/* Clog everything into and out of one node until until_ms (in-flight messages unaffected). */
void pd_sim_node_clog(pd_sim_t *sim, uint32_t node, uint64_t until_ms);
/* Undo every partition, block and clog (groups back to 0). Latency/loss options stay. */
void pd_sim_heal(pd_sim_t *sim);
/* Would a message from -> to get through the partitions and blocks right now? (Ignores loss,
 * clogs and whether the nodes are up.) */
bool pd_sim_reachable(const pd_sim_t *sim, uint32_t from, uint32_t to);

/* ---- Running -------------------------------------------------------------------------------- */

/* Run the next event. Returns 1 if one ran, 0 if none is pending, -PD_ELIMIT past steps_max.
 * The run functions are not re-entrant: never call them from a callback or a scheduled call. */
int pd_sim_step(pd_sim_t *sim);
/* Run every event due at or before t_ms, then move the clock to t_ms (if later). Returns 0 or
 * -PD_ELIMIT. */
int pd_sim_run_until(pd_sim_t *sim, uint64_t t_ms);
/* Run until no event is pending (quiet: returns 0) or the next one is after max_ms (the clock
 * stops at max_ms: returns -PD_ETIMEOUT). Nodes with a periodic timer are never quiet. */
int pd_sim_run_until_quiet(pd_sim_t *sim, uint64_t max_ms);
/* Run until done(sim, ctx) is true (checked before the first and after every event: returns 0) or
 * the next event is after max_ms (-PD_ETIMEOUT) or none is left (-PD_ETIMEOUT, clock at max_ms).
 * For liveness phases: "converged within T". */
typedef bool (*pd_sim_pred_fn)(pd_sim_t *sim, void *ctx);
int pd_sim_run_until_pred(pd_sim_t *sim, uint64_t max_ms, pd_sim_pred_fn done, void *ctx);
/* Time of the next pending event, PD_SIM_NEVER if none. */
uint64_t pd_sim_next_event_ms(const pd_sim_t *sim);
/* Events pending: messages in flight, scheduled calls and armed timers. */
size_t pd_sim_pending(const pd_sim_t *sim);

/* ---- Observing ------------------------------------------------------------------------------ */

typedef struct {
    uint64_t sent;              /* pd_sim_send calls accepted */
    uint64_t delivered;         /* on_message calls */
    uint64_t bytes_delivered;
    uint64_t dropped_loss;      /* lost to loss_p */
    uint64_t dropped_partition; /* blocked by a group or link block (at send or on arrival) */
    uint64_t dropped_crash;     /* destination down when sent, or crashed while in flight */
    uint64_t dropped_overflow;  /* events_max reached */
    uint64_t duplicated;        /* extra copies scheduled */
    uint64_t jittered;          /* messages given extra reordering delay */
    uint64_t clogged;           /* messages held by a clog */
    uint64_t timers;            /* on_timer calls */
    uint64_t calls;             /* pd_sim_schedule callbacks run */
    uint64_t crashes, boots, boot_failures;
    uint64_t steps;             /* events run */
} pd_sim_stats_t;

const pd_sim_stats_t *pd_sim_stats(const pd_sim_t *sim);
/* FNV-1a (64-bit) over every event run: each delivery's (time, from, to, bytes), each timer's
 * (time, node), each crash and boot. Same seed and same code: same hash. */
uint64_t pd_sim_trace_hash(const pd_sim_t *sim);

/* ---- Simulated disk --------------------------------------------------------------------------- */

/* One byte array per node. Reads see every write at once; only pd_sim_disk_sync makes writes
 * durable. At a crash the writes since the last sync survive as a random prefix, in order, and the
 * first write past that prefix may be torn (a random leading part of it kept); the rest are lost.
 * Synced bytes always survive. Decided by the rng given to pd_sim_disk_crash (the simulator's
 * disk stream), so a seed replays it. */
typedef struct {
    uint64_t writes, truncates, syncs, crashes;
    uint64_t ops_lost;   /* unsynced writes/truncates a crash dropped whole */
    uint64_t ops_torn;   /* unsynced writes a crash kept only a prefix of */
    uint64_t bytes_written, bytes_synced;
} pd_sim_disk_stats_t;

/* A standalone disk (the simulator makes one per node itself). -ENOMEM on failure. */
int pd_sim_disk_new(pd_sim_disk_t **out);
void pd_sim_disk_free(pd_sim_disk_t *d);

uint64_t pd_sim_disk_size(const pd_sim_disk_t *d);
/* Copy up to len bytes at off into buf. Returns the count copied (short or 0 past the end). */
size_t pd_sim_disk_read(const pd_sim_disk_t *d, uint64_t off, void *buf, size_t len);
/* The current contents, valid until the next write, truncate or crash. NULL when empty. */
const uint8_t *pd_sim_disk_data(const pd_sim_disk_t *d);
/* Write len bytes at off (a gap past the end reads as zeros). Returns 0, -PD_ETOOBIG (past
 * PD_SIM_DISK_MAX) or -ENOMEM (then nothing changed). */
int pd_sim_disk_write(pd_sim_disk_t *d, uint64_t off, const void *data, size_t len);
int pd_sim_disk_append(pd_sim_disk_t *d, const void *data, size_t len);
/* Set the size (shrink, or grow with zeros). Not durable until synced, like a write. */
int pd_sim_disk_truncate(pd_sim_disk_t *d, uint64_t size);
/* Make every write so far durable. Never fails. */
void pd_sim_disk_sync(pd_sim_disk_t *d);
/* Bytes written or truncated since the last sync are at risk: the number of such operations. */
size_t pd_sim_disk_unsynced_ops(const pd_sim_disk_t *d);
/* Apply a crash as described above (the simulator calls this from pd_sim_node_crash). */
void pd_sim_disk_crash(pd_sim_disk_t *d, pd_rng_t *rng);
/* Lose everything, synced or not (a replaced disk). */
void pd_sim_disk_wipe(pd_sim_disk_t *d);
const pd_sim_disk_stats_t *pd_sim_disk_stats(const pd_sim_disk_t *d);

/* ---- Seeds and failure reports ------------------------------------------------------------- */

/* PD_SIM_SEED=N runs exactly seed N; PD_SIM_SEEDS=K runs K seeds (starting at PD_SIM_SEED, or at
 * the default) — the "thousands of seeds" mode. PD_SIM_SEED=random picks a base from the OS (and
 * prints it). Without either variable the defaults apply, so plain test runs are deterministic. */
uint64_t pd_sim_seed_from_env(uint64_t default_seed);
uint64_t pd_sim_seed_count_from_env(uint64_t default_count);

/* Iterate the seeds of a test:
 *     PD_SIM_FOR_EACH_SEED(it, 42, 20) { ... run the simulation with it.seed ... }
 * Seeds are base, base+1, ... While a seed's body runs it is the "current seed": if the process
 * aborts (a PD_ASSERT in a core, a sanitizer report) or pd_sim_report_failure runs, stderr gets
 *     sim: failed with seed N (rerun with PD_SIM_SEED=N)
 * Use pd_sim_cmocka_teardown (below) as the cmocka teardown to catch failing cmocka assertions.
 * Leaving the loop with break/return keeps the seed current: call pd_sim_seed_leave() then. */
typedef struct {
    uint64_t base, count, i, seed;
} pd_sim_seeds_t;
pd_sim_seeds_t pd_sim_seeds(uint64_t default_seed, uint64_t default_count);
bool pd_sim_seeds_next(pd_sim_seeds_t *it);
#define PD_SIM_FOR_EACH_SEED(it, default_seed, default_count)                                 \
    for (pd_sim_seeds_t it = pd_sim_seeds((default_seed), (default_count)); pd_sim_seeds_next(&it);)

/* Mark a seed current by hand (pd_sim_seeds_next does this), or clear it. */
void pd_sim_seed_enter(uint64_t seed);
void pd_sim_seed_leave(void);
/* Print the "failed with seed" line if a seed is current; returns whether one was. */
bool pd_sim_report_failure(void);
/* A cmocka-compatible teardown: if the test left a seed current (it failed mid-loop), print the
 * line and clear it. Always returns 0. */
int pd_sim_cmocka_teardown(void **state);

/* What PD_SIM_ASSERT does after printing (default: abort). A cmocka test may install a handler
 * that calls fail() (it longjmps out). If a handler returns, execution goes on after the check. */
typedef void (*pd_sim_fail_fn)(const char *file, int line);
void pd_sim_set_fail_handler(pd_sim_fail_fn fn);
void pd_sim_fail(const pd_sim_t *sim, const char *file, int line, const char *expr);

/* A safety check for simulation code: on failure prints the expression, the time and the seed of
 * this sim with the rerun hint, then calls the fail handler. */
#define PD_SIM_ASSERT(sim, cond)                                                             \
    do {                                                                                     \
        if (__builtin_expect(!(cond), 0))                                                    \
            pd_sim_fail((sim), __FILE__, __LINE__, #cond);                                   \
    } while (0)

#endif
