/* Keeps the DNS name table in step with what gossip knows (no IO, no libuv):
 *
 *   gossiped table "svc/<name>", key = owner node id, value {"a": IP, "p": port, "ports":
 *   [[name, port, "tcp"|"udp"], ...], "h": healthy}  ->  task <owner id> of service <name>
 *   (address, health, port); the union of the endpoints' named ports becomes the service's SRV
 *   ports. A delete, or the owner going down (the table hides its entries), removes the task; the
 *   service goes with its last endpoint.
 *
 *   members (join / update / alive again -> up; dead / left -> down)  ->  <hostname>.node. Two
 *   nodes with one hostname: the last one up answers, and the other takes over when it goes.
 *
 *   gossiped table "vip", key = service name, value vip_value.h's {"a": IPv4, "t": term} (written by the managers' leader
 *   from the Raft store, cluster-owned so it outlives every manager)  ->  the service's VIP:
 *   <name>[.svc] A answers it, and PTR of it answers <name>.svc. A VIP only shows while the
 *   service has an endpoint (no endpoint left: NXDOMAIN, as without VIPs); it may arrive before or
 *   after the endpoints. A service without a VIP is served with its healthy tasks (round robin). */
#ifndef PD_DNS_FEED_H
#define PD_DNS_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "dns_table.h"
#include "gossip_table.h"
#include "pd_log.h"

#define PD_DNS_FEED_TABLE_PREFIX "svc/"
#define PD_DNS_FEED_VIP_TABLE "vip"
enum { PD_DNS_FEED_NODE_ID_MAX = 64, PD_DNS_FEED_HOST_MAX = 253 };

typedef struct pd_dns_feed pd_dns_feed_t;

typedef struct {
    uint64_t events;       /* endpoint table events seen */
    uint64_t tasks_put, tasks_removed;
    uint64_t bad_values;   /* endpoint values or table names that do not decode (entry ignored) */
    uint64_t table_errors; /* the DNS table refused an update (a cap, a bad name) */
    uint64_t nodes_up, nodes_down;
    uint64_t vip_events;   /* "vip" table events seen */
} pd_dns_feed_stats_t;

/* dt is borrowed and must outlive the feed. 0 or -ENOMEM. */
int pd_dns_feed_new(pd_dns_table_t *dt, const pd_log_t *log, pd_dns_feed_t **out);
/* Detaches first if attached. */
void pd_dns_feed_free(pd_dns_feed_t *f);

/* Watch gt's "svc/" tables and its "vip" table and load what they hold now. 0, -PD_ESTATE (already attached) or the
 * watch error (-PD_ELIMIT). */
int pd_dns_feed_attach(pd_dns_feed_t *f, pd_gtable_t *gt);
void pd_dns_feed_detach(pd_dns_feed_t *f);
/* The watch callback (ctx = the feed); exposed for tests. */
void pd_dns_feed_on_table(void *ctx, const pd_gtable_view_t *ev);
/* The "vip" table's watch callback (ctx = the feed); exposed for tests. */
void pd_dns_feed_on_vip(void *ctx, const pd_gtable_view_t *ev);

/* Membership: a node is up with this hostname and address / is gone. 0, -PD_EUSAGE (bad id or
 * hostname), -PD_ELIMIT or -ENOMEM; node_down of an unknown node is 0. */
int pd_dns_feed_node_up(pd_dns_feed_t *f, const char *node_id, const char *hostname,
                        const pd_dns_addrs_t *addr);
int pd_dns_feed_node_down(pd_dns_feed_t *f, const char *node_id);

const pd_dns_feed_stats_t *pd_dns_feed_stats(const pd_dns_feed_t *f);

#endif
