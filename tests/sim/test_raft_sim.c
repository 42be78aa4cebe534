/* Raft under the deterministic simulator: 3 and 5 nodes, many seeds. Fault phase: crashes and
 * restarts (hard state, log and snapshot survive in a per-node persisted struct, written before
 * any message is sent), symmetric and one-way partitions, loss, duplication, reordering, and
 * leadership transfers. Checked at every step: election safety (at most one leader per term),
 * state-machine safety (every node applies the same entry at each index, and reaches the same
 * state hash), leader completeness (a new leader holds every committed entry); log matching is
 * checked between all pairs every 20 ms of virtual time. Then liveness: after healing, a leader
 * exists and a new write is applied by every node within LIVENESS_MS.
 *
 * Seeds: PD_SIM_SEED=N runs one, PD_SIM_SEEDS=K runs K (thousands for soak runs). A failure
 * prints the seed. Not modelled: torn or lost disk writes (our "fsync" is the struct copy). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "raft.h"
#include "raft_wire.h"
#include "sim.h"

#define N_MAX 5
#define TICK_MS 10
#define FAULT_MS 4000
#define LIVENESS_MS 10000
#define IDX_MAX 100000

typedef struct { /* what survives a crash */
    pd_raft_hard_state_t hs;
    pd_raft_snapshot_t snap;
    pd_raft_entry_t *ents;
    size_t n, cap;
    bool used;
} disk_t;

typedef struct node node_t;
typedef struct world {
    pd_sim_t *sim;
    uint32_t n;
    disk_t disk[N_MAX];
    node_t *nodes[N_MAX];
    uint64_t *leader_of_term; /* term -> leader id */
    uint64_t *commit_term;    /* index -> term of the committed entry */
    uint64_t *state_hash;     /* index -> state hash after applying it */
    uint64_t max_commit;
    uint64_t next_val, marker_index;
    uint64_t marker_val;
    uint64_t snap_installs, leaders;
} world_t;

struct node {
    world_t *w;
    uint32_t slot;
    pd_raft_t *r;
    pd_rng_t rng;
    uint64_t next_tick_ms;
    uint64_t hash, applied;
    pd_raft_role_t last_role;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* ---- persistence --------------------------------------------------------------------------- */

static void disk_drop_from(disk_t *d, size_t k)
{
    for (size_t i = k; i < d->n; i++)
        pd_free(d->ents[i].data);
    d->n = k < d->n ? k : d->n;
}

static void disk_append(disk_t *d, const pd_raft_entry_t *e, size_t n)
{
    if (n == 0)
        return;
    size_t k = 0;
    while (k < d->n && d->ents[k].index < e[0].index)
        k++;
    disk_drop_from(d, k);
    if (d->n + n > d->cap) {
        d->cap = (d->n + n) * 2;
        d->ents = pd_realloc(d->ents, d->cap * sizeof *d->ents);
        PD_ASSERT(d->ents);
    }
    for (size_t i = 0; i < n; i++) {
        pd_raft_entry_t c = e[i];
        c.data = NULL;
        if (c.len) {
            c.data = pd_malloc(c.len);
            memcpy(c.data, e[i].data, c.len);
        }
        d->ents[d->n++] = c;
    }
}

static void disk_set_snapshot(disk_t *d, const pd_raft_snapshot_t *s, bool drop_all)
{
    pd_free(d->snap.data);
    d->snap = *s;
    d->snap.data = pd_malloc(s->len ? s->len : 1);
    if (s->len)
        memcpy(d->snap.data, s->data, s->len);
    size_t k = 0;
    if (!drop_all) {
        while (k < d->n && d->ents[k].index <= s->meta.index)
            k++;
    } else {
        k = d->n;
    }
    for (size_t i = 0; i < k; i++)
        pd_free(d->ents[i].data);
    memmove(d->ents, d->ents + k, (d->n - k) * sizeof *d->ents);
    d->n -= k;
}

static void disk_free(disk_t *d)
{
    disk_drop_from(d, 0);
    pd_free(d->ents);
    pd_free(d->snap.data);
    memset(d, 0, sizeof *d);
}

/* ---- safety checks ------------------------------------------------------------------------- */

static void check_leader(node_t *nd)
{
    world_t *w = nd->w;
    pd_raft_t *r = nd->r;
    uint64_t term = pd_raft_term(r);
    PD_SIM_ASSERT(w->sim, term < IDX_MAX);
    if (pd_raft_role(r) != PD_RAFT_LEADER)
        return;
    uint64_t *lt = &w->leader_of_term[term];
    PD_SIM_ASSERT(w->sim, *lt == 0 || *lt == pd_raft_id(r)); /* election safety */
    w->leaders += *lt == 0;
    *lt = pd_raft_id(r);
    if (nd->last_role == PD_RAFT_LEADER)
        return;
    /* leader completeness: every committed entry is in the new leader's log */
    PD_SIM_ASSERT(w->sim, pd_raft_last_index(r) >= w->max_commit);
    for (uint64_t i = pd_raft_first_index(r); i <= w->max_commit; i++)
        PD_SIM_ASSERT(w->sim, w->commit_term[i] == 0 || pd_raft_term_at(r, i) == w->commit_term[i]);
}

static void apply_entry(node_t *nd, const pd_raft_entry_t *e)
{
    world_t *w = nd->w;
    PD_SIM_ASSERT(w->sim, e->index == nd->applied + 1 && e->index < IDX_MAX);
    if (e->type == PD_RAFT_ENTRY_NORMAL) /* bootstrap conf entries are applied by the core */
        nd->hash = fnv(fnv(nd->hash, &e->term, sizeof e->term), e->data, e->len);
    nd->applied = e->index;
    if (w->commit_term[e->index] == 0) {
        w->commit_term[e->index] = e->term;
        w->state_hash[e->index] = nd->hash;
    }
    PD_SIM_ASSERT(w->sim, w->commit_term[e->index] == e->term); /* state-machine safety */
    PD_SIM_ASSERT(w->sim, w->state_hash[e->index] == nd->hash);
    if (e->index > w->max_commit)
        w->max_commit = e->index;
    if (w->marker_val && e->len == sizeof(uint64_t) && memcmp(e->data, &w->marker_val, 8) == 0)
        w->marker_index = w->marker_index ? w->marker_index : e->index;
}

static void install_snapshot(node_t *nd, const pd_raft_snapshot_t *s)
{
    PD_SIM_ASSERT(nd->w->sim, s->len == 8 && s->meta.index >= nd->applied);
    memcpy(&nd->hash, s->data, 8);
    nd->applied = s->meta.index;
    nd->w->snap_installs++;
    PD_SIM_ASSERT(nd->w->sim, nd->w->state_hash[nd->applied] == 0 ||
                                  nd->w->state_hash[nd->applied] == nd->hash);
}

/* ---- the node shell ------------------------------------------------------------------------ */

static void send_msg(node_t *nd, const pd_raft_msg_t *m)
{
    uint8_t *buf;
    size_t len;
    PD_SIM_ASSERT(nd->w->sim, pd_raft_wire_encode(m, &buf, &len) == 0);
    pd_sim_send(nd->w->sim, nd->slot, (uint32_t)m->to - 1, buf, len);
    pd_free(buf);
}

static void maybe_compact(node_t *nd)
{
    const pd_raft_snapshot_t *s = pd_raft_snapshot(nd->r);
    if (nd->applied < s->meta.index + 40)
        return;
    if (pd_raft_compact(nd->r, nd->applied, &nd->hash, 8, 10) == 0)
        disk_set_snapshot(&nd->w->disk[nd->slot], pd_raft_snapshot(nd->r), false);
}

/* persist, then send, then apply, then advance */
static void flush(node_t *nd)
{
    disk_t *d = &nd->w->disk[nd->slot];
    while (pd_raft_has_ready(nd->r)) {
        pd_raft_ready_t rd;
        pd_raft_ready(nd->r, &rd);
        if (rd.snapshot) {
            disk_set_snapshot(d, rd.snapshot, true);
            install_snapshot(nd, rd.snapshot);
        }
        if (rd.has_hs)
            d->hs = rd.hs;
        disk_append(d, rd.entries, rd.n_entries);
        for (size_t i = 0; i < rd.n_msgs; i++)
            send_msg(nd, &rd.msgs[i]);
        for (size_t i = 0; i < rd.n_committed; i++)
            apply_entry(nd, &rd.committed[i]);
        pd_raft_advance(nd->r);
        check_leader(nd);
        nd->last_role = pd_raft_role(nd->r);
    }
    check_leader(nd);
    nd->last_role = pd_raft_role(nd->r);
    maybe_compact(nd);
}

static int node_boot(pd_sim_t *sim, uint32_t slot, uint64_t seed, pd_sim_disk_t *disk, void *ctx,
                     void **out)
{
    (void)disk;
    world_t *w = ctx;
    node_t *nd = pd_calloc(1, sizeof *nd);
    if (!nd)
        return -ENOMEM;
    nd->w = w;
    nd->slot = slot;
    pd_rng_seed(&nd->rng, seed);
    uint64_t peers[N_MAX];
    for (uint32_t i = 0; i < w->n; i++)
        peers[i] = i + 1;
    pd_raft_config_t c;
    pd_raft_config_default(&c, slot + 1, &nd->rng);
    c.peers = peers;
    c.n_peers = w->n;
    c.max_msg_bytes = 256;
    c.max_inflight = 8;
    disk_t *d = &w->disk[slot];
    if (d->used) {
        c.hs = &d->hs;
        c.snapshot = d->snap.meta.index ? &d->snap : NULL;
        c.entries = d->ents;
        c.n_entries = d->n;
        if (c.snapshot) {
            memcpy(&nd->hash, d->snap.data, 8);
            nd->applied = d->snap.meta.index;
        }
    }
    d->used = true;
    int rc = pd_raft_new(&c, &nd->r);
    if (rc) {
        pd_free(nd);
        return rc;
    }
    if (!c.hs)
        nd->applied = pd_raft_applied(nd->r); /* bootstrap entries are applied by the core */
    nd->next_tick_ms = pd_sim_now(sim) + TICK_MS;
    w->nodes[slot] = nd;
    flush(nd);
    *out = nd;
    return 0;
}

static void node_on_message(void *st, uint64_t now_ms, uint32_t from, const uint8_t *data, size_t len)
{
    (void)now_ms;
    (void)from;
    node_t *nd = st;
    pd_raft_wire_msg_t m;
    if (pd_raft_wire_decode(data, len, &m) != 0)
        return;
    pd_raft_step(nd->r, &m.msg);
    pd_raft_wire_msg_free(&m);
    flush(nd);
}

static void node_on_timer(void *st, uint64_t now_ms)
{
    node_t *nd = st;
    while (nd->next_tick_ms <= now_ms) {
        pd_raft_tick(nd->r);
        nd->next_tick_ms += TICK_MS;
    }
    flush(nd);
}

static uint64_t node_deadline(void *st)
{
    return ((node_t *)st)->next_tick_ms;
}

static void node_destroy(void *st)
{
    node_t *nd = st;
    nd->w->nodes[nd->slot] = NULL;
    pd_raft_free(nd->r);
    pd_free(nd);
}

static const pd_sim_node_ops_t ops = {
    .boot = node_boot, .on_message = node_on_message, .on_timer = node_on_timer,
    .next_deadline = node_deadline, .destroy = node_destroy,
};

/* ---- workload and faults ------------------------------------------------------------------- */

static node_t *current_leader(world_t *w)
{
    node_t *best = NULL;
    for (uint32_t i = 0; i < w->n; i++) {
        node_t *nd = w->nodes[i];
        if (nd && pd_raft_role(nd->r) == PD_RAFT_LEADER &&
            (!best || pd_raft_term(nd->r) > pd_raft_term(best->r)))
            best = nd;
    }
    return best;
}

static void client_write(world_t *w, uint64_t val)
{
    node_t *l = current_leader(w);
    if (!l)
        return;
    if (pd_raft_propose(l->r, &val, sizeof val, NULL) == 0)
        flush(l);
}

/* Pairwise log matching: if two logs agree on the term at index i, they agree on every index
 * up to i (where both still hold entries). */
static void check_log_matching(world_t *w)
{
    for (uint32_t a = 0; a < w->n; a++) {
        for (uint32_t b = a + 1; b < w->n; b++) {
            node_t *x = w->nodes[a], *y = w->nodes[b];
            if (!x || !y)
                continue;
            uint64_t lo = PD_MAX(pd_raft_first_index(x->r), pd_raft_first_index(y->r));
            uint64_t hi = PD_MIN(pd_raft_last_index(x->r), pd_raft_last_index(y->r));
            bool agreed = false;
            for (uint64_t i = hi; i >= lo && i > 0; i--) {
                uint64_t tx = pd_raft_term_at(x->r, i), ty = pd_raft_term_at(y->r, i);
                if (agreed)
                    PD_SIM_ASSERT(w->sim, tx == ty);
                agreed |= tx == ty;
            }
        }
    }
}

static void random_fault(world_t *w, pd_rng_t *rng)
{
    pd_sim_t *sim = w->sim;
    uint32_t node = (uint32_t)pd_rng_below(rng, w->n);
    switch (pd_rng_below(rng, 8)) {
    case 0:
    case 1:
        if (pd_sim_node_up(sim, node))
            pd_sim_node_crash(sim, node);
        else
            pd_sim_node_restart(sim, node);
        break;
    case 2: {
        uint32_t k = (uint32_t)pd_rng_range(rng, 1, w->n / 2), set[N_MAX];
        for (uint32_t i = 0; i < k; i++)
            set[i] = (uint32_t)pd_rng_below(rng, w->n);
        pd_sim_partition(sim, set, k);
        break;
    }
    case 3:
        pd_sim_partition_oneway(sim, &node, 1);
        break;
    case 4:
        pd_sim_heal(sim);
        break;
    case 5: {
        node_t *l = current_leader(w);
        if (l)
            (void)pd_raft_transfer_leader(l->r, (uint64_t)node + 1);
        if (l)
            flush(l);
        break;
    }
    default:
        for (uint32_t i = 0; i < w->n; i++) {
            if (!pd_sim_node_up(sim, i))
                pd_sim_node_restart(sim, i);
        }
        break;
    }
}

static bool converged(pd_sim_t *sim, void *ctx)
{
    (void)sim;
    world_t *w = ctx;
    for (uint32_t i = 0; i < w->n; i++) {
        if (!w->marker_index || !w->nodes[i] || w->nodes[i]->applied < w->marker_index)
            return false;
    }
    return true;
}

static void liveness(world_t *w)
{
    pd_sim_t *sim = w->sim;
    pd_sim_heal(sim);
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    pd_sim_net_set(sim, &net);
    for (uint32_t i = 0; i < w->n; i++) {
        if (!pd_sim_node_up(sim, i))
            pd_sim_node_restart(sim, i);
    }
    w->marker_val = 0xfeedull << 32 | w->next_val;
    uint64_t deadline = pd_sim_now(sim) + LIVENESS_MS;
    while (!converged(sim, w) && pd_sim_now(sim) < deadline) {
        client_write(w, w->marker_val); /* retried until it sticks; duplicates are fine */
        pd_sim_run_until_pred(sim, pd_sim_now(sim) + 200, converged, w);
    }
    if (!converged(sim, w))
        fprintf(stderr, "raft sim: no leader/commit within %d ms after healing\n", LIVENESS_MS);
    PD_SIM_ASSERT(sim, converged(sim, w));
}

static void run_seed(uint32_t n, uint64_t seed)
{
    world_t *w = test_calloc(1, sizeof *w);
    w->n = n;
    w->leader_of_term = test_calloc(IDX_MAX, sizeof(uint64_t));
    w->commit_term = test_calloc(IDX_MAX, sizeof(uint64_t));
    w->state_hash = test_calloc(IDX_MAX, sizeof(uint64_t));
    pd_sim_opts_t o = pd_sim_opts_default(&ops, n, seed);
    o.ctx = w;
    assert_int_equal(pd_sim_new(&o, &w->sim), 0);
    assert_int_equal(pd_sim_start_all(w->sim), 0);
    pd_rng_t *rng = pd_sim_rng(w->sim);
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    net.loss_p = pd_rng_unit(rng) * 0.1;
    net.dup_p = pd_rng_unit(rng) * 0.05;
    net.jitter_p = 0.1;
    net.jitter_max_ms = 40;
    pd_sim_net_set(w->sim, &net);
    uint64_t next_fault = 300;
    while (pd_sim_now(w->sim) < FAULT_MS) {
        pd_sim_run_until(w->sim, pd_sim_now(w->sim) + 20);
        check_log_matching(w);
        client_write(w, ++w->next_val);
        if (pd_sim_now(w->sim) >= next_fault) {
            random_fault(w, rng);
            next_fault += pd_rng_range(rng, 50, 400);
        }
    }
    liveness(w);
    check_log_matching(w);
    if (getenv("PD_RAFT_SIM_VERBOSE"))
        fprintf(stderr, "seed=%llu n=%u leaders=%llu commits=%llu snap_installs=%llu crashes=%llu\n",
                (unsigned long long)seed, n, (unsigned long long)w->leaders,
                (unsigned long long)w->max_commit, (unsigned long long)w->snap_installs,
                (unsigned long long)pd_sim_stats(w->sim)->crashes);
    pd_sim_destroy(w->sim);
    for (uint32_t i = 0; i < n; i++)
        disk_free(&w->disk[i]);
    test_free(w->leader_of_term);
    test_free(w->commit_term);
    test_free(w->state_hash);
    test_free(w);
}

static void test_raft_sim_3(void **state)
{
    (void)state;
    PD_SIM_FOR_EACH_SEED(it, 1, 40) {
        run_seed(3, it.seed);
    }
}

static void test_raft_sim_5(void **state)
{
    (void)state;
    PD_SIM_FOR_EACH_SEED(it, 1001, 20) {
        run_seed(5, it.seed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_raft_sim_3, pd_sim_cmocka_teardown),
        cmocka_unit_test_teardown(test_raft_sim_5, pd_sim_cmocka_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
