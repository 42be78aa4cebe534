/* Control operations for autolock: swarm.update {autolock}, swarm.unlock_key {rotate},
 * swarm.unlock {key}. Replies: {changed, unlock_key?}; unlock replies an empty map. */
#ifndef PD_CTL_LOCK_H
#define PD_CTL_LOCK_H

#include "daemon.h"

int pd_ctl_swarm_update(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_swarm_unlock_key(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                            size_t errlen);
int pd_ctl_swarm_unlock(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);

#endif
