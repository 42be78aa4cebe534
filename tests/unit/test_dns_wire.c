/* dns_wire: header, names and compression pointers, query + EDNS parsing, the builder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <strings.h>

#include "dns_wire.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "test_dns_util.h"

static t_reply_t rep;

/* `dig @127.0.0.1 web.svc A` as captured (EDNS 1232, a COOKIE option, AD set). */
static const uint8_t DIG_WEB_SVC_A[] = {
    0x0e, 0x82, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x77, 0x65, 0x62,
    0x03, 0x73, 0x76, 0x63, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x08, 0xc4, 0x40, 0xa5, 0x15, 0xd5, 0x71, 0x65, 0x30,
};

static void test_header(void **state)
{
    (void)state;
    pd_dns_hdr_t h;
    assert_int_equal(pd_dns_hdr_parse(DIG_WEB_SVC_A, 11, &h), -PD_ETRUNCATED);
    assert_int_equal(pd_dns_hdr_parse(DIG_WEB_SVC_A, sizeof DIG_WEB_SVC_A, &h), 0);
    assert_int_equal(h.id, 0x0e82);
    assert_int_equal(h.flags, PD_DNS_F_RD | PD_DNS_F_AD);
    assert_int_equal(h.qdcount, 1);
    assert_int_equal(h.arcount, 1);
}

static void test_dig_query(void **state)
{
    (void)state;
    pd_dns_query_t q;
    char name[300];
    assert_int_equal(pd_dns_query_parse(DIG_WEB_SVC_A, sizeof DIG_WEB_SVC_A, &q), 0);
    t_dotted(q.qname.wire, name);
    assert_string_equal(name, "web.svc.");
    assert_int_equal(q.qname.nlabels, 2);
    assert_int_equal(q.qname.off[1], 4);
    assert_int_equal(q.qtype, PD_DNS_T_A);
    assert_int_equal(q.qclass, PD_DNS_C_IN);
    assert_true(q.has_edns);
    assert_int_equal(q.udp_size, 1232);
    assert_int_equal(q.edns_version, 0);
    /* every strict prefix is truncated or malformed */
    for (size_t n = 0; n < sizeof DIG_WEB_SVC_A; n++)
        assert_true(pd_dns_query_parse(DIG_WEB_SVC_A, n, &q) < 0);
}

/* Message: header (12 zero bytes) then `body`; parse the name at `at`. */
static int parse_at(const uint8_t *body, size_t blen, size_t at, pd_dns_name_t *n, size_t *end)
{
    uint8_t msg[600] = {0};
    memcpy(msg + 12, body, blen);
    pd_rbuf_t r;
    pd_rbuf_init(&r, msg, 12 + blen);
    pd_rbuf_seek(&r, 12 + at);
    int rc = pd_dns_name_parse(&r, n);
    if (rc != 0)
        assert_int_equal(r.err, rc); /* sticky */
    *end = r.pos - 12;
    return rc;
}

static void test_compression_pointers(void **state)
{
    (void)state;
    pd_dns_name_t n;
    size_t end;
    char s[300];
    /* 12: "\3svc\0", 17: "\3web" -> 12, 23: "\5tasks" -> 17 (pointer to a name ending in a pointer)
     */
    const uint8_t ok[] = {3, 's', 'v', 'c', 0, 3, 'w', 'e', 'b', 0xc0, 12,
                          5, 't', 'a', 's', 'k', 's', 0xc0, 17};
    assert_int_equal(parse_at(ok, sizeof ok, 11, &n, &end), 0);
    t_dotted(n.wire, s);
    assert_string_equal(s, "tasks.web.svc.");
    assert_int_equal(end, sizeof ok);
    assert_int_equal(n.nlabels, 3);
    /* pointer to a pointer: at 23, c0 15 -> 21, which is c0 0c -> 12 "svc" */
    const uint8_t p2p[] = {3, 's', 'v', 'c', 0, 0, 0, 0, 0, 0xc0, 12, 0xc0, 21};
    assert_int_equal(parse_at(p2p, sizeof p2p, 11, &n, &end), 0);
    t_dotted(n.wire, s);
    assert_string_equal(s, "svc.");
    assert_int_equal(end, 13);
    /* self loop */
    const uint8_t self[] = {0xc0, 12};
    assert_int_equal(parse_at(self, sizeof self, 0, &n, &end), -PD_EMALFORMED);
    /* two-pointer loop: 12 -> 14 (forward), and 14 -> 12 */
    const uint8_t loop[] = {0xc0, 14, 0xc0, 12};
    assert_int_equal(parse_at(loop, sizeof loop, 0, &n, &end), -PD_EMALFORMED);
    assert_int_equal(parse_at(loop, sizeof loop, 2, &n, &end), -PD_EMALFORMED);
    /* label then pointer back into its own label */
    const uint8_t inner[] = {1, 'a', 0xc0, 12};
    assert_int_equal(parse_at(inner, sizeof inner, 0, &n, &end), -PD_EMALFORMED);
    /* into the header, out of range, cut short */
    const uint8_t hdr[] = {0xc0, 4};
    assert_int_equal(parse_at(hdr, sizeof hdr, 0, &n, &end), -PD_EMALFORMED);
    const uint8_t far[] = {1, 'a', 0, 0xff, 0xff};
    assert_int_equal(parse_at(far, sizeof far, 3, &n, &end), -PD_EMALFORMED);
    const uint8_t cut[] = {1, 'a', 0, 0xc0};
    assert_int_equal(parse_at(cut, sizeof cut, 3, &n, &end), -PD_ETRUNCATED);
    /* 0x40 / 0x80 label types */
    const uint8_t ext[] = {0x41, 'a', 0};
    assert_int_equal(parse_at(ext, sizeof ext, 0, &n, &end), -PD_EMALFORMED);
    const uint8_t ext2[] = {0x80, 0};
    assert_int_equal(parse_at(ext2, sizeof ext2, 0, &n, &end), -PD_EMALFORMED);
    const uint8_t trunc[] = {5, 'a', 'b'};
    assert_int_equal(parse_at(trunc, sizeof trunc, 0, &n, &end), -PD_ETRUNCATED);
}

static void test_name_limits(void **state)
{
    (void)state;
    uint8_t body[600];
    pd_dns_name_t n;
    size_t end;
    /* 127 one-byte labels = 254 + root = 255: the maximum */
    for (int i = 0; i < 127; i++) {
        body[2 * i] = 1;
        body[2 * i + 1] = 'a';
    }
    body[254] = 0;
    assert_int_equal(parse_at(body, 255, 0, &n, &end), 0);
    assert_int_equal(n.len, 255);
    assert_int_equal(n.nlabels, 127);
    /* one more label: 257 bytes */
    body[254] = 1;
    body[255] = 'a';
    body[256] = 0;
    assert_int_equal(parse_at(body, 257, 0, &n, &end), -PD_EMALFORMED);
    /* 63-byte label ok */
    memset(body, 'x', sizeof body);
    body[0] = 63;
    body[64] = 0;
    assert_int_equal(parse_at(body, 65, 0, &n, &end), 0);
    /* 4 x (1 + 63) = 256 + root: too long */
    for (int i = 0; i < 4; i++)
        body[64 * i] = 63;
    body[256] = 0;
    assert_int_equal(parse_at(body, 257, 0, &n, &end), -PD_EMALFORMED);
    assert_int_equal(pd_dns_name_check((const uint8_t *)"\3abc\0", 5), 5);
    assert_true(pd_dns_name_check((const uint8_t *)"\3abc", 4) < 0);
}

static void test_query_shapes(void **state)
{
    (void)state;
    uint8_t buf[600];
    pd_dns_query_t q;
    size_t len = t_query(buf, sizeof buf, 7, "Tasks.Web.SVC", PD_DNS_T_AAAA, -1);
    assert_int_equal(pd_dns_query_parse(buf, len, &q), 0);
    assert_false(q.has_edns);
    assert_int_equal(q.udp_size, 512);
    assert_memory_equal(q.qname.wire, "\5Tasks\3Web\3SVC", 15); /* case kept */
    /* qdcount 0 and 2 */
    buf[5] = 0;
    assert_int_equal(pd_dns_query_parse(buf, len, &q), -PD_EMALFORMED);
    buf[5] = 2;
    assert_true(pd_dns_query_parse(buf, len, &q) < 0);
    /* EDNS sizes clamp to [512, 4096] */
    const int sizes[][2] = {{0, 512}, {100, 512}, {1232, 1232}, {4096, 4096}, {65000, 4096}};
    for (size_t i = 0; i < PD_ARRAY_LEN(sizes); i++) {
        len = t_query(buf, sizeof buf, 7, "web.svc", PD_DNS_T_A, sizes[i][0]);
        assert_int_equal(pd_dns_query_parse(buf, len, &q), 0);
        assert_true(q.has_edns);
        assert_int_equal(q.udp_size, sizes[i][1]);
    }
    /* two OPTs */
    len = t_query(buf, sizeof buf, 7, "web.svc", PD_DNS_T_A, 1232);
    memcpy(buf + len, buf + len - PD_DNS_OPT_LEN, PD_DNS_OPT_LEN);
    buf[11] = 2;
    assert_int_equal(pd_dns_query_parse(buf, len + PD_DNS_OPT_LEN, &q), -PD_EMALFORMED);
    /* OPT counted in the answer section */
    buf[7] = 1;
    buf[11] = 0;
    assert_int_equal(pd_dns_query_parse(buf, len, &q), -PD_EMALFORMED);
    /* too many records */
    buf[7] = 0;
    buf[11] = 200;
    assert_int_equal(pd_dns_query_parse(buf, len, &q), -PD_EMALFORMED);
}

static void test_query_with_compressed_records(void **state)
{
    (void)state;
    uint8_t buf[600];
    pd_dns_query_t q;
    size_t len = t_query(buf, sizeof buf, 1, "tasks.web.svc", PD_DNS_T_A, -1);
    /* authority: "x" + pointer to "svc" (offset 22) TXT, then an OPT with a COOKIE option */
    const uint8_t rrs[] = {1, 'x', 0xc0, 22, 0, 16, 0, 1, 0, 0, 0, 0, 0, 1, 0,
                           0, 0, 41, 8, 0, 0, 0, 0x80, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(buf + len, rrs, sizeof rrs);
    buf[9] = 1;
    buf[11] = 1;
    assert_int_equal(pd_dns_query_parse(buf, len + sizeof rrs, &q), 0);
    assert_true(q.has_edns);
    assert_int_equal(q.udp_size, 2048);
    assert_int_equal(q.edns_flags, PD_DNS_EDNS_DO);
    assert_int_equal(pd_dns_msg_check(buf, len + sizeof rrs), 0);
    /* the pointer made forward: refused */
    buf[len + 3] = (uint8_t)(len + 10);
    assert_int_equal(pd_dns_query_parse(buf, len + sizeof rrs, &q), -PD_EMALFORMED);
}

static void test_opt_owner_must_be_root(void **state)
{
    (void)state;
    uint8_t buf[600];
    pd_dns_query_t q;
    size_t len = t_query(buf, sizeof buf, 1, "a", PD_DNS_T_A, -1);
    /* additional: "\1x" OPT */
    const uint8_t opt[] = {1, 'x', 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
    memcpy(buf + len, opt, sizeof opt);
    buf[11] = 1;
    assert_int_equal(pd_dns_query_parse(buf, len + sizeof opt, &q), -PD_EMALFORMED);
}

static void test_builder_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[1024], q[64], tgt[64], mn[64], rn[64];
    pd_dns_builder_t b;
    size_t len;
    t_wire("WeB.SVC", q);
    t_wire("web.svc", tgt);
    t_wire("ns.svc", mn);
    t_wire("hostmaster.svc", rn);
    const uint8_t v4[4] = {10, 0, 0, 2}, v6[16] = {0xfd, 0, [15] = 2};
    pd_dns_soa_t soa = {mn, rn, 42, 3600, 600, 86400, 5};
    pd_dns_build_init(&b, buf, sizeof buf);
    assert_int_equal(pd_dns_build_question(&b, q, PD_DNS_T_ANY, PD_DNS_C_IN), 0);
    assert_int_equal(pd_dns_build_a(&b, PD_DNS_SEC_AN, tgt, 5, v4), 0);
    /* owner compressed onto the question despite the case difference: 2-byte pointer to 12 */
    assert_int_equal(buf[12 + 13], 0xc0);
    assert_int_equal(buf[12 + 13 + 1], 12);
    assert_int_equal(pd_dns_build_aaaa(&b, PD_DNS_SEC_AN, tgt, 5, v6), 0);
    assert_int_equal(pd_dns_build_ptr(&b, PD_DNS_SEC_AN, q, 5, tgt), 0);
    assert_int_equal(pd_dns_build_srv(&b, PD_DNS_SEC_AN, q, 5, 1, 2, 8080, tgt), 0);
    assert_int_equal(pd_dns_build_soa(&b, PD_DNS_SEC_NS, (const uint8_t *)"\3svc", 5, &soa), 0);
    assert_int_equal(pd_dns_build_opt(&b, 1232, 0, 0, PD_DNS_EDNS_DO), 0);
    assert_int_equal(pd_dns_build_finish(&b, 0x1234, PD_DNS_F_QR | PD_DNS_F_AA, &len), 0);
    assert_int_equal(t_parse_reply(buf, len, &rep), 0);
    assert_int_equal(rep.h.id, 0x1234);
    assert_string_equal(rep.qname, "WeB.SVC.");
    assert_int_equal(rep.qtype, PD_DNS_T_ANY);
    assert_int_equal(rep.h.ancount, 4);
    assert_int_equal(rep.h.nscount, 1);
    assert_int_equal(rep.h.arcount, 1);
    assert_memory_equal(rep.rr[0].addr, v4, 4);
    assert_memory_equal(rep.rr[1].addr, v6, 16);
    assert_int_equal(rep.rr[0].rr.ttl, 5);
    assert_string_equal(rep.rr[2].target, "WeB.SVC."); /* PTR target compressed to the question */
    assert_int_equal(rep.rr[3].port, 8080);
    assert_int_equal(rep.rr[3].prio, 1);
    assert_int_equal(rep.rr[3].weight, 2);
    assert_string_equal(rep.rr[3].target, "web.svc."); /* SRV target: never compressed */
    assert_int_equal(strcasecmp(rep.rr[4].target, "ns.svc."), 0); /* suffix shared with "SVC" */
    assert_int_equal(rep.rr[4].serial, 42);
    assert_int_equal(rep.rr[4].minimum, 5);
    assert_int_equal(rep.rr[5].rr.type, PD_DNS_T_OPT);
    assert_int_equal(rep.rr[5].rr.klass, 1232);
    assert_int_equal(rep.rr[5].rr.ttl, PD_DNS_EDNS_DO);
    /* the SOA owner "svc" is a pointer to the suffix of the question (offset 16) */
    assert_true(len < 12 + 13 + 4 + 4 * 16 + 30 + 60);
}

static void test_builder_all_or_nothing(void **state)
{
    (void)state;
    uint8_t buf[64], q[64];
    pd_dns_builder_t b;
    size_t len;
    const uint8_t v6[16] = {0};
    t_wire("a.b", q);
    pd_dns_build_init(&b, buf, sizeof buf);
    assert_int_equal(pd_dns_build_question(&b, q, PD_DNS_T_AAAA, PD_DNS_C_IN), 0); /* 12 + 9 */
    assert_int_equal(pd_dns_build_aaaa(&b, PD_DNS_SEC_AN, q, 5, v6), 0);          /* +28 = 49 */
    size_t before = b.w.len;
    assert_int_equal(pd_dns_build_aaaa(&b, PD_DNS_SEC_AN, q, 5, v6), -PD_ETOOBIG);
    assert_int_equal(b.w.len, before);
    assert_int_equal(b.w.err, 0);
    /* reserve room for an OPT: the record that would fit no longer does */
    pd_dns_build_init(&b, buf, 12 + 9 + 28 + 11);
    pd_dns_build_reserve(&b, PD_DNS_OPT_LEN);
    assert_int_equal(pd_dns_build_question(&b, q, PD_DNS_T_AAAA, PD_DNS_C_IN), 0);
    assert_int_equal(pd_dns_build_aaaa(&b, PD_DNS_SEC_AN, q, 5, v6), 0);
    assert_int_equal(pd_dns_build_aaaa(&b, PD_DNS_SEC_AN, q, 5, v6), -PD_ETOOBIG);
    pd_dns_build_release(&b);
    assert_int_equal(pd_dns_build_opt(&b, 1232, 0, 0, 0), 0);
    assert_int_equal(pd_dns_build_finish(&b, 1, PD_DNS_F_QR, &len), 0);
    assert_int_equal(len, 60);
    assert_int_equal(t_parse_reply(buf, len, &rep), 0);
    assert_int_equal(rep.h.ancount, 1);
    assert_int_equal(rep.h.arcount, 1);
}

static void test_msg_check(void **state)
{
    (void)state;
    uint8_t buf[600];
    size_t len = t_query(buf, sizeof buf, 7, "web.svc", PD_DNS_T_A, 1232);
    assert_int_equal(pd_dns_msg_check(buf, len), 0);
    buf[len] = 0;
    assert_int_equal(pd_dns_msg_check(buf, len + 1), -PD_EMALFORMED); /* trailing byte */
    /* an A record with rdlen 3 */
    uint8_t m[] = {0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 'a',
                   0, 0, 1,    0, 1, 0, 0, 0, 5, 0, 3, 1, 2, 3};
    assert_int_equal(pd_dns_msg_check(m, sizeof m), -PD_EMALFORMED);
    m[24] = 4;
    assert_true(pd_dns_msg_check(m, sizeof m) < 0); /* now truncated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_dig_query),
        cmocka_unit_test(test_compression_pointers),
        cmocka_unit_test(test_name_limits),
        cmocka_unit_test(test_query_shapes),
        cmocka_unit_test(test_query_with_compressed_records),
        cmocka_unit_test(test_opt_owner_must_be_root),
        cmocka_unit_test(test_builder_roundtrip),
        cmocka_unit_test(test_builder_all_or_nothing),
        cmocka_unit_test(test_msg_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
