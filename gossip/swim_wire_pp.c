/* Push/pull states decoded by walking their bytes. A state carries every member (10,000 records
 * at N=10,000); msgpack-c's object model built a 200-260 byte tree per record before the fields
 * were read from it, which made decoding a fifth of the simulator's time. The input has passed
 * pd_mp_validate (one complete object, bounded depth), so the walk needs no recursion; it still
 * never reads past the end. Field rules are those of the object path in swim_wire.c: the first
 * entry with a key wins, other keys are skipped, a non-negative signed integer counts as an
 * unsigned one (as msgpack-c reports it), and the checks and their errors come in the same order. */
#include "swim_wire_pp.h"

#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"

typedef enum { K_UINT, K_NEG, K_BOOL, K_STR, K_BIN, K_ARRAY, K_MAP, K_OTHER } kind_t;

typedef struct {
    uint8_t kind;
    uint64_t u;          /* integer value, bool, or element/byte count */
    const uint8_t *data; /* str/bin bytes */
} obj_t;

typedef struct {
    const uint8_t *p, *end;
} rd_t;

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int take(rd_t *r, size_t n, const uint8_t **out)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    *out = r->p;
    r->p += n;
    return 0;
}

static int sized(rd_t *r, unsigned width, uint64_t *out)
{
    const uint8_t *b;
    if (take(r, width, &b))
        return -1;
    *out = be(b, width);
    return 0;
}

/* One object's header; strings, binaries, numbers and extensions are consumed whole, a map's or
 * an array's elements are left to the caller. */
static int next(rd_t *r, obj_t *o)
{
    const uint8_t *b;
    if (take(r, 1, &b))
        return -1;
    uint8_t t = *b;
    uint64_t n = 0;
    o->data = NULL;
    if (t <= 0x7f) {
        o->kind = K_UINT, o->u = t;
        return 0;
    }
    if (t >= 0xe0) {
        o->kind = K_NEG;
        return 0;
    }
    if ((t & 0xe0) == 0xa0) {
        o->kind = K_STR, o->u = t & 0x1f;
        return take(r, o->u, &o->data);
    }
    if ((t & 0xf0) == 0x90 || (t & 0xf0) == 0x80) {
        o->kind = (t & 0xf0) == 0x90 ? K_ARRAY : K_MAP, o->u = t & 0x0f;
        return 0;
    }
    switch (t) {
    case 0xc2: case 0xc3: o->kind = K_BOOL, o->u = t == 0xc3; return 0;
    case 0xc4: case 0xc5: case 0xc6:
    case 0xd9: case 0xda: case 0xdb: {
        unsigned w = t == 0xc4 || t == 0xd9 ? 1 : t == 0xc5 || t == 0xda ? 2 : 4;
        o->kind = t <= 0xc6 ? K_BIN : K_STR;
        if (sized(r, w, &n))
            return -1;
        o->u = n;
        return take(r, n, &o->data);
    }
    case 0xcc: case 0xcd: case 0xce: case 0xcf: {
        o->kind = K_UINT;
        return sized(r, 1u << (t - 0xcc), &o->u);
    }
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        unsigned w = 1u << (t - 0xd0);
        if (sized(r, w, &n))
            return -1;
        int neg = (n >> (8 * w - 1)) & 1; /* sign bit */
        o->kind = neg ? K_NEG : K_UINT, o->u = n;
        return 0;
    }
    case 0xdc: case 0xdd: case 0xde: case 0xdf:
        o->kind = t <= 0xdd ? K_ARRAY : K_MAP;
        return sized(r, t == 0xdc || t == 0xde ? 2 : 4, &o->u);
    case 0xc0: o->kind = K_OTHER; return 0;
    case 0xca: o->kind = K_OTHER; return take(r, 4, &b);
    case 0xcb: o->kind = K_OTHER; return take(r, 8, &b);
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        o->kind = K_OTHER;
        return take(r, 1 + (1u << (t - 0xd4)), &b);
    case 0xc7: case 0xc8: case 0xc9:
        o->kind = K_OTHER;
        if (sized(r, 1u << (t - 0xc7), &n))
            return -1;
        return take(r, 1 + n, &b);
    default: return -1; /* 0xc1: validation rejects it */
    }
}

/* Skip n whole objects. */
static int skip(rd_t *r, uint64_t n)
{
    obj_t o;
    while (n > 0) {
        if (next(r, &o))
            return -1;
        n--;
        if (o.kind == K_ARRAY)
            n += o.u;
        else if (o.kind == K_MAP)
            n += 2 * o.u;
    }
    return 0;
}

/* A field name: 1 or 2 bytes (second 0 for one). */
typedef struct {
    char c[2];
} field_key_t;

/* Walk a map of `pairs` entries: for each key in keys[], the position of its first value, or NULL. */
static int map_fields(rd_t *r, uint64_t pairs, const field_key_t *keys, unsigned nk, const uint8_t **at)
{
    for (unsigned k = 0; k < nk; k++)
        at[k] = NULL;
    for (uint64_t i = 0; i < pairs; i++) {
        obj_t key;
        if (next(r, &key))
            return -1;
        if (key.kind == K_STR && (key.u == 1 || key.u == 2)) {
            char c1 = key.u == 2 ? (char)key.data[1] : 0;
            for (unsigned k = 0; k < nk; k++) {
                if (!at[k] && keys[k].c[0] == (char)key.data[0] && keys[k].c[1] == c1 && (c1 || key.u == 1)) {
                    at[k] = r->p;
                    break;
                }
            }
        } else if (key.kind == K_ARRAY || key.kind == K_MAP) {
            if (skip(r, key.kind == K_MAP ? 2 * key.u : key.u))
                return -1;
        }
        if (skip(r, 1))
            return -1;
    }
    return 0;
}

/* The value at `at` (from map_fields), or -PD_ENOTFOUND. */
static int value_at(const rd_t *r, const uint8_t *at, obj_t *o)
{
    if (!at)
        return -PD_ENOTFOUND;
    rd_t v = {at, r->end};
    return next(&v, o) ? -PD_EMALFORMED : 0;
}

static int get_u32(const rd_t *r, const uint8_t *at, uint32_t *out)
{
    obj_t o;
    if (value_at(r, at, &o) || o.kind != K_UINT || o.u > UINT32_MAX)
        return -PD_EMALFORMED;
    *out = (uint32_t)o.u;
    return 0;
}

static int get_flag(const rd_t *r, const uint8_t *at, uint8_t *out)
{
    obj_t o;
    int rc = value_at(r, at, &o);
    if (rc == -PD_ENOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc || o.kind != K_BOOL)
        return -PD_EMALFORMED;
    *out = (uint8_t)o.u;
    return 0;
}

/* Optional byte string of a kind, capped: absent is empty. */
static int get_opt(const rd_t *r, const uint8_t *at, uint8_t kind, uint64_t max, pd_swim_bytes_t *out)
{
    obj_t o;
    int rc = value_at(r, at, &o);
    if (rc == -PD_ENOTFOUND) {
        *out = (pd_swim_bytes_t){NULL, 0};
        return 0;
    }
    if (rc || o.kind != kind)
        return -PD_EMALFORMED;
    *out = (pd_swim_bytes_t){o.data, (uint32_t)o.u};
    return o.u > max ? -PD_ETOOBIG : 0;
}

static int get_id(const rd_t *r, const uint8_t *at, pd_swim_bytes_t *out)
{
    if (!at || get_opt(r, at, K_STR, UINT32_MAX, out) || !pd_swim_id_valid(out->p, out->len))
        return -PD_EMALFORMED;
    return 0;
}

static int get_addr(const rd_t *r, const uint8_t *at, pd_swim_addr_t *out)
{
    pd_swim_bytes_t b;
    if (!at || get_opt(r, at, K_BIN, UINT32_MAX, &b))
        return -PD_EMALFORMED;
    return pd_swim_wire__addr_from(b, out);
}

enum { F_ID, F_ADDR, F_META, F_INC, F_STATE, F_REC_N };
static const field_key_t rec_keys[F_REC_N] = {{{'n', 0}}, {{'a', 0}}, {{'m', 0}}, {{'i', 0}}, {{'s', 't'}}};

static int node_rec(rd_t *r, pd_swim_wire_node_t *n)
{
    obj_t o;
    if (next(r, &o))
        return -PD_EMALFORMED;
    if (o.kind != K_MAP)
        return -PD_EMALFORMED; /* the decode stops at the first bad record */
    const uint8_t *at[F_REC_N];
    if (map_fields(r, o.u, rec_keys, F_REC_N, at))
        return -PD_EMALFORMED;
    uint32_t st = 0;
    int rc = get_id(r, at[F_ID], &n->id);
    rc = rc ? rc : get_addr(r, at[F_ADDR], &n->addr);
    rc = rc ? rc : get_opt(r, at[F_META], K_BIN, PD_SWIM_META_MAX, &n->meta);
    rc = rc ? rc : get_u32(r, at[F_INC], &n->inc);
    rc = rc ? rc : get_u32(r, at[F_STATE], &st);
    if (rc == 0 && st > PD_SWIM_LEFT)
        rc = -PD_EMALFORMED;
    n->state = (uint8_t)st;
    return rc;
}

enum { T_VER, T_TYPE, T_SEQ, T_JOIN, T_REPLY, T_NODES, T_USER, T_N };
static const field_key_t top_keys[T_N] = {{{'v', 0}}, {{'t', 0}}, {{'s', 0}}, {{'j', 0}}, {{'r', 0}}, {{'N', 0}}, {{'u', 0}}};

int pd_swim_wire__decode_pushpull(const uint8_t *buf, size_t len, pd_swim_msg_t *m, int *rc)
{
    rd_t r = {buf, buf + len};
    obj_t root;
    const uint8_t *at[T_N];
    uint32_t ver, type;
    if (next(&r, &root) || root.kind != K_MAP || map_fields(&r, root.u, top_keys, T_N, at) ||
        get_u32(&r, at[T_VER], &ver) || get_u32(&r, at[T_TYPE], &type) || ver != PD_SWIM_WIRE_VERSION ||
        type != PD_SWIM_MSG_PUSHPULL)
        return 0;
    m->type = PD_SWIM_MSG_PUSHPULL;
    int e = get_u32(&r, at[T_SEQ], &m->seq);
    e = e ? e : get_flag(&r, at[T_JOIN], &m->join);
    e = e ? e : get_flag(&r, at[T_REPLY], &m->reply);
    e = e ? e : get_opt(&r, at[T_USER], K_BIN, PD_SWIM_USER_STATE_MAX, &m->payload);
    obj_t arr;
    if (e == 0 && (value_at(&r, at[T_NODES], &arr) || arr.kind != K_ARRAY))
        e = -PD_EMALFORMED;
    if (e == 0 && arr.u > PD_SWIM_MEMBERS_MAX)
        e = -PD_ETOOBIG;
    if (e == 0 && arr.u > 0) {
        m->nodes = pd_calloc(arr.u, sizeof *m->nodes);
        if (!m->nodes)
            e = -ENOMEM;
        else
            m->n_nodes = (uint32_t)arr.u;
        rd_t nr = {at[T_NODES], r.end};
        obj_t hdr;
        (void)next(&nr, &hdr); /* the array header, read above */
        for (uint32_t i = 0; e == 0 && i < m->n_nodes; i++)
            e = node_rec(&nr, &m->nodes[i]);
    }
    *rc = e;
    return 1;
}
