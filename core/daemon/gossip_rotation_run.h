/* The swarm's gossip keyring in the daemon: the shell around gossip_rotation (the Raft record and
 * its phase machine) and gossip_keyfetch (the keyring over mutual TLS). Every PD_GKEY_TICK_MS:
 *   - a manager converges its live keyring to the ring of the committed record's phase (from its
 *     own store), rewrites gossip.keyring (0600, atomically) and publishes its key ids;
 *   - the leader writes the record at first (the key made at init), announces the committed phase
 *     in gossip (cluster-owned entry "_gossip"/"rotation": gen, phase, key ids; never a key), and
 *     commits the next phase once every live member's published key ids ack this one;
 *   - a worker whose ring differs from the announced one fetches the ring from a manager over
 *     mutual TLS on 2377; so does any node at start and whenever it receives frames it cannot open
 *     (it missed a rotation while down), trying the managers gossip shows, then its swarm.seeds
 *     hosts on port 2377 (starting at a random manager; after a new phase, with a random delay
 *     that grows with the cluster).
 * A ring is applied only if its record generation is not older than the last one applied, so a
 * lagging manager's answer never undoes a newer phase. */
#ifndef PD_GOSSIP_ROTATION_RUN_H
#define PD_GOSSIP_ROTATION_RUN_H

#include "daemon.h"
#include "gossip_keyring.h"
#include "raft_transport.h"

#define PD_GKEY_TICK_MS 500u
#define PD_GKEY_FETCH_TIMEOUT_MS 3000u
#define PD_GKEY_FETCH_RETRY_MS 1000u
#define PD_GKEY_RECOVER_EVERY_MS 5000u /* undecryptable frames trigger a fetch at most this often */
/* A worker fetches a newly announced phase after a random delay of up to 2 ms per live member
 * (at most 10 s): 10,000 workers reach the managers at about 1,000 handshakes/s. */
#define PD_GKEY_SPREAD_PER_MEMBER_MS 2u
#define PD_GKEY_SPREAD_MAX_MS 10000u

/* Start on a node of an init/join cluster (no-op otherwise); stop closes the handles; free after
 * the loop ran the close callbacks. */
void pd_gkey_start(pd_daemon_t *d);
void pd_gkey_stop(pd_daemon_t *d);
void pd_gkey_free(pd_daemon_t *d);

/* The manager's side of the fetch (a PD_RT_MEMBER request; pd_rt_set_member_rpc). */
void pd_gkey_member_request(void *ctx, pd_rt_t *rt, uint64_t conn, const char *node_id, int manager,
                            const uint8_t *payload, size_t len);

/* The ring a joiner receives: the committed record's (this manager's store), else the live ring.
 * 0 and the key-file text in out, or an error. */
int pd_gkey_join_ring_text(pd_daemon_t *d, char *out, size_t cap, size_t *len);

/* peerctl swarm gossip-key [--rotate] ("swarm.gossip_key", args {rotate: bool}). */
int pd_ctl_swarm_gossip_key(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                            size_t errlen);

#endif
