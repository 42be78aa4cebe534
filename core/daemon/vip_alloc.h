/* Service VIPs on the managers' leader: every PD_VIP_TICK_MS, while this node leads Raft,
 *   - a service name with endpoints in the gossip table ("svc/<name>") and no VIP in the store gets
 *     a VIP_ALLOC proposal (at most PD_VIP_PROPOSALS_PER_TICK a tick, one in flight per name);
 *   - a VIP whose service has had no endpoint for --vip-grace seconds gets a VIP_RELEASE (the
 *     grace restarts when leadership moves: a new leader never releases early);
 *   - the store's VIPs are published to the gossip table PD_VIP_TABLE (key = service name, value =
 *     dotted IPv4) under the cluster pseudo owner, so every node learns them and keeps them when
 *     every manager is down; only entries that differ from the visible view are written.
 * Followers and workers do nothing here. */
#ifndef PD_VIP_ALLOC_H
#define PD_VIP_ALLOC_H

#include <stddef.h>

#include "daemon.h"
#include "dns_feed.h"

#define PD_VIP_TABLE PD_DNS_FEED_VIP_TABLE
#define PD_VIP_TICK_MS 500u
#define PD_VIP_PROPOSALS_PER_TICK 16u
#define PD_VIP_INFLIGHT_MAX 64u
#define PD_VIP_RETRY_MS 5000u   /* after a refused allocation (range full, no quorum) */
#define PD_VIP_PUBLISH_MAX 256u /* gossip writes per tick (the rest next tick) */

int pd_vip_alloc_start(pd_daemon_t *d, char *err, size_t errlen);
void pd_vip_alloc_stop(pd_daemon_t *d);
void pd_vip_alloc_free(pd_daemon_t *d);

#endif
