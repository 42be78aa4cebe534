/* Node reconciler, sans-IO: what the managers' leader must do about nodes, from the store's node
 * records (store_node.h), the members gossip shows, the Raft configuration and the gossip table of
 * published roles. No clock, no Raft calls, no network: the caller carries out the actions
 * (node_records.c). SwarmKit splits this into the dispatcher's node registration and the
 * roleManager; here it is one pure round:
 *   1. record: a CREATE for each member (alive, valid id) without a record, with the hostname and
 *      the role its metadata advertises (at most one in flight per node, PD_NODE_PLAN_CREATES a
 *      round);
 *   2. publish: the desired role of every record in the gossip table PD_NODE_ROLE_TABLE (key =
 *      node id, value "manager"/"worker"), which is how a node learns it must start or stop Raft.
 *      "manager" is published at once; "worker" only once the node is out of the Raft
 *      configuration (a node never stops Raft while it still counts toward the quorum);
 *   3. membership, one change per round: a desired manager that runs Raft (its metadata says
 *      manager) and is not in the configuration is added as a learner (the Raft core makes it a
 *      voter once its log is within the promote lag of the leader's); a desired worker (or a removed
 *      node) still in the configuration is removed, except the last voter, and when it is the
 *      leader itself, leadership is transferred first. */
#ifndef PD_NODE_PLAN_H
#define PD_NODE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "gossip_table.h"
#include "pd_limits.h"
#include "raft.h"
#include "store.h"
#include "store_node.h"

#define PD_NODE_ROLE_TABLE "node.role"
#define PD_NODE_PLAN_MEMBERS_MAX 1024u
#define PD_NODE_PLAN_CREATES 16u /* record creations proposed per round */
#define PD_NODE_PLAN_ACTS_MAX 256u

typedef struct {
    char node_id[PD_NODE_ID_LEN + 1];
    char hostname[PD_NODE_HOSTNAME_MAX + 1];
    uint8_t role;  /* pd_node_role_t its metadata advertises (what it runs now) */
    uint8_t alive; /* gossip: alive or suspect */
} pd_node_member_t;

typedef enum {
    PD_NODE_ACT_CREATE = 1, /* propose a record: node_id, hostname, role */
    PD_NODE_ACT_PUBLISH,    /* gossip PD_NODE_ROLE_TABLE/node_id = role name */
    PD_NODE_ACT_ADD_LEARNER,/* Raft conf change for raft_id */
    PD_NODE_ACT_REMOVE,     /* Raft conf change for raft_id */
    PD_NODE_ACT_TRANSFER,   /* this leader is to be demoted: hand leadership to another voter */
} pd_node_act_type_t;

typedef struct {
    uint8_t type;
    char node_id[PD_NODE_ID_LEN + 1];
    char hostname[PD_NODE_HOSTNAME_MAX + 1];
    uint8_t role;
    uint64_t raft_id;
} pd_node_act_t;

typedef struct {
    const pd_store_t *store;
    const pd_node_member_t *members;
    size_t n_members;
    const pd_raft_conf_t *conf;
    uint64_t self_raft_id;  /* the leader (this node) */
    uint64_t (*raft_id_of)(const char *node_id); /* a node's Raft id (pd_raft_node_id_from) */
    const pd_gtable_t *gt;  /* published roles */
    const char *const *creating; /* node ids with a CREATE in flight */
    size_t n_creating;
} pd_node_plan_in_t;

/* One round while leading. Fills out[0..cap) and returns the count (the rest waits). */
size_t pd_node_plan_tick(const pd_node_plan_in_t *in, pd_node_act_t *out, size_t cap);

/* The desired role of a record: a removed node is a worker. */
pd_node_role_t pd_node_plan_desired(const pd_node_rec_t *r);

#endif
