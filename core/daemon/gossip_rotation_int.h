/* Shared between the gossip keyring's shell (gossip_rotation_run.c) and its control operations
 * (ctl_gossip_key.c). */
#ifndef PD_GOSSIP_ROTATION_INT_H
#define PD_GOSSIP_ROTATION_INT_H

#include "daemon.h"
#include "gossip_agent.h"
#include "gossip_rotation.h"
#include "raft_node.h"
#include "store.h"

#define PD_GKEY_WAITING_MAX 8

/* The phase machine's view of the live members now (from this node's gossip). */
typedef struct {
    pd_gkr_step_t step; /* step.waiting[] cleared: the names are in waiting[] */
    char waiting[PD_GKEY_WAITING_MAX][PD_SWIM_ID_MAX + 1];
} pd_gkey_survey_t;

/* The record from a store: 0 (and its version), -PD_ENOTFOUND, or a decoding error. */
int pd_gkey_record_get(const pd_store_t *s, pd_gkr_record_t *out, uint64_t *version);
/* Write the record through Raft (create when version is 0, else update that version). */
int pd_gkey_propose(pd_daemon_t *d, const pd_ctl_token_t *tok, const pd_gkr_record_t *r, uint64_t version,
                    pd_rn_done_fn done, const void *arg, size_t arg_len, char *err, size_t errlen);
int pd_gkey_survey(pd_daemon_t *d, const pd_gkr_record_t *r, pd_gkey_survey_t *out);

#endif
