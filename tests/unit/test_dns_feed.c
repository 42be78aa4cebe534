/* core/daemon/dns_feed (gossiped endpoint table and membership -> DNS name table, checked through
 * the answerer) and dns/dns_cache (the forwarder's reply cache, on a fake clock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "dns_answer.h"
#include "dns_cache.h"
#include "dns_feed.h"
#include "gossip_table.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "test_dns_util.h"
#include "vip_value.h"

/* ---- fixture: two gossip tables (node a writes, node b hears), the feed on b ----------------- */

typedef struct {
    pd_gtable_t *a, *b;
    pd_dns_table_t *dt;
    pd_dns_feed_t *feed;
    pd_rng_t rng;
    uint64_t now_ms;
} fx_t;

static fx_t *fx_new(int attach)
{
    static fx_t fx;
    memset(&fx, 0, sizeof fx);
    pd_gtable_config_t ca = {.node_id = "nodea"}, cb = {.node_id = "nodeb"};
    assert_int_equal(pd_gtable_create(&ca, &fx.a), 0);
    assert_int_equal(pd_gtable_create(&cb, &fx.b), 0);
    assert_int_equal(pd_dns_table_new(NULL, &fx.dt), 0);
    assert_int_equal(pd_dns_feed_new(fx.dt, NULL, &fx.feed), 0);
    if (attach)
        assert_int_equal(pd_dns_feed_attach(fx.feed, fx.b), 0);
    pd_rng_seed(&fx.rng, 7);
    fx.now_ms = 1000;
    return &fx;
}

static void fx_free(fx_t *fx)
{
    pd_dns_feed_free(fx->feed);
    pd_dns_table_free(fx->dt);
    pd_gtable_destroy(fx->a);
    pd_gtable_destroy(fx->b);
}

/* An endpoint value as `peerctl service register` writes it. */
static size_t ep_value(uint8_t *out, const char *ip, unsigned port, const char *pname, unsigned pnum,
                       int healthy)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pd_mp_pack_kv_str(&pk, "a", ip);
    pd_mp_pack_kv_u64(&pk, "p", port);
    pd_mp_pack_cstr(&pk, "ports");
    msgpack_pack_array(&pk, pname ? 1 : 0);
    if (pname) {
        msgpack_pack_array(&pk, 3);
        pd_mp_pack_cstr(&pk, pname);
        msgpack_pack_uint64(&pk, pnum);
        pd_mp_pack_cstr(&pk, "tcp");
    }
    pd_mp_pack_kv_bool(&pk, "h", healthy);
    size_t n = sb.size;
    memcpy(out, sb.data, n);
    msgpack_sbuffer_destroy(&sb);
    return n;
}

/* Node a registers (its write reaches b by gossip). */
static void remote_register(fx_t *fx, const char *svc, const char *ip, const char *pname, int healthy)
{
    uint8_t v[256];
    char tab[80];
    size_t n = ep_value(v, ip, 8080, pname, 8080, healthy);
    snprintf(tab, sizeof tab, "svc/%s", svc);
    pd_gtable_msg_t m;
    int changed = 0;
    assert_int_equal(pd_gtable_put(fx->a, tab, "nodea", v, n, fx->now_ms, &m), 0);
    assert_int_equal(pd_gtable_merge_update(fx->b, m.data, m.len, fx->now_ms, &changed), 0);
    assert_int_equal(changed, 1);
}

static void remote_deregister(fx_t *fx, const char *svc)
{
    char tab[80];
    snprintf(tab, sizeof tab, "svc/%s", svc);
    pd_gtable_msg_t m;
    int changed = 0;
    assert_int_equal(pd_gtable_del(fx->a, tab, "nodea", fx->now_ms, &m), 0);
    assert_int_equal(pd_gtable_merge_update(fx->b, m.data, m.len, fx->now_ms, &changed), 0);
}

static void local_register(fx_t *fx, const char *svc, const char *ip)
{
    uint8_t v[256];
    char tab[80];
    size_t n = ep_value(v, ip, 80, NULL, 0, 1);
    snprintf(tab, sizeof tab, "svc/%s", svc);
    assert_int_equal(pd_gtable_put(fx->b, tab, "nodeb", v, n, fx->now_ms, NULL), 0);
}

/* Ask the answerer; returns the rcode (-1: not answered) and fills *r. */
static int ask(fx_t *fx, const char *name, uint16_t qtype, t_reply_t *r)
{
    uint8_t q[512], out[4096];
    size_t qlen = t_query(q, sizeof q, 0x1234, name, qtype, -1), len = 0;
    pd_dns_config_t cfg;
    pd_dns_config_default(&cfg);
    if (pd_dns_answer(fx->dt, q, qlen, PD_DNS_UDP, &fx->rng, &cfg, out, sizeof out, &len) != PD_DNS_ANSWERED)
        return -1;
    assert_int_equal(t_parse_reply(out, len, r), 0);
    assert_int_equal(r->h.id, 0x1234);
    return r->h.flags & PD_DNS_F_RCODE;
}

static t_reply_t rep; /* big: static */

/* The A records of a tasks.* answer, as "1.2.3.4 5.6.7.8" (sorted by the caller's order: sorted). */
static int has_a(const t_reply_t *r, const char *ip)
{
    uint8_t want[4];
    sscanf(ip, "%hhu.%hhu.%hhu.%hhu", &want[0], &want[1], &want[2], &want[3]);
    for (unsigned i = 0; i < r->n; i++) {
        if (r->rr[i].sec == 0 && r->rr[i].rr.type == PD_DNS_T_A && memcmp(r->rr[i].addr, want, 4) == 0)
            return 1;
    }
    return 0;
}

static void test_register_answers(void **state)
{
    fx_t *fx = fx_new(1);
    assert_int_equal(ask(fx, "tasks.web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NXDOMAIN);
    remote_register(fx, "web", "10.0.0.1", "http", 1);
    assert_int_equal(ask(fx, "tasks.web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 1);
    assert_true(has_a(&rep, "10.0.0.1"));
    /* VIP-less: <service>.svc answers with the tasks, DNS round robin. */
    assert_int_equal(ask(fx, "web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_true(has_a(&rep, "10.0.0.1"));
    /* Named port -> SRV; the task id is the owner node id. */
    assert_int_equal(ask(fx, "_http._tcp.web.svc", PD_DNS_T_SRV, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_SRV), 1);
    assert_int_equal(rep.rr[0].port, 8080);
    assert_string_equal(rep.rr[0].target, "nodea.tasks.web.svc.");
    assert_int_equal(ask(fx, "nodea.tasks.web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_true(has_a(&rep, "10.0.0.1"));
    /* A second endpoint, written locally. */
    local_register(fx, "web", "10.0.0.2");
    assert_int_equal(ask(fx, "tasks.web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 2);
    assert_true(has_a(&rep, "10.0.0.1") && has_a(&rep, "10.0.0.2"));
    /* An update replaces the task's address. */
    remote_register(fx, "web", "10.0.0.9", "http", 1);
    assert_int_equal(ask(fx, "tasks.web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_true(has_a(&rep, "10.0.0.9") && !has_a(&rep, "10.0.0.1"));
    assert_int_equal(pd_dns_feed_stats(fx->feed)->bad_values, 0);
    fx_free(fx);
}

static void test_owner_down_and_deregister(void **state)
{
    fx_t *fx = fx_new(1);
    remote_register(fx, "web", "10.0.0.1", "http", 1);
    local_register(fx, "web", "10.0.0.2");
    /* Node a declared dead: the table hides its entries, its task leaves DNS. */
    assert_int_equal(pd_gtable_owner_down(fx->b, "nodea", fx->now_ms), 0);
    assert_int_equal(ask(fx, "tasks.web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 1);
    assert_true(has_a(&rep, "10.0.0.2"));
    /* Its named port went with it (the local endpoint has none). */
    assert_int_equal(ask(fx, "_http._tcp.web.svc", PD_DNS_T_SRV, &rep), PD_DNS_R_NXDOMAIN);
    /* It refutes: back. */
    assert_int_equal(pd_gtable_owner_up(fx->b, "nodea"), 0);
    assert_int_equal(ask(fx, "tasks.web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 2);
    /* Both deregister: the name is gone (NXDOMAIN, not NODATA). */
    remote_deregister(fx, "web");
    assert_int_equal(pd_gtable_del(fx->b, "svc/web", "nodeb", fx->now_ms, NULL), 0);
    assert_int_equal(ask(fx, "tasks.web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NXDOMAIN);
    assert_int_equal(ask(fx, "web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NXDOMAIN);
    assert_int_equal(pd_dns_table_service_count(fx->dt), 0);
    /* Owner down as the only endpoint: gone too. */
    remote_register(fx, "api", "10.0.1.1", NULL, 1);
    assert_int_equal(ask(fx, "tasks.api.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(pd_gtable_owner_down(fx->b, "nodea", fx->now_ms), 0);
    assert_int_equal(ask(fx, "tasks.api.svc", PD_DNS_T_A, &rep), PD_DNS_R_NXDOMAIN);
    fx_free(fx);
}

static void test_attach_loads_and_bad_values(void **state)
{
    fx_t *fx = fx_new(0);
    remote_register(fx, "web", "10.0.0.1", NULL, 1);
    remote_register(fx, "db", "10.0.0.3", NULL, 0); /* unhealthy */
    assert_int_equal(pd_gtable_put(fx->b, "svc/junk", "nodeb", "\xc1", 1, fx->now_ms, NULL), 0);
    assert_int_equal(pd_gtable_put(fx->b, "svc/Bad.Name", "nodeb", "\x80", 1, fx->now_ms, NULL), 0);
    assert_int_equal(pd_dns_feed_attach(fx->feed, fx->b), 0);
    assert_int_equal(pd_dns_feed_attach(fx->feed, fx->b), -PD_ESTATE);
    assert_int_equal(ask(fx, "tasks.web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_true(has_a(&rep, "10.0.0.1"));
    /* The unhealthy task is known but not served. */
    assert_int_equal(ask(fx, "tasks.db.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 0);
    assert_int_equal(ask(fx, "tasks.junk.svc", PD_DNS_T_A, &rep), PD_DNS_R_NXDOMAIN);
    assert_int_equal(pd_dns_feed_stats(fx->feed)->bad_values, 2);
    /* Detached: changes no longer reach DNS. */
    pd_dns_feed_detach(fx->feed);
    remote_register(fx, "late", "10.0.0.4", NULL, 1);
    assert_int_equal(ask(fx, "tasks.late.svc", PD_DNS_T_A, &rep), PD_DNS_R_NXDOMAIN);
    fx_free(fx);
}

static void test_nodes(void **state)
{
    fx_t *fx = fx_new(1);
    pd_dns_addrs_t a1 = {.has_v4 = 1, .v4 = {10, 99, 0, 1}}, a2 = {.has_v4 = 1, .v4 = {10, 99, 0, 2}};
    assert_int_equal(pd_dns_feed_node_up(fx->feed, "n1", "Host1", &a1), 0);
    assert_int_equal(ask(fx, "host1.node", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_true(has_a(&rep, "10.99.0.1"));
    /* Same hostname on a second node: the last one up answers; when it goes, the first again. */
    assert_int_equal(pd_dns_feed_node_up(fx->feed, "n2", "host1", &a2), 0);
    assert_int_equal(ask(fx, "host1.node", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_true(has_a(&rep, "10.99.0.2"));
    assert_int_equal(pd_dns_feed_node_down(fx->feed, "n2"), 0);
    assert_int_equal(ask(fx, "host1.node", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_true(has_a(&rep, "10.99.0.1"));
    /* Renamed, then gone. */
    assert_int_equal(pd_dns_feed_node_up(fx->feed, "n1", "other", &a1), 0);
    assert_int_equal(ask(fx, "host1.node", PD_DNS_T_A, &rep), PD_DNS_R_NXDOMAIN);
    assert_int_equal(ask(fx, "other.node", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(pd_dns_feed_node_down(fx->feed, "n1"), 0);
    assert_int_equal(ask(fx, "other.node", PD_DNS_T_A, &rep), PD_DNS_R_NXDOMAIN);
    assert_int_equal(pd_dns_feed_node_down(fx->feed, "nobody"), 0);
    assert_int_equal(pd_dns_feed_node_up(fx->feed, "n3", "bad host", &a1), -PD_EUSAGE);
    assert_int_equal(pd_dns_table_node_count(fx->dt), 0);
    fx_free(fx);
}

/* ---- the forwarder's cache ------------------------------------------------------------------ */

/* An upstream reply to `name`: rcode, optionally one A record (ttl) and an SOA in authority. */
static size_t upstream_reply(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint8_t rcode,
                             long a_ttl, long soa_ttl, uint32_t soa_min, uint16_t extra_flags)
{
    uint8_t w[PD_DNS_NAME_MAX + 2], zone[PD_DNS_NAME_MAX + 2], mname[32], rname[32];
    t_wire(name, w);
    t_wire("test", zone);
    t_wire("ns.test", mname);
    t_wire("hostmaster.test", rname);
    pd_dns_builder_t b;
    pd_dns_build_init(&b, buf, cap);
    assert_int_equal(pd_dns_build_question(&b, w, PD_DNS_T_A, PD_DNS_C_IN), 0);
    uint8_t ip[4] = {192, 0, 2, 7};
    if (a_ttl >= 0)
        assert_int_equal(pd_dns_build_a(&b, PD_DNS_SEC_AN, w, (uint32_t)a_ttl, ip), 0);
    pd_dns_soa_t soa = {mname, rname, 1, 3600, 600, 86400, soa_min};
    if (soa_ttl >= 0)
        assert_int_equal(pd_dns_build_soa(&b, PD_DNS_SEC_NS, zone, (uint32_t)soa_ttl, &soa), 0);
    size_t len = 0;
    assert_int_equal(pd_dns_build_finish(&b, id, PD_DNS_F_QR | PD_DNS_F_RD | PD_DNS_F_RA | extra_flags | rcode,
                                         &len), 0);
    return len;
}

static void parse_q(const char *name, uint16_t id, int edns, pd_dns_query_t *q)
{
    uint8_t buf[512];
    size_t n = t_query(buf, sizeof buf, id, name, PD_DNS_T_A, edns ? 1232 : -1);
    assert_int_equal(pd_dns_query_parse(buf, n, q), 0);
}

static void test_cache_ttl_expiry(void **state)
{
    pd_dns_cache_t *c;
    assert_int_equal(pd_dns_cache_new(8, &c), 0);
    pd_dns_query_t q, q2;
    uint8_t up[512], out[1500];
    size_t len = 0;
    parse_q("www.example.test", 0x1111, 0, &q);
    size_t n = upstream_reply(up, sizeof up, 0x9999, "www.example.test", 0, 30, -1, 0, 0);
    assert_int_equal(pd_dns_cache_get(c, &q, 0, out, sizeof out, &len), 0);
    assert_int_equal(pd_dns_cache_put(c, &q, up, n, 0), 0);
    /* 10 s later, another client, another spelling: its id and case, TTL 20. */
    parse_q("WWW.Example.TEST", 0x2222, 0, &q2);
    assert_int_equal(pd_dns_cache_get(c, &q2, 10000, out, sizeof out, &len), 1);
    assert_int_equal(t_parse_reply(out, len, &rep), 0);
    assert_int_equal(rep.h.id, 0x2222);
    assert_string_equal(rep.qname, "WWW.Example.TEST.");
    assert_int_equal(rep.rr[0].rr.ttl, 20);
    assert_int_equal(rep.rr[0].addr[3], 7);
    /* Not after 30 s, and not for another qtype or with EDNS (a different key). */
    assert_int_equal(pd_dns_cache_get(c, &q, 29999, out, sizeof out, &len), 1);
    parse_q("www.example.test", 1, 1, &q2);
    assert_int_equal(pd_dns_cache_get(c, &q2, 1000, out, sizeof out, &len), 0);
    assert_int_equal(pd_dns_cache_get(c, &q, 30000, out, sizeof out, &len), 0);
    assert_int_equal(pd_dns_cache_stats(c)->expired, 1);
    assert_int_equal(pd_dns_cache_stats(c)->entries, 0);
    /* A reply too large for the caller's buffer is a miss. */
    assert_int_equal(pd_dns_cache_put(c, &q, up, n, 40000), 0);
    assert_int_equal(pd_dns_cache_get(c, &q, 40000, out, n - 1, &len), 0);
    /* A reply to another question is refused. */
    parse_q("other.test", 3, 0, &q2);
    assert_int_equal(pd_dns_cache_put(c, &q2, up, n, 0), -PD_EMALFORMED);
    pd_dns_cache_free(c);
}

static void test_cache_negative_and_uncacheable(void **state)
{
    pd_dns_cache_t *c;
    assert_int_equal(pd_dns_cache_new(2, &c), 0);
    pd_dns_query_t q;
    uint8_t up[512], out[1500];
    size_t len = 0, n;
    /* NXDOMAIN with SOA TTL 60, minimum 10: kept 10 s. */
    parse_q("nope.test", 1, 0, &q);
    n = upstream_reply(up, sizeof up, 5, "nope.test", PD_DNS_R_NXDOMAIN, -1, 60, 10, 0);
    assert_int_equal(pd_dns_cache_put(c, &q, up, n, 0), 0);
    assert_int_equal(pd_dns_cache_get(c, &q, 9999, out, sizeof out, &len), 1);
    assert_int_equal(t_parse_reply(out, len, &rep), 0);
    assert_int_equal(rep.h.flags & PD_DNS_F_RCODE, PD_DNS_R_NXDOMAIN);
    assert_int_equal(rep.rr[0].rr.type, PD_DNS_T_SOA);
    assert_int_equal(rep.rr[0].rr.ttl, 51); /* 60 - 9 s of age */
    assert_int_equal(pd_dns_cache_get(c, &q, 10000, out, sizeof out, &len), 0);
    /* NODATA (NOERROR, no answer) with SOA TTL 5 < minimum 300: kept 5 s. */
    n = upstream_reply(up, sizeof up, 5, "nope.test", PD_DNS_R_NOERROR, -1, 5, 300, 0);
    assert_int_equal(pd_dns_cache_put(c, &q, up, n, 0), 0);
    assert_int_equal(pd_dns_cache_get(c, &q, 4999, out, sizeof out, &len), 1);
    assert_int_equal(pd_dns_cache_get(c, &q, 5000, out, sizeof out, &len), 0);
    /* Not cached: negative without SOA, SERVFAIL, TC, TTL 0. */
    n = upstream_reply(up, sizeof up, 5, "nope.test", PD_DNS_R_NXDOMAIN, -1, -1, 0, 0);
    assert_int_equal(pd_dns_cache_put(c, &q, up, n, 0), 1);
    n = upstream_reply(up, sizeof up, 5, "nope.test", PD_DNS_R_SERVFAIL, -1, 60, 60, 0);
    assert_int_equal(pd_dns_cache_put(c, &q, up, n, 0), 1);
    n = upstream_reply(up, sizeof up, 5, "nope.test", 0, 60, -1, 0, PD_DNS_F_TC);
    assert_int_equal(pd_dns_cache_put(c, &q, up, n, 0), 1);
    n = upstream_reply(up, sizeof up, 5, "nope.test", 0, 0, -1, 0, 0);
    assert_int_equal(pd_dns_cache_put(c, &q, up, n, 0), 1);
    assert_int_equal(pd_dns_cache_stats(c)->uncacheable, 4);
    assert_int_equal(pd_dns_cache_get(c, &q, 0, out, sizeof out, &len), 0);
    /* Bounded: a third name evicts the least recently used. */
    const char *names[] = {"a.test", "b.test", "c.test"};
    pd_dns_query_t qs[3];
    for (int i = 0; i < 3; i++) {
        parse_q(names[i], 1, 0, &qs[i]);
        n = upstream_reply(up, sizeof up, 5, names[i], 0, 60, -1, 0, 0);
        assert_int_equal(pd_dns_cache_put(c, &qs[i], up, n, 0), 0);
        if (i == 1) /* touch a: b becomes the oldest */
            assert_int_equal(pd_dns_cache_get(c, &qs[0], 0, out, sizeof out, &len), 1);
    }
    assert_int_equal(pd_dns_cache_get(c, &qs[0], 1, out, sizeof out, &len), 1);
    assert_int_equal(pd_dns_cache_get(c, &qs[1], 1, out, sizeof out, &len), 0);
    assert_int_equal(pd_dns_cache_get(c, &qs[2], 1, out, sizeof out, &len), 1);
    assert_int_equal(pd_dns_cache_stats(c)->evictions, 1);
    assert_int_equal(pd_dns_cache_stats(c)->entries, 2);
    pd_dns_cache_clear(c);
    assert_int_equal(pd_dns_cache_get(c, &qs[0], 1, out, sizeof out, &len), 0);
    pd_dns_cache_free(c);
}

/* The leader publishes a VIP (cluster-owned, on node a); node b's feed hears it. */
static void remote_vip(fx_t *fx, const char *svc, const char *ip)
{
    pd_gtable_msg_t m;
    int changed = 0;
    uint8_t val[PD_VIP_VALUE_MAX];
    size_t len = 0;
    uint8_t b[4];
    if (ip && sscanf(ip, "%hhu.%hhu.%hhu.%hhu", &b[0], &b[1], &b[2], &b[3]) == 4)
        len = pd_vip_value_encode((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3], 1, val);
    else if (ip) /* not a VIP value: raw bytes */
        memcpy(val, ip, len = strlen(ip));
    if (ip)
        assert_int_equal(pd_gtable_put_cluster(fx->a, PD_DNS_FEED_VIP_TABLE, svc, val, len, fx->now_ms, &m), 0);
    else
        assert_int_equal(pd_gtable_del_cluster(fx->a, PD_DNS_FEED_VIP_TABLE, svc, fx->now_ms, &m), 0);
    assert_int_equal(pd_gtable_merge_update(fx->b, m.data, m.len, fx->now_ms, &changed), 0);
    assert_int_equal(changed, 1);
}

static void test_vips(void **state)
{
    fx_t *fx = fx_new(1);
    /* VIP after the endpoints: <svc>[.svc] A is the VIP alone, tasks.<svc> the tasks. */
    remote_register(fx, "web", "10.0.0.1", "http", 1);
    local_register(fx, "web", "10.0.0.2");
    remote_vip(fx, "web", "10.96.0.1");
    const char *names[] = {"web.svc", "web"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ask(fx, names[i], PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
        assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 1);
        assert_true(has_a(&rep, "10.96.0.1"));
    }
    assert_int_equal(ask(fx, "tasks.web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 2);
    assert_true(has_a(&rep, "10.0.0.1") && has_a(&rep, "10.0.0.2"));
    /* PTR of the VIP names the service. */
    assert_int_equal(ask(fx, "1.0.96.10.in-addr.arpa", PD_DNS_T_PTR, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_PTR), 1);
    assert_string_equal(rep.rr[0].target, "web.svc.");
    /* The VIP outlives its writer: node a (the old leader) is down, the local endpoint remains. */
    assert_int_equal(pd_gtable_owner_down(fx->b, "nodea", fx->now_ms), 0);
    assert_int_equal(ask(fx, "web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 1);
    assert_true(has_a(&rep, "10.96.0.1"));
    assert_int_equal(pd_gtable_owner_up(fx->b, "nodea"), 0);

    /* VIP before the endpoints: nothing to answer until an endpoint comes, then the VIP. */
    remote_vip(fx, "db", "10.96.0.2");
    assert_int_equal(ask(fx, "db.svc", PD_DNS_T_A, &rep), PD_DNS_R_NXDOMAIN);
    remote_register(fx, "db", "10.0.1.1", NULL, 1);
    assert_int_equal(ask(fx, "db.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 1);
    assert_true(has_a(&rep, "10.96.0.2"));
    /* No endpoint left: NXDOMAIN as without a VIP, and the PTR goes too (an address we do not
     * know is upstream's: not answered here). */
    assert_int_equal(ask(fx, "2.0.96.10.in-addr.arpa", PD_DNS_T_PTR, &rep), PD_DNS_R_NOERROR);
    remote_deregister(fx, "db");
    assert_int_equal(ask(fx, "db.svc", PD_DNS_T_A, &rep), PD_DNS_R_NXDOMAIN);
    assert_int_equal(ask(fx, "2.0.96.10.in-addr.arpa", PD_DNS_T_PTR, &rep), -1);
    /* Re-registered: the VIP is back. */
    remote_register(fx, "db", "10.0.1.2", NULL, 1);
    assert_int_equal(ask(fx, "db.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_true(has_a(&rep, "10.96.0.2"));
    /* The VIP released: round robin over the tasks again. */
    remote_vip(fx, "db", NULL);
    assert_int_equal(ask(fx, "db.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_true(has_a(&rep, "10.0.1.2") && !has_a(&rep, "10.96.0.2"));
    /* A value that does not decode is ignored (tasks answer). */
    remote_vip(fx, "db", "not-an-ip");
    assert_int_equal(ask(fx, "db.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_true(has_a(&rep, "10.0.1.2"));
    assert_true(pd_dns_feed_stats(fx->feed)->vip_events >= 4);
    fx_free(fx);
}

/* A feed attached after the VIPs and endpoints arrived loads both. */
static void test_vip_attach_late(void **state)
{
    fx_t *fx = fx_new(0);
    remote_vip(fx, "web", "10.96.0.7");
    remote_register(fx, "web", "10.0.0.1", NULL, 1);
    assert_int_equal(pd_dns_feed_attach(fx->feed, fx->b), 0);
    assert_int_equal(ask(fx, "web.svc", PD_DNS_T_A, &rep), PD_DNS_R_NOERROR);
    assert_int_equal(t_count(&rep, 0, PD_DNS_T_A), 1);
    assert_true(has_a(&rep, "10.96.0.7"));
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_answers),
        cmocka_unit_test(test_owner_down_and_deregister),
        cmocka_unit_test(test_attach_loads_and_bad_values),
        cmocka_unit_test(test_nodes),
        cmocka_unit_test(test_vips),
        cmocka_unit_test(test_vip_attach_late),
        cmocka_unit_test(test_cache_ttl_expiry),
        cmocka_unit_test(test_cache_negative_and_uncacheable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
