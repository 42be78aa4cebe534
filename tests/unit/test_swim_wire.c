/* SWIM wire codec: round-trips of every message type, and rejection of malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <string.h>

#include "pd_err.h"
#include "swim_wire.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_simple),
        cmocka_unit_test(test_roundtrip_compound_pushpull),
        cmocka_unit_test(test_reject_malformed),
        cmocka_unit_test(test_reject_bad_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
