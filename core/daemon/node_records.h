/* Nodes in the daemon: the shell around node_plan (every PD_NODE_TICK_MS).
 *   - On the leader: a round of the reconciler, its CREATEs proposed through Raft, its role
 *     publications written to gossip, its membership changes made on Raft.
 *   - On every node: follow our own published role. "manager" on a node that runs no Raft starts
 *     it (empty: it joins when the leader replicates to it) and the VIP loop, and advertises the
 *     manager role; "worker" on a node that runs Raft (published only once it is out of the
 *     configuration) stops both, deletes the Raft state (so a restart is a worker) and advertises
 *     the worker role. Gossip, DNS and endpoints keep running throughout. */
#ifndef PD_NODE_RECORDS_H
#define PD_NODE_RECORDS_H

#include "daemon.h"
#include "node_plan.h"
#include "raft_node.h"
#include "store_node.h"

#define PD_NODE_TICK_MS 500u

int pd_node_records_start(pd_daemon_t *d, char *err, size_t errlen);
void pd_node_records_stop(pd_daemon_t *d);
void pd_node_records_free(pd_daemon_t *d);

/* Ensure a node record exists (swarm join calls this when a node joins by token; the leader's
 * reconciler calls it for members gossip reports). Returns:
 *   0            a record exists already (nothing written; done is not called)
 *   PD_CTL_LATER a CREATE was proposed: done gets rc 0, or -PD_EEXISTS if it raced another create
 *   -PD_ESTATE   the node was removed (its record is a tombstone: it may not come back), or this
 *                node runs no manager; -PD_EUSAGE bad id or hostname; other pd_raft_node_write errors.
 * The local store is read without a Raft read barrier: a record created moments ago elsewhere may
 * be missed, and then done sees -PD_EEXISTS. */
int pd_node_ensure(pd_daemon_t *d, const pd_ctl_token_t *tok, const char *node_id, const char *hostname,
                   pd_node_role_t role, pd_rn_done_fn done, const void *arg, size_t arg_len, char *err,
                   size_t errlen);

/* Set a node's desired role (promote: PD_NODE_MANAGER, demote: PD_NODE_WORKER); the leader's
 * reconciler then changes the Raft membership and the node starts or stops Raft. Reads the local
 * store (call it after a read barrier, or accept -PD_ECONFLICT when the record changed meanwhile).
 * Returns PD_CTL_LATER (done gets rc 0 or a store error), or now: -PD_ENOTFOUND (no record),
 * -PD_EEXISTS (already that role), -PD_ESTATE (removed node; the last manager demoted), or a
 * pd_raft_node_write error. */
int pd_node_set_role(pd_daemon_t *d, const pd_ctl_token_t *tok, const char *node_id, pd_node_role_t role,
                     pd_rn_done_fn done, const void *arg, size_t arg_len, char *err, size_t errlen);

/* Managers among the records (desired role manager, not removed). */
unsigned pd_node_managers(const pd_store_t *s);

/* Is node_id removed from the cluster (a tombstone record in this manager's store)? */
bool pd_node_is_removed(const pd_daemon_t *d, const char *node_id);

/* Encode a txn that writes one record (create when version is 0, else an update of that version).
 * *entry from pd_malloc. 0 or an encoding error. */
int pd_node_records_txn(const char *node_id, const pd_node_rec_t *r, uint64_t version, uint8_t **entry,
                        size_t *len);

#endif
