/* Bringing the DNS server up from the daemon's configuration: the listener, the forwarder's
 * upstreams, the feed from the gossiped endpoint table and from membership events. */
#ifndef PD_DNS_SETUP_H
#define PD_DNS_SETUP_H

#include "daemon.h"
#include "swim.h"
#include "dns_feed.h"

/* After gossip started. On failure err names the address and says what to do; d->dns is set
 * anyway (handles closing) so the shell frees it after the loop like any other. */
int pd_daemon_dns_start(pd_daemon_t *d, char *err, size_t errlen);
/* Part of a clean stop: before gossip goes (the feed watches gossip's table). */
void pd_daemon_dns_stop(pd_daemon_t *d);
/* After the loop ended, before gossip is freed. */
void pd_daemon_dns_free(pd_daemon_t *d);

/* One membership event into the feed (join / update / alive again: up; dead / left: down). */
void pd_dns_feed_member_event(pd_dns_feed_t *f, const pd_swim_event_t *ev);
/* Every member SWIM knows now (alive or suspect) into the feed. */
void pd_dns_feed_members_sync(pd_dns_feed_t *f, const pd_swim_t *swim);

/* Control: "dns.stats". */
int pd_ctl_dns_stats(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                     size_t errlen);

#endif
