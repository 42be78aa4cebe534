/* Push/pull states decoded by walking their bytes. A state carries every member (10,000 records
 * at N=10,000); msgpack-c's object model built a 200-260 byte tree per record before the fields
 * were read from it, which made decoding a fifth of the simulator's time. Field rules are those of
 * the object path in swim_wire.c: the first entry with a key wins, other keys are skipped, a
 * non-negative signed integer counts as an unsigned one (as msgpack-c reports it), and the checks
 * and their errors come in the same order.
 *
 * Two ways in. pd_swim_wire__decode_pushpull takes input that passed pd_mp_validate.
 * pd_swim_wire__decode_pushpull_fast takes raw bytes as our encoder writes them and checks, in
 * the same single walk, everything pd_mp_validate checks (bounds, no 0xc1, depth, nothing after
 * the object): it answers only for a well-formed push/pull, and for anything else (an error, or a
 * shape our encoder does not write) leaves the input to the validating path, so accept/reject
 * results and error codes stay those of that path. Every byte is read once, not three times
 * (validation, the walk of the top map, the walk of the records). */
#include "swim_wire_pp.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_limits.h"

typedef enum { K_UINT, K_NEG, K_BOOL, K_STR, K_BIN, K_ARRAY, K_MAP, K_OTHER } kind_t;

typedef struct {
    uint8_t kind;
    uint8_t set;         /* map_fields: the key was present */
    uint64_t u;          /* integer value, bool, or element/byte count */
    const uint8_t *data; /* str/bin bytes; array/map: its first element */
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
        o->data = r->p;
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
    case 0xdc: case 0xdd: case 0xde: case 0xdf: {
        o->kind = t <= 0xdd ? K_ARRAY : K_MAP;
        int rc = sized(r, t == 0xdc || t == 0xde ? 2 : 4, &o->u);
        o->data = r->p;
        return rc;
    }
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

/* The elements of a container o just read, whose own depth is `depth` (the root is 0), skipped;
 * refused like pd_mp_validate refuses them: a container at depth PD_MP_DEPTH_MAX or deeper, or
 * more elements than bytes left. No recursion: a count of what is still owed per level. */
static int skip_rest(rd_t *r, const obj_t *o, unsigned depth)
{
    if (o->kind != K_ARRAY && o->kind != K_MAP)
        return 0;
    uint64_t owed[PD_MP_DEPTH_MAX + 1];
    unsigned lv = 0; /* owed[lv]: elements still to read at depth + lv + 1 */
    const obj_t *c = o;
    obj_t x;
    for (;;) {
        if (c) {
            uint64_t n = c->kind == K_MAP ? 2 * c->u : c->u;
            if (depth + lv >= PD_MP_DEPTH_MAX || n > (uint64_t)(r->end - r->p))
                return -1;
            owed[lv] = n; /* lv + 1 levels are open now */
            c = NULL;
        }
        while (owed[lv] == 0) {
            if (lv == 0)
                return 0;
            lv--;
        }
        owed[lv]--;
        if (next(r, &x))
            return -1;
        if (x.kind == K_ARRAY || x.kind == K_MAP)
            c = &x, lv++;
    }
}

/* A field name: 1 or 2 bytes (second 0 for one). */
typedef struct {
    char c[2];
} field_key_t;

/* The index in keys[] of a key object not yet set in vals[], or -1. */
static int key_index(const obj_t *key, const field_key_t *keys, unsigned nk, const obj_t *vals)
{
    if (key->kind != K_STR || (key->u != 1 && key->u != 2))
        return -1;
    char c0 = (char)key->data[0], c1 = key->u == 2 ? (char)key->data[1] : 0;
    if (key->u == 2 && c1 == 0)
        return -1; /* "x\0" is not the one-byte key "x" */
    for (unsigned k = 0; k < nk; k++) {
        if (keys[k].c[0] == c0 && keys[k].c[1] == c1)
            return vals[k].set ? -1 : (int)k;
    }
    return -1;
}

/* Walk a map of `pairs` entries at `depth`: for each key in keys[], its first value (set), the
 * rest skipped. */
static int map_fields(rd_t *r, uint64_t pairs, const field_key_t *keys, unsigned nk, obj_t *vals, unsigned depth)
{
    for (unsigned k = 0; k < nk; k++)
        vals[k].set = 0;
    for (uint64_t i = 0; i < pairs; i++) {
        obj_t key, v;
        if (next(r, &key) || skip_rest(r, &key, depth))
            return -1;
        int k = key_index(&key, keys, nk, vals);
        if (next(r, &v) || skip_rest(r, &v, depth))
            return -1;
        if (k >= 0)
            vals[k] = v, vals[k].set = 1;
    }
    return 0;
}

static int get_u32(const obj_t *o, uint32_t *out)
{
    if (!o->set || o->kind != K_UINT || o->u > UINT32_MAX)
        return -PD_EMALFORMED;
    *out = (uint32_t)o->u;
    return 0;
}

static int get_flag(const obj_t *o, uint8_t *out)
{
    if (!o->set) {
        *out = 0;
        return 0;
    }
    if (o->kind != K_BOOL)
        return -PD_EMALFORMED;
    *out = (uint8_t)o->u;
    return 0;
}

/* Optional byte string of a kind, capped: absent is empty. */
static int get_opt(const obj_t *o, uint8_t kind, uint64_t max, pd_swim_bytes_t *out)
{
    if (!o->set) {
        *out = (pd_swim_bytes_t){NULL, 0};
        return 0;
    }
    if (o->kind != kind)
        return -PD_EMALFORMED;
    *out = (pd_swim_bytes_t){o->data, (uint32_t)o->u};
    return o->u > max ? -PD_ETOOBIG : 0;
}

static int get_id(const obj_t *o, pd_swim_bytes_t *out)
{
    if (!o->set || get_opt(o, K_STR, UINT32_MAX, out) || !pd_swim_id_valid(out->p, out->len))
        return -PD_EMALFORMED;
    return 0;
}

static int get_addr(const obj_t *o, pd_swim_addr_t *out)
{
    pd_swim_bytes_t b;
    if (!o->set || get_opt(o, K_BIN, UINT32_MAX, &b))
        return -PD_EMALFORMED;
    return pd_swim_wire__addr_from(b, out);
}

enum { F_ID, F_ADDR, F_META, F_INC, F_STATE, F_REC_N };
static const field_key_t rec_keys[F_REC_N] = {{{'n', 0}}, {{'a', 0}}, {{'m', 0}}, {{'i', 0}}, {{'s', 't'}}};

/* One member record, a map at depth 2. */
static int node_rec(rd_t *r, pd_swim_wire_node_t *n)
{
    obj_t o, f[F_REC_N];
    if (next(r, &o))
        return -PD_EMALFORMED;
    if (o.kind != K_MAP)
        return -PD_EMALFORMED; /* the decode stops at the first bad record */
    if (map_fields(r, o.u, rec_keys, F_REC_N, f, 3))
        return -PD_EMALFORMED;
    uint32_t st = 0;
    int rc = get_id(&f[F_ID], &n->id);
    rc = rc ? rc : get_addr(&f[F_ADDR], &n->addr);
    rc = rc ? rc : get_opt(&f[F_META], K_BIN, PD_SWIM_META_MAX, &n->meta);
    rc = rc ? rc : get_u32(&f[F_INC], &n->inc);
    rc = rc ? rc : get_u32(&f[F_STATE], &st);
    if (rc == 0 && st > PD_SWIM_LEFT)
        rc = -PD_EMALFORMED;
    n->state = (uint8_t)st;
    return rc;
}

enum { T_VER, T_TYPE, T_SEQ, T_JOIN, T_REPLY, T_NODES, T_USER, T_N };
static const field_key_t top_keys[T_N] = {{{'v', 0}}, {{'t', 0}}, {{'s', 0}}, {{'j', 0}}, {{'r', 0}}, {{'N', 0}}, {{'u', 0}}};

/* The header fields in the object path's order; the member array is checked by the caller. */
static int header_fields(const obj_t *at, pd_swim_msg_t *m)
{
    int e = get_u32(&at[T_SEQ], &m->seq);
    e = e ? e : get_flag(&at[T_JOIN], &m->join);
    e = e ? e : get_flag(&at[T_REPLY], &m->reply);
    e = e ? e : get_opt(&at[T_USER], K_BIN, PD_SWIM_USER_STATE_MAX, &m->payload);
    if (e == 0 && (!at[T_NODES].set || at[T_NODES].kind != K_ARRAY))
        e = -PD_EMALFORMED;
    if (e == 0 && at[T_NODES].u > PD_SWIM_MEMBERS_MAX)
        e = -PD_ETOOBIG;
    return e;
}

int pd_swim_wire__decode_pushpull(const uint8_t *buf, size_t len, pd_swim_msg_t *m, int *rc)
{
    rd_t r = {buf, buf + len};
    obj_t root, at[T_N];
    uint32_t ver, type;
    if (next(&r, &root) || root.kind != K_MAP || map_fields(&r, root.u, top_keys, T_N, at, 1) ||
        get_u32(&at[T_VER], &ver) || get_u32(&at[T_TYPE], &type) || ver != PD_SWIM_WIRE_VERSION ||
        type != PD_SWIM_MSG_PUSHPULL)
        return 0;
    m->type = PD_SWIM_MSG_PUSHPULL;
    int e = header_fields(at, m);
    if (e == 0 && at[T_NODES].u > 0) {
        m->nodes = pd_malloc(at[T_NODES].u * sizeof *m->nodes);
        if (!m->nodes)
            e = -ENOMEM;
        else
            m->n_nodes = (uint32_t)at[T_NODES].u;
        rd_t nr = {at[T_NODES].data, r.end};
        for (uint32_t i = 0; e == 0 && i < m->n_nodes; i++)
            e = node_rec(&nr, &m->nodes[i]);
    }
    *rc = e;
    return 1;
}

/* How our encoder starts every push/pull: a fixmap whose first entries are "v": 1, "t": 9. */
static const uint8_t pp_head[6] = {0xa1, 'v', PD_SWIM_WIRE_VERSION, 0xa1, 't', PD_SWIM_MSG_PUSHPULL};

int pd_swim_wire__decode_pushpull_fast(const uint8_t *buf, size_t len, pd_swim_msg_t *m)
{
    if (len < 7 || (buf[0] & 0xf0) != 0x80 || (buf[0] & 0x0f) < 2 || memcmp(buf + 1, pp_head, sizeof pp_head) != 0)
        return 0;
    rd_t r = {buf + 7, buf + len};
    obj_t at[T_N];
    for (unsigned k = 0; k < T_N; k++)
        at[k].set = k == T_VER || k == T_TYPE; /* the first entries: later ones lose */
    pd_swim_wire_node_t *nodes = NULL;
    uint32_t n_nodes = 0;
    for (uint32_t i = 2; i < (buf[0] & 0x0fu); i++) {
        obj_t key, v;
        if (next(&r, &key) || skip_rest(&r, &key, 1) || next(&r, &v))
            goto slow;
        int k = key_index(&key, top_keys, T_N, at);
        if (k == T_NODES && v.kind == K_ARRAY && v.u > 0 && v.u <= PD_SWIM_MEMBERS_MAX &&
            v.u <= (uint64_t)(r.end - r.p)) {
            /* The members, read where they stand (depth 1 array: well within the limit). */
            if (!(nodes = pd_malloc(v.u * sizeof *nodes)))
                goto slow;
            n_nodes = (uint32_t)v.u;
            for (uint32_t j = 0; j < n_nodes; j++) {
                if (node_rec(&r, &nodes[j]) != 0)
                    goto slow;
            }
        } else if (skip_rest(&r, &v, 1)) {
            goto slow;
        }
        if (k >= 0)
            at[k] = v, at[k].set = 1;
    }
    if (r.p != r.end || header_fields(at, m) != 0)
        goto slow;
    m->type = PD_SWIM_MSG_PUSHPULL;
    m->nodes = nodes;
    m->n_nodes = n_nodes;
    return 1;
slow:
    pd_free(nodes);
    memset(m, 0, offsetof(pd_swim_msg_t, parts));
    return 0;
}
