/* The cluster CA over time, in the daemon: where the CA lives, the TLS configs built from this
 * node's certificate, renewal, and CA rotation.
 *
 *   ca_state.c   the CA in the Raft store (records in ca_plan.h; the store is sealed on disk by the
 *                manager's data key, so the CA key is never a plaintext file), the trust bundle,
 *                TLS config sets (a renewal builds a new set; the old one lives until its sessions
 *                end), and managers following the store's roots.
 *   ca_renew.c   every node: a timer that renews this node's certificate over the renewal RPC
 *                (cert_wire.h) when due, after a rotation, or after a role change.
 *   cert_server.c a manager: answers the renewal RPC, records each issue in Raft.
 *   ctl_ca.c     `peerctl swarm ca [--rotate] [--cert-expiry D]`, and the leader's part of a
 *                rotation (publish the roots' id in gossip; drop the old root once every live node
 *                moved). */
#ifndef PD_CA_STATE_H
#define PD_CA_STATE_H

#include "ca_plan.h"
#include "cert_wire.h"
#include "store.h"
#include "swarm.h"
#include "tls_call.h"

#define PD_CA_TICK_MS 1000u
#define PD_CA_CALL_TIMEOUT_MS 5000u
#define PD_CA_RETRY_MIN_MS 1000u
#define PD_CA_RETRY_MAX_MS 30000u

/* A node's TLS configs, built from its own copy of key + certificate (configs reference the key). */
typedef struct pd_tls_set {
    pd_pki_ident_t ident;
    pd_pki_tls_conf_t server, client, renew; /* renew: client + ALPN PD_CERT_ALPN */
    struct pd_tls_set *next;                 /* retired sets waiting for their sessions to end */
} pd_tls_set_t;

struct pd_ca_state {
    pd_tls_set_t *tls, *retired;
    uint8_t issuer[PD_PKI_DIGEST_LEN]; /* the root that signed our certificate */
    uint32_t jitter;                   /* where in the renewal window this certificate renews */
    uv_timer_t timer;
    int timer_open;
    pd_tls_call_t *call;               /* a renewal in flight */
    pd_pki_ident_t next;               /* its new key */
    uint64_t next_try_ms;
    uint32_t backoff_ms;
    unsigned pick;                     /* rotates the manager tried */
    char published[PD_CA_ROOTS_ID_LEN + 1]; /* leader: the roots' id last put in gossip */
    uint64_t renewals, renew_failures;
    int finishing;                     /* leader: the old root's removal is being committed */
    int64_t init_expiry_s;             /* `swarm init --cert-expiry`, committed with the tokens */
};

/* Allocate (idempotent); 0 or -ENOMEM. */
int pd_ca_state_open(pd_daemon_t *d);
/* Every node once the cluster runs: the renewal/rotation timer. */
void pd_ca_start(pd_daemon_t *d);
void pd_ca_close(pd_daemon_t *d);
void pd_ca_free(pd_daemon_t *d);

/* The Raft transport's TLS from the current set (built on first use): 0 or an error. */
int pd_ca_transport_tls(pd_daemon_t *d, pd_rt_tls_t *out);
/* Mutual TLS on the Raft transport from the current set (built on first use), the join RPC on
 * anonymous sessions, the renewal RPC on ALPN sessions. */
void pd_ca_attach(pd_daemon_t *d, pd_rt_t *rt);
/* A new set from s->ident, s->ca and s->ca_prev; the transport (if any) uses it for new
 * connections. 0 or an error (the old set stays). */
int pd_ca_tls_reload(pd_daemon_t *d);
/* Free retired sets whose sessions ended. */
void pd_ca_tls_sweep(pd_daemon_t *d);

/* Which root signed our certificate, from s->ident (s->ca or s->ca_prev). */
void pd_ca_note_issuer(pd_daemon_t *d);

/* --- the CA in the Raft store (managers) --- */
const pd_store_obj_t *pd_ca_rec(pd_daemon_t *d, const char *id);
/* The current root with its key, from the store: 0, or -PD_ESTATE (no store, or no CA key in it
 * yet) with err. The caller frees out (pd_pki_ca_free wipes the key). */
int pd_ca_signer(pd_daemon_t *d, pd_pki_ca_t *out, char *err, size_t errlen);
/* The node certificate validity the cluster asks for (seconds; 0 = the default). */
int64_t pd_ca_validity_s(pd_daemon_t *d);
/* The store's trust bundle (current root, then the previous one): its length, or 0. */
size_t pd_ca_store_bundle(pd_daemon_t *d, char *out, size_t cap);
/* The bundle this node holds (s->ca, s->ca_prev): its length, or 0. */
size_t pd_ca_bundle(pd_swarm_t *s, char *out, size_t cap);
/* A manager: follow the store's roots (a rotation started or finished): load them, write ca.crt,
 * reload TLS. Returns 1 when they changed. */
int pd_ca_sync_from_store(pd_daemon_t *d);

/* Ops that record a certificate just issued ("cert.<node id>": replaces the previous record).
 * rec holds the ops' bytes. Returns the number of ops (1 or 2), or an error. */
typedef struct {
    char id[64];
    char data[PD_CA_CERTREC_MAX];
} pd_ca_issue_rec_t;
int pd_ca_issue_ops(pd_daemon_t *d, const uint8_t issuer[PD_PKI_DIGEST_LEN], const pd_pki_node_info_t *info,
                    pd_ca_issue_rec_t *rec, pd_store_op_t ops[2]);

/* cert_server.c: the transport's pd_rt_cert_fn. */
void pd_cert_server_request(void *ctx, pd_rt_t *rt, uint64_t conn, const pd_pki_node_info_t *peer,
                            const uint8_t *body, size_t len);

/* ca_renew.c: one renewal check (the timer calls it; tests and rotation may too). */
void pd_ca_renew_check(pd_daemon_t *d);

/* ctl_ca.c: nodes still on the old root during a rotation (live, not removed; workers only when
 * workers_only), from this manager's store; *first names one. */
size_t pd_ca_pending(pd_daemon_t *d, int workers_only, const char **first, char first_buf[PD_NODE_ID_LEN + 1]);
/* ctl_ca.c: the leader's round (publish the roots' id; end a rotation). */
void pd_ca_lead_round(pd_daemon_t *d);
int pd_ctl_swarm_ca(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen);

#endif
