/* SWIM wire format: every message is one msgpack map {"v": version, "t": type, ...}. Unknown keys
 * are ignored, unknown types are rejected (-PD_EUNKNOWN_TYPE) so the core can count them. All the
 * caps of the membership core live here. Decoding is pure and bounded: strings and byte fields
 * are borrowed from the input buffer, which must outlive the decoded message. */
#ifndef PD_SWIM_WIRE_H
#define PD_SWIM_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum {
    PD_SWIM_WIRE_VERSION = 1,
    PD_SWIM_ID_MAX = 64,               /* node id bytes (ours are 25-char base36) */
    PD_SWIM_META_MAX = 512,            /* node metadata, as memberlist MetaMaxSize */
    PD_SWIM_USER_MSG_MAX = 1024,       /* one user (delegate) broadcast payload */
    PD_SWIM_USER_KEY_MAX = 64,         /* supersede key of a user broadcast */
    PD_SWIM_PACKET_DEFAULT = 1400,     /* UDP budget before the crypto frame */
    PD_SWIM_PACKET_MIN = 256,          /* smallest budget a config may ask for */
    PD_SWIM_UDP_MAX = 65507,           /* largest datagram we will ever decode */
    PD_SWIM_COMPOUND_MAX = 255,        /* parts in one compound packet */
    PD_SWIM_MEMBERS_MAX = 16384,       /* members one node tracks (N=10,000 fits) */
    PD_SWIM_QUEUE_MAX = 8192,          /* queued broadcasts; the worst are evicted past it */
    PD_SWIM_RETRANSMIT_MAX = 64,       /* hard ceiling on the computed retransmit limit */
    PD_SWIM_INDIRECT_MAX = 16,         /* indirect probers per probe */
    PD_SWIM_RELAY_MAX = 256,           /* ping-reqs we relay at once for other nodes */
    PD_SWIM_AWARENESS_MAX = 16,        /* ceiling of the configurable awareness max */
    PD_SWIM_SUSPICION_CONFIRM_MAX = 8, /* independent confirmations tracked per suspicion */
    PD_SWIM_PUSHPULL_CONCURRENT_MAX = 128,
    PD_SWIM_OUTBOX_PACKETS_MAX = 65536,
    PD_SWIM_SEEDS_MAX = 8, /* join addresses retried until someone answers */ /* packets one turn may emit before the shell drains */
};
#define PD_SWIM_PUSHPULL_MAX (20u * 1024u * 1024u) /* one push/pull state, as memberlist */
#define PD_SWIM_USER_STATE_MAX (8u * 1024u * 1024u) /* delegate part of a push/pull state */

typedef enum {
    PD_SWIM_MSG_PING = 1,
    PD_SWIM_MSG_PING_REQ = 2, /* indirect ping: "ping this target for me" */
    PD_SWIM_MSG_ACK = 3,
    PD_SWIM_MSG_NACK = 4,
    PD_SWIM_MSG_SUSPECT = 5,
    PD_SWIM_MSG_ALIVE = 6,
    PD_SWIM_MSG_DEAD = 7, /* "l": true marks a graceful leave */
    PD_SWIM_MSG_COMPOUND = 8,
    PD_SWIM_MSG_PUSHPULL = 9,
    PD_SWIM_MSG_USER = 10,
    PD_SWIM_MSG_SYNC = 11, /* "is your state the same as mine?": a digest, over UDP */
} pd_swim_msg_type_t;

typedef enum {
    PD_SWIM_ALIVE = 0,
    PD_SWIM_SUSPECT = 1,
    PD_SWIM_DEAD = 2,
    PD_SWIM_LEFT = 3,
} pd_swim_state_t;

/* Opaque to the core: the shell maps it to a socket address. family 0 means "none". */
typedef struct {
    uint8_t family; /* 0, 4 or 6 */
    uint8_t ip[16];
    uint16_t port;
} pd_swim_addr_t;

/* A borrowed byte string (node ids, meta, payloads). */
typedef struct {
    const uint8_t *p;
    uint32_t len;
} pd_swim_bytes_t;

/* One member record in a push/pull state. */
typedef struct {
    pd_swim_bytes_t id;
    pd_swim_addr_t addr;
    pd_swim_bytes_t meta;
    uint32_t inc;
    uint8_t state; /* pd_swim_state_t */
} pd_swim_wire_node_t;

/* Decoded (or to-be-encoded) message. Fields unused by a type are zero. */
typedef struct {
    uint8_t type;
    uint8_t nack;  /* ping-req: the relay should nack if the target is silent */
    uint8_t left;  /* dead: a graceful leave */
    uint8_t join;  /* push/pull: sent while joining */
    uint8_t reply; /* push/pull: answer to a request */
    uint32_t seq;
    uint32_t inc;
    pd_swim_bytes_t node; /* subject: ping target, alive/suspect/dead node */
    pd_swim_bytes_t from; /* sender / accuser (optional in ping and ack) */
    pd_swim_addr_t addr;  /* subject address (ping-req target, alive) */
    pd_swim_bytes_t meta;
    pd_swim_bytes_t payload; /* user broadcast, or the delegate state of a push/pull */
    uint64_t digest;         /* sync: digest of the sender's members and delegate state */
    uint32_t node_tag;       /* ping without "node": pd_swim_id_tag of the target's id */
    uint32_t n_parts;        /* compound */
    pd_swim_bytes_t parts[PD_SWIM_COMPOUND_MAX];
    uint32_t n_nodes; /* push/pull */
    pd_swim_wire_node_t *nodes; /* push/pull: owned (pd_malloc) when decoded */
    /* push/pull encode only: the member array already encoded by pd_swim_wire_encode_nodes (for
     * n_nodes members), written as is instead of `nodes`. Same bytes on the wire. */
    pd_swim_bytes_t nodes_enc;
} pd_swim_msg_t;

/* Encoded size upper bound of m (exact encoders never exceed it). */
size_t pd_swim_wire_size_max(const pd_swim_msg_t *m);
/* Encode m into buf. -PD_ETOOBIG if it does not fit, -PD_EUSAGE on a field over its cap. */
int pd_swim_wire_encode(const pd_swim_msg_t *m, uint8_t *buf, size_t cap, size_t *len_out);
/* Encode the member array of a push/pull on its own, to be reused through msg.nodes_enc. Its
 * size is at most pd_swim_wire_nodes_size_max. */
size_t pd_swim_wire_nodes_size_max(const pd_swim_wire_node_t *nodes, uint32_t n);
int pd_swim_wire_encode_nodes(const pd_swim_wire_node_t *nodes, uint32_t n, uint8_t *buf, size_t cap,
                              size_t *len_out);
/* Encode a compound of already-encoded parts. */
int pd_swim_wire_encode_compound(const pd_swim_bytes_t *parts, uint32_t n, uint8_t *buf, size_t cap,
                                 size_t *len_out);
/* Compound framing overhead: fixed part and per-part cost (upper bounds). */
enum { PD_SWIM_COMPOUND_OVERHEAD = 12, PD_SWIM_COMPOUND_PART_OVERHEAD = 5 };

/* Decode one message. Returns 0, -PD_EMALFORMED, -PD_ETRUNCATED, -PD_ETOOBIG, -PD_EVERSION,
 * -PD_EUNKNOWN_TYPE or -ENOMEM. On success release with pd_swim_wire_release. */
int pd_swim_wire_decode(const uint8_t *buf, size_t len, pd_swim_msg_t *out);
void pd_swim_wire_release(pd_swim_msg_t *m);
/* Best-effort glance at an encoded message's subject id ("n") without decoding or validating it,
 * for cache hints before the real decode: 0 and a borrowed id, or -1 (not found, or any shape
 * the glance does not follow). Never read past len; never an input to protocol decisions. */
int pd_swim_wire_peek_node(const uint8_t *buf, size_t len, pd_swim_bytes_t *node);

/* Helpers shared with the core. */
int pd_swim_addr_eq(const pd_swim_addr_t *a, const pd_swim_addr_t *b);
int pd_swim_id_valid(const uint8_t *p, size_t len);
/* 32-bit tag of a node id (FNV-1a): how a ping names its target (5 bytes where the id takes 27,
 * in the packet every member sends every probe interval). The target only checks that the ping is
 * not meant for a previous owner of its address; a node restarted on the same address under a new
 * id would answer for the old one only if the two tags clash (1 in 2^32). */
uint32_t pd_swim_id_tag(const uint8_t *p, size_t len);
const char *pd_swim_msg_type_name(int type);
const char *pd_swim_state_name(int state);

#endif
