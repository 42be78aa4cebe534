/* Sans-IO Raft core, shaped like etcd raft's RawNode: the caller feeds messages (pd_raft_step) and
 * ticks (pd_raft_tick), then drains the outbox (pd_raft_ready) and acknowledges it
 * (pd_raft_advance). The core does no IO, reads no clock and draws randomness only from the rng it
 * is given.
 *
 * Loop contract, every turn:
 *   1. pd_raft_ready(r, &rd). If rd.snapshot: persist it and restore the state machine from it.
 *      Persist rd.hs (when rd.has_hs) and append rd.entries to stable storage (an entry at index i
 *      replaces every stored entry at index >= i). fsync.
 *   2. Send rd.msgs (encode with raft_wire.h). Only after step 1 is durable.
 *   3. Apply rd.committed in order (each index exactly once), then serve rd.reads.
 *   4. pd_raft_advance(r).
 * Everything in rd is borrowed and valid until pd_raft_advance; between ready and advance the
 * caller must not call step, tick, propose or any other mutating function (asserted).
 *
 * Features: pre-vote, check-quorum (with leader lease on votes), randomized election timeout,
 * pipelined appends (bounded in-flight per follower, bounded bytes per message), fast conflict
 * backtracking (hint index + term), snapshots sent in chunks, single-server membership changes
 * with learners (auto-promotion when caught up), leadership transfer (TimeoutNow), ReadIndex. */
#ifndef PD_RAFT_H
#define PD_RAFT_H

#include <stddef.h>
#include <stdint.h>

#include "pd_log.h"
#include "pd_rng.h"

#define PD_RAFT_NONE 0u          /* "no node" id; real node ids are nonzero */
#define PD_RAFT_NODES_MAX 16u    /* voters + learners in one configuration */
#define PD_RAFT_INFLIGHT_MAX 256u /* hard cap for cfg.max_inflight */

typedef enum {
    PD_RAFT_FOLLOWER = 0,
    PD_RAFT_PRECANDIDATE,
    PD_RAFT_CANDIDATE,
    PD_RAFT_LEADER,
} pd_raft_role_t;

typedef enum {
    PD_RAFT_ENTRY_NORMAL = 0, /* application command (data may be empty: the leader's no-op) */
    PD_RAFT_ENTRY_CONF = 1,   /* membership change (pd_raft_cc_* encoding) */
} pd_raft_entry_type_t;

typedef struct {
    uint64_t term, index;
    uint8_t type; /* pd_raft_entry_type_t */
    uint32_t len;
    uint8_t *data; /* owned by whoever holds the entry; borrowed when handed out */
} pd_raft_entry_t;

typedef struct {
    uint64_t voters[PD_RAFT_NODES_MAX];
    uint64_t learners[PD_RAFT_NODES_MAX];
    uint32_t n_voters, n_learners;
} pd_raft_conf_t;

typedef struct {
    uint64_t term, vote, commit;
} pd_raft_hard_state_t;

typedef struct {
    uint64_t index, term; /* last entry the snapshot covers */
    pd_raft_conf_t conf;  /* membership as of index */
} pd_raft_snap_meta_t;

typedef struct {
    pd_raft_snap_meta_t meta;
    uint8_t *data;
    size_t len;
} pd_raft_snapshot_t;

/* Message types (the numbers are the wire values). */
typedef enum {
    PD_RAFT_MSG_APP = 1,       /* append: index/log_term = previous entry, entries, commit */
    PD_RAFT_MSG_APP_RESP,      /* index = last matched (or rejected index), reject + hint */
    PD_RAFT_MSG_VOTE,          /* index/log_term = candidate's last entry; flags: transfer */
    PD_RAFT_MSG_VOTE_RESP,     /* reject */
    PD_RAFT_MSG_PREVOTE,       /* like VOTE, term = candidate's term + 1 (not adopted) */
    PD_RAFT_MSG_PREVOTE_RESP,
    PD_RAFT_MSG_HEARTBEAT,     /* commit, ctx = read sequence */
    PD_RAFT_MSG_HEARTBEAT_RESP,/* ctx echoed */
    PD_RAFT_MSG_SNAP,          /* snapshot chunk: snap meta, offset, data, done */
    PD_RAFT_MSG_SNAP_RESP,     /* offset = bytes received so far of snapshot `index` */
    PD_RAFT_MSG_TIMEOUT_NOW,   /* leadership transfer: campaign now */
    PD_RAFT_MSG_TYPE_MAX = PD_RAFT_MSG_TIMEOUT_NOW,
} pd_raft_msg_type_t;

#define PD_RAFT_FLAG_TRANSFER 1u /* VOTE/PREVOTE caused by leadership transfer: ignore the lease */

typedef struct {
    uint8_t type;
    uint8_t reject;
    uint8_t flags;
    uint64_t from, to, term;
    uint64_t index, log_term;
    uint64_t commit;
    uint64_t reject_hint; /* APP_RESP reject: follower's hint index; log_term = its term */
    uint64_t ctx;         /* HEARTBEAT(_RESP): read-index sequence */
    /* APP */
    const pd_raft_entry_t *entries;
    uint32_t n_entries;
    /* SNAP */
    pd_raft_snap_meta_t snap;
    uint64_t snap_offset;
    uint8_t snap_done;
    const uint8_t *snap_data;
    uint32_t snap_len;
} pd_raft_msg_t;

typedef struct {
    uint64_t ctx;   /* the caller's request id given to pd_raft_read_index */
    uint64_t index; /* serve the read once the state machine has applied this index */
} pd_raft_read_state_t;

typedef struct {
    int has_hs;
    pd_raft_hard_state_t hs;
    const pd_raft_snapshot_t *snapshot; /* non-NULL: install (persist + restore app state) */
    const pd_raft_entry_t *entries;     /* to append to stable storage */
    size_t n_entries;
    const pd_raft_entry_t *committed;   /* to apply, in order */
    size_t n_committed;
    const pd_raft_msg_t *msgs;          /* to send after persisting */
    size_t n_msgs;
    const pd_raft_read_state_t *reads;  /* to serve after applying `committed` */
    size_t n_reads;
    /* soft state, for the caller's information */
    pd_raft_role_t role;
    uint64_t leader;
} pd_raft_ready_t;

typedef struct {
    uint64_t id;                  /* this node, nonzero */
    const uint64_t *peers;        /* bootstrap voters (incl. self) for a new cluster; NULL to join */
    uint32_t n_peers;
    uint32_t election_ticks;      /* base election timeout; randomized in [e, 2e) */
    uint32_t heartbeat_ticks;     /* < election_ticks */
    uint32_t max_inflight;        /* append messages in flight per follower, <= INFLIGHT_MAX */
    uint32_t max_msg_bytes;       /* entry bytes per append / snapshot chunk bytes */
    uint32_t max_msg_entries;     /* entries per append (<= PD_RAFT_WIRE_ENTRIES_MAX) */
    uint64_t max_committed_bytes; /* committed entry bytes per ready (at least one entry) */
    uint64_t promote_lag;         /* learner auto-promoted when match + lag >= leader's last */
    int pre_vote;
    int check_quorum;
    int auto_promote;
    pd_rng_t *rng;                /* borrowed; election jitter */
    const pd_log_t *log;          /* borrowed; may be NULL (discard) */
    /* Restart: what stable storage holds (copied). All optional. */
    const pd_raft_hard_state_t *hs;
    const pd_raft_snapshot_t *snapshot;
    const pd_raft_entry_t *entries; /* contiguous, starting at or before snapshot index + 1 */
    size_t n_entries;
} pd_raft_config_t;

typedef struct pd_raft pd_raft_t;

/* Defaults: election 10, heartbeat 1, inflight 64, 64 KiB per message, 256 entries per message,
 * 1 MiB committed per ready, promote lag 64, pre-vote, check-quorum and auto-promote on. */
void pd_raft_config_default(pd_raft_config_t *cfg, uint64_t id, pd_rng_t *rng);

/* Returns 0, -PD_EUSAGE (bad config), -PD_ECORRUPT (restart state whose hard state commits past
 * the stored log) or -ENOMEM. */
int pd_raft_new(const pd_raft_config_t *cfg, pd_raft_t **out);
void pd_raft_free(pd_raft_t *r);

/* Inputs. step returns 0, or -PD_EMALFORMED for a message that makes no sense (ignored). */
int pd_raft_step(pd_raft_t *r, const pd_raft_msg_t *m);
void pd_raft_tick(pd_raft_t *r);
/* Append a command. -PD_ENOTLEADER, -PD_ESTATE (transfer in progress), -PD_ETOOBIG, -ENOMEM.
 * *index_out (may be NULL) gets the entry's index. */
int pd_raft_propose(pd_raft_t *r, const void *data, size_t len, uint64_t *index_out);
/* Campaign now (tests, or an operator); no-op unless a voter that isn't leader. */
void pd_raft_campaign(pd_raft_t *r);
/* A hint from the caller's transport: the connection to `id` was closed by the far end (its
 * process died or is restarting). If `id` is our leader and we are a follower, forget it now
 * instead of waiting out the election timeout: drop its lease (so we grant other nodes' votes) and
 * campaign after 1 + rank * PD_RAFT_LOST_STAGGER_TICKS ticks, rank = how many other voters (the lost
 * leader aside) have a lower id, so that the followers never campaign in the same tick.
 * Only liveness changes: a live leader's next message restores it, and pre-vote and the other
 * followers' leases keep a false alarm from disrupting it. Returns 1 if it acted, else 0. */
#define PD_RAFT_LOST_STAGGER_TICKS 2u
int pd_raft_leader_lost(pd_raft_t *r, uint64_t id);

/* Membership, one server at a time. -PD_ENOTLEADER, -PD_ESTATE (another change pending or a
 * learner not caught up), -PD_EEXISTS, -PD_ENOTFOUND, -PD_ELIMIT. */
typedef enum {
    PD_RAFT_CC_ADD_LEARNER = 1,
    PD_RAFT_CC_PROMOTE = 2, /* learner -> voter */
    PD_RAFT_CC_REMOVE = 3,
    PD_RAFT_CC_ADD_VOTER = 4, /* straight to voter (bootstrap; or learner -> voter) */
} pd_raft_cc_type_t;
int pd_raft_propose_conf(pd_raft_t *r, pd_raft_cc_type_t type, uint64_t node);
/* Recovery from a lost quorum (etcd's and Swarm's --force-new-cluster): this voter makes itself
 * the only member, keeping its whole log. The configuration becomes {self} at once, the node
 * campaigns in a term PD_RAFT_FORCE_TERM_GAP ahead (the others may have reached terms this node
 * never saw, as candidates or as leaders of entries it lacks: jumping ahead keeps each term's
 * entries unique across the old and the new cluster, so Log Matching holds between them) and,
 * being the only voter, leads; it then appends a FORCE conf entry
 * naming itself and every former member, which commits at once (with every entry before it).
 * Restart safety: that entry is in the log the caller persists with the next ready, and a FORCE
 * entry is committed by construction (a lone voter wrote it), so a restart treats it as committed
 * even if the persisted commit index is older (restore()).
 * The former members are fenced: their messages are dropped (a stale member with a higher term
 * must not unseat the new leader, nor replace committed entries with its old log). The fence is
 * rebuilt from the log on restart and lasts until the FORCE entry is compacted away; a later
 * ADD_LEARNER / ADD_VOTER of a fenced id lifts it. Returns 0 (removed ids written to removed_out,
 * up to PD_RAFT_NODES_MAX, count in *n_removed; both may be NULL), -PD_ESTATE (not a voter, or a
 * snapshot is being installed) or -ENOMEM. */
#define PD_RAFT_FORCE_TERM_GAP 1000u
int pd_raft_force_new_cluster(pd_raft_t *r, uint64_t *removed_out, uint32_t *n_removed);
/* Is `id` fenced by a forced new cluster (its messages dropped)? */
int pd_raft_fenced(const pd_raft_t *r, uint64_t id);
/* Hand leadership to a caught-up voter. -PD_ENOTLEADER, -PD_ENOTFOUND, -PD_ESTATE. */
int pd_raft_transfer_leader(pd_raft_t *r, uint64_t to);
/* Linearizable read: the read state with `ctx` appears in a later ready. -PD_ENOTLEADER. */
int pd_raft_read_index(pd_raft_t *r, uint64_t ctx);

/* Output. */
int pd_raft_has_ready(const pd_raft_t *r);
void pd_raft_ready(pd_raft_t *r, pd_raft_ready_t *rd);
void pd_raft_advance(pd_raft_t *r);

/* The application has applied through `index` (== applied index) and serialized its state into
 * data (copied). The log before index - keep_entries is dropped. -PD_ESTATE, -ENOMEM. */
int pd_raft_compact(pd_raft_t *r, uint64_t index, const void *data, size_t len, uint64_t keep_entries);

/* Introspection. */
pd_raft_role_t pd_raft_role(const pd_raft_t *r);
uint64_t pd_raft_id(const pd_raft_t *r);
uint64_t pd_raft_term(const pd_raft_t *r);
uint64_t pd_raft_leader(const pd_raft_t *r);
uint64_t pd_raft_commit(const pd_raft_t *r);
uint64_t pd_raft_applied(const pd_raft_t *r);
uint64_t pd_raft_last_index(const pd_raft_t *r);
uint64_t pd_raft_first_index(const pd_raft_t *r); /* first entry still in the log */
/* Term of entry `index`, 0 if unknown (compacted or past the end; snapshot index is known). */
uint64_t pd_raft_term_at(const pd_raft_t *r, uint64_t index);
const pd_raft_conf_t *pd_raft_conf(const pd_raft_t *r);
const pd_raft_snapshot_t *pd_raft_snapshot(const pd_raft_t *r);
/* Follower progress as the leader sees it; -PD_ENOTFOUND / -PD_ENOTLEADER. */
int pd_raft_progress_match(const pd_raft_t *r, uint64_t node, uint64_t *match_out);

const char *pd_raft_role_name(pd_raft_role_t role);
const char *pd_raft_msg_type_name(int type);

/* Conf change entries (raft_confchange.c). */
#define PD_RAFT_CC_LEN 9u
void pd_raft_cc_encode(uint8_t out[PD_RAFT_CC_LEN], pd_raft_cc_type_t type, uint64_t node);
int pd_raft_cc_decode(const uint8_t *data, size_t len, pd_raft_cc_type_t *type, uint64_t *node);
/* A FORCE entry (pd_raft_force_new_cluster): type byte PD_RAFT_CC_FORCE, the sole voter, then the
 * fenced former members, all u64 big-endian. Not a pd_raft_cc_type_t: never proposed. */
#define PD_RAFT_CC_FORCE 5u
#define PD_RAFT_CC_FORCE_MAX (PD_RAFT_CC_LEN + 8u * PD_RAFT_NODES_MAX)
size_t pd_raft_force_encode(uint8_t out[PD_RAFT_CC_FORCE_MAX], uint64_t node, const uint64_t *fenced,
                            uint32_t n_fenced);
/* 0, or -PD_EMALFORMED (not a FORCE entry). fenced_out holds PD_RAFT_NODES_MAX ids. */
int pd_raft_force_decode(const uint8_t *data, size_t len, uint64_t *node, uint64_t *fenced_out,
                         uint32_t *n_fenced);
int pd_raft_conf_has_voter(const pd_raft_conf_t *c, uint64_t id);
int pd_raft_conf_has_learner(const pd_raft_conf_t *c, uint64_t id);
/* Apply one change to a configuration; -PD_EEXISTS / -PD_ENOTFOUND / -PD_ELIMIT / -PD_EMALFORMED. */
int pd_raft_conf_apply(pd_raft_conf_t *c, pd_raft_cc_type_t type, uint64_t node);

#endif
