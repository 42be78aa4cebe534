/* Bringing gossip up from the daemon's configuration: the keyring file, node metadata, and the
 * gossip shell. */
#ifndef PD_GOSSIP_SETUP_H
#define PD_GOSSIP_SETUP_H

#include "daemon.h"
#include "gossip_keyring.h"

/* Load the keyring: --gossip-key-file if given (copied into the data dir), else DATA/gossip.keyring,
 * else (first node of a new cluster, no --join) a fresh random key saved 0600. */
int pd_gossip_keyring_load(const pd_config_t *cfg, pd_keyring_t *kr, char *err, size_t errlen);
/* Persist the live keyring to DATA/gossip.keyring (after a rotation step). */
int pd_gossip_keyring_save(const char *data_dir, const pd_keyring_t *kr);
/* Node metadata gossiped with membership: hostname, role, version. */
/* raft_addr: a manager's Raft transport address ("ra"), or NULL. */
int pd_gossip_meta_encode(const char *hostname, const char *role, const char *raft_addr, uint8_t *out,
                          size_t cap, size_t *len);
int pd_gossip_meta_decode(const uint8_t *meta, size_t len, char *hostname, size_t hcap, char *role, size_t rcap);
/* Gossip our metadata again after a role change (d->cfg.worker): 0 or an error. */
int pd_daemon_gossip_republish_meta(pd_daemon_t *d);
/* Start gossip for the daemon; on failure err says why. */
int pd_daemon_gossip_start(pd_daemon_t *d, char *err, size_t errlen);

#endif
