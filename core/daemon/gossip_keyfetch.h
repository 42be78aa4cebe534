/* Fetching the swarm's gossip keyring from a manager over mutual TLS on 2377 (a member request of
 * the Raft transport, PD_RT_MEMBER): how workers receive a rotated key, and how any node that
 * missed a rotation (down meanwhile, so it holds only keys nobody uses any more) recovers. The node
 * proves who it is with its certificate; a removed node's certificate is refused by the TLS peer
 * check, so it never learns a key rotated after its removal. Pure: codec and the client's exchange
 * over bytes (no sockets).
 *
 *   request  (PD_RT_MEMBER payload)  {v:1, op:"gossip.keyring"}
 *   response (u32 length + body)     {v:1, rc, err}  or  {v:1, rc:0, gen, phase, keyring: text}
 * keyring is the ring of the manager's committed record for that phase, in the key-file text form
 * (one base64 key per line, primary first); gen is the record's (0: no record yet). */
#ifndef PD_GOSSIP_KEYFETCH_H
#define PD_GOSSIP_KEYFETCH_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ctl_wire.h"
#include "gossip_keyring.h"
#include "pki.h"
#include "tls_exchange.h"

#define PD_GKF_VERSION 1u
#define PD_GKF_OP "gossip.keyring"
#define PD_GKF_MSG_MAX 4096u
#define PD_GKF_ERR_MAX 200u

typedef struct {
    int32_t rc;
    char err[PD_GKF_ERR_MAX];
    uint64_t gen;
    uint8_t phase;
    pd_keyring_t ring;
} pd_gkf_resp_t;

/* The request payload (encoded into out, initialised by the caller). */
void pd_gkf_req_encode(msgpack_sbuffer *out);
/* 0 when it is a keyring request; -PD_EMALFORMED / -PD_EVERSION otherwise. */
int pd_gkf_req_decode(const void *data, size_t len);
/* A success answer (ring given) or a refusal (rc < 0, err). */
int pd_gkf_resp_encode(msgpack_sbuffer *out, int32_t rc, const char *err, uint64_t gen, uint8_t phase,
                       const pd_keyring_t *ring);
/* 0 and *out (its ring must be freed; empty on a refusal), or -PD_EMALFORMED / -PD_EVERSION. */
int pd_gkf_resp_decode(const void *data, size_t len, pd_gkf_resp_t *out);

/* The client: x carries the request (once the peer is known to be a manager) and checks the
 * answer. Once x.state is PD_TLSX_DONE, resp holds the manager's answer (resp.rc 0);
 * PD_TLSX_FAILED: x.rc and x.err say why. Drive x with pd_tlsx_input/output, or tls_call.h. */
typedef struct {
    uint64_t self_id;
    char manager[PD_NODE_ID_LEN + 1]; /* the answering manager's node id, from its certificate */
    pd_tlsx_t x;
    pd_gkf_resp_t resp;
} pd_gkf_client_t;

/* conf: a client TLS config with this node's certificate (kept alive by the caller). The client
 * stays where it is until freed (x points back at it). */
int pd_gkf_client_init(pd_gkf_client_t *c, pd_pki_tls_conf_t *conf, const char *self_node_id);
void pd_gkf_client_free(pd_gkf_client_t *c);

#endif
