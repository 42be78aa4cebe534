#include "ctl_wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_buf.h"
#include "pd_err.h"
#include "pd_mp.h"

void pd_ctl_framer_init(pd_ctl_framer_t *f, size_t max_frame)
{
    memset(f, 0, sizeof *f);
    f->max_frame = max_frame;
}

void pd_ctl_framer_free(pd_ctl_framer_t *f)
{
    pd_free(f->buf);
    f->buf = NULL;
    f->len = f->cap = 0;
}

/* Drop the frame handed out by the last next() call. */
static void drop_returned(pd_ctl_framer_t *f)
{
    if (!f->returned)
        return;
    memmove(f->buf, f->buf + f->returned, f->len - f->returned);
    f->len -= f->returned;
    f->returned = 0;
}

/* Check the first buffered header as soon as it is complete, so an oversized or empty frame is
 * refused before its body is buffered. */
static int check_header(pd_ctl_framer_t *f)
{
    if (f->len < PD_CTL_HDR_LEN)
        return 0;
    uint32_t n = pd_get_u32(f->buf);
    if (n == 0)
        return f->err = -PD_EMALFORMED;
    if (n > f->max_frame)
        return f->err = -PD_ETOOBIG;
    return 0;
}

int pd_ctl_framer_feed(pd_ctl_framer_t *f, const void *data, size_t len)
{
    if (f->err)
        return f->err;
    drop_returned(f);
    if (len == 0)
        return 0;
    /* The caller drains frames after every feed, so the buffer holds one partial frame plus one
     * read's worth; anything beyond two frames' size is a flood. */
    if (len > 2 * (PD_CTL_HDR_LEN + f->max_frame) - f->len)
        return f->err = -PD_ETOOBIG;
    if (f->len + len > f->cap) {
        size_t ncap = f->cap ? f->cap : 4096;
        while (ncap < f->len + len)
            ncap *= 2;
        uint8_t *nb = pd_realloc(f->buf, ncap);
        if (!nb)
            return -ENOMEM;
        f->buf = nb;
        f->cap = ncap;
    }
    memcpy(f->buf + f->len, data, len);
    f->len += len;
    return check_header(f);
}

int pd_ctl_framer_next(pd_ctl_framer_t *f, const uint8_t **body, size_t *body_len)
{
    if (f->err)
        return f->err;
    drop_returned(f);
    if (check_header(f))
        return f->err;
    if (f->len < PD_CTL_HDR_LEN)
        return 0;
    uint32_t n = pd_get_u32(f->buf);
    if (f->len < PD_CTL_HDR_LEN + (size_t)n)
        return 0;
    f->returned = PD_CTL_HDR_LEN + (size_t)n;
    *body = f->buf + PD_CTL_HDR_LEN;
    *body_len = n;
    return 1;
}

size_t pd_ctl_framer_pending(const pd_ctl_framer_t *f) { return f->len - f->returned; }

static int decode_envelope(const uint8_t *body, size_t len, msgpack_unpacked *u, uint64_t *id)
{
    int rc = pd_mp_unpack(body, len, u);
    if (rc)
        return rc;
    const msgpack_object *root = &u->data;
    uint64_t v = 0, got_id = 0;
    if (root->type != MSGPACK_OBJECT_MAP || pd_mp_get_u64(root, "id", &got_id) != 0) {
        msgpack_unpacked_destroy(u);
        return -PD_EMALFORMED;
    }
    *id = got_id;
    if (pd_mp_get_u64(root, "v", &v) != 0) {
        msgpack_unpacked_destroy(u);
        return -PD_EMALFORMED;
    }
    if (v != PD_CTL_VERSION) {
        msgpack_unpacked_destroy(u);
        return -PD_EVERSION;
    }
    return 0;
}

int pd_ctl_decode_request(const uint8_t *body, size_t len, msgpack_unpacked *u, pd_ctl_request_t *req,
                          uint64_t *id_out)
{
    uint64_t id = 0;
    int rc = decode_envelope(body, len, u, &id);
    *id_out = id; /* readable even when the version is wrong, so the error reply can carry it */
    if (rc)
        return rc;
    const msgpack_object *args = pd_mp_get(&u->data, "args");
    pd_ctl_request_t r = {.id = id, .args = NULL};
    if (pd_mp_get_strbuf(&u->data, "op", r.op, sizeof r.op) != 0 || r.op[0] == '\0' ||
        (args && args->type != MSGPACK_OBJECT_MAP && args->type != MSGPACK_OBJECT_NIL)) {
        msgpack_unpacked_destroy(u);
        return -PD_EMALFORMED;
    }
    r.args = (args && args->type == MSGPACK_OBJECT_MAP) ? args : NULL;
    *req = r;
    return 0;
}

int pd_ctl_decode_reply(const uint8_t *body, size_t len, msgpack_unpacked *u, pd_ctl_reply_t *rep)
{
    uint64_t id = 0;
    int rc = decode_envelope(body, len, u, &id);
    if (rc)
        return rc;
    pd_ctl_reply_t r = {.id = id};
    if (pd_mp_get_bool(&u->data, "ok", &r.ok) != 0) {
        msgpack_unpacked_destroy(u);
        return -PD_EMALFORMED;
    }
    if (r.ok) {
        r.data = pd_mp_get(&u->data, "data");
    } else {
        int64_t code = 0;
        if (pd_mp_get_i64(&u->data, "code", &code) != 0 || code >= 0 || code < -100000) {
            msgpack_unpacked_destroy(u);
            return -PD_EMALFORMED;
        }
        r.code = (int)code;
        if (pd_mp_get_strbuf(&u->data, "error", r.error, sizeof r.error) != 0)
            snprintf(r.error, sizeof r.error, "%s", pd_strerror(r.code));
    }
    *rep = r;
    return 0;
}

void pd_ctl_msg_init(pd_ctl_msg_t *m)
{
    static const char zero_hdr[PD_CTL_HDR_LEN];
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
    msgpack_sbuffer_write(&m->sb, zero_hdr, sizeof zero_hdr);
}

void pd_ctl_msg_destroy(pd_ctl_msg_t *m) { msgpack_sbuffer_destroy(&m->sb); }

void pd_ctl_msg_request(pd_ctl_msg_t *m, uint64_t id, const char *op, uint32_t nargs)
{
    msgpack_pack_map(&m->pk, 4);
    pd_mp_pack_kv_u64(&m->pk, "v", PD_CTL_VERSION);
    pd_mp_pack_kv_u64(&m->pk, "id", id);
    pd_mp_pack_kv_str(&m->pk, "op", op);
    pd_mp_pack_cstr(&m->pk, "args");
    msgpack_pack_map(&m->pk, nargs);
}

void pd_ctl_msg_reply_ok(pd_ctl_msg_t *m, uint64_t id)
{
    msgpack_pack_map(&m->pk, 4);
    pd_mp_pack_kv_u64(&m->pk, "v", PD_CTL_VERSION);
    pd_mp_pack_kv_u64(&m->pk, "id", id);
    pd_mp_pack_kv_bool(&m->pk, "ok", 1);
    pd_mp_pack_cstr(&m->pk, "data");
}

void pd_ctl_msg_reply_err(pd_ctl_msg_t *m, uint64_t id, int code, const char *text)
{
    msgpack_pack_map(&m->pk, 5);
    pd_mp_pack_kv_u64(&m->pk, "v", PD_CTL_VERSION);
    pd_mp_pack_kv_u64(&m->pk, "id", id);
    pd_mp_pack_kv_bool(&m->pk, "ok", 0);
    pd_mp_pack_kv_i64(&m->pk, "code", code);
    char clipped[PD_CTL_ERRMSG_MAX];
    snprintf(clipped, sizeof clipped, "%s", text ? text : pd_strerror(code));
    pd_mp_pack_kv_str(&m->pk, "error", clipped);
}

int pd_ctl_msg_finish(pd_ctl_msg_t *m, const uint8_t **frame, size_t *frame_len)
{
    size_t body = m->sb.size - PD_CTL_HDR_LEN;
    if (body == 0 || body > PD_CTL_FRAME_MAX)
        return -PD_ETOOBIG;
    pd_put_u32((uint8_t *)m->sb.data, (uint32_t)body);
    *frame = (const uint8_t *)m->sb.data;
    *frame_len = m->sb.size;
    return 0;
}
