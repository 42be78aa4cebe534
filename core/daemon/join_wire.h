/* The join RPC on 2377 (`peerctl swarm join`): its two messages, the manager's decision, and the
 * joiner's side of the exchange as a pure state machine over bytes. No sockets, no libuv.
 *
 * The joiner has only the token. It opens TLS with pd_pki_tls_conf_init_join (the manager's chain
 * must contain the CA whose SHA-256 the token names, and a manager certificate of that CA), then
 * sends one request frame and reads one response frame. A frame is the control protocol's: u32
 * big-endian body length, then a msgpack map (pd_ctl_framer).
 *
 *   request  {v:1, token, node_id, hostname, addr, nonce:bin16, csr}
 *   response {v:1, rc, err} on refusal; on success also
 *            {node_id, role, cluster_id, cert, ca, keyring, seeds:[addr...]}
 *            (no CA key, not even for a manager: it reads the key from the Raft store it replicates)
 *
 * The manager (an anonymous TLS session admitted to this RPC only) decodes the request, runs
 * pd_join_decide (token → role; node id not joined before: a replayed join is refused), signs the
 * CSR with the node id and role, records the node id as joined through Raft, and answers. */
#ifndef PD_JOIN_WIRE_H
#define PD_JOIN_WIRE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ctl_wire.h"
#include "pki.h"
#include "tls_exchange.h"

#define PD_JOIN_VERSION 1u
#define PD_JOIN_MSG_MAX (48u * 1024u)   /* one request or response body */
#define PD_JOIN_NONCE_LEN 16u
#define PD_JOIN_SEEDS_MAX 8u
#define PD_JOIN_KEYRING_MAX 2048u
#define PD_JOIN_HOSTNAME_MAX 64u
#define PD_JOIN_ERR_MAX 256u

typedef struct {
    char token[PD_PKI_TOKEN_INPUT_MAX + 1];
    char node_id[PD_NODE_ID_LEN + 1];
    char hostname[PD_JOIN_HOSTNAME_MAX + 1];
    char addr[PD_ADDR_MAX];               /* the joiner's advertise address (host) */
    uint8_t nonce[PD_JOIN_NONCE_LEN];
    char csr[PD_PKI_PEM_MAX];
    size_t csr_len;
} pd_join_req_t;

typedef struct {
    int32_t rc;                            /* 0, or a negative pd_err code */
    char err[PD_JOIN_ERR_MAX];
    char node_id[PD_NODE_ID_LEN + 1];
    pd_pki_role_t role;
    char cluster_id[PD_PKI_CLUSTER_ID_MAX + 1];
    char cert[PD_PKI_PEM_MAX];
    size_t cert_len;
    char ca[PD_PKI_PEM_MAX];
    size_t ca_len;
    char keyring[PD_JOIN_KEYRING_MAX];     /* gossip keyring text (one base64 key per line) */
    size_t keyring_len;
    char seeds[PD_JOIN_SEEDS_MAX][PD_ADDR_MAX]; /* gossip addresses to join through */
    unsigned n_seeds;
} pd_join_resp_t;

/* --- codec (fuzzed: tests/fuzz/fuzz_join_wire.c) --- */
/* Encode into out (initialised by the caller). 0 or -PD_ETOOBIG. */
int pd_join_req_encode(const pd_join_req_t *r, msgpack_sbuffer *out);
int pd_join_resp_encode(const pd_join_resp_t *r, msgpack_sbuffer *out);
/* Decode a body. 0, or -PD_EMALFORMED / -PD_EVERSION / -PD_ETOOBIG with *why. Every string is
 * bounded and checked (node ids, roles, PEM sizes), so a decoded message is safe to use. */
int pd_join_req_decode(const void *body, size_t len, pd_join_req_t *out, const char **why);
int pd_join_resp_decode(const void *body, size_t len, pd_join_resp_t *out, const char **why);

/* --- the manager's decision --- */
typedef struct {
    const uint8_t *ca_digest;              /* PD_PKI_DIGEST_LEN bytes: our CA */
    const pd_pki_token_t *worker, *manager; /* current tokens; NULL: that role cannot join */
    /* Has this node id joined before? (the Raft store's record). NULL: never. */
    int (*joined)(void *ctx, const char *node_id);
    void *ctx;
} pd_join_policy_t;

/* Which role does this request earn? 0 and *role; or -PD_EAUTH (wrong, rotated or foreign token),
 * -PD_EMALFORMED (bad token text, bad node id), -PD_EEXISTS (node id already joined: a replay, or
 * a node that must leave first), with a sentence in err for both sides. */
int pd_join_decide(const pd_join_req_t *req, const pd_join_policy_t *p, pd_pki_role_t *role, char *err,
                   size_t errlen);

/* Everything the manager answers with. */
typedef struct {
    pd_join_policy_t policy;
    pd_pki_ca_t *ca;                        /* with its key */
    pd_pki_rng_t rng;
    int64_t now_s;
    int64_t validity_s;                     /* node certificate validity; 0: the default */
    const char *keyring;                    /* gossip keyring text */
    size_t keyring_len;
    const char *const *seeds;               /* gossip addresses */
    unsigned n_seeds;
} pd_join_server_t;

/* Decide, then sign the CSR: resp becomes the success answer (node id, role, certificate, CA,
 * keyring, seeds) or a refusal. Returns resp->rc. */
int pd_join_answer(const pd_join_req_t *req, const pd_join_server_t *s, pd_join_resp_t *resp);

/* Fill a refusal. */
void pd_join_resp_refuse(pd_join_resp_t *r, int rc, const char *err);

/* --- the joiner's exchange, sans-IO --- */
/* x carries the request and checks the answer: once x.state is PD_TLSX_DONE, a certificate is
 * installed in ident, the pinned CA in ca, the rest in resp; PD_TLSX_FAILED: x.rc and x.err say
 * why (the manager's refusal among others). Drive x with pd_tlsx_input/output, or tls_call.h. */
typedef struct {
    char node_id[PD_NODE_ID_LEN + 1];
    pd_pki_token_t token;
    pd_pki_tls_conf_t conf;
    pd_tlsx_t x;
    pd_pki_ident_t ident;                  /* our new key; its certificate once DONE */
    pd_pki_ca_t ca;                        /* the pinned CA once DONE */
    pd_join_resp_t *resp;                  /* heap; valid once DONE */
    pd_clock_t *clock;
    int conf_ready;
} pd_join_client_t;

/* Parse the token, make a P-256 key and a CSR for node_id, prepare TLS. -PD_EMALFORMED (bad
 * token) and others with x.err set; the client must still be freed. */
int pd_join_client_init(pd_join_client_t *c, const char *token, const char *node_id, const char *hostname,
                        const char *addr, pd_clock_t *clock, pd_pki_rng_t rng);
void pd_join_client_free(pd_join_client_t *c);

#endif
