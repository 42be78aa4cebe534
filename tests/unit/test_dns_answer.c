/* dns_answer: verdicts (answer / forward / drop), NXDOMAIN vs NODATA, tasks.* shuffle and caps,
 * SRV, PTR, nodes, TTL, EDNS, truncation, FORMERR / NOTIMP, and no allocation per query. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dns_answer.h"
#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "test_dns_util.h"

static t_reply_t rep;
static pd_dns_table_t *tab;
static pd_dns_config_t cfg;
static pd_rng_t rng;
static uint8_t out[PD_DNS_MSG_MAX];
static size_t out_len;

/* `dig @127.0.0.1 web.svc A` (EDNS 1232 + COOKIE) and `dig +noedns tasks.web.svc AAAA`. */
static const uint8_t DIG_WEB_SVC_A[] = {
    0x0e, 0x82, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x77, 0x65, 0x62,
    0x03, 0x73, 0x76, 0x63, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x08, 0xc4, 0x40, 0xa5, 0x15, 0xd5, 0x71, 0x65, 0x30,
};
static const uint8_t DIG_TASKS_AAAA[] = {
    0x49, 0x6a, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x74, 0x61, 0x73,
    0x6b, 0x73, 0x03, 0x77, 0x65, 0x62, 0x03, 0x73, 0x76, 0x63, 0x00, 0x00, 0x1c, 0x00, 0x01,
};

static pd_dns_addrs_t a4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return (pd_dns_addrs_t){.has_v4 = 1, .v4 = {a, b, c, d}};
}

static pd_dns_addrs_t a6(uint8_t last)
{
    return (pd_dns_addrs_t){.has_v6 = 1, .v6 = {0xfd, 0, [14] = 1, [15] = last}};
}

/* web: VIP 10.0.0.2 + fd00::2, ports http/tcp 80, dns/udp 53; 20 tasks, every 5th unhealthy,
 * 10.0.1.i and fd00::1:i. db: no VIP (round robin), 2 tasks. v6only: VIP fd00::6 only.
 * big: 100 healthy v6 tasks. nodes host1 and host2.lan. */
static int setup(void **state)
{
    (void)state;
    assert_int_equal(pd_dns_table_new(NULL, &tab), 0);
    pd_dns_addrs_t vip = a4(10, 0, 0, 2);
    vip.has_v6 = 1;
    vip.v6[0] = 0xfd;
    vip.v6[15] = 2;
    pd_dns_port_t ports[] = {{"http", PD_DNS_PROTO_TCP, 80}, {"dns", PD_DNS_PROTO_UDP, 53}};
    assert_int_equal(pd_dns_table_service_put(tab, "web", &vip, ports, 2), 0);
    char id[16];
    for (int i = 1; i <= 20; i++) {
        pd_dns_addrs_t a = a4(10, 0, 1, (uint8_t)i);
        a.has_v6 = 1;
        memcpy(a.v6, a6((uint8_t)i).v6, 16);
        snprintf(id, sizeof id, "t%02d", i);
        assert_int_equal(pd_dns_table_task_put(tab, "web", id, &a, i % 5 != 0, 0), 0);
    }
    pd_dns_port_t pg = {"pg", PD_DNS_PROTO_TCP, 5432};
    assert_int_equal(pd_dns_table_service_put(tab, "db", NULL, &pg, 1), 0);
    pd_dns_addrs_t d1 = a4(10, 0, 2, 1), d2 = a4(10, 0, 2, 2);
    assert_int_equal(pd_dns_table_task_put(tab, "db", "d1", &d1, 1, 15432), 0);
    assert_int_equal(pd_dns_table_task_put(tab, "db", "d2", &d2, 1, 0), 0);
    pd_dns_addrs_t v6vip = a6(6);
    assert_int_equal(pd_dns_table_service_put(tab, "v6only", &v6vip, NULL, 0), 0);
    assert_int_equal(pd_dns_table_service_put(tab, "big", NULL, NULL, 0), 0);
    for (int i = 0; i < 100; i++) {
        pd_dns_addrs_t a = {.has_v6 = 1,
                            .v6 = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, (uint8_t)i}};
        snprintf(id, sizeof id, "b%d", i);
        assert_int_equal(pd_dns_table_task_put(tab, "big", id, &a, 1, 0), 0);
    }
    pd_dns_addrs_t h1 = a4(192, 168, 1, 10), h2 = a4(192, 168, 1, 11);
    h2.has_v6 = 1;
    h2.v6[0] = 0xfe;
    h2.v6[15] = 0x11;
    assert_int_equal(pd_dns_table_node_put(tab, "host1", &h1), 0);
    assert_int_equal(pd_dns_table_node_put(tab, "Host2.lan", &h2), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pd_dns_table_free(tab);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    pd_dns_config_default(&cfg);
    pd_rng_seed(&rng, 1);
    return 0;
}

static pd_dns_verdict_t ask_raw(const uint8_t *q, size_t len, pd_dns_transport_t tr)
{
    pd_dns_verdict_t v = pd_dns_answer(tab, q, len, tr, &rng, &cfg, out, sizeof out, &out_len);
    if (v == PD_DNS_ANSWERED) {
        assert_int_equal(t_parse_reply(out, out_len, &rep), 0);
        assert_true(rep.h.flags & PD_DNS_F_QR);
        if (tr == PD_DNS_UDP)
            assert_true(out_len <= PD_DNS_UDP_MAX);
    } else {
        assert_int_equal(out_len, 0);
    }
    return v;
}

static pd_dns_verdict_t ask_edns(const char *name, uint16_t qtype, pd_dns_transport_t tr, int edns)
{
    uint8_t q[600];
    size_t len = t_query(q, sizeof q, 0xbeef, name, qtype, edns);
    assert_true(len > 0);
    return ask_raw(q, len, tr);
}

static pd_dns_verdict_t ask(const char *name, uint16_t qtype)
{
    return ask_edns(name, qtype, PD_DNS_UDP, -1);
}

static int rcode(void) { return rep.h.flags & PD_DNS_F_RCODE; }

static void expect_soa(const char *zone)
{
    assert_int_equal(rep.h.ancount, 0);
    assert_int_equal(t_count(&rep, 1, PD_DNS_T_SOA), 1);
    char owner[300];
    t_dotted(rep.rr[0].rr.owner.wire, owner);
    assert_string_equal(owner, zone);
    assert_int_equal(rep.rr[0].minimum, cfg.ttl_s);
    assert_int_equal(rep.rr[0].serial, pd_dns_table_serial(tab));
}

static void test_service_vip(void **state)
{
    (void)state;
    assert_int_equal(ask("web.svc", PD_DNS_T_A), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.id, 0xbeef);
    assert_int_equal(rcode(), PD_DNS_R_NOERROR);
    assert_true(rep.h.flags & PD_DNS_F_AA);
    assert_true(rep.h.flags & PD_DNS_F_RD);
    assert_true(rep.h.flags & PD_DNS_F_RA);
    assert_false(rep.h.flags & PD_DNS_F_TC);
    assert_int_equal(rep.h.ancount, 1);
    assert_int_equal(rep.rr[0].rr.type, PD_DNS_T_A);
    assert_int_equal(rep.rr[0].rr.ttl, 5);
    assert_memory_equal(rep.rr[0].addr, ((uint8_t[]){10, 0, 0, 2}), 4);
    /* bare name, case preserved in the question */
    assert_int_equal(ask("WeB", PD_DNS_T_AAAA), PD_DNS_ANSWERED);
    assert_string_equal(rep.qname, "WeB.");
    assert_int_equal(rep.h.ancount, 1);
    assert_int_equal(rep.rr[0].addr[0], 0xfd);
    assert_int_equal(rep.rr[0].addr[15], 2);
    /* ANY: both */
    assert_int_equal(ask("web.SVC", PD_DNS_T_ANY), PD_DNS_ANSWERED);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 1);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_AAAA), 1);
}

static void test_captured_dig_queries(void **state)
{
    (void)state;
    assert_int_equal(ask_raw(DIG_WEB_SVC_A, sizeof DIG_WEB_SVC_A, PD_DNS_UDP), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.id, 0x0e82);
    assert_int_equal(rep.h.ancount, 1);
    assert_int_equal(t_count(&rep, 2, PD_DNS_T_OPT), 1);
    assert_int_equal(ask_raw(DIG_TASKS_AAAA, sizeof DIG_TASKS_AAAA, PD_DNS_UDP), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.ancount, 8);
    assert_int_equal(rep.h.arcount, 0);
}

/* Healthy tasks only, distinct, capped over UDP, all over TCP. */
static void check_tasks(unsigned want, uint16_t type)
{
    uint8_t seen[256] = {0};
    assert_int_equal(rep.h.ancount, want);
    for (unsigned i = 0; i < rep.h.ancount; i++) {
        assert_int_equal(rep.rr[i].rr.type, type);
        uint8_t last = type == PD_DNS_T_A ? rep.rr[i].addr[3] : rep.rr[i].addr[15];
        assert_true(last >= 1 && last <= 20 && last % 5 != 0);
        assert_false(seen[last]++);
    }
}

static void test_tasks_shuffle_cap(void **state)
{
    (void)state;
    assert_int_equal(ask("tasks.web.svc", PD_DNS_T_A), PD_DNS_ANSWERED);
    check_tasks(8, PD_DNS_T_A);
    assert_false(rep.h.flags & PD_DNS_F_TC); /* capped, not truncated */
    assert_int_equal(ask_edns("Tasks.Web", PD_DNS_T_AAAA, PD_DNS_UDP, -1), PD_DNS_ANSWERED);
    check_tasks(8, PD_DNS_T_AAAA);
    assert_int_equal(ask_edns("tasks.web.svc", PD_DNS_T_A, PD_DNS_TCP, -1), PD_DNS_ANSWERED);
    check_tasks(16, PD_DNS_T_A);
    cfg.udp_answer_max = 3;
    assert_int_equal(ask("tasks.web.svc", PD_DNS_T_A), PD_DNS_ANSWERED);
    check_tasks(3, PD_DNS_T_A);
    cfg.udp_answer_max = 0; /* no cap */
    assert_int_equal(ask("tasks.web.svc", PD_DNS_T_A), PD_DNS_ANSWERED);
    check_tasks(16, PD_DNS_T_A);
    /* shuffled per query: the first record varies, and different seeds differ */
    unsigned first_seen[256] = {0}, distinct = 0;
    for (int i = 0; i < 64; i++) {
        ask("tasks.web.svc", PD_DNS_T_A);
        distinct += first_seen[rep.rr[0].addr[3]]++ == 0;
    }
    assert_true(distinct >= 8);
}

static void test_round_robin_service(void **state)
{
    (void)state;
    assert_int_equal(ask("db.svc", PD_DNS_T_A), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.ancount, 2);
    assert_int_equal(ask("db", PD_DNS_T_AAAA), PD_DNS_ANSWERED); /* no v6 anywhere: NODATA */
    assert_int_equal(rcode(), PD_DNS_R_NOERROR);
    expect_soa("svc.");
}

static void test_nxdomain_nodata_forward(void **state)
{
    (void)state;
    const char *nx[] = {"nope.svc",           "tasks.nope.svc",     "a.b.web.svc",
                        "x.y.z.w.web.svc",    "_http._udp.web.svc", "_x._tcp.web.svc",
                        "nope.tasks.web.svc", "_udp.db.svc"};
    for (size_t i = 0; i < PD_ARRAY_LEN(nx); i++) {
        assert_int_equal(ask(nx[i], PD_DNS_T_A), PD_DNS_ANSWERED);
        assert_int_equal(rcode(), PD_DNS_R_NXDOMAIN);
        assert_true(rep.h.flags & PD_DNS_F_AA);
        expect_soa("svc.");
    }
    assert_int_equal(ask("nope.node", PD_DNS_T_A), PD_DNS_ANSWERED);
    assert_int_equal(rcode(), PD_DNS_R_NXDOMAIN);
    expect_soa("node.");
    const char *nodata[][2] = {{"v6only.svc", "A"}, {"web.svc", "MX"}, {"svc", "A"}, {"node", "A"},
                               {"tasks.web", "TXT"}, {"_tcp.web.svc", "SRV"},
                               {"_http._tcp.web.svc", "A"}, {"host1.node", "AAAA"}};
    for (size_t i = 0; i < PD_ARRAY_LEN(nodata); i++) {
        uint16_t qt = !strcmp(nodata[i][1], "A")      ? PD_DNS_T_A
                      : !strcmp(nodata[i][1], "AAAA") ? PD_DNS_T_AAAA
                      : !strcmp(nodata[i][1], "MX")   ? PD_DNS_T_MX
                      : !strcmp(nodata[i][1], "SRV")  ? PD_DNS_T_SRV
                                                      : PD_DNS_T_TXT;
        assert_int_equal(ask(nodata[i][0], qt), PD_DNS_ANSWERED);
        assert_int_equal(rcode(), PD_DNS_R_NOERROR);
        expect_soa(strstr(nodata[i][0], "node") ? "node." : "svc.");
    }
    const char *fwd[] = {"example.com", "nope", "tasks.nope", "web.example", ".", "svc.example",
                         "3.2.1.in-addr.arpa", "9.9.9.9.in-addr.arpa", "foo.tasks.web"};
    for (size_t i = 0; i < PD_ARRAY_LEN(fwd); i++)
        assert_int_equal(ask(fwd[i], PD_DNS_T_A), PD_DNS_FORWARD);
    assert_int_equal(ask("9.9.9.9.in-addr.arpa", PD_DNS_T_PTR), PD_DNS_FORWARD);
    assert_int_equal(ask("2.0.0.10.in-addr.arpa", PD_DNS_T_TXT), PD_DNS_FORWARD);
}

static void test_apex_soa(void **state)
{
    (void)state;
    cfg.ttl_s = 7;
    assert_int_equal(ask("svc", PD_DNS_T_SOA), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.ancount, 1);
    assert_int_equal(rep.rr[0].rr.type, PD_DNS_T_SOA);
    assert_string_equal(rep.rr[0].target, "ns.svc.");
    assert_int_equal(rep.rr[0].minimum, 7);
    assert_int_equal(rep.rr[0].rr.ttl, 7);
}

static void test_srv(void **state)
{
    (void)state;
    assert_int_equal(ask("_HTTP._tcp.Web.svc", PD_DNS_T_SRV), PD_DNS_ANSWERED);
    assert_string_equal(rep.qname, "_HTTP._tcp.Web.svc.");
    assert_int_equal(rep.h.ancount, 1);
    assert_int_equal(rep.rr[0].port, 80);
    assert_string_equal(rep.rr[0].target, "web.svc.");
    assert_int_equal(t_count(&rep, 2, PD_DNS_T_A), 1);
    assert_int_equal(t_count(&rep, 2, PD_DNS_T_AAAA), 1);
    assert_int_equal(ask("_dns._udp.web.svc", PD_DNS_T_SRV), PD_DNS_ANSWERED);
    assert_int_equal(rep.rr[0].port, 53);
    /* without a VIP: one SRV per healthy task, the task's own port when it has one */
    assert_int_equal(ask("_pg._tcp.db.svc", PD_DNS_T_SRV), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.ancount, 2);
    assert_int_equal(t_count(&rep, 2, PD_DNS_T_A), 2);
    for (int i = 0; i < 2; i++) {
        if (!strcmp(rep.rr[i].target, "d1.tasks.db.svc."))
            assert_int_equal(rep.rr[i].port, 15432);
        else {
            assert_string_equal(rep.rr[i].target, "d2.tasks.db.svc.");
            assert_int_equal(rep.rr[i].port, 5432);
        }
    }
}

static void expect_ptr(const char *name, const char *target)
{
    assert_int_equal(ask(name, PD_DNS_T_PTR), PD_DNS_ANSWERED);
    assert_int_equal(rcode(), PD_DNS_R_NOERROR);
    assert_true(rep.h.ancount >= 1);
    assert_string_equal(rep.rr[0].target, target);
}

static void test_ptr(void **state)
{
    (void)state;
    expect_ptr("2.0.0.10.in-addr.arpa", "web.svc.");
    expect_ptr("7.1.0.10.IN-ADDR.ARPA", "t07.tasks.web.svc.");
    expect_ptr("10.1.168.192.in-addr.arpa", "host1.node.");
    expect_ptr("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
               "web.svc.");
    expect_ptr("1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.F.ip6.arpa",
               "host2.lan.node.");
    /* the PTR target resolves forward */
    assert_int_equal(ask("t07.tasks.web.svc", PD_DNS_T_A), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.ancount, 1);
    assert_int_equal(rep.rr[0].addr[3], 7);
    /* malformed reverse names are forwarded */
    assert_int_equal(ask("02.0.0.10.in-addr.arpa", PD_DNS_T_PTR), PD_DNS_FORWARD);
    assert_int_equal(ask("256.0.0.10.in-addr.arpa", PD_DNS_T_PTR), PD_DNS_FORWARD);
    assert_int_equal(ask("g.0.ip6.arpa", PD_DNS_T_PTR), PD_DNS_FORWARD);
}

static void test_nodes(void **state)
{
    (void)state;
    assert_int_equal(ask("HOST1.node", PD_DNS_T_A), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.ancount, 1);
    assert_memory_equal(rep.rr[0].addr, ((uint8_t[]){192, 168, 1, 10}), 4);
    assert_int_equal(ask("host2.lan.node", PD_DNS_T_AAAA), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.ancount, 1);
    assert_int_equal(rep.rr[0].addr[15], 0x11);
    assert_int_equal(ask("host2.node", PD_DNS_T_A), PD_DNS_ANSWERED);
    assert_int_equal(rcode(), PD_DNS_R_NXDOMAIN);
}

static void test_ttl_config(void **state)
{
    (void)state;
    cfg.ttl_s = 30;
    ask("web.svc", PD_DNS_T_A);
    assert_int_equal(rep.rr[0].rr.ttl, 30);
    cfg.ttl_s = 600;
    ask("web.svc", PD_DNS_T_A);
    assert_int_equal(rep.rr[0].rr.ttl, PD_DNS_TTL_MAX_S);
    cfg.ttl_s = 0;
    ask("nope.svc", PD_DNS_T_A);
    assert_int_equal(rep.rr[0].rr.ttl, 0);
}

static void test_edns(void **state)
{
    (void)state;
    assert_int_equal(ask_edns("web.svc", PD_DNS_T_A, PD_DNS_UDP, 4096), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.arcount, 1);
    assert_int_equal(rep.rr[1].rr.type, PD_DNS_T_OPT);
    assert_int_equal(rep.rr[1].rr.klass, PD_DNS_EDNS_ADVERTISE);
    assert_int_equal(ask("web.svc", PD_DNS_T_A), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.arcount, 0);
    /* DO echoed, version 1 gets BADVERS */
    uint8_t q[600];
    size_t len = t_query(q, sizeof q, 9, "web.svc", PD_DNS_T_A, 1232);
    q[len - 5] = 1;    /* version: OPT ttl = ext-rcode, version, flags(2); then rdlen(2) */
    q[len - 4] = 0x80; /* DO */
    assert_int_equal(ask_raw(q, len, PD_DNS_UDP), PD_DNS_ANSWERED);
    assert_int_equal(rep.h.ancount, 0);
    assert_int_equal(rcode(), 0);
    assert_int_equal(rep.rr[0].rr.type, PD_DNS_T_OPT);
    assert_int_equal(rep.rr[0].rr.ttl >> 24, 1); /* BADVERS = 16 = 1 << 4 */
    assert_int_equal(rep.rr[0].rr.ttl & 0xffff, PD_DNS_EDNS_DO);
    q[len - 5] = 0;
    assert_int_equal(ask_raw(q, len, PD_DNS_UDP), PD_DNS_ANSWERED);
    assert_int_equal(rep.rr[rep.n - 1].rr.ttl, PD_DNS_EDNS_DO);
    /* EDNS on a forwarded name changes nothing */
    assert_int_equal(ask_edns("example.com", PD_DNS_T_A, PD_DNS_UDP, 1232), PD_DNS_FORWARD);
}

static void test_truncation(void **state)
{
    (void)state;
    cfg.udp_answer_max = 0; /* only size limits now: 100 AAAA = 2800 bytes of answers */
    assert_int_equal(ask("tasks.big.svc", PD_DNS_T_AAAA), PD_DNS_ANSWERED);
    assert_true(rep.h.flags & PD_DNS_F_TC);
    assert_true(out_len <= 512);
    assert_int_equal(rep.h.ancount, (512 - 12 - 19) / 28);
    assert_int_equal(rep.h.nscount, 0);
    assert_int_equal(ask_edns("tasks.big.svc", PD_DNS_T_AAAA, PD_DNS_UDP, 1232), PD_DNS_ANSWERED);
    assert_true(rep.h.flags & PD_DNS_F_TC);
    assert_true(out_len <= 1232);
    assert_int_equal(rep.h.ancount, (1232 - 12 - 19 - 11) / 28);
    assert_int_equal(t_count(&rep, 2, PD_DNS_T_OPT), 1); /* OPT kept when truncated */
    assert_int_equal(ask_edns("tasks.big.svc", PD_DNS_T_AAAA, PD_DNS_UDP, 4096), PD_DNS_ANSWERED);
    assert_false(rep.h.flags & PD_DNS_F_TC);
    assert_int_equal(rep.h.ancount, 100);
    assert_int_equal(ask_edns("tasks.big.svc", PD_DNS_T_AAAA, PD_DNS_UDP, 100), PD_DNS_ANSWERED);
    assert_true(out_len <= 512); /* clamped up to 512, not below */
    assert_int_equal(ask_edns("tasks.big.svc", PD_DNS_T_AAAA, PD_DNS_TCP, -1), PD_DNS_ANSWERED);
    assert_false(rep.h.flags & PD_DNS_F_TC);
    assert_int_equal(rep.h.ancount, 100);
    /* the caller's buffer bounds the reply too */
    uint8_t q[600], small[600];
    size_t len = t_query(q, sizeof q, 3, "tasks.big.svc", PD_DNS_T_AAAA, 4096), n = 0;
    assert_int_equal(pd_dns_answer(tab, q, len, PD_DNS_UDP, &rng, &cfg, small, sizeof small, &n),
                     PD_DNS_ANSWERED);
    assert_true(n <= sizeof small);
    assert_true(pd_get_u16(small + 2) & PD_DNS_F_TC);
    assert_int_equal(pd_dns_answer(tab, q, len, PD_DNS_UDP, &rng, &cfg, small, 511, &n),
                     PD_DNS_DROP);
}

static void test_errors(void **state)
{
    (void)state;
    uint8_t q[600];
    size_t len = t_query(q, sizeof q, 0x4242, "web.svc", PD_DNS_T_A, -1);
    /* two questions claimed: FORMERR, id echoed, no question */
    q[5] = 2;
    assert_int_equal(ask_raw(q, len, PD_DNS_UDP), PD_DNS_ANSWERED);
    assert_int_equal(rcode(), PD_DNS_R_FORMERR);
    assert_int_equal(rep.h.id, 0x4242);
    assert_int_equal(rep.h.qdcount, 0);
    assert_int_equal(out_len, 12);
    q[5] = 1;
    /* cut question: FORMERR; cut header: DROP */
    assert_int_equal(ask_raw(q, len - 3, PD_DNS_UDP), PD_DNS_ANSWERED);
    assert_int_equal(rcode(), PD_DNS_R_FORMERR);
    assert_int_equal(ask_raw(q, 11, PD_DNS_UDP), PD_DNS_DROP);
    /* a response is never answered */
    q[2] |= 0x80;
    assert_int_equal(ask_raw(q, len, PD_DNS_UDP), PD_DNS_DROP);
    q[2] &= 0x7f;
    /* NOTIFY (4), UPDATE (5): NOTIMP with the opcode echoed */
    q[2] = (uint8_t)(q[2] | (5 << 3));
    assert_int_equal(ask_raw(q, len, PD_DNS_UDP), PD_DNS_ANSWERED);
    assert_int_equal(rcode(), PD_DNS_R_NOTIMP);
    assert_int_equal((rep.h.flags & PD_DNS_F_OPCODE) >> 11, 5);
    assert_int_equal(ask("web.svc", PD_DNS_T_OPT), PD_DNS_ANSWERED);
    assert_int_equal(rcode(), PD_DNS_R_FORMERR);
    assert_int_equal(ask("web.svc", PD_DNS_T_AXFR), PD_DNS_ANSWERED);
    assert_int_equal(rcode(), PD_DNS_R_NOTIMP);
    assert_int_equal(rep.h.qdcount, 1);
    /* CHAOS class for our name */
    len = t_query(q, sizeof q, 1, "web.svc", PD_DNS_T_A, -1);
    q[len - 1] = 3;
    assert_int_equal(ask_raw(q, len, PD_DNS_UDP), PD_DNS_ANSWERED);
    assert_int_equal(rcode(), PD_DNS_R_NOTIMP);
    /* a compression loop in the question */
    const uint8_t loop[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
    assert_int_equal(ask_raw(loop, sizeof loop, PD_DNS_UDP), PD_DNS_ANSWERED);
    assert_int_equal(rcode(), PD_DNS_R_FORMERR);
}

static void test_no_allocation(void **state)
{
    (void)state;
    pd_alloc_fail_after(0); /* any allocation would fail, and be counted */
    ask_edns("tasks.web.svc", PD_DNS_T_A, PD_DNS_UDP, 1232);
    ask_edns("tasks.big.svc", PD_DNS_T_AAAA, PD_DNS_TCP, -1);
    ask("_pg._tcp.db.svc", PD_DNS_T_SRV);
    ask("2.0.0.10.in-addr.arpa", PD_DNS_T_PTR);
    ask("nope.svc", PD_DNS_T_A);
    ask("example.com", PD_DNS_T_A);
    assert_int_equal(pd_alloc_count(), 0);
    pd_alloc_fail_after(-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_service_vip, reset),
        cmocka_unit_test_setup(test_captured_dig_queries, reset),
        cmocka_unit_test_setup(test_tasks_shuffle_cap, reset),
        cmocka_unit_test_setup(test_round_robin_service, reset),
        cmocka_unit_test_setup(test_nxdomain_nodata_forward, reset),
        cmocka_unit_test_setup(test_apex_soa, reset),
        cmocka_unit_test_setup(test_srv, reset),
        cmocka_unit_test_setup(test_ptr, reset),
        cmocka_unit_test_setup(test_nodes, reset),
        cmocka_unit_test_setup(test_ttl_config, reset),
        cmocka_unit_test_setup(test_edns, reset),
        cmocka_unit_test_setup(test_truncation, reset),
        cmocka_unit_test_setup(test_errors, reset),
        cmocka_unit_test_setup(test_no_allocation, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
