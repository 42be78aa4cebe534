/* Cluster lifecycle with PKI: `swarm init`, `swarm join`, join tokens, `swarm leave`, and the node
 * identity (CA + node certificate) the Raft transport's mutual TLS uses.
 *
 * State in the data dir (0600, written with pd_pki_file_write):
 *   ca.crt        the trust bundle: the cluster's root CA certificate, then the previous root
 *                 while a CA rotation runs (every node). The CA key is in the Raft store only.
 *   node.key      this node's key;  node.crt  its certificate (node id, role, cluster id);
 *                 node.key.new: a renewal's key until node.crt names it (ca_renew.c)
 *   swarm.seeds   gossip addresses to (re)join through, one per line (joined nodes)
 *   gossip.keyring  as before; a joiner receives it from the manager
 * The join tokens live in the Raft store (kind CLUSTER, ids "token.worker" / "token.manager", data
 * = the token text); each joined node id is recorded as "joined.<node id>" (a replayed join is
 * refused).
 *
 * A node with node.crt is in a cluster: its role comes from the certificate, and the Raft transport
 * on 2377 is mutual TLS (it has no other mode). A node without one waits for `peerctl swarm init` or
 * `peerctl swarm join`, or runs them at start (--init; --join-token with --join-manager). --join
 * alone makes a gossip-only member: no certificate, so no Raft and nothing on any manager's 2377. */
#ifndef PD_SWARM_H
#define PD_SWARM_H

#include <uv.h>

#include "daemon.h"
#include "join_wire.h"
#include "pki.h"
#include "raft_transport.h"

typedef struct pd_join_dial pd_join_dial_t;
typedef struct pd_join_start pd_join_start_t;
typedef struct pd_ca_state pd_ca_state_t;

#define PD_SWARM_TOKEN_WORKER "token.worker"
#define PD_SWARM_TOKEN_MANAGER "token.manager"
#define PD_SWARM_JOINED_PREFIX "joined."
#define PD_SWARM_INIT_WAIT_MS 10000u  /* init answers once the tokens are committed, or fails */
#define PD_SWARM_JOIN_TIMEOUT_MS 10000u
#define PD_SWARM_SEEDS_TEXT_MAX 1024u

typedef struct pd_swarm {
    int active;                 /* node.crt loaded: a PKI cluster */
    pd_pki_role_t role;
    pd_pki_drbg_t drbg;
    int drbg_ready;
    pd_pki_ca_t ca;             /* the current root (its key lives in the Raft store: ca_state.h) */
    pd_pki_ca_t ca_prev;        /* the previous root while a CA rotation runs, else empty */
    uint8_t ca_bundle_seen[32]; /* digest of the store's bundle pd_ca_sync_from_store last settled */
    pd_pki_ident_t ident;
    pd_ca_state_t *cas;         /* TLS configs, renewal, rotation (ca_state.h) */
    pd_pki_peer_check_fn removed_check; /* "is this node removed?" (node records; branch nodes) */
    void *removed_ctx;
    /* tokens made by init, written to Raft once this node leads */
    pd_pki_token_t new_worker, new_manager;
    int tokens_pending;
    uv_timer_t timer;
    int timer_open;
    uint64_t tokens_deadline_ms;
    pd_ctl_token_t init_tok;    /* the `swarm init` request waiting for the tokens' commit */
    int init_waiting;
    pd_join_dial_t *dial;       /* `swarm join` in progress */
    pd_ctl_token_t join_tok;
    pd_join_start_t *start_join; /* --join-token at start (join_start.c) */
    int restart;                /* `swarm leave`: run again from scratch once stopped */
    uv_timer_t seeds_timer;     /* keeps swarm.seeds current (swarm_seeds.c) */
    int seeds_open;
    char seeds_last[PD_SWARM_SEEDS_TEXT_MAX];
} pd_swarm_t;

/* At start: load init/join state if there is some. Returns 1 (a PKI cluster: sets cfg.worker or
 * cfg.bootstrap_expect, and cfg.join from swarm.seeds), 0 (no such state), or an error. */
int pd_swarm_open(pd_daemon_t *d, char *err, size_t errlen);
/* Gossip addresses to (re)join through: this node's own first when with_self, then live managers,
 * then other live members; at most max. */
unsigned pd_swarm_gossip_seeds(pd_daemon_t *d, int with_self, char out[][PD_ADDR_MAX], unsigned max);
/* Keep swarm.seeds current while the node runs (every member of a PKI cluster). */
void pd_swarm_seeds_start(pd_daemon_t *d);
void pd_swarm_seeds_stop(pd_daemon_t *d);
/* Make a new cluster's CA, this node's manager certificate and the two tokens (committed to Raft
 * once this node leads: pd_swarm_after_start). */
int pd_swarm_init_state(pd_daemon_t *d, char *err, size_t errlen);
/* Once gossip and Raft run: write init's tokens. */
void pd_swarm_after_start(pd_daemon_t *d);
/* The Raft transport's TLS (mutual, joins admitted on anonymous sessions; the current config set
 * of ca_state.c): 0, or -PD_ESTATE without a node certificate (err says so). */
int pd_swarm_transport_tls(pd_daemon_t *d, pd_rt_tls_t *out, char *err, size_t errlen);
/* Once the transport runs: the RPCs served on certificate sessions (renewal, keyring fetch). */
void pd_swarm_attach_transport(pd_daemon_t *d, pd_rt_t *rt);
/* The TLS peer check: the removed-nodes hook (ctx: the pd_swarm_t). */
int pd_swarm_peer_check(void *ctx, const pd_pki_node_info_t *peer);
/* The hook for removed nodes: fn runs after a peer's certificate verified (nonzero refuses it). */
void pd_swarm_set_removed_check(pd_daemon_t *d, pd_pki_peer_check_fn fn, void *ctx);
/* Is the local node in a cluster (a certificate, or gossip-only membership)? */
int pd_swarm_in_cluster(const pd_daemon_t *d);
/* Write one state file (0600) into the data dir; err names it. */
int pd_swarm_write(pd_daemon_t *d, const char *name, const void *data, size_t len, char *err, size_t errlen);
/* Forget every piece of cluster state in the data dir and take a new node id (after leave). */
int pd_swarm_forget(pd_daemon_t *d, char *err, size_t errlen);
void pd_swarm_close(pd_daemon_t *d);
void pd_swarm_free(pd_daemon_t *d);

/* The current token of a role from the Raft store: 0, or -PD_ENOTFOUND. */
int pd_swarm_token_get(pd_daemon_t *d, pd_pki_role_t role, pd_pki_token_t *out, uint64_t *version);
/* "ADDR:2377" that joiners use to reach this manager. */
void pd_swarm_manager_addr(pd_daemon_t *d, char *out, size_t cap);

/* The manager's side of the join RPC (join_server.c), called by the transport for a frame on an
 * anonymous TLS session; the answer goes back through pd_rt_conn_reply. */
void pd_join_server_request(void *ctx, pd_rt_t *rt, uint64_t conn, const uint8_t *body, size_t len);

/* The joiner's side (join_dial.c): connect to a manager's 2377, run the exchange, store the
 * result and start the cluster; the `swarm join` request is answered at the end. */
int pd_join_dial_start(pd_daemon_t *d, const char *token, const char *addr, char *err, size_t errlen);
void pd_join_dial_cancel(pd_daemon_t *d);

/* --join-token at start (join_start.c): the same join without peerctl. 0 once the first attempt
 * started, or an error (a malformed token or address). The dial's end goes to
 * pd_join_start_done, which retries an unreachable manager and stops peerd on a refusal. */
int pd_join_start(pd_daemon_t *d, char *err, size_t errlen);
void pd_join_start_done(pd_daemon_t *d, int rc, const char *err);
void pd_join_start_stop(pd_daemon_t *d);

/* A manager-token join: make the new node a Raft voter. See join_server.c. */
int pd_join_make_manager(pd_daemon_t *d, const char *node_id, const char *addr, char *err, size_t errlen);

/* peerctl swarm ... (ctl_swarm.c) */
int pd_ctl_swarm_init(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_swarm_join(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);
int pd_ctl_swarm_join_token(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                            size_t errlen);
/* swarm init --force-new-cluster (swarm_force.c): answers later, or fails now with err. */
int pd_ctl_swarm_force_new_cluster(pd_daemon_t *d, char *err, size_t errlen);
int pd_ctl_swarm_leave(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);

#endif
