/* peerctl node ls / inspect / update / promote / demote / rm: node records in the store (through
 * Raft, answered by any manager after a read barrier) joined with what gossip and Raft show.
 * NODE is an id, a unique id prefix, or a unique hostname. */
#ifndef PD_CTL_NODE_H
#define PD_CTL_NODE_H

#include <stddef.h>

#include "daemon.h"

int pd_ctl_node_ls(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_node_inspect(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_node_update(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_node_promote(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_node_demote(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_node_rm(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);

#endif
