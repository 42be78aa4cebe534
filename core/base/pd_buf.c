#include "pd_buf.h"

#include <string.h>

#include "pd_err.h"

void pd_rbuf_init(pd_rbuf_t *r, const void *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
    r->err = 0;
}

size_t pd_rbuf_left(const pd_rbuf_t *r) { return r->err ? 0 : r->len - r->pos; }

void pd_rbuf_fail(pd_rbuf_t *r, int err)
{
    if (!r->err)
        r->err = err;
}

const uint8_t *pd_rbuf_take(pd_rbuf_t *r, size_t n)
{
    if (r->err || n > r->len - r->pos) {
        pd_rbuf_fail(r, -PD_ETRUNCATED);
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

uint8_t pd_rbuf_u8(pd_rbuf_t *r)
{
    const uint8_t *p = pd_rbuf_take(r, 1);
    return p ? p[0] : 0;
}

uint16_t pd_rbuf_u16(pd_rbuf_t *r)
{
    const uint8_t *p = pd_rbuf_take(r, 2);
    return p ? pd_get_u16(p) : 0;
}

uint32_t pd_rbuf_u32(pd_rbuf_t *r)
{
    const uint8_t *p = pd_rbuf_take(r, 4);
    return p ? pd_get_u32(p) : 0;
}

uint64_t pd_rbuf_u64(pd_rbuf_t *r)
{
    const uint8_t *p = pd_rbuf_take(r, 8);
    if (!p)
        return 0;
    return ((uint64_t)pd_get_u32(p) << 32) | pd_get_u32(p + 4);
}

void pd_rbuf_copy(pd_rbuf_t *r, void *out, size_t n)
{
    const uint8_t *p = pd_rbuf_take(r, n);
    if (p)
        memcpy(out, p, n);
    else if (n)
        memset(out, 0, n);
}

void pd_rbuf_skip(pd_rbuf_t *r, size_t n) { (void)pd_rbuf_take(r, n); }

void pd_rbuf_seek(pd_rbuf_t *r, size_t pos)
{
    if (r->err)
        return;
    if (pos > r->len) {
        pd_rbuf_fail(r, -PD_ETRUNCATED);
        return;
    }
    r->pos = pos;
}

void pd_wbuf_init(pd_wbuf_t *w, void *data, size_t cap)
{
    w->data = data;
    w->cap = data ? cap : 0;
    w->len = 0;
    w->err = 0;
}

size_t pd_wbuf_left(const pd_wbuf_t *w) { return w->err ? 0 : w->cap - w->len; }

void pd_wbuf_fail(pd_wbuf_t *w, int err)
{
    if (!w->err)
        w->err = err;
}

uint8_t *pd_wbuf_reserve(pd_wbuf_t *w, size_t n)
{
    if (w->err || n > w->cap - w->len) {
        pd_wbuf_fail(w, -PD_ETOOBIG);
        return NULL;
    }
    uint8_t *p = w->data + w->len;
    w->len += n;
    return p;
}

void pd_wbuf_put(pd_wbuf_t *w, const void *src, size_t n)
{
    uint8_t *p = pd_wbuf_reserve(w, n);
    if (p && n)
        memcpy(p, src, n);
}

void pd_wbuf_u8(pd_wbuf_t *w, uint8_t v) { pd_wbuf_put(w, &v, 1); }

void pd_wbuf_u16(pd_wbuf_t *w, uint16_t v)
{
    uint8_t b[2];
    pd_put_u16(b, v);
    pd_wbuf_put(w, b, 2);
}

void pd_wbuf_u32(pd_wbuf_t *w, uint32_t v)
{
    uint8_t b[4];
    pd_put_u32(b, v);
    pd_wbuf_put(w, b, 4);
}

void pd_wbuf_u64(pd_wbuf_t *w, uint64_t v)
{
    pd_wbuf_u32(w, (uint32_t)(v >> 32));
    pd_wbuf_u32(w, (uint32_t)v);
}
