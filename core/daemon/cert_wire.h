/* The certificate renewal RPC on 2377: its two messages and the manager's decision. No sockets.
 *
 * A node (worker or manager) opens mutual TLS to a manager with its current certificate, offering
 * the ALPN protocol PD_CERT_ALPN; the manager admits such a session to this RPC only (a worker's
 * certificate still cannot carry Raft). One request frame, one answer frame (u32 big-endian body
 * length, then a msgpack map: pd_ctl_framer), then the manager closes.
 *
 *   request  {v:1, csr}
 *   response {v:1, rc, err} on refusal; on success also {cert, ca}
 *            ca = the trust bundle in PEM: the current root, then the previous one during a CA
 *            rotation (pd_pki_ca_load_bundle)
 *
 * The node id is the one the TLS session proved (the certificate being renewed), never one the
 * request names: a CSR for another node id is refused. The role comes from the node's record
 * (so a promotion or demotion rides the next renewal), or from the certificate when there is no
 * record yet. A removed node is refused. */
#ifndef PD_CERT_WIRE_H
#define PD_CERT_WIRE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "pki.h"

#define PD_CERT_ALPN "pd-cert/1"
#define PD_CERT_VERSION 1u
#define PD_CERT_MSG_MAX (16u * 1024u)
#define PD_CERT_ERR_MAX 256u
#define PD_CERT_BUNDLE_MAX (2u * PD_PKI_PEM_MAX)

typedef struct {
    char csr[PD_PKI_PEM_MAX];
    size_t csr_len;
} pd_cert_req_t;

typedef struct {
    int32_t rc;                       /* 0, or a negative pd_err code */
    char err[PD_CERT_ERR_MAX];
    char cert[PD_PKI_PEM_MAX];
    size_t cert_len;
    char ca[PD_CERT_BUNDLE_MAX];
    size_t ca_len;
} pd_cert_resp_t;

/* --- codec (fuzzed: tests/fuzz/fuzz_cert_wire.c) --- */
int pd_cert_req_encode(const pd_cert_req_t *r, msgpack_sbuffer *out);
int pd_cert_resp_encode(const pd_cert_resp_t *r, msgpack_sbuffer *out);
/* 0, or -PD_EMALFORMED / -PD_EVERSION / -PD_ETOOBIG with *why. */
int pd_cert_req_decode(const void *body, size_t len, pd_cert_req_t *out, const char **why);
int pd_cert_resp_decode(const void *body, size_t len, pd_cert_resp_t *out, const char **why);
void pd_cert_resp_refuse(pd_cert_resp_t *r, int rc, const char *err);

/* --- the manager's decision --- */
typedef struct {
    pd_pki_ca_t *signer;               /* the current root, with its key */
    const char *bundle;                /* trust bundle PEM (current root first) */
    size_t bundle_len;
    int removed;                       /* the peer's node record is a tombstone */
    pd_pki_role_t record_role;         /* from the node record; NONE: no record (keep the cert's) */
    int64_t validity_s;                /* 0: the default */
    int64_t now_s;
    pd_pki_rng_t rng;
} pd_cert_policy_t;

/* Sign a renewal for the TLS peer: resp becomes the answer or a refusal. Returns resp->rc. */
int pd_cert_answer(const pd_cert_req_t *req, const pd_pki_node_info_t *peer, const pd_cert_policy_t *p,
                   pd_cert_resp_t *resp);

#endif
