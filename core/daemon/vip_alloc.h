/* Service VIPs on the managers' leader: every PD_VIP_TICK_MS a round of the reconciler
 * (vip_plan.h) while this node leads Raft; its ALLOC/RELEASE become store entries proposed through
 * Raft (at most PD_VIP_PROPOSALS_PER_TICK a round, one in flight per name), its PUBLISH/UNPUBLISH
 * writes to the gossip table PD_VIP_TABLE (key = service name, value = dotted IPv4) under the
 * cluster pseudo owner, so every node learns the VIPs and keeps them when every manager is down.
 * Followers do nothing here; workers (--worker) do not run it. */
#ifndef PD_VIP_ALLOC_H
#define PD_VIP_ALLOC_H

#include <stddef.h>

#include "daemon.h"
#include "vip_plan.h"

#define PD_VIP_TABLE PD_VIP_PLAN_TABLE
#define PD_VIP_TICK_MS 500u
#define PD_VIP_PROPOSALS_PER_TICK 16u
#define PD_VIP_RETRY_MS 5000u   /* after a refused allocation (range full, no quorum) */

int pd_vip_alloc_start(pd_daemon_t *d, char *err, size_t errlen);
void pd_vip_alloc_stop(pd_daemon_t *d);
void pd_vip_alloc_free(pd_daemon_t *d);

#endif
