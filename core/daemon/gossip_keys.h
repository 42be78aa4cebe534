/* Cluster-wide gossip key rotation. The desired keyring is one last-writer-wins entry in the
 * gossiped table ("_gossip" / "keyring"), so it only ever travels inside encrypted frames; every
 * node converges its live keyring to it, persists it, and publishes the key ids it holds
 * ("_gossip" / "keys@<node>") so `peerctl gossip key list` shows how far each step has spread.
 * Order for a rotation: install NEW (wait until every node has it), use NEW, remove OLD.
 *
 * In a cluster made by `swarm init` / `swarm join` the keyring belongs to Raft instead
 * (gossip_rotation_run.h: `peerctl swarm gossip-key --rotate`): install/use/remove are refused
 * there and a desired ring gossiped by any node is ignored, so a node that merely holds the gossip
 * key cannot change the cluster's keyring. `gossip key list` (the spread of each key) stays. */
#ifndef PD_GOSSIP_KEYS_H
#define PD_GOSSIP_KEYS_H

#include "daemon.h"

/* Start watching for desired-keyring changes and publish this node's key ids. */
int pd_gossip_keys_start(pd_daemon_t *d);
void pd_gossip_keys_stop(pd_daemon_t *d);
/* The live keyring changed: persist it (gossip.keyring, 0600, atomically) and publish our key ids. */
void pd_gossip_keys_changed(pd_daemon_t *d);

int pd_ctl_gossip_key_list(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_gossip_key_install(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_gossip_key_use(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_gossip_key_remove(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);

#endif
