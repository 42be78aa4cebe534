#ifndef PD_CTL_GOSSIP_H
#define PD_CTL_GOSSIP_H

#include "daemon.h"

int pd_ctl_members(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_gossip_stats(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);

#endif
