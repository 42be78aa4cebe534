/* Control protocol shared by peerd and peerctl: length-prefixed msgpack frames.
 *
 *   frame   = u32 big-endian body length (1..PD_CTL_FRAME_MAX) + body
 *   request = {"v": 1, "id": u64, "op": str, "args": map}          ("args" optional)
 *   reply   = {"v": 1, "id": u64, "ok": true,  "data": any}
 *           | {"v": 1, "id": u64, "ok": false, "code": int, "error": str}
 *
 * Unknown keys are ignored; a body that is not a map, lacks v/id/op, or has another version is an
 * error the server answers (id 0 when the id itself could not be read). */
#ifndef PD_CTL_WIRE_H
#define PD_CTL_WIRE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_limits.h"

enum {
    PD_CTL_VERSION = 1,
    PD_CTL_HDR_LEN = 4,
    PD_CTL_OP_MAX = 64,      /* bytes in an op name */
    PD_CTL_ERRMSG_MAX = 512, /* bytes in an error text */
};

/* Incremental frame splitter for a byte stream (sans-IO: feed what the socket gave you). */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    size_t returned; /* bytes of the frame handed out by the last next(), dropped lazily */
    size_t max_frame;
    int err; /* sticky: -PD_ETOOBIG (length over the cap) or -PD_EMALFORMED (zero length) */
} pd_ctl_framer_t;

void pd_ctl_framer_init(pd_ctl_framer_t *f, size_t max_frame);
void pd_ctl_framer_free(pd_ctl_framer_t *f);
/* Append stream bytes; 0 or -ENOMEM / the sticky error. */
int pd_ctl_framer_feed(pd_ctl_framer_t *f, const void *data, size_t len);
/* 1 and a borrowed body (valid until the next feed/next call) when a whole frame is buffered,
 * 0 when more bytes are needed, <0 on a framing error (the stream cannot be resynchronised). */
int pd_ctl_framer_next(pd_ctl_framer_t *f, const uint8_t **body, size_t *body_len);
/* Bytes buffered but not yet returned as frames (a peer that closes mid-frame left these). */
size_t pd_ctl_framer_pending(const pd_ctl_framer_t *f);

typedef struct {
    uint64_t id;
    char op[PD_CTL_OP_MAX + 1];
    const msgpack_object *args; /* map or NULL; borrowed from the unpacked body */
} pd_ctl_request_t;

typedef struct {
    uint64_t id;
    int ok;
    int code;                      /* negative error code when !ok */
    char error[PD_CTL_ERRMSG_MAX]; /* when !ok */
    const msgpack_object *data;    /* when ok; borrowed */
} pd_ctl_reply_t;

/* Decode a request body. `u` holds the unpacked tree; on success the caller destroys it after
 * using req. On failure nothing needs destroying and *id_out holds the id if it was readable. */
int pd_ctl_decode_request(const uint8_t *body, size_t len, msgpack_unpacked *u, pd_ctl_request_t *req,
                          uint64_t *id_out);
int pd_ctl_decode_reply(const uint8_t *body, size_t len, msgpack_unpacked *u, pd_ctl_reply_t *rep);

/* A message under construction: an sbuffer that starts with room for the length prefix. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} pd_ctl_msg_t;

void pd_ctl_msg_init(pd_ctl_msg_t *m);
void pd_ctl_msg_destroy(pd_ctl_msg_t *m);
/* Start a request; the caller then packs exactly `nargs` key/value pairs into m->pk. */
void pd_ctl_msg_request(pd_ctl_msg_t *m, uint64_t id, const char *op, uint32_t nargs);
/* Start a success reply; the caller then packs exactly one data object into m->pk. */
void pd_ctl_msg_reply_ok(pd_ctl_msg_t *m, uint64_t id);
/* A complete error reply. */
void pd_ctl_msg_reply_err(pd_ctl_msg_t *m, uint64_t id, int code, const char *text);
/* Patch the length prefix; returns the frame (prefix included) or -PD_ETOOBIG over the cap. */
int pd_ctl_msg_finish(pd_ctl_msg_t *m, const uint8_t **frame, size_t *frame_len);

#endif
