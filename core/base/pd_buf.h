/* Bounded byte reader and writer with a sticky error (after the first out-of-range access every
 * later call is a no-op returning zeros), so a codec checks the error once at the end. */
#ifndef PD_BUF_H
#define PD_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *data;
    size_t len;
    size_t pos;
    int err; /* 0 or -PD_ETRUNCATED */
} pd_rbuf_t;

typedef struct {
    uint8_t *data;
    size_t cap;
    size_t len;
    int err; /* 0 or -PD_ETOOBIG */
} pd_wbuf_t;

void pd_rbuf_init(pd_rbuf_t *r, const void *data, size_t len);
size_t pd_rbuf_left(const pd_rbuf_t *r);
uint8_t pd_rbuf_u8(pd_rbuf_t *r);
uint16_t pd_rbuf_u16(pd_rbuf_t *r); /* big-endian, as on every wire we speak */
uint32_t pd_rbuf_u32(pd_rbuf_t *r);
uint64_t pd_rbuf_u64(pd_rbuf_t *r);
void pd_rbuf_copy(pd_rbuf_t *r, void *out, size_t n);
/* Borrow n bytes in place; NULL (and sticky error) if fewer remain. */
const uint8_t *pd_rbuf_take(pd_rbuf_t *r, size_t n);
void pd_rbuf_skip(pd_rbuf_t *r, size_t n);
/* Move to an absolute offset (used by DNS name compression); errors if past the end. */
void pd_rbuf_seek(pd_rbuf_t *r, size_t pos);
/* Mark the reader failed with a given code (keeps the first error). */
void pd_rbuf_fail(pd_rbuf_t *r, int err);

void pd_wbuf_init(pd_wbuf_t *w, void *data, size_t cap);
size_t pd_wbuf_left(const pd_wbuf_t *w);
void pd_wbuf_u8(pd_wbuf_t *w, uint8_t v);
void pd_wbuf_u16(pd_wbuf_t *w, uint16_t v);
void pd_wbuf_u32(pd_wbuf_t *w, uint32_t v);
void pd_wbuf_u64(pd_wbuf_t *w, uint64_t v);
void pd_wbuf_put(pd_wbuf_t *w, const void *src, size_t n);
/* Reserve n bytes to fill later (e.g. a length prefix); NULL on overflow. */
uint8_t *pd_wbuf_reserve(pd_wbuf_t *w, size_t n);
void pd_wbuf_fail(pd_wbuf_t *w, int err);

static inline void pd_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void pd_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint16_t pd_get_u16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t pd_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#endif
