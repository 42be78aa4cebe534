/* `peerctl events`: a stream of the replicated store's committed changes (Docker's `docker
 * events` for the cluster objects). One request, then one reply frame with the request's id per
 * event, until the client goes away. Served by managers (the store lives there). */
#ifndef PD_CTL_EVENTS_H
#define PD_CTL_EVENTS_H

#include "daemon.h"

#define PD_CTL_EVENT_SUBS_MAX 16u    /* streams at once per daemon */
#define PD_CTL_EVENTS_PER_PUMP 4096u /* events sent per subscriber per loop turn (the rest wait) */

/* The "events" op: registers the caller as a subscriber from the current end of the stream. */
int pd_ctl_events(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
/* Send every subscriber the events committed since its last pump; drop subscribers whose
 * connection is gone (raft_node.c calls this after applying). */
void pd_ctl_events_pump(pd_daemon_t *d);

#endif
