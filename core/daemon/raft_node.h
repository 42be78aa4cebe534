/* The managers' Raft in the daemon: glue between core/raft, the WAL and snapshot files, the
 * replicated store and the Raft transport, driven by one tick timer (loop contract in raft.h:
 * snapshot file → WAL append → one fdatasync → send → apply → advance).
 *
 * Formation: the node that ran `swarm init` (cfg.bootstrap_expect 1) makes itself a one-voter
 * cluster when it has no Raft state. A manager that joined with the manager token, or a promoted
 * worker, starts empty and joins once the leader (which added it as a learner) replicates to it.
 * A node with Raft state on disk recovers it. Managers learn each other's Raft address from gossip
 * (metadata "r" = "manager", "ra"); the transport is always mutual TLS (raft_transport.h).
 *
 * Requests (control operations): writes are store entries proposed on the leader; a follower
 * forwards them over the transport and the leader answers once the entry is applied. Reads are
 * linearizable: ReadIndex on the leader (a follower asks the leader for the read index, then waits
 * until it has applied that far) and then served from the local store. A request that cannot finish
 * within PD_RN_OP_TIMEOUT_MS fails with a message counting the reachable managers: -PD_ENOQUORUM
 * when a quorum is not reachable, else -PD_ETIMEOUT (no leader yet, or a busy leader); when this
 * manager sees no quorum, a request fails with -PD_ENOQUORUM at once (a write already handed to a
 * leader excepted: it may still commit, so it waits for the answer or the deadline). A write
 * forwarded to a leader that is then gone fails at once with -PD_ENOTLEADER ("leader changed");
 * it is never re-sent, since it may have been applied. */
#ifndef PD_RAFT_NODE_H
#define PD_RAFT_NODE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h"
#include "pd_limits.h"
#include "raft.h"
#include "store.h"

#define PD_RN_TICK_MS 100u
#define PD_RN_ELECTION_TICKS 10u
#define PD_RN_HEARTBEAT_TICKS 1u
#define PD_RN_OP_TIMEOUT_MS 1500u /* answered (ENOQUORUM/ETIMEOUT) within 2 s, tick included */
#define PD_RN_FWD_SILENT_MS 300u /* a leader with no connection and silent this long is gone */
#define PD_RN_HEARD_MS 1000u      /* a manager heard from this recently counts as reachable */
#define PD_RN_OPS_MAX 256u        /* requests in flight (local + forwarded to us) */
#define PD_RN_ARG_MAX 320u        /* a request's saved argument bytes */
#define PD_RN_MAX_MSG_BYTES (2u << 20) /* above the store's 1 MiB entry cap */
#define PD_RN_MEMBERS_MAX 64u     /* managers remembered from gossip */
#define PD_RN_RAFT_PORT 2377u

typedef struct pd_raft_node pd_raft_node_t;

/* --- pure helpers (unit-tested) --- */
/* A stable nonzero Raft id: the first 8 bytes (big-endian) of BLAKE2b-256(node id). */
uint64_t pd_raft_node_id_from(const char *node_id);

/* --- daemon side --- */
int pd_raft_node_start(pd_daemon_t *d, char *err, size_t errlen);
void pd_raft_node_stop(pd_daemon_t *d); /* close handles; fail pending requests */
/* Clean shutdown of a leader: transfer leadership to the most caught-up reachable voter first, so
 * the cluster does not wait out an election timeout. Returns 1 when a transfer started: done(d)
 * runs once another node leads or after PD_RN_HANDOFF_MS; 0 when there is nothing to hand over
 * (not the leader, no other voter reachable), and done is not called. */
#define PD_RN_HANDOFF_MS 1500u
typedef void (*pd_rn_handoff_fn)(pd_daemon_t *d);
int pd_raft_node_handoff(pd_daemon_t *d, pd_rn_handoff_fn done);
void pd_raft_node_free(pd_daemon_t *d); /* after the loop ran the close callbacks */

/* Completion of a request: rc is the outcome (0, a store error, -PD_ENOQUORUM ...). On rc 0 pack
 * exactly one reply object into pk and return 0; or return an error (with err). Return
 * PD_CTL_LATER after handing tok to a new request (a read that turns into a write). */
typedef int (*pd_rn_done_fn)(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len,
                             int rc, msgpack_packer *pk, char *err, size_t errlen);

/* Start a write (entry bytes are copied) or a linearizable read; the reply goes to tok through
 * done. Returns PD_CTL_LATER, or an error now (-PD_ELIMIT, -PD_ESTATE, -ENOMEM) with err set. */
int pd_raft_node_write(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *entry, size_t len,
                       pd_rn_done_fn done, const void *arg, size_t arg_len, char *err, size_t errlen);
int pd_raft_node_read(pd_daemon_t *d, const pd_ctl_token_t *tok, pd_rn_done_fn done, const void *arg,
                      size_t arg_len, char *err, size_t errlen);

/* NULL on a worker and on a locked manager. */
const pd_store_t *pd_raft_node_store(const pd_daemon_t *d);
/* Autolock: is this manager waiting for its unlock key (Raft not started, requests refused)? */
#define PD_RN_LOCKED_MSG "this node is locked: run peerctl swarm unlock"
int pd_raft_node_locked(const pd_daemon_t *d);
/* Unwrap the data key with the unlock key (text form) and start Raft. 0, or -PD_EUSAGE /
 * -PD_EAUTH (wrong key: stays locked) / -PD_ESTATE (not locked), with a message in err. */
int pd_raft_node_unlock(pd_daemon_t *d, const char *key, size_t len, char *err, size_t errlen);
pd_rng_t *pd_raft_node_rng(pd_daemon_t *d);
/* The Raft transport while Raft runs, else NULL (certificate renewal reloads its TLS). */
struct pd_rt *pd_raft_node_transport(pd_daemon_t *d);
/* This node's term while it leads, else 0 (not a manager, not formed, a follower). */
uint64_t pd_raft_node_leader_term(const pd_daemon_t *d);
/* "raft.status" */
int pd_raft_node_status(pd_daemon_t *d, msgpack_packer *pk, char *err, size_t errlen);

/* --- membership (node promote/demote) --- */
/* The configuration, or NULL when not formed (or stopped). Borrowed until the next loop turn. */
const pd_raft_conf_t *pd_raft_node_conf(const pd_daemon_t *d);
uint64_t pd_raft_node_self(const pd_daemon_t *d); /* this node's Raft id (0 without a manager) */
/* Propose one membership change on the leader: 0 or pd_raft_propose_conf's errors. */
int pd_raft_node_change_conf(pd_daemon_t *d, pd_raft_cc_type_t type, uint64_t raft_id);
/* The leader hands leadership to its most caught-up reachable voter (before its own removal):
 * 1 when a transfer started, else 0. */
int pd_raft_node_transfer_away(pd_daemon_t *d);
/* A configuration member as this node sees it: 1 voter / 2 learner (with *leader and *reach), or
 * -PD_ENOTFOUND (not in the configuration, or not formed). */
int pd_raft_node_manager_state(pd_daemon_t *d, uint64_t raft_id, int *leader, int *reach);
/* `swarm init --force-new-cluster`: make this manager the only Raft voter, keeping its log
 * (pd_raft_force_new_cluster), when the managers lost their quorum. Refused with -PD_ESTATE and a
 * message when this node runs no manager, is locked, not formed, not a voter, or when it sees a
 * quorum of the managers reachable (forcing then would split a working cluster in two). On success the Raft ids
 * of the former members are in removed (PD_RAFT_NODES_MAX) and this node leads at once. */
int pd_raft_node_force_new_cluster(pd_daemon_t *d, uint64_t *removed, uint32_t *n_removed, char *err,
                                   size_t errlen);
/* 1 while a snapshot file is being written on the thread pool (a stopped node may not be freed). */
int pd_raft_node_busy(const pd_daemon_t *d);

#endif
