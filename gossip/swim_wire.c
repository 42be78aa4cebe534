/* SWIM msgpack codec. Packing writes through msgpack-c into a bounded, sticky-error pd_wbuf (no
 * allocation); decoding validates with pd_mp_unpack first, then copies only scalars: strings and
 * byte fields stay borrowed from the input. */
#include "swim_wire.h"

#include <errno.h>
#include <msgpack.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_buf.h"
#include "pd_err.h"
#include "pd_limits.h"
#include "pd_mp.h"
#include "swim_wire_pp.h"

/* ---- helpers -------------------------------------------------------------------------------- */

int pd_swim_addr_eq(const pd_swim_addr_t *a, const pd_swim_addr_t *b)
{
    if (a->family != b->family || a->port != b->port)
        return 0;
    size_t n = a->family == 6 ? 16 : (a->family == 4 ? 4 : 0);
    return memcmp(a->ip, b->ip, n) == 0;
}

int pd_swim_id_valid(const uint8_t *p, size_t len)
{
    if (len == 0 || len > PD_SWIM_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e) /* printable, no spaces: ids end up in logs */
            return 0;
    }
    return 1;
}

uint32_t pd_swim_id_tag(const uint8_t *p, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

const char *pd_swim_msg_type_name(int type)
{
    static const char *names[] = {"?",       "ping",  "ping-req", "ack",      "nack", "suspect",
                                  "alive",   "dead",  "compound", "pushpull", "user",     "sync"};
    return type > 0 && type <= PD_SWIM_MSG_SYNC ? names[type] : "unknown";
}

const char *pd_swim_state_name(int state)
{
    static const char *names[] = {"alive", "suspect", "dead", "left"};
    return state >= 0 && state <= PD_SWIM_LEFT ? names[state] : "unknown";
}

/* ---- encoding ------------------------------------------------------------------------------- */

static int wbuf_write(void *data, const char *buf, size_t len)
{
    pd_wbuf_t *w = data;
    pd_wbuf_put(w, buf, len);
    return w->err ? -1 : 0;
}

static void pack_key(msgpack_packer *pk, const char *k)
{
    pd_mp_pack_cstr(pk, k);
}

static void pack_bin(msgpack_packer *pk, const char *k, pd_swim_bytes_t b)
{
    pack_key(pk, k);
    msgpack_pack_bin(pk, b.len);
    msgpack_pack_bin_body(pk, b.p, b.len);
}

static void pack_str(msgpack_packer *pk, const char *k, pd_swim_bytes_t b)
{
    pack_key(pk, k);
    msgpack_pack_str(pk, b.len);
    msgpack_pack_str_body(pk, b.p, b.len);
}

/* Address: 4 or 16 ip bytes followed by the big-endian port. */
static void pack_addr(msgpack_packer *pk, const char *k, const pd_swim_addr_t *a)
{
    uint8_t raw[18];
    size_t n = a->family == 6 ? 16 : 4;
    memcpy(raw, a->ip, n);
    pd_put_u16(raw + n, a->port);
    pack_bin(pk, k, (pd_swim_bytes_t){raw, (uint32_t)(n + 2)});
}

static void pack_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    pd_mp_pack_kv_u64(pk, k, v);
}

static int id_ok(pd_swim_bytes_t b)
{
    return pd_swim_id_valid(b.p, b.len);
}

static int check_caps(const pd_swim_msg_t *m)
{
    if ((m->node.len && !id_ok(m->node)) || (m->from.len && !id_ok(m->from)))
        return -PD_EUSAGE;
    if (m->meta.len > PD_SWIM_META_MAX)
        return -PD_EUSAGE;
    if (m->type == PD_SWIM_MSG_USER && (m->payload.len == 0 || m->payload.len > PD_SWIM_USER_MSG_MAX))
        return -PD_EUSAGE;
    if (m->type == PD_SWIM_MSG_PUSHPULL &&
        (m->n_nodes > PD_SWIM_MEMBERS_MAX || m->payload.len > PD_SWIM_USER_STATE_MAX))
        return -PD_EUSAGE;
    if (m->type == PD_SWIM_MSG_COMPOUND && m->n_parts > PD_SWIM_COMPOUND_MAX)
        return -PD_EUSAGE;
    return 0;
}

/* Number of map entries each type writes (after "v" and "t"). */
static uint32_t field_count(const pd_swim_msg_t *m)
{
    switch (m->type) {
    case PD_SWIM_MSG_PING: return m->from.len ? 3 : 2;
    case PD_SWIM_MSG_PING_REQ: return 5;
    case PD_SWIM_MSG_ACK: return m->from.len ? 2 : 1;
    case PD_SWIM_MSG_NACK: return 1;
    case PD_SWIM_MSG_SUSPECT: return 3;
    case PD_SWIM_MSG_ALIVE: return m->meta.len ? 4 : 3;
    case PD_SWIM_MSG_DEAD: return 4;
    case PD_SWIM_MSG_COMPOUND: return 1;
    case PD_SWIM_MSG_PUSHPULL: return 5;
    case PD_SWIM_MSG_USER: return 1;
    case PD_SWIM_MSG_SYNC: return 1;
    default: return 0;
    }
}

static void pack_node_rec(msgpack_packer *pk, const pd_swim_wire_node_t *n)
{
    msgpack_pack_map(pk, n->meta.len ? 5 : 4);
    pack_str(pk, "n", n->id);
    pack_addr(pk, "a", &n->addr);
    if (n->meta.len)
        pack_bin(pk, "m", n->meta);
    pack_u64(pk, "i", n->inc);
    pack_u64(pk, "st", n->state);
}

static void pack_body(msgpack_packer *pk, const pd_swim_msg_t *m)
{
    switch (m->type) {
    case PD_SWIM_MSG_PING:
        pack_u64(pk, "s", m->seq);
        if (m->node.len)
            pack_str(pk, "n", m->node);
        else
            pack_u64(pk, "h", m->node_tag);
        if (m->from.len)
            pack_str(pk, "f", m->from);
        break;
    case PD_SWIM_MSG_PING_REQ:
        pack_u64(pk, "s", m->seq), pack_str(pk, "n", m->node), pack_addr(pk, "a", &m->addr);
        pack_str(pk, "f", m->from), pd_mp_pack_kv_bool(pk, "k", m->nack);
        break;
    case PD_SWIM_MSG_ACK:
        pack_u64(pk, "s", m->seq);
        if (m->from.len)
            pack_str(pk, "f", m->from);
        break;
    case PD_SWIM_MSG_NACK: pack_u64(pk, "s", m->seq); break;
    case PD_SWIM_MSG_SUSPECT:
        pack_u64(pk, "i", m->inc), pack_str(pk, "n", m->node), pack_str(pk, "f", m->from);
        break;
    case PD_SWIM_MSG_ALIVE:
        pack_u64(pk, "i", m->inc), pack_str(pk, "n", m->node), pack_addr(pk, "a", &m->addr);
        if (m->meta.len)
            pack_bin(pk, "m", m->meta);
        break;
    case PD_SWIM_MSG_DEAD:
        pack_u64(pk, "i", m->inc), pack_str(pk, "n", m->node), pack_str(pk, "f", m->from);
        pd_mp_pack_kv_bool(pk, "l", m->left);
        break;
    case PD_SWIM_MSG_COMPOUND:
        pack_key(pk, "c");
        msgpack_pack_array(pk, m->n_parts);
        for (uint32_t i = 0; i < m->n_parts; i++) {
            msgpack_pack_bin(pk, m->parts[i].len);
            msgpack_pack_bin_body(pk, m->parts[i].p, m->parts[i].len);
        }
        break;
    case PD_SWIM_MSG_PUSHPULL:
        pack_u64(pk, "s", m->seq), pd_mp_pack_kv_bool(pk, "j", m->join);
        pd_mp_pack_kv_bool(pk, "r", m->reply);
        pack_key(pk, "N");
        if (m->nodes_enc.len) {
            pk->callback(pk->data, (const char *)m->nodes_enc.p, m->nodes_enc.len);
        } else {
            msgpack_pack_array(pk, m->n_nodes);
            for (uint32_t i = 0; i < m->n_nodes; i++)
                pack_node_rec(pk, &m->nodes[i]);
        }
        pack_bin(pk, "u", m->payload);
        break;
    case PD_SWIM_MSG_USER: pack_bin(pk, "u", m->payload); break;
    case PD_SWIM_MSG_SYNC: pack_u64(pk, "d", m->digest); break;
    default: break;
    }
}

size_t pd_swim_wire_size_max(const pd_swim_msg_t *m)
{
    /* Generous per-field allowances: 9 bytes per integer, 5 per length prefix, 4 per key. */
    size_t n = 64 + m->node.len + m->from.len + m->meta.len + m->payload.len;
    for (uint32_t i = 0; i < m->n_parts; i++)
        n += m->parts[i].len + 5;
    if (m->nodes_enc.len)
        n += m->nodes_enc.len;
    else
        n += pd_swim_wire_nodes_size_max(m->nodes, m->n_nodes);
    return n;
}

size_t pd_swim_wire_nodes_size_max(const pd_swim_wire_node_t *nodes, uint32_t n)
{
    size_t sz = 5;
    for (uint32_t i = 0; i < n; i++)
        sz += 64 + nodes[i].id.len + nodes[i].meta.len;
    return sz;
}

int pd_swim_wire_encode_nodes(const pd_swim_wire_node_t *nodes, uint32_t n, uint8_t *buf, size_t cap,
                              size_t *len_out)
{
    if (n > PD_SWIM_MEMBERS_MAX)
        return -PD_EUSAGE;
    for (uint32_t i = 0; i < n; i++) {
        if (!id_ok(nodes[i].id) || nodes[i].meta.len > PD_SWIM_META_MAX)
            return -PD_EUSAGE;
    }
    pd_wbuf_t w;
    pd_wbuf_init(&w, buf, cap);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, wbuf_write);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        pack_node_rec(&pk, &nodes[i]);
    if (w.err)
        return -PD_ETOOBIG;
    *len_out = w.len;
    return 0;
}

int pd_swim_wire_encode(const pd_swim_msg_t *m, uint8_t *buf, size_t cap, size_t *len_out)
{
    uint32_t nf = field_count(m);
    if (nf == 0)
        return -PD_EUSAGE;
    int rc = check_caps(m);
    if (rc)
        return rc;
    pd_wbuf_t w;
    pd_wbuf_init(&w, buf, cap);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, wbuf_write);
    msgpack_pack_map(&pk, 2 + nf);
    pack_u64(&pk, "v", PD_SWIM_WIRE_VERSION);
    pack_u64(&pk, "t", m->type);
    pack_body(&pk, m);
    if (w.err)
        return -PD_ETOOBIG;
    *len_out = w.len;
    return 0;
}

int pd_swim_wire_encode_compound(const pd_swim_bytes_t *parts, uint32_t n, uint8_t *buf, size_t cap,
                                 size_t *len_out)
{
    if (n > PD_SWIM_COMPOUND_MAX)
        return -PD_EUSAGE;
    pd_swim_msg_t local = {.type = PD_SWIM_MSG_COMPOUND, .n_parts = n};
    memcpy(local.parts, parts, n * sizeof *parts);
    return pd_swim_wire_encode(&local, buf, cap, len_out);
}

/* ---- decoding ------------------------------------------------------------------------------- */

/* pd_mp_get for our keys (all 1 or 2 bytes), compared inline: every field of every message is
 * looked up this way, and the generic strlen + memcmp per map entry was ~10% of a large
 * simulation. Same answer: the value of the first entry whose key is that string. */
static const msgpack_object *mget(const msgpack_object *map, const char *k)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    uint32_t n = k[1] ? 2 : 1;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr[i].key;
        if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == n && key->via.str.ptr[0] == k[0] &&
            (n == 1 || key->via.str.ptr[1] == k[1]))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* pd_mp_get_u64 and pd_mp_get_bool over mget: same results and errors. */
static int mget_u64(const msgpack_object *map, const char *k, uint64_t *out)
{
    const msgpack_object *o = mget(map, k);
    if (!o)
        return -PD_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -PD_EMALFORMED;
    *out = o->via.u64;
    return 0;
}

static int mget_bool(const msgpack_object *map, const char *k, int *out)
{
    const msgpack_object *o = mget(map, k);
    if (!o)
        return -PD_ENOTFOUND;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return -PD_EMALFORMED;
    *out = o->via.boolean;
    return 0;
}

static int get_bytes(const msgpack_object *map, const char *k, int bin, pd_swim_bytes_t *out)
{
    const msgpack_object *o = mget(map, k);
    if (!o)
        return -PD_ENOTFOUND;
    if (bin && o->type == MSGPACK_OBJECT_BIN) {
        *out = (pd_swim_bytes_t){(const uint8_t *)o->via.bin.ptr, o->via.bin.size};
        return 0;
    }
    if (!bin && o->type == MSGPACK_OBJECT_STR) {
        *out = (pd_swim_bytes_t){(const uint8_t *)o->via.str.ptr, o->via.str.size};
        return 0;
    }
    return -PD_EMALFORMED;
}

static int get_id(const msgpack_object *map, const char *k, pd_swim_bytes_t *out)
{
    int rc = get_bytes(map, k, 0, out);
    if (rc == -PD_ENOTFOUND)
        return -PD_EMALFORMED;
    if (rc == 0 && !id_ok(*out))
        return -PD_EMALFORMED;
    return rc;
}

static int get_u32(const msgpack_object *map, const char *k, uint32_t *out)
{
    uint64_t v;
    int rc = mget_u64(map, k, &v);
    if (rc || v > UINT32_MAX)
        return -PD_EMALFORMED;
    *out = (uint32_t)v;
    return 0;
}

/* Optional bool: absent means false. */
static int get_flag(const msgpack_object *map, const char *k, uint8_t *out)
{
    int v = 0;
    int rc = mget_bool(map, k, &v);
    if (rc && rc != -PD_ENOTFOUND)
        return rc;
    *out = (uint8_t)v;
    return 0;
}

int pd_swim_wire__addr_from(pd_swim_bytes_t b, pd_swim_addr_t *out)
{
    if (b.len != 6 && b.len != 18)
        return -PD_EMALFORMED;
    memset(out, 0, sizeof *out);
    size_t n = b.len - 2;
    out->family = n == 4 ? 4 : 6;
    memcpy(out->ip, b.p, n);
    out->port = pd_get_u16(b.p + n);
    return 0;
}

static int get_addr(const msgpack_object *map, const char *k, pd_swim_addr_t *out)
{
    pd_swim_bytes_t b;
    if (get_bytes(map, k, 1, &b))
        return -PD_EMALFORMED;
    return pd_swim_wire__addr_from(b, out);
}

/* Optional byte field with a cap. */
static int get_opt_bin(const msgpack_object *map, const char *k, uint32_t max, pd_swim_bytes_t *out)
{
    int rc = get_bytes(map, k, 1, out);
    if (rc == -PD_ENOTFOUND) {
        *out = (pd_swim_bytes_t){NULL, 0};
        return 0;
    }
    if (rc)
        return rc;
    return out->len > max ? -PD_ETOOBIG : 0;
}

static int decode_compound(const msgpack_object *map, pd_swim_msg_t *m)
{
    const msgpack_object *arr = mget(map, "c");
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY)
        return -PD_EMALFORMED;
    if (arr->via.array.size > PD_SWIM_COMPOUND_MAX)
        return -PD_ETOOBIG;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *p = &arr->via.array.ptr[i];
        if (p->type != MSGPACK_OBJECT_BIN || p->via.bin.size == 0)
            return -PD_EMALFORMED;
        m->parts[i] = (pd_swim_bytes_t){(const uint8_t *)p->via.bin.ptr, p->via.bin.size};
    }
    m->n_parts = arr->via.array.size;
    return 0;
}

static int decode_body(const msgpack_object *map, pd_swim_msg_t *m)
{
    int rc = 0;
    switch (m->type) {
    case PD_SWIM_MSG_PING:
        rc = get_u32(map, "s", &m->seq);
        if (rc == 0 && get_id(map, "n", &m->node) != 0) {
            m->node = (pd_swim_bytes_t){NULL, 0}; /* named by its tag instead */
            rc = get_u32(map, "h", &m->node_tag);
        }
        if (rc == 0 && get_id(map, "f", &m->from) != 0)
            m->from = (pd_swim_bytes_t){NULL, 0}; /* optional: the ack goes to the packet's source */
        return rc;
    case PD_SWIM_MSG_PING_REQ:
        rc = get_u32(map, "s", &m->seq);
        rc = rc ? rc : get_id(map, "n", &m->node);
        rc = rc ? rc : get_addr(map, "a", &m->addr);
        rc = rc ? rc : get_id(map, "f", &m->from);
        return rc ? rc : get_flag(map, "k", &m->nack);
    case PD_SWIM_MSG_ACK:
        rc = get_u32(map, "s", &m->seq);
        if (rc == 0 && get_id(map, "f", &m->from) != 0)
            m->from = (pd_swim_bytes_t){NULL, 0}; /* optional */
        return rc;
    case PD_SWIM_MSG_NACK: return get_u32(map, "s", &m->seq);
    case PD_SWIM_MSG_SUSPECT:
        rc = get_u32(map, "i", &m->inc);
        rc = rc ? rc : get_id(map, "n", &m->node);
        return rc ? rc : get_id(map, "f", &m->from);
    case PD_SWIM_MSG_ALIVE:
        rc = get_u32(map, "i", &m->inc);
        rc = rc ? rc : get_id(map, "n", &m->node);
        rc = rc ? rc : get_addr(map, "a", &m->addr);
        return rc ? rc : get_opt_bin(map, "m", PD_SWIM_META_MAX, &m->meta);
    case PD_SWIM_MSG_DEAD:
        rc = get_u32(map, "i", &m->inc);
        rc = rc ? rc : get_id(map, "n", &m->node);
        rc = rc ? rc : get_id(map, "f", &m->from);
        return rc ? rc : get_flag(map, "l", &m->left);
    case PD_SWIM_MSG_COMPOUND: return decode_compound(map, m);
    case PD_SWIM_MSG_PUSHPULL: return -PD_EMALFORMED; /* never here: swim_wire_pp.c reads them */
    case PD_SWIM_MSG_SYNC: return mget_u64(map, "d", &m->digest) ? -PD_EMALFORMED : 0;
    case PD_SWIM_MSG_USER:
        rc = get_bytes(map, "u", 1, &m->payload);
        if (rc)
            return -PD_EMALFORMED;
        return m->payload.len == 0 || m->payload.len > PD_SWIM_USER_MSG_MAX ? -PD_ETOOBIG : 0;
    default: return -PD_EUNKNOWN_TYPE;
    }
}

/* One unpack zone per thread, cleared (not freed) after each decode: a datagram with 30 parts
 * would otherwise cost 31 zone allocations. Its first chunk stays for the life of the thread. */
static _Thread_local msgpack_zone tl_zone;
static _Thread_local int tl_zone_ready;

/* buf has passed pd_mp_validate. */
static int unpack(const uint8_t *buf, size_t len, msgpack_object *root)
{
    if (!tl_zone_ready) {
        if (!msgpack_zone_init(&tl_zone, MSGPACK_ZONE_CHUNK_SIZE))
            return -ENOMEM;
        tl_zone_ready = 1;
    }
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack((const char *)buf, len, &off, &tl_zone, root);
    if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_zone_clear(&tl_zone);
        return ret == MSGPACK_UNPACK_NOMEM_ERROR ? -ENOMEM : -PD_EMALFORMED;
    }
    return 0;
}

int pd_swim_wire_decode(const uint8_t *buf, size_t len, pd_swim_msg_t *out)
{
    if (len > PD_SWIM_PUSHPULL_MAX)
        return -PD_ETOOBIG;
    pd_swim_msg_t m;
    memset(&m, 0, offsetof(pd_swim_msg_t, parts));
    m.n_nodes = 0;
    m.nodes = NULL;
    /* A well-formed push/pull state (every member) is checked and read in one walk of its bytes;
     * anything else is validated first, push/pulls then walked, the rest read through msgpack-c. */
    int rc = 0;
    if (pd_swim_wire__decode_pushpull_fast(buf, len, &m))
        goto done;
    rc = pd_mp_validate(buf, len, PD_MP_DEPTH_MAX);
    if (rc)
        return rc;
    if (!pd_swim_wire__decode_pushpull(buf, len, &m, &rc)) {
        msgpack_object rootobj;
        rc = unpack(buf, len, &rootobj);
        if (rc)
            return rc;
        const msgpack_object *root = &rootobj;
        uint32_t ver = 0, type = 0;
        if (root->type != MSGPACK_OBJECT_MAP || get_u32(root, "v", &ver) || get_u32(root, "t", &type))
            rc = -PD_EMALFORMED;
        else if (ver != PD_SWIM_WIRE_VERSION)
            rc = -PD_EVERSION;
        else if (type < PD_SWIM_MSG_PING || type > PD_SWIM_MSG_SYNC)
            rc = -PD_EUNKNOWN_TYPE;
        if (rc == 0) {
            m.type = (uint8_t)type;
            rc = decode_body(root, &m);
        }
        msgpack_zone_clear(&tl_zone); /* borrowed pointers point into buf, not the zone */
    }
    if (rc) {
        pd_free(m.nodes);
        return rc;
    }
done:
    memcpy(out, &m, offsetof(pd_swim_msg_t, parts));
    memcpy(out->parts, m.parts, m.n_parts * sizeof m.parts[0]);
    out->n_nodes = m.n_nodes;
    out->nodes = m.nodes;
    out->nodes_enc = (pd_swim_bytes_t){NULL, 0};
    return 0;
}

void pd_swim_wire_release(pd_swim_msg_t *m)
{
    pd_free(m->nodes);
    m->nodes = NULL;
    m->n_nodes = 0;
}

/* ---- peek ----------------------------------------------------------------------------------- */

/* Length of the scalar or string/bin item at p (header included) with its string body in *body
 * (for str), or 0 for anything the glance does not follow (containers, ext, floats). */
static size_t peek_item(const uint8_t *p, size_t left, pd_swim_bytes_t *body)
{
    uint8_t b = p[0];
    size_t hdr = 0, n = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 1;
    if (b >= 0xcc && b <= 0xcf)
        return 1 + ((size_t)1 << (b - 0xcc)); /* uint 8/16/32/64 */
    if (b >= 0xd0 && b <= 0xd3)
        return 1 + ((size_t)1 << (b - 0xd0)); /* int 8/16/32/64 */
    if (b >= 0xa0 && b <= 0xbf)
        hdr = 1, n = b & 0x1f;
    else if ((b == 0xd9 || b == 0xc4) && left >= 2)
        hdr = 2, n = p[1];
    else if ((b == 0xda || b == 0xc5) && left >= 3)
        hdr = 3, n = pd_get_u16(p + 1);
    else
        return 0;
    if (n > left - hdr)
        return 0;
    if (body)
        *body = (pd_swim_bytes_t){p + hdr, (uint32_t)n};
    return hdr + n;
}

int pd_swim_wire_peek_node(const uint8_t *buf, size_t len, pd_swim_bytes_t *node)
{
    if (len < 1 || (buf[0] & 0xf0) != 0x80)
        return -1; /* our messages are small fixmaps */
    uint32_t count = buf[0] & 0x0f;
    size_t off = 1;
    for (uint32_t i = 0; i < count && off < len; i++) {
        pd_swim_bytes_t k = {NULL, 0}, v = {NULL, 0};
        size_t kl = peek_item(buf + off, len - off, &k);
        if (kl == 0 || !k.p || off + kl >= len)
            return -1;
        off += kl;
        int is_str = (buf[off] >= 0xa0 && buf[off] <= 0xbf) || buf[off] == 0xd9;
        size_t vl = peek_item(buf + off, len - off, &v);
        if (vl == 0)
            return -1;
        if (k.len == 1 && k.p[0] == 'n' && is_str) {
            *node = v;
            return 0;
        }
        off += vl;
    }
    return -1;
}
