/* Manager-to-manager transport for Raft: TCP on --listen-addr (default 0.0.0.0:2377), always
 * mutual TLS (there is no plaintext mode): both ends show a certificate of the cluster's CA; only a
 * manager certificate may carry Raft frames, and a frame's sender id must be the certificate's
 * node. A peer without a certificate gets an anonymous session admitted to the join RPC only (one
 * request, one answer, then the connection closes); without a join handler it is refused. A
 * certificate session that asks for ALPN PD_CERT_ALPN gets the renewal RPC only, the same way.
 *
 * Frame (big-endian): u32 body length (PD_RT_HDR_LEN..PD_RT_FRAME_MAX) | body
 *   body   = u8 version (1) | u8 type | u64 from | u64 to | payload
 *   RAFT      payload = one raft_wire message
 *   FWD_REQ   payload = u64 request id | u8 kind (PD_RT_FWD_WRITE / PD_RT_FWD_READ) | store entry
 *   FWD_RESP  payload = u64 request id | i32 rc | u64 index | error text (not NUL-terminated)
 *   MEMBER    payload = one member request (any certificate of the cluster, a worker's included:
 *             a worker-certificate session may send only this, once); the answer is one frame
 *             (u32 length + data), then the connection closes (pd_rt_set_member_rpc)
 * A sender has one outbound connection per peer (reconnecting with backoff); frames are routed by
 * the ids in the header, so answers travel on the answerer's own outbound connection. Queues are
 * bounded and drop on overflow (Raft retransmits; forwarded requests time out). */
#ifndef PD_RAFT_TRANSPORT_H
#define PD_RAFT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pd_log.h"
#include "pki.h"
#include "raft_wire.h"

#define PD_RT_VERSION 1u
#define PD_RT_LEN_PREFIX 4u
#define PD_RT_HDR_LEN 18u
#define PD_RT_FRAME_MAX (PD_RAFT_WIRE_MSG_MAX + 64u) /* body bytes */
#define PD_RT_PEERS_MAX 16u                           /* = PD_RAFT_NODES_MAX */
#define PD_RT_INBOUND_MAX 32u                         /* accepted connections at once */
#define PD_RT_PENDING_FRAMES_MAX 256u                 /* queued while (re)connecting */
#define PD_RT_QUEUE_BYTES_MAX (32u << 20)             /* unwritten bytes per peer */
#define PD_RT_BACKOFF_MIN_MS 100u
#define PD_RT_BACKOFF_MAX_MS 2000u
#define PD_RT_FWD_REQ_FIXED 9u
#define PD_RT_FWD_RESP_FIXED 20u
#define PD_RT_ERRTEXT_MAX 256u
#define PD_RT_HANDSHAKE_MS 3000u  /* TLS: an accepted connection must finish its handshake by then */
#define PD_RT_ANON_MS 15000u      /* an anonymous (joining) session's whole life */

typedef enum {
    PD_RT_RAFT = 1,
    PD_RT_FWD_REQ = 2,
    PD_RT_FWD_RESP = 3,
    PD_RT_MEMBER = 4,
} pd_rt_type_t;

typedef enum {
    PD_RT_FWD_WRITE = 1, /* propose the entry; answer when applied with the store's result */
    PD_RT_FWD_READ = 2,  /* ReadIndex; answer with the index to wait for */
} pd_rt_fwd_kind_t;

typedef struct {
    uint8_t type;
    uint64_t from, to;
    const uint8_t *payload; /* borrowed */
    size_t len;
} pd_rt_frame_t;

typedef struct {
    uint64_t req_id;
    uint8_t kind;
    const uint8_t *data;
    size_t len;
} pd_rt_fwd_req_t;

typedef struct {
    uint64_t req_id;
    int32_t rc;
    uint64_t index;
    const uint8_t *text;
    size_t text_len;
} pd_rt_fwd_resp_t;

/* --- Pure codec (fuzzed) --- */
/* Length prefix + header for a payload of payload_len bytes into out. Returns bytes written. */
size_t pd_rt_frame_hdr_encode(uint8_t out[PD_RT_LEN_PREFIX + PD_RT_HDR_LEN], uint8_t type, uint64_t from,
                              uint64_t to, size_t payload_len);
/* Parse a body (after the length prefix). 0, -PD_ETRUNCATED, -PD_EVERSION, -PD_EUNKNOWN_TYPE,
 * -PD_EMALFORMED (zero ids), -PD_ETOOBIG. */
int pd_rt_frame_parse(const uint8_t *body, size_t len, pd_rt_frame_t *out);
int pd_rt_fwd_req_parse(const uint8_t *p, size_t len, pd_rt_fwd_req_t *out);
int pd_rt_fwd_resp_parse(const uint8_t *p, size_t len, pd_rt_fwd_resp_t *out);
void pd_rt_fwd_req_hdr(uint8_t out[PD_RT_FWD_REQ_FIXED], uint64_t req_id, uint8_t kind);
void pd_rt_fwd_resp_hdr(uint8_t out[PD_RT_FWD_RESP_FIXED], uint64_t req_id, int32_t rc, uint64_t index);

/* --- The libuv shell --- */
typedef struct pd_rt pd_rt_t;
typedef void (*pd_rt_recv_fn)(void *ctx, const pd_rt_frame_t *f);

typedef struct {
    uint64_t frames_sent, frames_recv, frames_dropped, bad_frames, connects, conn_refused;
    uint64_t tls_refused;   /* handshakes failed or peers refused (bad cert, worker cert, garbage) */
    uint64_t tls_accepted;  /* inbound handshakes completed */
} pd_rt_stats_t;

/* Mutual TLS: server for accepted connections (it should allow anonymous peers when join is set),
 * client for ours. join gets the one frame an anonymous session may send; it answers with
 * pd_rt_conn_reply. The configs must outlive the transport. */
typedef void (*pd_rt_join_fn)(void *ctx, pd_rt_t *t, uint64_t conn, const uint8_t *body, size_t len);
typedef struct {
    pd_pki_tls_conf_t *server, *client; /* both required */
    pd_rt_join_fn join;                 /* NULL: anonymous sessions are refused */
    void *join_ctx;
} pd_rt_tls_t;

/* Listen on listen_addr ("IP:PORT") with TLS (required: -PD_EUSAGE and *out NULL without it). On a
 * listen error *out is still set (frames can be sent; none are received) and the error is
 * returned with a message. */
int pd_rt_start(uv_loop_t *loop, const char *listen_addr, uint64_t self_id, pd_rt_recv_fn fn, void *ctx,
                const pd_rt_tls_t *tls, const pd_log_t *log, pd_rt_t **out, char *err, size_t errlen);
/* Name (or change) a peer's address "IP:PORT". -PD_ELIMIT when the table is full. */
int pd_rt_set_peer(pd_rt_t *t, uint64_t id, const char *addr);
/* Queue one frame whose payload is a followed by b. 0, -PD_ENOTFOUND (no address), -PD_ELIMIT
 * (dropped: queue full), -ENOMEM. */
int pd_rt_send(pd_rt_t *t, uint64_t to, uint8_t type, const void *a, size_t alen, const void *b, size_t blen);
int pd_rt_peer_connected(const pd_rt_t *t, uint64_t id);
/* Called (with pd_rt_start's ctx) when a peer closes or resets our connection to it: a hint that
 * its process is gone, long before any timeout would say so. */
typedef void (*pd_rt_lost_fn)(void *ctx, uint64_t peer);
void pd_rt_set_lost_cb(pd_rt_t *t, pd_rt_lost_fn fn);
const pd_rt_stats_t *pd_rt_stats(const pd_rt_t *t);

/* Member requests (PD_RT_MEMBER frames on a certificate session): fn gets the certificate's node id
 * and whether it is a manager's, and answers with pd_rt_conn_reply. Unset: such frames are refused
 * and worker certificates too, as before. */
typedef void (*pd_rt_member_fn)(void *ctx, pd_rt_t *t, uint64_t conn, const char *node_id, int manager,
                                const uint8_t *payload, size_t len);
void pd_rt_set_member_rpc(pd_rt_t *t, pd_rt_member_fn fn, void *ctx);
/* New TLS configs (e.g. after a renewal) for new connections only; the old configs must live until
 * their sessions end (pd_pki_tls_conf_t.sessions). 0, or -PD_EUSAGE when a config is missing. */
int pd_rt_set_tls(pd_rt_t *t, const pd_rt_tls_t *tls);
/* The certificate renewal RPC (cert_wire.h): a session with a verified certificate that agreed on
 * ALPN PD_CERT_ALPN (the server config offers it) sends one frame, handed to fn with the peer's
 * certificate; it answers with pd_rt_conn_reply. Such a session never carries Raft. */
typedef void (*pd_rt_cert_fn)(void *ctx, pd_rt_t *t, uint64_t conn, const pd_pki_node_info_t *peer,
                              const uint8_t *body, size_t len);
void pd_rt_set_cert_rpc(pd_rt_t *t, pd_rt_cert_fn fn, void *ctx);
/* Answer an anonymous session's request (one frame: u32 length + data), then close it.
 * -PD_ENOTFOUND when that connection is gone. */
int pd_rt_conn_reply(pd_rt_t *t, uint64_t conn, const void *data, size_t len);
/* Close every handle (callbacks stop); free after the loop has run the close callbacks. */
void pd_rt_stop(pd_rt_t *t);
void pd_rt_free(pd_rt_t *t);

#endif
