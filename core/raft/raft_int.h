/* Internals shared by the raft_*.c files. Not part of the public API. */
#ifndef PD_RAFT_INT_H
#define PD_RAFT_INT_H

#include <stdbool.h>

#include "raft.h"

#define PD_RAFT_READS_MAX 4096u       /* pending + ready ReadIndex requests */
#define PD_RAFT_SNAP_BYTES_MAX (256u << 20)

/* ---- log (raft_log.c) ----------------------------------------------------------------------
 * Entries (prev_index, prev_index + n]; ents[0] has index prev_index + 1. prev_index/prev_term
 * name the entry just before (the snapshot point, or 0/0). stable: last index the caller made
 * durable. applied: last index the caller applied (advance). */
typedef struct {
    pd_raft_entry_t *ents;
    size_t n, cap;
    uint64_t prev_index, prev_term;
    uint64_t stable, committed, applied;
    pd_raft_snapshot_t snap; /* latest snapshot (own or installed), data owned */
    bool snap_unstable;      /* installed from the leader, not yet handed out in a ready */
} raft_log_t;

void rlog_init(raft_log_t *l);
void rlog_free(raft_log_t *l);
uint64_t rlog_last_index(const raft_log_t *l);
uint64_t rlog_last_term(const raft_log_t *l);
/* 0 and *term_out, or -1 if index is compacted or past the end. */
int rlog_term(const raft_log_t *l, uint64_t index, uint64_t *term_out);
bool rlog_match(const raft_log_t *l, uint64_t index, uint64_t term);
bool rlog_up_to_date(const raft_log_t *l, uint64_t last_index, uint64_t last_term);
/* Copy entries in, replacing everything from ents[0].index on. 0 or -ENOMEM. */
int rlog_append(raft_log_t *l, const pd_raft_entry_t *ents, size_t n);
/* Follower append: 1 accepted (*last_new set), 0 rejected, -ENOMEM. */
int rlog_maybe_append(raft_log_t *l, uint64_t prev_index, uint64_t prev_term, uint64_t commit,
                      const pd_raft_entry_t *ents, size_t n, uint64_t *last_new);
uint64_t rlog_find_conflict_by_term(const raft_log_t *l, uint64_t index, uint64_t term);
void rlog_commit_to(raft_log_t *l, uint64_t commit);
/* Entries from lo on, at most max_n and max_bytes (at least one if any). */
const pd_raft_entry_t *rlog_slice(const raft_log_t *l, uint64_t lo, uint64_t hi, size_t max_n,
                                  uint64_t max_bytes, size_t *n_out);
/* Replace the log with a snapshot (data taken over). Keeps entries after it if they match. */
void rlog_restore(raft_log_t *l, pd_raft_snapshot_t *snap);
/* Set our own snapshot (data taken over) and drop entries up to snap index - keep. */
void rlog_compact(raft_log_t *l, pd_raft_snapshot_t *snap, uint64_t keep);

/* ---- progress (raft_progress.c) ------------------------------------------------------------ */
typedef enum { PR_PROBE = 0, PR_REPLICATE, PR_SNAPSHOT } raft_pr_state_t;

typedef struct {
    uint64_t id;
    bool learner;
    uint64_t match, next;
    raft_pr_state_t state;
    bool probe_sent;     /* probe: one append in flight, wait */
    bool recent_active;  /* heard from since the last check-quorum round */
    uint64_t read_ack;   /* highest read sequence acknowledged */
    uint64_t stall_match;/* match at the previous stall check */
    uint64_t snap_index; /* snapshot being sent */
    uint64_t snap_acked; /* bytes of it the follower holds */
    uint32_t snap_idle_ticks;
    uint32_t infl_start, infl_count;
    uint64_t infl[PD_RAFT_INFLIGHT_MAX]; /* last index of each append in flight */
} raft_pr_t;

void rpr_reset(raft_pr_t *p, uint64_t id, bool learner, uint64_t last_index);
void rpr_become_probe(raft_pr_t *p);
void rpr_become_replicate(raft_pr_t *p);
void rpr_become_snapshot(raft_pr_t *p, uint64_t snap_index);
bool rpr_maybe_update(raft_pr_t *p, uint64_t n);
bool rpr_maybe_decr_to(raft_pr_t *p, uint64_t rejected, uint64_t match_hint);
bool rpr_paused(const raft_pr_t *p, uint32_t max_inflight);
void rpr_sent(raft_pr_t *p, uint64_t last, size_t n_entries);
void rpr_infl_free_to(raft_pr_t *p, uint64_t index);

/* ---- quorum (raft_quorum.c) ---------------------------------------------------------------- */
typedef enum { VOTE_PENDING = 0, VOTE_WON, VOTE_LOST } raft_vote_result_t;

uint32_t rq_majority(uint32_t n_voters);
/* Largest index that a majority of `vals` have reached (vals is reordered). */
uint64_t rq_committed_index(uint64_t *vals, uint32_t n);
raft_vote_result_t rq_vote_result(uint32_t n_voters, uint32_t granted, uint32_t rejected);

/* ---- node ---------------------------------------------------------------------------------- */
typedef struct {
    uint64_t ctx, index, seq;
} raft_read_t;

typedef void (*raft_step_fn)(pd_raft_t *r, const pd_raft_msg_t *m);
typedef void (*raft_tick_fn)(pd_raft_t *r);

struct pd_raft {
    pd_raft_config_t cfg; /* restart fields cleared after new */
    uint64_t id;
    pd_rng_t *rng;
    const pd_log_t *log;

    pd_raft_role_t role;
    uint64_t term, vote, lead;
    raft_step_fn step;
    raft_tick_fn tick;
    uint32_t election_elapsed, heartbeat_elapsed, rand_timeout;

    raft_log_t rl;
    pd_raft_conf_t conf;
    raft_pr_t *prs; /* PD_RAFT_NODES_MAX slots */
    uint32_t n_prs;

    uint64_t votes_from[PD_RAFT_NODES_MAX];
    bool votes_granted[PD_RAFT_NODES_MAX];
    uint32_t n_votes;

    uint64_t transferee;
    uint64_t pending_conf_index;

    /* members removed by a forced new cluster: their messages are dropped */
    uint64_t fenced[PD_RAFT_NODES_MAX];
    uint32_t n_fenced;

    /* follower: snapshot being received */
    pd_raft_snap_meta_t rsnap_meta;
    uint8_t *rsnap_buf;
    size_t rsnap_len, rsnap_cap;

    /* ReadIndex: waiting for a quorum (pending) and confirmed (done) */
    raft_read_t *reads_pending;
    size_t n_reads_pending;
    pd_raft_read_state_t *reads_done;
    size_t n_reads_done;
    uint64_t read_seq;

    /* outbox */
    pd_raft_msg_t *msgs;
    size_t n_msgs, cap_msgs;

    /* what the current ready handed out */
    bool in_ready;
    pd_raft_hard_state_t prev_hs;
    pd_raft_hard_state_t rd_hs;
    bool rd_has_hs, rd_snap;
    uint64_t rd_stable_to, rd_applied_to;
    size_t rd_n_reads;
};

/* raft.c */
void raft_send(pd_raft_t *r, pd_raft_msg_t *m);
void raft_become_follower(pd_raft_t *r, uint64_t term, uint64_t lead);
void raft_campaign_transfer(pd_raft_t *r);
raft_pr_t *raft_pr_find(pd_raft_t *r, uint64_t id);
bool raft_promotable(const pd_raft_t *r);
uint32_t raft_quorum_size(const pd_raft_t *r);

/* raft_leader.c */
void raft_become_leader(pd_raft_t *r);
void raft_step_leader(pd_raft_t *r, const pd_raft_msg_t *m);
void raft_tick_heartbeat(pd_raft_t *r);
bool raft_send_append(pd_raft_t *r, raft_pr_t *p, bool send_if_empty);
void raft_bcast_append(pd_raft_t *r);
bool raft_maybe_commit(pd_raft_t *r);
void raft_reads_release(pd_raft_t *r);
void raft_prs_sync(pd_raft_t *r);
int raft_append_local(pd_raft_t *r, uint8_t type, const void *data, size_t len, uint64_t *index_out);

void raft_fence(pd_raft_t *r, uint64_t id, bool on);

/* raft_ready.c */
void raft_apply_conf_entry(pd_raft_t *r, const pd_raft_entry_t *e);

#endif
