#include "pd_mp.h"

#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_buf.h"
#include "pd_err.h"
#include "pd_limits.h"

/* Skip one object; `pending` counts elements still owed so a count can be checked against the
 * bytes left (each element takes at least one byte). */
static void skip_object(pd_rbuf_t *r, unsigned depth, unsigned max_depth);

static void skip_items(pd_rbuf_t *r, uint64_t n, unsigned depth, unsigned max_depth)
{
    if (n > pd_rbuf_left(r)) { /* more elements declared than bytes left */
        pd_rbuf_fail(r, -PD_ETRUNCATED);
        return;
    }
    if (depth >= max_depth) {
        pd_rbuf_fail(r, -PD_EMALFORMED);
        return;
    }
    for (uint64_t i = 0; i < n && !r->err; i++)
        skip_object(r, depth + 1, max_depth);
}

static void skip_object(pd_rbuf_t *r, unsigned depth, unsigned max_depth)
{
    uint8_t t = pd_rbuf_u8(r);
    if (r->err)
        return;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
        return;
    if ((t & 0xe0) == 0xa0) {
        pd_rbuf_skip(r, t & 0x1f);
        return;
    }
    if ((t & 0xf0) == 0x90) {
        skip_items(r, t & 0x0f, depth, max_depth);
        return;
    }
    if ((t & 0xf0) == 0x80) {
        skip_items(r, 2u * (t & 0x0f), depth, max_depth);
        return;
    }
    switch (t) {
    case 0xc4: case 0xd9: pd_rbuf_skip(r, pd_rbuf_u8(r)); return;
    case 0xc5: case 0xda: pd_rbuf_skip(r, pd_rbuf_u16(r)); return;
    case 0xc6: case 0xdb: pd_rbuf_skip(r, pd_rbuf_u32(r)); return;
    case 0xc7: pd_rbuf_skip(r, 1u + pd_rbuf_u8(r)); return;
    case 0xc8: pd_rbuf_skip(r, 1u + pd_rbuf_u16(r)); return;
    case 0xc9: pd_rbuf_skip(r, 1u + (size_t)pd_rbuf_u32(r)); return;
    case 0xca: pd_rbuf_skip(r, 4); return;
    case 0xcb: pd_rbuf_skip(r, 8); return;
    case 0xcc: case 0xd0: pd_rbuf_skip(r, 1); return;
    case 0xcd: case 0xd1: pd_rbuf_skip(r, 2); return;
    case 0xce: case 0xd2: pd_rbuf_skip(r, 4); return;
    case 0xcf: case 0xd3: pd_rbuf_skip(r, 8); return;
    case 0xd4: pd_rbuf_skip(r, 2); return;
    case 0xd5: pd_rbuf_skip(r, 3); return;
    case 0xd6: pd_rbuf_skip(r, 5); return;
    case 0xd7: pd_rbuf_skip(r, 9); return;
    case 0xd8: pd_rbuf_skip(r, 17); return;
    case 0xdc: skip_items(r, pd_rbuf_u16(r), depth, max_depth); return;
    case 0xdd: skip_items(r, pd_rbuf_u32(r), depth, max_depth); return;
    case 0xde: skip_items(r, 2u * (uint64_t)pd_rbuf_u16(r), depth, max_depth); return;
    case 0xdf: skip_items(r, 2u * (uint64_t)pd_rbuf_u32(r), depth, max_depth); return;
    default: pd_rbuf_fail(r, -PD_EMALFORMED); return; /* 0xc1 is never used */
    }
}

int pd_mp_validate(const void *data, size_t len, unsigned max_depth)
{
    pd_rbuf_t r;
    pd_rbuf_init(&r, data, len);
    skip_object(&r, 0, max_depth);
    if (r.err)
        return r.err == -PD_ETRUNCATED ? -PD_ETRUNCATED : -PD_EMALFORMED;
    if (pd_rbuf_left(&r) != 0)
        return -PD_EMALFORMED;
    return 0;
}

int pd_mp_unpack(const void *data, size_t len, msgpack_unpacked *out)
{
    int rc = pd_mp_validate(data, len, PD_MP_DEPTH_MAX);
    if (rc)
        return rc;
    msgpack_unpacked_init(out);
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(out, data, len, &off);
    if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(out);
        return ret == MSGPACK_UNPACK_NOMEM_ERROR ? -ENOMEM : -PD_EMALFORMED;
    }
    return 0;
}

int pd_mp_str_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *pd_mp_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (pd_mp_str_eq(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

int pd_mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
    const msgpack_object *o = pd_mp_get(map, key);
    if (!o)
        return -PD_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -PD_EMALFORMED;
    *out = o->via.u64;
    return 0;
}

int pd_mp_get_i64(const msgpack_object *map, const char *key, int64_t *out)
{
    const msgpack_object *o = pd_mp_get(map, key);
    if (!o)
        return -PD_ENOTFOUND;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return 0;
    }
    return -PD_EMALFORMED;
}

int pd_mp_get_bool(const msgpack_object *map, const char *key, int *out)
{
    const msgpack_object *o = pd_mp_get(map, key);
    if (!o)
        return -PD_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return -PD_EMALFORMED;
    *out = o->via.boolean;
    return 0;
}

int pd_mp_get_str(const msgpack_object *map, const char *key, const char **ptr, size_t *len)
{
    const msgpack_object *o = pd_mp_get(map, key);
    if (!o)
        return -PD_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_STR)
        return -PD_EMALFORMED;
    *ptr = o->via.str.ptr;
    *len = o->via.str.size;
    return 0;
}

int pd_mp_get_strbuf(const msgpack_object *map, const char *key, char *buf, size_t cap)
{
    const char *p;
    size_t n;
    int rc = pd_mp_get_str(map, key, &p, &n);
    if (rc)
        return rc;
    if (n + 1 > cap)
        return -PD_ETOOBIG;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 0;
}

int pd_mp_get_text(const msgpack_object *map, const char *key, char *buf, size_t cap, size_t *len)
{
    const char *p;
    size_t n;
    if (pd_mp_get_str(map, key, &p, &n) != 0 || n >= cap || memchr(p, '\0', n))
        return -PD_EMALFORMED;
    memcpy(buf, p, n);
    buf[n] = '\0';
    if (len)
        *len = n;
    return 0;
}

void pd_mp_pack_kv_strn(msgpack_packer *pk, const char *key, const char *val, size_t len)
{
    pd_mp_pack_cstr(pk, key);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, val, len);
}

void pd_mp_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s ? s : "", n);
}

void pd_mp_pack_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
    pd_mp_pack_cstr(pk, key);
    pd_mp_pack_cstr(pk, val);
}

void pd_mp_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t val)
{
    pd_mp_pack_cstr(pk, key);
    msgpack_pack_uint64(pk, val);
}

void pd_mp_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t val)
{
    pd_mp_pack_cstr(pk, key);
    msgpack_pack_int64(pk, val);
}

void pd_mp_pack_kv_bool(msgpack_packer *pk, const char *key, int val)
{
    pd_mp_pack_cstr(pk, key);
    if (val)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

int pd_mp_out_write(void *ctx, const char *buf, size_t n)
{
    pd_mp_out_t *o = ctx;
    if (o->err)
        return -1;
    if (n == 0)
        return 0;
    if (n > o->max - o->len) {
        o->err = -PD_ETOOBIG;
        return -1;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *d = pd_realloc(o->data, cap);
        if (!d) {
            o->err = -ENOMEM;
            return -1;
        }
        o->data = d;
        o->cap = cap;
    }
    memcpy(o->data + o->len, buf, n);
    o->len += n;
    return 0;
}

int pd_mp_sbuffer_take(msgpack_sbuffer *sb, void *out, size_t cap, size_t *len, int secret)
{
    int rc = sb->size <= cap ? 0 : -PD_ETOOBIG;
    if (rc == 0) {
        if (sb->size)
            memcpy(out, sb->data, sb->size);
        *len = sb->size;
    }
    if (secret && sb->data)
        explicit_bzero(sb->data, sb->size);
    msgpack_sbuffer_destroy(sb);
    return rc;
}
