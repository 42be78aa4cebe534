/* Raft under the deterministic simulator: 3 and 5 voters (plus a spare slot for membership
 * changes), many seeds.
 *
 * Fault phase (FAULT_MS): crashes and restarts, torn crashes (power lost while a batch is being
 * written: see the disk below), symmetric and one-way partitions, loss, duplication, reordering,
 * leadership transfers, and membership changes one at a time: a new node (a fresh id on a wiped
 * slot) joins as a learner, is promoted when caught up (by auto-promote or by an explicit
 * PD_RAFT_CC_PROMOTE, chosen per seed), and voters are removed (a third of the time the leader
 * itself); a node stops once its removal is applied anywhere.
 *
 * Disk: each node's log is bytes on its simulated disk in the real WAL record format (wal.h's pure
 * codec: [len][crc32c][type][payload] records for entries, hard state and snapshot markers), one
 * write per record in pd_wal_append_ready's order (marker, entries, hard state), synced
 * (pd_sim_disk_sync) before any message of that batch is sent. A torn crash stops a node after
 * the writes and before the sync: the simulator keeps a random prefix of the unsynced writes,
 * maybe tearing the first lost one, and we sometimes add a garbage or zeroed tail. Records are
 * sealed as the daemon seals them (seal.h). Restart scans with pd_wal_scan, which must report CLEAN
 * or TORN (never CORRUPT, nor FORGED: a torn write never passes for tampering), cuts the
 * torn tail (truncate + sync, like pd_wal_open) and replays the records with the WAL's semantics.
 * Snapshot files are atomic (temp + rename in the daemon), written before their marker record.
 * The shell asserts what keeps this safe: an append acknowledgement never covers an entry beyond
 * the durable log, a vote is never granted unless it is durable, and at recovery the durable
 * commit is covered by the durable log (the old record order, hard state first, broke this).
 *
 * Per seed: learner auto-promotion on or off, and an apply batch (max_committed_bytes) of 48 bytes
 * or 1 MiB, so ReadIndex answers sometimes wait for apply across readies.
 *
 * Client workload: CLIENTS clients, each with one op at a time on KEYS registers, sent to a node
 * that believes it is leader (stale ones included). Writes are entries with a unique value, done
 * when the proposing node applies them; reads use ReadIndex (pd_raft_read_index) and are served
 * from the local state once apply reaches the read index. An op with no answer in OP_TIMEOUT_MS,
 * or still open at the end, is recorded as unknown. The history is checked for linearizability
 * per register (tests/sim/lib/sim_linz.c; inconclusive searches are counted, not failures).
 *
 * Checked at every step: election safety (at most one leader per term), state-machine safety
 * (every node applies the same entry at each index and reaches the same state hash), leader
 * completeness (a new leader holds every committed entry); log matching between all pairs every
 * 20 ms of virtual time. These hold across configuration changes. Then liveness: after healing
 * (every active node restarted, partitions and loss gone), a leader exists and a new write is
 * applied by every member of the leader's final configuration within LIVENESS_MS (10 s of virtual
 * time; the election timeout is 10-20 ticks of 10 ms).
 *
 * Forced new cluster (test_raft_sim_force): after the fault phase and liveness, every node but one
 * voter of the leader's configuration holding every committed entry is crashed for good; the
 * survivor calls pd_raft_force_new_cluster (half the time its first attempt is torn by a crash:
 * after the restart it has the forced configuration or the old one, and forces again), then the
 * workload, faults and membership changes go on (new nodes join it on the dead slots) for
 * FORCE_MS, and liveness is checked again. The checks above run throughout, across the force:
 * acknowledged writes survive it (linearizability), terms stay unique (election safety) and the
 * survivor's log is the new cluster's (state-machine safety, log matching).
 *
 * Seeds: PD_SIM_SEED=N runs one, PD_SIM_SEEDS=K runs K (thousands for soak runs); the default
 * count keeps the whole test well under a minute under ASan. A failure prints the seed.
 * PD_RAFT_SIM_VERBOSE=1 prints per-seed counters. Not modelled: corruption of synced data
 * (the daemon refuses to start on it) and reordered page writes within a batch. */
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
#include "pd_buf.h"
#include "pd_err.h"
#include "raft.h"
#include "raft_wire.h"
#include "sim.h"
#include "sim_linz.h"
#include "wal.h"

#define N_MAX 5
#define SLOTS_MAX (N_MAX + 1) /* the voters plus one slot for joining nodes */
#define ID_STRIDE 8u          /* node id = generation * ID_STRIDE + slot + 1 */
#define TICK_MS 10
#define FAULT_MS 4000
#define LIVENESS_MS 10000
#define IDX_MAX 100000
#define KEYS 3
#define CLIENTS 3
#define OP_TIMEOUT_MS 1000
#define OPS_MAX 4096
#define READS_MAX 64   /* pending ReadIndex answers per node */
#define WAL_RECORD_MAX 256 /* a record's plaintext payload in this workload */
#define SNAPS_KEEP 2   /* snapshot files kept per node (the durable marker's, and a newer one) */
#define MIN_VOTERS 3   /* removals stop here */
#define SNAP_LEN (8 + 8 * KEYS)
#define FORCE_MS 2000

typedef struct {
    pd_raft_snapshot_t snap[SNAPS_KEEP]; /* [0] newest; data NULL when empty */
} snapdir_t;

typedef struct {
    bool busy;
    size_t op;        /* index into the history */
    uint32_t slot;    /* the node serving it */
    uint64_t deadline_ms;
} client_t;

typedef struct {
    struct world *w;
    uint32_t slot, boots;
} tear_t;

typedef struct node node_t;
typedef struct world {
    pd_sim_t *sim;
    uint32_t n, slots;
    uint32_t gen[SLOTS_MAX];
    bool active[SLOTS_MAX];     /* the slot's node is kept running (restarted after crashes) */
    uint64_t stop_id[SLOTS_MAX];/* its removal was applied: stop it */
    snapdir_t snaps[SLOTS_MAX];
    uint64_t durable_last[SLOTS_MAX];
    pd_raft_hard_state_t durable_hs[SLOTS_MAX];
    tear_t tear[SLOTS_MAX];
    node_t *nodes[SLOTS_MAX];
    bool auto_promote;
    uint64_t apply_batch_bytes;
    uint64_t *leader_of_term; /* term -> leader id */
    uint64_t *commit_term;    /* index -> term of the committed entry */
    uint64_t *state_hash;     /* index -> state hash after applying it */
    uint64_t max_commit;
    uint64_t next_val, marker_index;
    uint64_t marker_val;
    pd_linz_op_t *hist;
    size_t n_hist;
    client_t clients[CLIENTS];
    uint64_t snap_installs, leaders, torn_crashes, torn_bytes, conf_applied, removed_self;
    uint64_t ops_ok, ops_unknown, linz_inconclusive;
    uint64_t forces, force_retries;
} world_t;

typedef struct {
    uint64_t ctx, index;
} read_t;

struct node {
    world_t *w;
    uint32_t slot;
    uint64_t id;
    pd_raft_t *r;
    pd_rng_t rng;
    uint64_t next_tick_ms;
    uint64_t hash, applied;
    uint64_t regs[KEYS];
    read_t reads[READS_MAX];
    size_t n_reads;
    bool tear_next, dead; /* dead: torn mid-write, waiting for the scheduled crash */
    pd_raft_role_t last_role;
    pd_sealer_t seal; /* the WAL's sealer: a new nonce prefix (from the seed) at every boot */
};

/* Every node's WAL is sealed like the daemon's (one key for all: keys are not what is tested). */
static const uint8_t sim_key[PD_SEAL_KEY_LEN] = {0x5e, 0xa1};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint32_t slot_of(uint64_t id)
{
    return (uint32_t)((id - 1) % ID_STRIDE);
}

static uint64_t id_of(const world_t *w, uint32_t slot)
{
    return (uint64_t)w->gen[slot] * ID_STRIDE + slot + 1;
}

/* ---- snapshot files (atomic, as pd_snapfile_write's rename makes them) ----------------------- */

static void snapdir_put(snapdir_t *sd, const pd_raft_snapshot_t *s)
{
    pd_free(sd->snap[SNAPS_KEEP - 1].data);
    memmove(&sd->snap[1], &sd->snap[0], (SNAPS_KEEP - 1) * sizeof sd->snap[0]);
    sd->snap[0] = *s;
    sd->snap[0].data = pd_malloc(s->len ? s->len : 1);
    PD_ASSERT(sd->snap[0].data);
    if (s->len)
        memcpy(sd->snap[0].data, s->data, s->len);
}

static const pd_raft_snapshot_t *snapdir_find(const snapdir_t *sd, uint64_t index)
{
    for (int i = 0; i < SNAPS_KEEP; i++) {
        if (sd->snap[i].data && sd->snap[i].meta.index == index)
            return &sd->snap[i];
    }
    return NULL;
}

static void snapdir_clear(snapdir_t *sd)
{
    for (int i = 0; i < SNAPS_KEEP; i++)
        pd_free(sd->snap[i].data);
    memset(sd, 0, sizeof *sd);
}

/* ---- the WAL on the simulated disk ---------------------------------------------------------- */

typedef struct {
    int has_hs, has_snap;
    pd_raft_hard_state_t hs;
    uint64_t snap_index;
    pd_raft_entry_t *ents;
    size_t n, cap;
    pd_sim_t *sim;
} replay_t;

static void replay_drop_from(replay_t *rp, size_t k)
{
    for (size_t i = k; i < rp->n; i++)
        pd_free(rp->ents[i].data);
    rp->n = k < rp->n ? k : rp->n;
}

/* The WAL's replay rules (wal.h): last hard state wins, an entry at i replaces every entry >= i,
 * an install marker drops every entry, a compaction marker only moves forward. */
static int replay_record(void *ctx, uint8_t type, const uint8_t *payload, uint32_t len, size_t off)
{
    (void)off;
    replay_t *rp = ctx;
    pd_raft_entry_t e;
    uint64_t index, term;
    uint8_t flags, plain[WAL_RECORD_MAX];
    PD_SIM_ASSERT(rp->sim, (type & PD_WAL_REC_SEALED) && len >= PD_SEAL_OVERHEAD &&
                               len - PD_SEAL_OVERHEAD <= sizeof plain);
    PD_SIM_ASSERT(rp->sim, pd_wal_unseal(sim_key, type, payload, len, plain) == 0);
    type &= (uint8_t)~PD_WAL_REC_SEALED;
    len -= PD_SEAL_OVERHEAD;
    payload = plain;
    if (type == PD_WAL_REC_HARD_STATE) {
        rp->has_hs = pd_wal_decode_hard_state(payload, len, &rp->hs) == 0;
        return 0;
    }
    if (type == PD_WAL_REC_SNAPSHOT) {
        PD_SIM_ASSERT(rp->sim, pd_wal_decode_snapshot(payload, len, &index, &term, &flags) == 0);
        if (flags & PD_WAL_SNAP_INSTALL)
            replay_drop_from(rp, 0);
        else if (rp->has_snap && index < rp->snap_index)
            return 0;
        rp->has_snap = 1;
        rp->snap_index = index;
        return 0;
    }
    PD_SIM_ASSERT(rp->sim, pd_wal_decode_entry(payload, len, &e) == 0);
    if (rp->n) {
        uint64_t first = rp->ents[0].index;
        PD_SIM_ASSERT(rp->sim, e.index <= first + rp->n); /* no gap */
        replay_drop_from(rp, e.index >= first ? (size_t)(e.index - first) : 0);
    }
    if (rp->n == rp->cap) {
        rp->cap = rp->cap ? rp->cap * 2 : 64;
        rp->ents = pd_realloc(rp->ents, rp->cap * sizeof *rp->ents);
        PD_ASSERT(rp->ents);
    }
    pd_raft_entry_t c = e;
    c.data = pd_malloc(c.len ? c.len : 1);
    PD_ASSERT(c.data);
    if (c.len)
        memcpy(c.data, e.data, c.len);
    rp->ents[rp->n++] = c;
    return 0;
}

/* Scan and replay the disk; a torn tail is cut off (and that cut made durable). */
static void wal_recover(world_t *w, pd_sim_disk_t *disk, replay_t *rp)
{
    pd_wal_scan_t scan;
    size_t len = (size_t)pd_sim_disk_size(disk);
    int rc = pd_wal_scan(pd_sim_disk_data(disk), len, sim_key, replay_record, rp, &scan);
    PD_SIM_ASSERT(w->sim, rc == 0);
    PD_SIM_ASSERT(w->sim, scan.status == PD_WAL_SCAN_CLEAN || scan.status == PD_WAL_SCAN_TORN);
    if (scan.status == PD_WAL_SCAN_TORN) {
        w->torn_bytes += len - scan.valid_len;
        PD_SIM_ASSERT(w->sim, pd_sim_disk_truncate(disk, scan.valid_len) == 0);
        pd_sim_disk_sync(disk);
    }
}

static void wal_write(pd_sim_disk_t *disk, void (*enc)(pd_wbuf_t *, const void *, pd_sealer_t *),
                      const void *arg, pd_sealer_t *seal)
{
    uint8_t buf[WAL_RECORD_MAX + PD_WAL_REC_HDR_LEN + PD_SEAL_OVERHEAD];
    pd_wbuf_t wb;
    pd_wbuf_init(&wb, buf, sizeof buf);
    enc(&wb, arg, seal);
    PD_ASSERT(wb.err == 0);
    PD_ASSERT(pd_sim_disk_append(disk, wb.data, wb.len) == 0);
}

static void enc_entry(pd_wbuf_t *wb, const void *e, pd_sealer_t *s) { pd_wal_encode_entry(wb, e, s); }
static void enc_hs(pd_wbuf_t *wb, const void *hs, pd_sealer_t *s) { pd_wal_encode_hard_state(wb, hs, s); }

typedef struct {
    uint64_t index, term;
    uint8_t flags;
} marker_t;

static void enc_marker(pd_wbuf_t *wb, const void *p, pd_sealer_t *s)
{
    const marker_t *m = p;
    pd_wal_encode_snapshot(wb, m->index, m->term, m->flags, s);
}

/* The ready's snapshot marker, entries and hard state, in pd_wal_append_ready's order (entries
 * before the hard state, so a torn batch never keeps a commit without its entries), one disk
 * write per record (unsynced). */
static void wal_write_ready(node_t *nd, pd_sim_disk_t *disk, const pd_raft_ready_t *rd)
{
    if (rd->snapshot) {
        snapdir_put(&nd->w->snaps[nd->slot], rd->snapshot); /* the file first, then its marker */
        marker_t m = {rd->snapshot->meta.index, rd->snapshot->meta.term, PD_WAL_SNAP_INSTALL};
        wal_write(disk, enc_marker, &m, &nd->seal);
    }
    for (size_t i = 0; i < rd->n_entries; i++)
        wal_write(disk, enc_entry, &rd->entries[i], &nd->seal);
    if (rd->has_hs)
        wal_write(disk, enc_hs, &rd->hs, &nd->seal);
}

/* fsync returned: what the log now durably holds, for the acknowledgement checks. */
static void wal_synced(node_t *nd, pd_sim_disk_t *disk, const pd_raft_ready_t *rd)
{
    world_t *w = nd->w;
    pd_sim_disk_sync(disk);
    if (rd->snapshot)
        w->durable_last[nd->slot] = rd->snapshot->meta.index;
    if (rd->has_hs)
        w->durable_hs[nd->slot] = rd->hs;
    if (rd->n_entries)
        w->durable_last[nd->slot] = rd->entries[rd->n_entries - 1].index;
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

/* The acknowledgements that make an entry or a vote count must rest on durable state. */
static void check_durable_ack(node_t *nd, const pd_raft_msg_t *m)
{
    world_t *w = nd->w;
    if (m->type == PD_RAFT_MSG_APP_RESP && !m->reject)
        PD_SIM_ASSERT(w->sim, m->index <= w->durable_last[nd->slot]);
    if (m->type == PD_RAFT_MSG_VOTE_RESP && !m->reject) {
        const pd_raft_hard_state_t *hs = &w->durable_hs[nd->slot];
        PD_SIM_ASSERT(w->sim, hs->term == m->term && hs->vote == m->to);
    }
}

static void client_done(world_t *w, size_t c, bool ok, uint64_t value);

static void apply_conf(node_t *nd, const pd_raft_entry_t *e)
{
    world_t *w = nd->w;
    pd_raft_cc_type_t type;
    uint64_t node;
    if (pd_raft_cc_decode(e->data, e->len, &type, &node) != 0 || type != PD_RAFT_CC_REMOVE)
        return;
    uint32_t s = slot_of(node);
    if (s < w->slots && id_of(w, s) == node)
        w->stop_id[s] = node;
}

/* Register writes are 16 bytes (key, value); 8-byte entries are filler and the liveness marker. */
static void apply_normal(node_t *nd, const pd_raft_entry_t *e)
{
    world_t *w = nd->w;
    if (e->len != 16)
        return;
    uint64_t key, val;
    memcpy(&key, e->data, 8);
    memcpy(&val, e->data + 8, 8);
    PD_SIM_ASSERT(w->sim, key < KEYS);
    nd->regs[key] = val;
    for (size_t c = 0; c < CLIENTS; c++) {
        const client_t *cl = &w->clients[c];
        const pd_linz_op_t *op = &w->hist[cl->op];
        if (cl->busy && cl->slot == nd->slot && op->kind == PD_LINZ_WRITE && op->value == val)
            client_done(w, c, true, val);
    }
}

static void apply_entry(node_t *nd, const pd_raft_entry_t *e)
{
    world_t *w = nd->w;
    PD_SIM_ASSERT(w->sim, e->index == nd->applied + 1 && e->index < IDX_MAX);
    if (e->type == PD_RAFT_ENTRY_NORMAL) { /* bootstrap conf entries are applied by the core */
        nd->hash = fnv(fnv(nd->hash, &e->term, sizeof e->term), e->data, e->len);
        apply_normal(nd, e);
    } else {
        apply_conf(nd, e);
    }
    nd->applied = e->index;
    if (w->commit_term[e->index] == 0) {
        w->commit_term[e->index] = e->term;
        w->state_hash[e->index] = nd->hash;
        w->conf_applied += e->type == PD_RAFT_ENTRY_CONF;
    }
    PD_SIM_ASSERT(w->sim, w->commit_term[e->index] == e->term); /* state-machine safety */
    PD_SIM_ASSERT(w->sim, w->state_hash[e->index] == nd->hash);
    if (e->index > w->max_commit)
        w->max_commit = e->index;
    if (w->marker_val && e->len == sizeof(uint64_t) && memcmp(e->data, &w->marker_val, 8) == 0)
        w->marker_index = w->marker_index ? w->marker_index : e->index;
}

/* Serve ReadIndex answers whose index has been applied. */
static void serve_reads(node_t *nd)
{
    world_t *w = nd->w;
    size_t k = 0;
    for (size_t i = 0; i < nd->n_reads; i++) {
        read_t rd = nd->reads[i];
        if (rd.index > nd->applied) {
            nd->reads[k++] = rd;
            continue;
        }
        size_t c = (size_t)(rd.ctx >> 32), op = (size_t)(rd.ctx & 0xffffffffu);
        const client_t *cl = &w->clients[c];
        if (cl->busy && cl->op == op && cl->slot == nd->slot)
            client_done(w, c, true, nd->regs[w->hist[op].key]);
    }
    nd->n_reads = k;
}

static void queue_reads(node_t *nd, const pd_raft_ready_t *rd)
{
    for (size_t i = 0; i < rd->n_reads && nd->n_reads < READS_MAX; i++)
        nd->reads[nd->n_reads++] = (read_t){rd->reads[i].ctx, rd->reads[i].index};
    serve_reads(nd);
}

static void snap_encode(const node_t *nd, uint8_t out[SNAP_LEN])
{
    memcpy(out, &nd->hash, 8);
    memcpy(out + 8, nd->regs, 8 * KEYS);
}

static void snap_restore(node_t *nd, const pd_raft_snapshot_t *s)
{
    PD_SIM_ASSERT(nd->w->sim, s->len == SNAP_LEN);
    memcpy(&nd->hash, s->data, 8);
    memcpy(nd->regs, s->data + 8, 8 * KEYS);
    nd->applied = s->meta.index;
}

static void install_snapshot(node_t *nd, const pd_raft_snapshot_t *s)
{
    PD_SIM_ASSERT(nd->w->sim, s->meta.index >= nd->applied);
    snap_restore(nd, s);
    nd->w->snap_installs++;
    PD_SIM_ASSERT(nd->w->sim, nd->w->state_hash[nd->applied] == 0 ||
                                  nd->w->state_hash[nd->applied] == nd->hash);
}

/* ---- the node shell ------------------------------------------------------------------------ */

static void send_msg(node_t *nd, const pd_raft_msg_t *m)
{
    uint8_t *buf;
    size_t len;
    check_durable_ack(nd, m);
    PD_SIM_ASSERT(nd->w->sim, pd_raft_wire_encode(m, &buf, &len) == 0);
    uint32_t to = slot_of(m->to);
    if (to < nd->w->slots)
        pd_sim_send(nd->w->sim, nd->slot, to, buf, len);
    pd_free(buf);
}

static void maybe_compact(node_t *nd)
{
    const pd_raft_snapshot_t *s = pd_raft_snapshot(nd->r);
    if (nd->applied < s->meta.index + 40)
        return;
    uint8_t data[SNAP_LEN];
    snap_encode(nd, data);
    if (pd_raft_compact(nd->r, nd->applied, data, sizeof data, 10) != 0)
        return;
    s = pd_raft_snapshot(nd->r);
    pd_sim_disk_t *disk = pd_sim_node_disk(nd->w->sim, nd->slot);
    snapdir_put(&nd->w->snaps[nd->slot], s);
    marker_t m = {s->meta.index, s->meta.term, 0};
    wal_write(disk, enc_marker, &m, &nd->seal);
    pd_sim_disk_sync(disk);
}

static void torn_crash_cb(pd_sim_t *sim, void *arg)
{
    tear_t *t = arg;
    if (pd_sim_node_up(sim, t->slot) && pd_sim_node_boots(sim, t->slot) == t->boots)
        pd_sim_node_crash(sim, t->slot);
}

/* Power lost mid-batch: the batch's writes are on the disk unsynced; maybe a junk tail after them.
 * Nothing of this batch is sent or applied; the node is dead until the scheduled crash. */
static void torn_stop(node_t *nd, pd_sim_disk_t *disk)
{
    world_t *w = nd->w;
    pd_rng_t *rng = pd_sim_rng(w->sim);
    uint8_t junk[48] = {0};
    size_t n = (size_t)pd_rng_range(rng, 1, sizeof junk);
    switch (pd_rng_below(rng, 3)) {
    case 0:
        pd_rng_fill(rng, junk, n);
        /* fallthrough */
    case 1:
        PD_ASSERT(pd_sim_disk_append(disk, junk, n) == 0);
        break;
    default:
        break;
    }
    nd->dead = true;
    w->torn_crashes++;
    w->tear[nd->slot] = (tear_t){w, nd->slot, pd_sim_node_boots(w->sim, nd->slot)};
    PD_ASSERT(pd_sim_schedule(w->sim, pd_sim_now(w->sim), torn_crash_cb, &w->tear[nd->slot]) == 0);
}

/* persist (write, fsync), then send, then apply, then advance */
static void flush(node_t *nd)
{
    if (nd->dead)
        return;
    pd_sim_disk_t *disk = pd_sim_node_disk(nd->w->sim, nd->slot);
    while (pd_raft_has_ready(nd->r)) {
        pd_raft_ready_t rd;
        pd_raft_ready(nd->r, &rd);
        size_t unsynced = pd_sim_disk_unsynced_ops(disk);
        wal_write_ready(nd, disk, &rd);
        if (nd->tear_next && pd_sim_disk_unsynced_ops(disk) > unsynced) {
            torn_stop(nd, disk);
            return;
        }
        wal_synced(nd, disk, &rd);
        if (rd.snapshot)
            install_snapshot(nd, rd.snapshot);
        for (size_t i = 0; i < rd.n_msgs; i++)
            send_msg(nd, &rd.msgs[i]);
        for (size_t i = 0; i < rd.n_committed; i++)
            apply_entry(nd, &rd.committed[i]);
        queue_reads(nd, &rd);
        pd_raft_advance(nd->r);
        serve_reads(nd);
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
    world_t *w = ctx;
    node_t *nd = pd_calloc(1, sizeof *nd);
    if (!nd)
        return -ENOMEM;
    nd->w = w;
    nd->slot = slot;
    nd->id = id_of(w, slot);
    pd_rng_seed(&nd->rng, seed);
    memcpy(nd->seal.key, sim_key, sizeof sim_key); /* pd_sealer_init, with the prefix from the seed */
    pd_rng_fill(&nd->rng, nd->seal.prefix, sizeof nd->seal.prefix);
    replay_t rp = {.sim = sim};
    wal_recover(w, disk, &rp);
    const pd_raft_snapshot_t *snap = NULL;
    if (rp.has_snap) { /* the marker's file; newer ones lost their marker: orphans */
        snapdir_t *sd = &w->snaps[slot];
        snap = snapdir_find(sd, rp.snap_index);
        PD_SIM_ASSERT(sim, snap != NULL);
        pd_raft_snapshot_t keep = *snap;
        for (int i = 0; i < SNAPS_KEEP; i++) {
            if (sd->snap[i].data != keep.data)
                pd_free(sd->snap[i].data);
        }
        memset(sd, 0, sizeof *sd);
        sd->snap[0] = keep;
        snap = &sd->snap[0];
    }
    bool fresh = !rp.has_hs && rp.n == 0 && !rp.has_snap;
    uint64_t peers[N_MAX];
    pd_raft_config_t c;
    pd_raft_config_default(&c, nd->id, &nd->rng);
    c.max_msg_bytes = 256;
    c.max_inflight = 8;
    c.auto_promote = w->auto_promote;
    c.max_committed_bytes = w->apply_batch_bytes; /* small: reads wait for apply to catch up */
    if (fresh && w->gen[slot] == 0 && slot < w->n) { /* nothing durable yet: bootstrap (again) */
        for (uint32_t i = 0; i < w->n; i++)
            peers[i] = i + 1;
        c.peers = peers;
        c.n_peers = w->n;
    } else if (!fresh) {
        c.hs = rp.has_hs ? &rp.hs : NULL;
        c.snapshot = snap;
        c.entries = rp.ents;
        c.n_entries = rp.n;
        if (snap)
            snap_restore(nd, snap);
    }
    w->durable_last[slot] = rp.n ? rp.ents[rp.n - 1].index : snap ? snap->meta.index : 0;
    w->durable_hs[slot] = rp.has_hs ? rp.hs : (pd_raft_hard_state_t){0};
    /* recovery invariant: the durable commit is covered by the durable log */
    PD_SIM_ASSERT(sim, !rp.has_hs || rp.hs.commit <= w->durable_last[slot]);
    int rc = pd_raft_new(&c, &nd->r);
    PD_SIM_ASSERT(sim, rc != -PD_ECORRUPT);
    replay_drop_from(&rp, 0);
    pd_free(rp.ents);
    if (rc) {
        pd_free(nd);
        return rc;
    }
    if (fresh)
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
    if (nd->dead || pd_raft_wire_decode(data, len, &m) != 0)
        return;
    if (m.msg.to == nd->id) /* not for an earlier node of this slot */
        pd_raft_step(nd->r, &m.msg);
    pd_raft_wire_msg_free(&m);
    flush(nd);
}

static void node_on_timer(void *st, uint64_t now_ms)
{
    node_t *nd = st;
    while (nd->next_tick_ms <= now_ms) {
        if (!nd->dead)
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

/* ---- client workload ----------------------------------------------------------------------- */

static node_t *current_leader(world_t *w)
{
    node_t *best = NULL;
    for (uint32_t i = 0; i < w->slots; i++) {
        node_t *nd = w->nodes[i];
        if (nd && !nd->dead && pd_raft_role(nd->r) == PD_RAFT_LEADER &&
            (!best || pd_raft_term(nd->r) > pd_raft_term(best->r)))
            best = nd;
    }
    return best;
}

/* Any node that believes it leads, deposed ones included: clients cannot tell. */
static node_t *some_leader(world_t *w, pd_rng_t *rng)
{
    node_t *cand[SLOTS_MAX];
    uint32_t k = 0;
    for (uint32_t i = 0; i < w->slots; i++) {
        node_t *nd = w->nodes[i];
        if (nd && !nd->dead && pd_raft_role(nd->r) == PD_RAFT_LEADER)
            cand[k++] = nd;
    }
    return k ? cand[pd_rng_below(rng, k)] : NULL;
}

static void client_done(world_t *w, size_t c, bool ok, uint64_t value)
{
    client_t *cl = &w->clients[c];
    pd_linz_op_t *op = &w->hist[cl->op];
    op->status = ok ? PD_LINZ_OK : PD_LINZ_UNKNOWN;
    op->ret_ms = pd_sim_now(w->sim);
    if (ok && op->kind == PD_LINZ_READ)
        op->value = value;
    w->ops_ok += ok;
    w->ops_unknown += !ok;
    cl->busy = false;
}

static void client_start(world_t *w, size_t c, pd_rng_t *rng)
{
    node_t *l = some_leader(w, rng);
    if (!l || w->n_hist >= OPS_MAX)
        return;
    pd_linz_op_t *op = &w->hist[w->n_hist];
    *op = (pd_linz_op_t){.key = (uint32_t)pd_rng_below(rng, KEYS), .call_ms = pd_sim_now(w->sim),
                         .status = PD_LINZ_UNKNOWN};
    int rc;
    if (pd_rng_below(rng, 2)) {
        op->kind = PD_LINZ_WRITE;
        op->value = ++w->next_val;
        uint64_t d[2] = {op->key, op->value};
        rc = pd_raft_propose(l->r, d, sizeof d, NULL);
    } else {
        op->kind = PD_LINZ_READ;
        rc = pd_raft_read_index(l->r, (uint64_t)c << 32 | w->n_hist);
    }
    if (rc) /* refused up front: no effect, not part of the history */
        return;
    w->clients[c] = (client_t){.busy = true, .op = w->n_hist++, .slot = l->slot,
                               .deadline_ms = pd_sim_now(w->sim) + OP_TIMEOUT_MS};
    flush(l);
}

static void clients_step(world_t *w, pd_rng_t *rng)
{
    for (size_t c = 0; c < CLIENTS; c++) {
        client_t *cl = &w->clients[c];
        if (cl->busy && pd_sim_now(w->sim) >= cl->deadline_ms)
            client_done(w, c, false, 0); /* timed out: outcome unknown */
        else if (!cl->busy)
            client_start(w, c, rng);
    }
}

static void check_history(world_t *w)
{
    for (size_t c = 0; c < CLIENTS; c++) {
        if (w->clients[c].busy)
            client_done(w, c, false, 0);
    }
    pd_linz_result_t res;
    PD_SIM_ASSERT(w->sim, pd_linz_check(w->hist, w->n_hist, 0, &res) == 0);
    if (res.verdict == PD_LINZ_VIOLATION)
        fprintf(stderr, "raft sim: history of key %u is not linearizable (%zu ops)\n", res.bad_key,
                res.ops);
    PD_SIM_ASSERT(w->sim, res.verdict != PD_LINZ_VIOLATION);
    w->linz_inconclusive += res.verdict == PD_LINZ_INCONCLUSIVE;
}

static void filler_write(world_t *w, uint64_t val)
{
    node_t *l = current_leader(w);
    if (l && pd_raft_propose(l->r, &val, sizeof val, NULL) == 0)
        flush(l);
}

/* Pairwise log matching: if two logs agree on the term at index i, they agree on every index
 * up to i (where both still hold entries). */
static void check_log_matching(world_t *w)
{
    for (uint32_t a = 0; a < w->slots; a++) {
        for (uint32_t b = a + 1; b < w->slots; b++) {
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

/* ---- membership ---------------------------------------------------------------------------- */

static bool conf_has(const pd_raft_conf_t *c, uint64_t id)
{
    return pd_raft_conf_has_voter(c, id) || pd_raft_conf_has_learner(c, id);
}

/* A fresh node (new id, wiped disk) on a free slot, then proposed as a learner. */
static void add_node(world_t *w, node_t *l)
{
    const pd_raft_conf_t *conf = pd_raft_conf(l->r);
    for (uint32_t s = 0; s < w->slots; s++) { /* one started earlier whose add did not stick */
        if (w->active[s] && !w->stop_id[s] && !conf_has(conf, id_of(w, s))) {
            (void)pd_raft_propose_conf(l->r, PD_RAFT_CC_ADD_LEARNER, id_of(w, s));
            return;
        }
    }
    for (uint32_t s = 0; s < w->slots; s++) {
        if (w->active[s] || w->nodes[s])
            continue;
        w->gen[s]++;
        pd_sim_disk_wipe(pd_sim_node_disk(w->sim, s));
        snapdir_clear(&w->snaps[s]);
        w->active[s] = true;
        if (pd_sim_node_start(w->sim, s) == 0)
            (void)pd_raft_propose_conf(l->r, PD_RAFT_CC_ADD_LEARNER, id_of(w, s));
        return;
    }
}

static void membership_change(world_t *w, pd_rng_t *rng)
{
    node_t *l = current_leader(w);
    if (!l)
        return;
    const pd_raft_conf_t *conf = pd_raft_conf(l->r);
    if (conf->n_learners && !w->auto_promote) /* -PD_ESTATE until it has caught up */
        (void)pd_raft_propose_conf(l->r, PD_RAFT_CC_PROMOTE, conf->learners[0]);
    else if (pd_rng_below(rng, 2) && conf->n_voters > MIN_VOTERS) {
        uint64_t victim = pd_rng_below(rng, 3) == 0 ? l->id
                                                    : conf->voters[pd_rng_below(rng, conf->n_voters)];
        if (pd_raft_propose_conf(l->r, PD_RAFT_CC_REMOVE, victim) == 0)
            w->removed_self += victim == l->id;
    } else {
        add_node(w, l);
    }
    flush(l);
}

/* Stop each node whose removal some node has applied (it is committed). */
static void stop_removed(world_t *w)
{
    for (uint32_t s = 0; s < w->slots; s++) {
        if (!w->stop_id[s])
            continue;
        if (w->stop_id[s] == id_of(w, s)) {
            if (pd_sim_node_up(w->sim, s))
                pd_sim_node_crash(w->sim, s);
            w->active[s] = false;
        }
        w->stop_id[s] = 0;
    }
}

/* ---- faults -------------------------------------------------------------------------------- */

/* A crash closes the node's connections and its peers' transports tell their cores at once (the
 * daemon's early campaign, pd_raft_leader_lost); a reset with the node alive is a false alarm. */
static void tell_lost(world_t *w, uint32_t slot)
{
    uint64_t id = id_of(w, slot);
    for (uint32_t i = 0; i < w->slots; i++) {
        node_t *o = w->nodes[i];
        if (i != slot && o && o->r && !o->dead && pd_sim_node_up(w->sim, i) && pd_raft_leader_lost(o->r, id))
            flush(o);
    }
}

static void random_fault(world_t *w, pd_rng_t *rng)
{
    pd_sim_t *sim = w->sim;
    uint32_t node = (uint32_t)pd_rng_below(rng, w->slots);
    switch (pd_rng_below(rng, 10)) {
    case 0:
    case 1:
        if (pd_sim_node_up(sim, node)) {
            pd_sim_node_crash(sim, node);
            tell_lost(w, node);
        } else if (w->active[node])
            pd_sim_node_restart(sim, node);
        break;
    case 2: {
        uint32_t k = (uint32_t)pd_rng_range(rng, 1, w->slots / 2), set[SLOTS_MAX];
        for (uint32_t i = 0; i < k; i++)
            set[i] = (uint32_t)pd_rng_below(rng, w->slots);
        pd_sim_partition(sim, set, k);
        break;
    }
    case 3:
        pd_sim_partition_oneway(sim, &node, 1);
        break;
    case 4:
        pd_sim_heal(sim);
        if (pd_sim_node_up(sim, node))
            tell_lost(w, node); /* false alarm */
        break;
    case 5: {
        node_t *l = current_leader(w);
        if (l) {
            const pd_raft_conf_t *c = pd_raft_conf(l->r);
            if (c->n_voters)
                (void)pd_raft_transfer_leader(l->r, c->voters[pd_rng_below(rng, c->n_voters)]);
            flush(l);
        }
        break;
    }
    case 6: /* the node's next write batch is torn by a crash */
        if (w->nodes[node])
            w->nodes[node]->tear_next = true;
        break;
    case 7:
        membership_change(w, rng);
        break;
    default:
        for (uint32_t i = 0; i < w->slots; i++) {
            if (w->active[i] && !pd_sim_node_up(sim, i))
                pd_sim_node_restart(sim, i);
        }
        break;
    }
}

/* ---- liveness ------------------------------------------------------------------------------ */

/* A leader, and every member of its configuration has applied the marker write. */
static bool converged(pd_sim_t *sim, void *ctx)
{
    (void)sim;
    world_t *w = ctx;
    node_t *l = current_leader(w);
    if (!w->marker_index || !l)
        return false;
    const pd_raft_conf_t *c = pd_raft_conf(l->r);
    for (uint32_t i = 0; i < c->n_voters + c->n_learners; i++) {
        uint64_t id = i < c->n_voters ? c->voters[i] : c->learners[i - c->n_voters];
        node_t *nd = w->nodes[slot_of(id)];
        if (!nd || nd->id != id || nd->applied < w->marker_index)
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
    pd_sim_run_until(sim, pd_sim_now(sim)); /* let scheduled torn crashes happen */
    for (uint32_t i = 0; i < w->slots; i++) {
        if (w->nodes[i])
            w->nodes[i]->tear_next = false;
        if (w->active[i] && !pd_sim_node_up(sim, i))
            pd_sim_node_restart(sim, i);
    }
    w->marker_val = 0xfeedull << 32 | w->next_val;
    uint64_t deadline = pd_sim_now(sim) + LIVENESS_MS;
    while (!converged(sim, w) && pd_sim_now(sim) < deadline) {
        filler_write(w, w->marker_val); /* retried until it sticks; duplicates are fine */
        pd_sim_run_until_pred(sim, pd_sim_now(sim) + 200, converged, w);
        stop_removed(w);
    }
    if (!converged(sim, w))
        fprintf(stderr, "raft sim: no leader/commit within %d ms after healing\n", LIVENESS_MS);
    PD_SIM_ASSERT(sim, converged(sim, w));
}

/* ---- one seed ------------------------------------------------------------------------------ */

typedef struct {
    uint64_t seeds, ops_ok, ops_unknown, inconclusive, torn, torn_bytes, conf, removed_self;
} totals_t;

/* Workload and random faults until end_ms (virtual), the first fault at first_fault_ms. */
static void faults_until(world_t *w, pd_rng_t *rng, uint64_t end_ms, uint64_t first_fault_ms)
{
    uint64_t next_fault = first_fault_ms;
    while (pd_sim_now(w->sim) < end_ms) {
        pd_sim_run_until(w->sim, pd_sim_now(w->sim) + 20);
        stop_removed(w);
        check_log_matching(w);
        filler_write(w, ++w->next_val);
        clients_step(w, rng);
        if (pd_sim_now(w->sim) >= next_fault) {
            random_fault(w, rng);
            next_fault += pd_rng_range(rng, 50, 400);
        }
    }
}

static void fault_phase(world_t *w, pd_rng_t *rng) { faults_until(w, rng, FAULT_MS, 300); }

/* Does nd's log hold every entry committed so far? */
static bool holds_committed(const world_t *w, const node_t *nd)
{
    if (pd_raft_last_index(nd->r) < w->max_commit)
        return false;
    for (uint64_t i = pd_raft_first_index(nd->r); i <= w->max_commit; i++)
        if (w->commit_term[i] && pd_raft_term_at(nd->r, i) != w->commit_term[i])
            return false;
    return true;
}

static bool forced(const world_t *w, uint32_t slot)
{
    const node_t *nd = w->nodes[slot];
    const pd_raft_conf_t *c = nd && !nd->dead ? pd_raft_conf(nd->r) : NULL;
    return c && c->n_voters == 1 && c->voters[0] == nd->id;
}

/* The quorum is lost for good: all but one voter crash and stay down; the survivor forces a new
 * cluster from its log, then the cluster lives on (faults, workload, new members). */
static void force_phase(world_t *w, pd_rng_t *rng)
{
    pd_sim_t *sim = w->sim;
    node_t *l = current_leader(w);
    PD_SIM_ASSERT(sim, l != NULL);
    const pd_raft_conf_t *c = pd_raft_conf(l->r);
    uint32_t cand[SLOTS_MAX], k = 0;
    for (uint32_t i = 0; i < c->n_voters; i++) {
        node_t *nd = w->nodes[slot_of(c->voters[i])];
        if (nd && nd->id == c->voters[i] && !nd->dead && holds_committed(w, nd))
            cand[k++] = nd->slot;
    }
    PD_SIM_ASSERT(sim, k > 0);
    uint32_t keep = cand[pd_rng_below(rng, k)];
    for (uint32_t s = 0; s < w->slots; s++) {
        if (s == keep)
            continue;
        w->active[s] = false;
        if (pd_sim_node_up(sim, s)) {
            pd_sim_node_crash(sim, s);
            tell_lost(w, s);
        }
    }
    pd_sim_run_until(sim, pd_sim_now(sim) + 300); /* no quorum: nothing commits */
    for (int attempt = 0; !forced(w, keep); attempt++) {
        PD_SIM_ASSERT(sim, attempt < 4);
        node_t *nd = w->nodes[keep];
        if (nd && !nd->dead) {
            nd->tear_next = attempt == 0 && pd_rng_below(rng, 2);
            PD_SIM_ASSERT(sim, pd_raft_force_new_cluster(nd->r, NULL, NULL) == 0);
            flush(nd);
        }
        pd_sim_run_until(sim, pd_sim_now(sim) + 50); /* a torn write's crash happens */
        if (!pd_sim_node_up(sim, keep))
            pd_sim_node_restart(sim, keep);
        pd_sim_run_until(sim, pd_sim_now(sim) + 50);
        w->force_retries += attempt > 0;
    }
    w->forces++;
    faults_until(w, rng, pd_sim_now(sim) + FORCE_MS, pd_sim_now(sim) + 100);
}

static void world_free(world_t *w)
{
    pd_sim_destroy(w->sim);
    for (uint32_t i = 0; i < w->slots; i++)
        snapdir_clear(&w->snaps[i]);
    test_free(w->leader_of_term);
    test_free(w->commit_term);
    test_free(w->state_hash);
    test_free(w->hist);
    test_free(w);
}

static void run_seed(uint32_t n, uint64_t seed, bool force, totals_t *t)
{
    world_t *w = test_calloc(1, sizeof *w);
    w->n = n;
    w->slots = n + 1;
    w->leader_of_term = test_calloc(IDX_MAX, sizeof(uint64_t));
    w->commit_term = test_calloc(IDX_MAX, sizeof(uint64_t));
    w->state_hash = test_calloc(IDX_MAX, sizeof(uint64_t));
    w->hist = test_calloc(OPS_MAX, sizeof *w->hist);
    pd_sim_opts_t o = pd_sim_opts_default(&ops, w->slots, seed);
    o.ctx = w;
    assert_int_equal(pd_sim_new(&o, &w->sim), 0);
    pd_rng_t *rng = pd_sim_rng(w->sim);
    w->auto_promote = pd_rng_below(rng, 2);
    w->apply_batch_bytes = pd_rng_below(rng, 2) ? 48 : 1u << 20;
    for (uint32_t i = 0; i < n; i++) {
        w->active[i] = true;
        assert_int_equal(pd_sim_node_start(w->sim, i), 0);
    }
    pd_sim_net_opts_t net = pd_sim_net_opts_default();
    net.loss_p = pd_rng_unit(rng) * 0.1;
    net.dup_p = pd_rng_unit(rng) * 0.05;
    net.jitter_p = 0.1;
    net.jitter_max_ms = 40;
    pd_sim_net_set(w->sim, &net);
    fault_phase(w, rng);
    if (force) {
        liveness(w);
        force_phase(w, rng);
    }
    check_history(w);
    liveness(w);
    check_log_matching(w);
    if (getenv("PD_RAFT_SIM_VERBOSE"))
        fprintf(stderr,
                "seed=%llu n=%u leaders=%llu commits=%llu snap_installs=%llu crashes=%llu torn=%llu "
                "conf=%llu ops=%llu/%llu forces=%llu (retried %llu)\n",
                (unsigned long long)seed, n, (unsigned long long)w->leaders,
                (unsigned long long)w->max_commit, (unsigned long long)w->snap_installs,
                (unsigned long long)pd_sim_stats(w->sim)->crashes,
                (unsigned long long)w->torn_crashes, (unsigned long long)w->conf_applied,
                (unsigned long long)w->ops_ok, (unsigned long long)w->n_hist, (unsigned long long)w->forces,
                (unsigned long long)w->force_retries);
    *t = (totals_t){t->seeds + 1, t->ops_ok + w->ops_ok, t->ops_unknown + w->ops_unknown,
                    t->inconclusive + w->linz_inconclusive, t->torn + w->torn_crashes,
                    t->torn_bytes + w->torn_bytes, t->conf + w->conf_applied,
                    t->removed_self + w->removed_self};
    world_free(w);
}

static void report(const char *what, const totals_t *t)
{
    fprintf(stderr,
            "raft sim %s: %llu seeds, ops ok=%llu unknown=%llu, linearizability inconclusive=%llu, "
            "torn crashes=%llu (%llu bytes cut), conf changes applied=%llu (leader self-removals "
            "proposed=%llu)\n",
            what, (unsigned long long)t->seeds, (unsigned long long)t->ops_ok,
            (unsigned long long)t->ops_unknown, (unsigned long long)t->inconclusive,
            (unsigned long long)t->torn, (unsigned long long)t->torn_bytes,
            (unsigned long long)t->conf, (unsigned long long)t->removed_self);
}

static void test_raft_sim_3(void **state)
{
    (void)state;
    totals_t t = {0};
    PD_SIM_FOR_EACH_SEED(it, 1, 50) {
        run_seed(3, it.seed, false, &t);
    }
    report("n=3", &t);
}

static void test_raft_sim_5(void **state)
{
    (void)state;
    totals_t t = {0};
    PD_SIM_FOR_EACH_SEED(it, 1001, 25) {
        run_seed(5, it.seed, false, &t);
    }
    report("n=5", &t);
}

static void test_raft_sim_force(void **state)
{
    (void)state;
    totals_t t = {0};
    PD_SIM_FOR_EACH_SEED(it, 5001, 20) {
        run_seed(it.seed % 2 ? 3 : 5, it.seed, true, &t);
    }
    report("force (n=3 and 5)", &t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_raft_sim_3, pd_sim_cmocka_teardown),
        cmocka_unit_test_teardown(test_raft_sim_5, pd_sim_cmocka_teardown),
        cmocka_unit_test_teardown(test_raft_sim_force, pd_sim_cmocka_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
