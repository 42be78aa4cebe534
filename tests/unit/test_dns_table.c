/* dns_table: services, tasks, nodes, the reverse map, caps, and every update under OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "dns_classify.h"
#include "dns_table.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "test_dns_util.h"

static pd_dns_addrs_t v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    pd_dns_addrs_t x = {.has_v4 = 1, .v4 = {a, b, c, d}};
    return x;
}

static const char *rev_name(const pd_dns_table_t *t, int fam, const uint8_t *addr, char *buf)
{
    const pd_dns_rev_t *r = pd_dns_table_rev_first(t, fam, addr);
    if (!r)
        return NULL;
    t_dotted(r->name, buf);
    return buf;
}

static void test_services(void **state)
{
    (void)state;
    pd_dns_table_t *t;
    char buf[300];
    assert_int_equal(pd_dns_table_new(NULL, &t), 0);
    pd_dns_addrs_t vip = v4(10, 0, 0, 2);
    vip.has_v6 = 1;
    vip.v6[0] = 0xfd;
    vip.v6[15] = 2;
    pd_dns_port_t ports[] = {{"HTTP", PD_DNS_PROTO_TCP, 80}, {"dns", PD_DNS_PROTO_UDP, 53}};
    uint32_t serial = pd_dns_table_serial(t);
    assert_int_equal(pd_dns_table_service_put(t, "Web", &vip, ports, 2), 0);
    assert_true(pd_dns_table_serial(t) != serial);
    const pd_dns_service_t *s = pd_dns_table_service_get(t, "wEB");
    assert_non_null(s);
    assert_memory_equal(s->key, "\3web", 4);
    assert_memory_equal(s->fqdn, "\3web\3svc", 9);
    assert_string_equal(s->ports[0].name, "http"); /* stored lowercase */
    assert_int_equal(s->nports, 2);
    /* hot-path lookup by wire key */
    assert_ptr_equal(pd_dns_table_service_find(t, (const uint8_t *)"\3web", 4,
                                               pd_dns_key_hash((const uint8_t *)"\3web", 4)),
                     s);
    assert_string_equal(rev_name(t, 4, vip.v4, buf), "web.svc.");
    assert_string_equal(rev_name(t, 6, vip.v6, buf), "web.svc.");
    /* a new VIP moves the reverse entry */
    pd_dns_addrs_t vip2 = v4(10, 0, 0, 3);
    assert_int_equal(pd_dns_table_service_put(t, "web", &vip2, NULL, 0), 0);
    assert_null(rev_name(t, 4, vip.v4, buf));
    assert_null(rev_name(t, 6, vip.v6, buf));
    assert_string_equal(rev_name(t, 4, vip2.v4, buf), "web.svc.");
    assert_int_equal(pd_dns_table_service_count(t), 1);
    /* bad names and ports */
    assert_int_equal(pd_dns_table_service_put(t, "a.b", &vip, NULL, 0), -PD_EUSAGE);
    assert_int_equal(pd_dns_table_service_put(t, "", &vip, NULL, 0), -PD_EUSAGE);
    assert_int_equal(pd_dns_table_service_put(t, "sp ace", &vip, NULL, 0), -PD_EUSAGE);
    pd_dns_port_t bad = {"x", 3, 1};
    assert_int_equal(pd_dns_table_service_put(t, "x", &vip, &bad, 1), -PD_EUSAGE);
    char longname[80];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    assert_int_equal(pd_dns_table_service_put(t, longname, &vip, NULL, 0), -PD_EUSAGE);
    longname[63] = '\0';
    assert_int_equal(pd_dns_table_service_put(t, longname, &vip, NULL, 0), 0);
    assert_int_equal(pd_dns_table_service_remove(t, "WEB"), 0);
    assert_null(pd_dns_table_service_get(t, "web"));
    assert_null(rev_name(t, 4, vip2.v4, buf));
    assert_int_equal(pd_dns_table_service_remove(t, "web"), -PD_ENOTFOUND);
    pd_dns_table_free(t);
}

static void test_tasks(void **state)
{
    (void)state;
    pd_dns_table_t *t;
    char buf[300];
    pd_dns_table_limits_t lim = {.services_max = 2, .tasks_per_service_max = 3, .nodes_max = 2};
    assert_int_equal(pd_dns_table_new(&lim, &t), 0);
    pd_dns_addrs_t a1 = v4(10, 0, 1, 1), a2 = v4(10, 0, 1, 2);
    /* a task before its service: the service is implied, without VIP */
    assert_int_equal(pd_dns_table_task_put(t, "api", "T1", &a1, 1, 8080), 0);
    const pd_dns_service_t *s = pd_dns_table_service_get(t, "api");
    assert_non_null(s);
    assert_false(s->defined);
    assert_int_equal(s->ntasks, 1);
    assert_memory_equal(s->tasks[0].id, "t1", 2);
    assert_string_equal(rev_name(t, 4, a1.v4, buf), "t1.tasks.api.svc.");
    /* update moves address and health */
    assert_int_equal(pd_dns_table_task_put(t, "api", "t1", &a2, 0, 8080), 0);
    assert_int_equal(s->ntasks, 1);
    assert_false(s->tasks[0].healthy);
    assert_null(rev_name(t, 4, a1.v4, buf));
    assert_string_equal(rev_name(t, 4, a2.v4, buf), "t1.tasks.api.svc.");
    assert_int_equal(pd_dns_table_task_put(t, "api", "t2", &a1, 1, 0), 0);
    assert_int_equal(pd_dns_table_task_put(t, "api", "t3", &a1, 1, 0), 0);
    assert_int_equal(pd_dns_table_task_put(t, "api", "t4", &a1, 1, 0), -PD_ELIMIT);
    assert_non_null(pd_dns_service_task_find(s, (const uint8_t *)"t3", 2));
    /* two names for one address */
    const pd_dns_rev_t *r = pd_dns_table_rev_first(t, 4, a1.v4);
    assert_non_null(r);
    assert_non_null(pd_dns_table_rev_next(r, 4, a1.v4));
    /* services cap */
    assert_int_equal(pd_dns_table_task_put(t, "b", "x", &a1, 1, 0), 0);
    assert_int_equal(pd_dns_table_task_put(t, "c", "x", &a1, 1, 0), -PD_ELIMIT);
    assert_int_equal(pd_dns_table_service_put(t, "c", NULL, NULL, 0), -PD_ELIMIT);
    assert_int_equal(pd_dns_table_task_remove(t, "api", "nope"), -PD_ENOTFOUND);
    assert_int_equal(pd_dns_table_task_remove(t, "api", "t1"), 0);
    assert_int_equal(pd_dns_table_task_remove(t, "api", "t2"), 0);
    assert_int_equal(pd_dns_table_task_remove(t, "api", "t3"), 0);
    assert_null(pd_dns_table_service_get(t, "api")); /* implied service went with its last task */
    assert_string_equal(rev_name(t, 4, a1.v4, buf), "x.tasks.b.svc."); /* only b/x is left */
    assert_null(pd_dns_table_rev_next(pd_dns_table_rev_first(t, 4, a1.v4), 4, a1.v4));
    /* a defined service stays without tasks; removing it drops its tasks */
    assert_int_equal(pd_dns_table_service_put(t, "api", NULL, NULL, 0), 0);
    assert_int_equal(pd_dns_table_task_put(t, "api", "t9", &a2, 1, 0), 0);
    assert_int_equal(pd_dns_table_task_remove(t, "api", "t9"), 0);
    assert_non_null(pd_dns_table_service_get(t, "api"));
    assert_int_equal(pd_dns_table_task_put(t, "api", "t9", &a2, 1, 0), 0);
    assert_int_equal(pd_dns_table_service_remove(t, "api"), 0);
    assert_null(pd_dns_table_rev_first(t, 4, a2.v4));
    pd_dns_table_free(t);
}

static void test_nodes(void **state)
{
    (void)state;
    pd_dns_table_t *t;
    char buf[300];
    pd_dns_table_limits_t lim = {.services_max = 2, .tasks_per_service_max = 3, .nodes_max = 2};
    assert_int_equal(pd_dns_table_new(&lim, &t), 0);
    pd_dns_addrs_t a = v4(192, 168, 1, 10);
    assert_int_equal(pd_dns_table_node_put(t, "Host1.LAN", &a), 0);
    const pd_dns_node_t *n = pd_dns_table_node_get(t, "host1.lan");
    assert_non_null(n);
    assert_memory_equal(n->key, "\5host1\3lan", 10);
    assert_string_equal(rev_name(t, 4, a.v4, buf), "host1.lan.node.");
    assert_int_equal(pd_dns_table_node_put(t, "h2", &a), 0);
    assert_int_equal(pd_dns_table_node_put(t, "h3", &a), -PD_ELIMIT);
    assert_int_equal(pd_dns_table_node_put(t, "h2", &a), 0); /* update is not an add */
    assert_int_equal(pd_dns_table_node_put(t, "bad..name", &a), -PD_EUSAGE);
    assert_int_equal(pd_dns_table_node_count(t), 2);
    assert_int_equal(pd_dns_table_node_remove(t, "HOST1.lan"), 0);
    assert_int_equal(pd_dns_table_node_remove(t, "host1.lan"), -PD_ENOTFOUND);
    assert_string_equal(rev_name(t, 4, a.v4, buf), "h2.node.");
    pd_dns_table_free(t);
}

static void test_ptr_names_capped(void **state)
{
    (void)state;
    pd_dns_table_t *t;
    assert_int_equal(pd_dns_table_new(NULL, &t), 0);
    pd_dns_addrs_t a = v4(10, 9, 9, 9);
    char id[16];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "t%d", i);
        assert_int_equal(pd_dns_table_task_put(t, "s", id, &a, 1, 0), 0);
    }
    unsigned n = 0;
    for (const pd_dns_rev_t *r = pd_dns_table_rev_first(t, 4, a.v4); r;
         r = pd_dns_table_rev_next(r, 4, a.v4))
        n++;
    assert_int_equal(n, PD_DNS_PTR_NAMES_MAX);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "t%d", i);
        assert_int_equal(pd_dns_table_task_remove(t, "s", id), 0);
    }
    assert_null(pd_dns_table_rev_first(t, 4, a.v4));
    pd_dns_table_free(t);
}

/* A sequence of updates; under a failing allocator each one either succeeds or returns -ENOMEM. */
static int script(pd_dns_table_t *t)
{
    pd_dns_addrs_t a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
    b.has_v6 = 1;
    pd_dns_port_t p = {"http", PD_DNS_PROTO_TCP, 80};
    int rc, fails = 0;
    char id[8];
#define STEP(x)                                                                                    \
    do {                                                                                           \
        rc = (x);                                                                                  \
        assert_true(rc == 0 || rc == -ENOMEM);                                                     \
        fails += rc != 0;                                                                          \
    } while (0)
    STEP(pd_dns_table_service_put(t, "web", &a, &p, 1));
    STEP(pd_dns_table_service_put(t, "web", &b, &p, 1));
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "t%d", i);
        STEP(pd_dns_table_task_put(t, i < 5 ? "web" : "api", id, &b, 1, 0));
    }
    STEP(pd_dns_table_node_put(t, "h1", &b));
    STEP(pd_dns_table_node_put(t, "h1", &a));
    pd_dns_table_task_remove(t, "web", "t1");
    pd_dns_table_service_remove(t, "api");
#undef STEP
    return fails;
}

static void test_oom_sweep(void **state)
{
    (void)state;
    pd_dns_table_t *t;
    for (long n = 0;; n++) {
        pd_alloc_fail_after(n);
        int rc = pd_dns_table_new(NULL, &t);
        if (rc == -ENOMEM)
            continue;
        assert_int_equal(rc, 0);
        int fails = script(t);
        pd_dns_table_free(t);
        if (fails == 0) {
            pd_alloc_fail_after(-1);
            break;
        }
        assert_true(n < 1000);
    }
}

static uint32_t key_hash(const char *label)
{
    uint8_t k[1 + PD_DNS_LABEL_MAX];
    k[0] = (uint8_t)strlen(label);
    memcpy(k + 1, label, k[0]);
    return pd_dns_key_hash(k, (size_t)k[0] + 1);
}

/* The batch prefetch hint names the service pd_dns_classify would look up, whatever the case. */
static void test_query_service_hash(void **state)
{
    (void)state;
    static const char *const web[] = {"web.svc", "WeB.SvC", "tasks.web.svc", "tasks.WEB",
                                      "web", "_http._tcp.web.svc", "t1.tasks.web.svc"};
    uint8_t q[512];
    uint32_t h;
    for (size_t i = 0; i < sizeof web / sizeof web[0]; i++) {
        size_t n = t_query(q, sizeof q, 1, web[i], PD_DNS_T_A, i % 2 ? 1232 : -1);
        h = 0;
        assert_int_equal(pd_dns_query_service_hash(q, n, &h), 1);
        assert_int_equal(h, key_hash("web"));
    }
    static const char *const none[] = {".", "www.example.com", "a.b.c.d.svc", "svc.example",
                                       "1.0.0.10.in-addr.arpa", "x.y"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        size_t n = t_query(q, sizeof q, 1, none[i], PD_DNS_T_A, -1);
        assert_int_equal(pd_dns_query_service_hash(q, n, &h), 0);
    }
    /* cut anywhere, or a compression pointer in the question: no hint, no overread */
    size_t n = t_query(q, sizeof q, 1, "web.svc", PD_DNS_T_A, -1);
    for (size_t k = 0; k < PD_DNS_HDR_LEN + 9; k++)
        assert_int_equal(pd_dns_query_service_hash(q, k, &h), 0);
    q[PD_DNS_HDR_LEN + 4] = 0xc0;
    assert_int_equal(pd_dns_query_service_hash(q, n, &h), 0);
}

/* Prefetching is only a hint: any hash, any stage, on empty and full buckets, changes nothing. */
static void test_prefetch(void **state)
{
    (void)state;
    pd_dns_table_t *t;
    assert_int_equal(pd_dns_table_new(NULL, &t), 0);
    pd_dns_addrs_t a = v4(10, 0, 0, 1);
    assert_int_equal(pd_dns_table_task_put(t, "web", "t1", &a, 1, 0), 0);
    pd_dns_addrs_t novip = {0};
    assert_int_equal(pd_dns_table_service_put(t, "novip", &novip, NULL, 0), 0);
    uint32_t hs[] = {key_hash("web"), key_hash("novip"), key_hash("absent"), 0, 0xffffffffu};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        for (unsigned stage = 0; stage < 4; stage++)
            pd_dns_table_prefetch(t, hs[i], stage);
    }
    assert_non_null(pd_dns_table_service_get(t, "web"));
    assert_int_equal(pd_dns_table_service_count(t), 2);
    pd_dns_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_nodes),
        cmocka_unit_test(test_ptr_names_capped),
        cmocka_unit_test(test_oom_sweep),
        cmocka_unit_test(test_query_service_hash),
        cmocka_unit_test(test_prefetch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
