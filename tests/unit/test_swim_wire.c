/* SWIM wire codec: round-trips of every message type, and rejection of malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_limits.h"
#include "pd_mp.h"
#include "swim_wire.h"
#include "swim_wire_pp.h"

#define B(s) ((pd_swim_bytes_t){(const uint8_t *)(s), (uint32_t)strlen(s)})

static pd_swim_addr_t addr4(uint8_t last, uint16_t port)
{
    pd_swim_addr_t a = {.family = 4, .ip = {10, 0, 0, last}, .port = port};
    return a;
}

static void roundtrip(const pd_swim_msg_t *in, pd_swim_msg_t *out, uint8_t *buf, size_t cap)
{
    size_t len;
    assert_int_equal(pd_swim_wire_encode(in, buf, cap, &len), 0);
    assert_true(len <= pd_swim_wire_size_max(in));
    assert_int_equal(pd_swim_wire_decode(buf, len, out), 0);
    assert_int_equal(out->type, in->type);
}

static void assert_bytes(pd_swim_bytes_t a, pd_swim_bytes_t b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.p, b.p, a.len);
}

static void test_roundtrip_simple(void **state)
{
    (void)state;
    uint8_t buf[2048];
    pd_swim_msg_t out;
    pd_swim_msg_t ping = {.type = PD_SWIM_MSG_PING, .seq = 77, .node = B("nodeb"), .from = B("nodea")};
    roundtrip(&ping, &out, buf, sizeof buf);
    assert_int_equal(out.seq, 77);
    assert_bytes(out.node, ping.node);
    assert_bytes(out.from, ping.from);
    pd_swim_msg_t ping_anon = {.type = PD_SWIM_MSG_PING, .seq = 78, .node = B("nodeb")}; /* "f" optional */
    roundtrip(&ping_anon, &out, buf, sizeof buf);
    assert_int_equal(out.seq, 78);
    assert_int_equal(out.from.len, 0);
    pd_swim_msg_t ping_tag = {.type = PD_SWIM_MSG_PING, .seq = 79, .node_tag = pd_swim_id_tag((const uint8_t *)"nodeb", 5)};
    roundtrip(&ping_tag, &out, buf, sizeof buf); /* the target by its tag */
    assert_int_equal(out.node.len, 0);
    assert_int_equal(out.node_tag, pd_swim_id_tag((const uint8_t *)"nodeb", 5));
    assert_true(out.node_tag != pd_swim_id_tag((const uint8_t *)"nodec", 5));

    pd_swim_addr_t a6 = {.family = 6, .ip = {0xfe, 0x80, 1, 2, 3}, .port = 7946};
    pd_swim_msg_t req = {.type = PD_SWIM_MSG_PING_REQ, .seq = UINT32_MAX, .node = B("t"), .from = B("f"),
                         .addr = a6, .nack = 1};
    roundtrip(&req, &out, buf, sizeof buf);
    assert_int_equal(out.seq, UINT32_MAX);
    assert_int_equal(out.nack, 1);
    assert_true(pd_swim_addr_eq(&out.addr, &a6));

    pd_swim_msg_t ack = {.type = PD_SWIM_MSG_ACK, .seq = 5};
    roundtrip(&ack, &out, buf, sizeof buf);
    assert_int_equal(out.seq, 5);
    assert_int_equal(out.from.len, 0);
    pd_swim_msg_t nack = {.type = PD_SWIM_MSG_NACK, .seq = 6};
    roundtrip(&nack, &out, buf, sizeof buf);
    assert_int_equal(out.seq, 6);

    pd_swim_msg_t sus = {.type = PD_SWIM_MSG_SUSPECT, .inc = 9, .node = B("x"), .from = B("y")};
    roundtrip(&sus, &out, buf, sizeof buf);
    assert_int_equal(out.inc, 9);

    pd_swim_msg_t dead = {.type = PD_SWIM_MSG_DEAD, .inc = 3, .node = B("x"), .from = B("x"), .left = 1};
    roundtrip(&dead, &out, buf, sizeof buf);
    assert_int_equal(out.left, 1);

    uint8_t meta[PD_SWIM_META_MAX];
    memset(meta, 0xab, sizeof meta);
    pd_swim_msg_t alive = {.type = PD_SWIM_MSG_ALIVE, .inc = 4, .node = B("n1"), .addr = addr4(1, 7946),
                           .meta = {meta, sizeof meta}};
    roundtrip(&alive, &out, buf, sizeof buf);
    assert_bytes(out.meta, alive.meta);
    pd_swim_addr_t exp = addr4(1, 7946);
    assert_true(pd_swim_addr_eq(&out.addr, &exp));

    pd_swim_msg_t user = {.type = PD_SWIM_MSG_USER, .payload = B("hello table")};
    roundtrip(&user, &out, buf, sizeof buf);
    assert_bytes(out.payload, user.payload);

    pd_swim_msg_t sync = {.type = PD_SWIM_MSG_SYNC, .digest = UINT64_MAX - 5};
    roundtrip(&sync, &out, buf, sizeof buf);
    assert_true(out.digest == UINT64_MAX - 5);
}

static void test_roundtrip_compound_pushpull(void **state)
{
    (void)state;
    uint8_t p1[64], p2[64], buf[4096];
    size_t l1, l2, len;
    pd_swim_msg_t a = {.type = PD_SWIM_MSG_PING, .seq = 1, .node = B("b"), .from = B("a")};
    pd_swim_msg_t b = {.type = PD_SWIM_MSG_SUSPECT, .inc = 2, .node = B("c"), .from = B("a")};
    assert_int_equal(pd_swim_wire_encode(&a, p1, sizeof p1, &l1), 0);
    assert_int_equal(pd_swim_wire_encode(&b, p2, sizeof p2, &l2), 0);
    pd_swim_bytes_t parts[2] = {{p1, (uint32_t)l1}, {p2, (uint32_t)l2}};
    assert_int_equal(pd_swim_wire_encode_compound(parts, 2, buf, sizeof buf, &len), 0);
    assert_true(len <= PD_SWIM_COMPOUND_OVERHEAD + l1 + l2 + 2 * PD_SWIM_COMPOUND_PART_OVERHEAD);
    pd_swim_msg_t out;
    assert_int_equal(pd_swim_wire_decode(buf, len, &out), 0);
    assert_int_equal(out.type, PD_SWIM_MSG_COMPOUND);
    assert_int_equal(out.n_parts, 2);
    pd_swim_msg_t inner;
    assert_int_equal(pd_swim_wire_decode(out.parts[1].p, out.parts[1].len, &inner), 0);
    assert_int_equal(inner.type, PD_SWIM_MSG_SUSPECT);

    pd_swim_wire_node_t nodes[3] = {
        {B("n1"), addr4(1, 1), B("m1"), 1, PD_SWIM_ALIVE},
        {B("n2"), addr4(2, 2), {NULL, 0}, 7, PD_SWIM_DEAD},
        {B("n3"), addr4(3, 3), {NULL, 0}, 2, PD_SWIM_LEFT},
    };
    pd_swim_msg_t pp = {.type = PD_SWIM_MSG_PUSHPULL, .seq = 42, .join = 1, .reply = 1, .n_nodes = 3,
                        .nodes = nodes, .payload = B("user-state")};
    pd_swim_msg_t o2;
    roundtrip(&pp, &o2, buf, sizeof buf);
    assert_int_equal(o2.n_nodes, 3);
    assert_int_equal(o2.join, 1);
    assert_int_equal(o2.reply, 1);
    assert_int_equal(o2.nodes[1].inc, 7);
    assert_int_equal(o2.nodes[2].state, PD_SWIM_LEFT);
    assert_bytes(o2.nodes[0].meta, nodes[0].meta);
    assert_bytes(o2.payload, pp.payload);
    pd_swim_wire_release(&o2);
}

/* Pack an arbitrary map for the negative tests. */
static size_t pack_map(uint8_t *buf, size_t cap, uint64_t v, uint64_t t, const char *extra_key,
                       int extra_is_str)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, extra_key ? 4 : 3);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "v", 1), msgpack_pack_uint64(&pk, v);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "t", 1), msgpack_pack_uint64(&pk, t);
    msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "s", 1), msgpack_pack_uint64(&pk, 1);
    if (extra_key) {
        msgpack_pack_str(&pk, strlen(extra_key));
        msgpack_pack_str_body(&pk, extra_key, strlen(extra_key));
        if (extra_is_str)
            msgpack_pack_str(&pk, 2), msgpack_pack_str_body(&pk, "zz", 2);
        else
            msgpack_pack_uint64(&pk, 99);
    }
    assert_true(sb.size <= cap);
    memcpy(buf, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

static void test_reject_malformed(void **state)
{
    (void)state;
    uint8_t buf[256];
    pd_swim_msg_t out;
    size_t n = pack_map(buf, sizeof buf, 1, PD_SWIM_MSG_NACK, "future", 1);
    assert_int_equal(pd_swim_wire_decode(buf, n, &out), 0); /* unknown keys ignored */
    n = pack_map(buf, sizeof buf, 1, 99, NULL, 0);
    assert_int_equal(pd_swim_wire_decode(buf, n, &out), -PD_EUNKNOWN_TYPE);
    n = pack_map(buf, sizeof buf, 2, PD_SWIM_MSG_NACK, NULL, 0);
    assert_int_equal(pd_swim_wire_decode(buf, n, &out), -PD_EVERSION);
    n = pack_map(buf, sizeof buf, 1, PD_SWIM_MSG_PING, NULL, 0); /* ping without "n" */
    assert_int_equal(pd_swim_wire_decode(buf, n, &out), -PD_EMALFORMED);
    n = pack_map(buf, sizeof buf, 1, PD_SWIM_MSG_PING, "n", 0); /* "n" of the wrong type */
    assert_int_equal(pd_swim_wire_decode(buf, n, &out), -PD_EMALFORMED);
    n = pack_map(buf, sizeof buf, 1, PD_SWIM_MSG_SYNC, NULL, 0); /* sync without its digest */
    assert_int_equal(pd_swim_wire_decode(buf, n, &out), -PD_EMALFORMED);
    n = pack_map(buf, sizeof buf, 1, PD_SWIM_MSG_NACK, NULL, 0);
    for (size_t cut = 0; cut < n; cut++) /* every truncation fails */
        assert_true(pd_swim_wire_decode(buf, cut, &out) < 0);
    const uint8_t not_map[] = {0x93, 0x01, 0x02, 0x03};
    assert_int_equal(pd_swim_wire_decode(not_map, sizeof not_map, &out), -PD_EMALFORMED);
    const uint8_t huge_arr[] = {0xdd, 0xff, 0xff, 0xff, 0xff}; /* declares 4G elements */
    assert_true(pd_swim_wire_decode(huge_arr, sizeof huge_arr, &out) < 0);
    /* Bad node id (contains a space) and oversized meta are refused by the encoder too. */
    uint8_t big[PD_SWIM_META_MAX + 1] = {0};
    pd_swim_msg_t bad = {.type = PD_SWIM_MSG_ALIVE, .node = B("a b"), .addr = addr4(1, 1)};
    size_t len;
    assert_int_equal(pd_swim_wire_encode(&bad, buf, sizeof buf, &len), -PD_EUSAGE);
    bad.node = B("ab"), bad.meta = (pd_swim_bytes_t){big, sizeof big};
    assert_int_equal(pd_swim_wire_encode(&bad, buf, sizeof buf, &len), -PD_EUSAGE);
    bad.meta = (pd_swim_bytes_t){NULL, 0};
    assert_int_equal(pd_swim_wire_encode(&bad, buf, 8, &len), -PD_ETOOBIG);
}

static void test_reject_bad_fields(void **state)
{
    (void)state;
    /* An alive whose address is 5 bytes, and a push/pull node with an out-of-range state. */
    uint8_t buf[512];
    pd_swim_msg_t out;
    pd_swim_msg_t alive = {.type = PD_SWIM_MSG_ALIVE, .inc = 1, .node = B("n"), .addr = addr4(1, 2)};
    size_t len;
    assert_int_equal(pd_swim_wire_encode(&alive, buf, sizeof buf, &len), 0);
    uint8_t *a = memmem(buf, len, "\xc4\x06", 2); /* bin8 of 6 bytes: the address */
    assert_non_null(a);
    a[1] = 5;
    assert_true(pd_swim_wire_decode(buf, len, &out) < 0);

    pd_swim_wire_node_t n = {B("n1"), addr4(1, 1), {NULL, 0}, 1, 3};
    pd_swim_msg_t pp = {.type = PD_SWIM_MSG_PUSHPULL, .seq = 1, .n_nodes = 1, .nodes = &n};
    assert_int_equal(pd_swim_wire_encode(&pp, buf, sizeof buf, &len), 0);
    uint8_t *st = memmem(buf, len, "\xa2st\x03", 4);
    assert_non_null(st);
    st[3] = 9;
    assert_int_equal(pd_swim_wire_decode(buf, len, &out), -PD_EMALFORMED);
    /* A compound part that is not bin. */
    const uint8_t comp[] = {0x83, 0xa1, 'v', 0x01, 0xa1, 't', 0x08, 0xa1, 'c', 0x91, 0x01};
    assert_int_equal(pd_swim_wire_decode(comp, sizeof comp, &out), -PD_EMALFORMED);
}

/* Push/pull states are read from their bytes (swim_wire_pp.c) with msgpack-c's rules: any integer
 * encoding of a non-negative value, the first of duplicate keys, unknown keys of any shape skipped,
 * and the same errors. Built by hand, since our encoder only writes the canonical form. */
typedef struct {
    uint8_t b[1024];
    size_t n;
} raw_t;

static void raw(raw_t *r, const char *bytes, size_t n)
{
    memcpy(r->b + r->n, bytes, n);
    r->n += n;
}
#define RAW(r, lit) raw((r), (lit), sizeof(lit) - 1)

/* {"v":1,"t":9,"s":<seq>,"N":[<one record>], <extra root>}: the record's bytes are given whole. */
static int decode_pp(const char *rec, size_t rec_len, const char *extra, size_t extra_len, pd_swim_msg_t *out)
{
    raw_t r = {.n = 0};
    RAW(&r, "\x85\xa1v\x01\xa1t\xd0\x09\xa1s\xd3\x00\x00\x00\x00\x00\x00\x00\x2a\xa1N\x91");
    raw(&r, rec, rec_len);
    if (extra_len)
        raw(&r, extra, extra_len);
    else
        RAW(&r, "\xa1j\xc3");
    return pd_swim_wire_decode(r.b, r.n, out);
}
#define PP(rec, extra, out) decode_pp((rec), sizeof(rec) - 1, (extra), sizeof(extra) - 1, (out))

static void test_pushpull_bytes(void **state)
{
    (void)state;
    pd_swim_msg_t out;
    /* int8 type, int64 seq, uint32 inc, uint8 state; an unknown key holding a nested map and a
     * duplicate "st" (the first counts) inside the record; an unknown array-valued root key. */
    const char ok_rec[] = "\x86\xa1n\xa2n7\xa1q\x81\xa1x\x92\x01\xc0\xa1" "a\xc4\x06\x0a\x00\x00\x07\x1e\xaa"
                          "\xa1i\xce\x00\x01\x00\x00\xa2st\xcc\x02\xa2st\x01";
    assert_int_equal(PP(ok_rec, "\xa2zz\x92\xcb\x00\x00\x00\x00\x00\x00\x00\x00\xd4\x01\x02", &out), 0);
    assert_int_equal(out.type, PD_SWIM_MSG_PUSHPULL);
    assert_int_equal(out.seq, 42);
    assert_int_equal(out.join, 0);
    assert_int_equal(out.n_nodes, 1);
    assert_bytes(out.nodes[0].id, B("n7"));
    assert_int_equal(out.nodes[0].addr.family, 4);
    assert_int_equal(out.nodes[0].addr.ip[3], 7);
    assert_int_equal(out.nodes[0].addr.port, 0x1eaa);
    assert_int_equal(out.nodes[0].inc, 65536);
    assert_int_equal(out.nodes[0].state, PD_SWIM_DEAD);
    assert_int_equal(out.nodes[0].meta.len, 0);
    pd_swim_wire_release(&out);
    /* A record that is not a map; one without "n"; a negative or too large incarnation; a state out
     * of range; an id given as bin; metadata over its cap (ETOOBIG, after the checks before it). */
    assert_int_equal(PP("\x91\x01", "", &out), -PD_EMALFORMED);
    assert_int_equal(PP("\x83\xa1" "a\xc4\x06\x0a\x00\x00\x07\x1e\xaa\xa1i\x01\xa2st\x00", "", &out), -PD_EMALFORMED);
    assert_int_equal(PP("\x84\xa1n\xa1x\xa1" "a\xc4\x06\x0a\x00\x00\x07\x1e\xaa\xa1i\xff\xa2st\x00", "", &out),
                     -PD_EMALFORMED);
    assert_int_equal(PP("\x84\xa1n\xa1x\xa1" "a\xc4\x06\x0a\x00\x00\x07\x1e\xaa\xa1i\xcf\x00\x00\x00\x01\x00\x00\x00\x00"
                        "\xa2st\x00", "", &out),
                     -PD_EMALFORMED);
    assert_int_equal(PP("\x84\xa1n\xa1x\xa1" "a\xc4\x06\x0a\x00\x00\x07\x1e\xaa\xa1i\x01\xa2st\x04", "", &out),
                     -PD_EMALFORMED);
    assert_int_equal(PP("\x84\xa1n\xc4\x01x\xa1" "a\xc4\x06\x0a\x00\x00\x07\x1e\xaa\xa1i\x01\xa2st\x00", "", &out),
                     -PD_EMALFORMED);
    raw_t big = {.n = 0};
    RAW(&big, "\x85\xa1n\xa1x\xa1" "a\xc4\x06\x0a\x00\x00\x07\x1e\xaa\xa1i\x01\xa2st\x00\xa1m\xc5\x02\x01");
    memset(big.b + big.n, 'm', 513);
    big.n += 513;
    assert_int_equal(decode_pp((const char *)big.b, big.n, "", 0, &out), -PD_ETOOBIG);
    /* Root fields: "j" not a bool; "u" not bin; no "N" at all (a one-entry map in its place). */
    const char rec[] = "\x84\xa1n\xa1x\xa1" "a\xc4\x06\x0a\x00\x00\x07\x1e\xaa\xa1i\x01\xa2st\x00";
    assert_int_equal(PP(rec, "\xa1j\x01", &out), -PD_EMALFORMED);
    assert_int_equal(PP(rec, "\xa1u\xa1x", &out), -PD_EMALFORMED);
    const char no_nodes[] = "\x84\xa1v\x01\xa1t\x09\xa1s\x01\xa1M\x90";
    assert_int_equal(pd_swim_wire_decode((const uint8_t *)no_nodes, sizeof no_nodes - 1, &out), -PD_EMALFORMED);
    /* Not a push/pull after all (version 2): the common path judges it. */
    const char v2[] = "\x84\xa1v\x02\xa1t\x09\xa1s\x01\xa1N\x90";
    assert_int_equal(pd_swim_wire_decode((const uint8_t *)v2, sizeof v2 - 1, &out), -PD_EVERSION);
}

static int wire_node_eq(const pd_swim_wire_node_t *a, const pd_swim_wire_node_t *b)
{
    return a->id.p == b->id.p && a->id.len == b->id.len && pd_swim_addr_eq(&a->addr, &b->addr) &&
           a->meta.p == b->meta.p && a->meta.len == b->meta.len && a->inc == b->inc && a->state == b->state;
}

/* Push/pulls are checked and read in one walk when they look like our encoder's output
 * (pd_swim_wire__decode_pushpull_fast); everything else goes through validation first. On 60,000
 * mutants of an encoded state (bytes replaced, bits flipped, truncated, bytes inserted): wherever
 * the one walk answers, validation passes and the validated walk reads the same fields, and the
 * verdict of pd_swim_wire_decode is always that of validation plus the validated walk. */
static void test_pushpull_one_walk(void **state)
{
    (void)state;
    static const uint8_t meta[] = "role=mgr";
    pd_swim_addr_t v4 = {.family = 4, .ip = {10, 0, 0, 1}, .port = 7946};
    pd_swim_addr_t v6 = {.family = 6, .ip = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, .port = 7947};
    pd_swim_wire_node_t recs[4] = {
        {B("a"), v4, {NULL, 0}, 1, PD_SWIM_ALIVE},
        {B("node-2"), v6, {meta, 8}, 300, PD_SWIM_SUSPECT},
        {B("n3"), v4, {NULL, 0}, 70000, PD_SWIM_DEAD},
        {B("x"), v4, {NULL, 0}, 2, PD_SWIM_LEFT},
    };
    pd_swim_msg_t pp = {.type = PD_SWIM_MSG_PUSHPULL, .seq = 7, .join = 1, .n_nodes = 4, .nodes = recs,
                        .payload = B("table")};
    uint8_t enc[512], mut[600];
    size_t len;
    assert_int_equal(pd_swim_wire_encode(&pp, enc, sizeof enc, &len), 0);
    pd_swim_msg_t *f = calloc(1, sizeof *f), *v = calloc(1, sizeof *v), *o = calloc(1, sizeof *o);
    assert_true(f && v && o);
    assert_int_equal(pd_swim_wire__decode_pushpull_fast(enc, len, f), 1); /* the unmutated state */
    assert_int_equal(f->n_nodes, 4);
    pd_free(f->nodes);
    uint64_t x = 0x9e3779b97f4a7c15ULL, fast = 0, refused = 0;
    for (int iter = 0; iter < 60000; iter++) {
        memcpy(mut, enc, len);
        size_t n = len;
        for (int k = 0, muts = 1 + iter % 3; k < muts; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x >> 8) % n;
            switch ((x >> 4) % 4) {
            case 0: mut[at] = (uint8_t)(x >> 40); break;
            case 1: mut[at] ^= (uint8_t)(1u << ((x >> 40) % 8)); break;
            case 2: n = at + 1; break;
            default:
                if (n < sizeof mut) {
                    memmove(mut + at + 1, mut + at, n - at);
                    mut[at] = (uint8_t)(x >> 40);
                    n++;
                }
            }
        }
        memset(f, 0, sizeof *f), memset(v, 0, sizeof *v);
        int got_fast = pd_swim_wire__decode_pushpull_fast(mut, n, f);
        int vrc = pd_mp_validate(mut, n, PD_MP_DEPTH_MAX), prc = -1;
        int is_pp = vrc == 0 && pd_swim_wire__decode_pushpull(mut, n, v, &prc);
        if (got_fast) {
            fast++;
            assert_int_equal(vrc, 0);
            assert_true(is_pp);
            assert_int_equal(prc, 0);
            assert_true(f->seq == v->seq && f->join == v->join && f->reply == v->reply);
            assert_true(f->payload.p == v->payload.p && f->payload.len == v->payload.len);
            assert_int_equal(f->n_nodes, v->n_nodes);
            for (uint32_t i = 0; i < f->n_nodes; i++)
                assert_true(wire_node_eq(&f->nodes[i], &v->nodes[i]));
        } else {
            refused++;
        }
        int drc = pd_swim_wire_decode(mut, n, o);
        if (vrc)
            assert_int_equal(drc, vrc);
        else if (is_pp)
            assert_int_equal(drc, prc);
        if (drc == 0)
            pd_swim_wire_release(o);
        pd_free(f->nodes), pd_free(v->nodes);
    }
    assert_true(fast > 1000 && refused > 1000); /* both ways were taken */
    free(f), free(v), free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_simple),
        cmocka_unit_test(test_roundtrip_compound_pushpull),
        cmocka_unit_test(test_reject_malformed),
        cmocka_unit_test(test_reject_bad_fields),
        cmocka_unit_test(test_pushpull_bytes),
        cmocka_unit_test(test_pushpull_one_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
