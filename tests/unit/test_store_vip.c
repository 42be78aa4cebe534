/* core/store VIPs: range parsing, deterministic lowest-free allocation, no-op re-allocation, the
 * full range, release, bad entries, and snapshots (round trip, v1 compatibility, rejects). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "store.h"
#include "store_wire.h"

static pd_store_t *mk(void)
{
    pd_store_t *s = NULL;
    assert_int_equal(pd_store_new(NULL, &s), 0);
    return s;
}

static pd_store_vip_range_t range_of(const char *cidr)
{
    pd_store_vip_range_t r;
    char err[128];
    assert_int_equal(pd_store_vip_range_parse(cidr, &r, err, sizeof err), 0);
    return r;
}

/* Apply one entry at the next index; returns the entry's outcome. */
static int apply(pd_store_t *s, const uint8_t *e, size_t n)
{
    pd_store_result_t res;
    assert_int_equal(pd_store_apply(s, pd_store_applied_index(s) + 1, 1, e, n, &res), 0);
    return res.rc;
}

static int alloc(pd_store_t *s, const char *name, const char *cidr)
{
    pd_store_vip_range_t r = range_of(cidr);
    uint8_t *e;
    size_t n;
    assert_int_equal(pd_store_wire_encode_vip_alloc(name, &r, &e, &n), 0);
    int rc = apply(s, e, n);
    pd_free(e);
    return rc;
}

static int release(pd_store_t *s, const char *name)
{
    uint8_t *e;
    size_t n;
    assert_int_equal(pd_store_wire_encode_vip_release(name, &e, &n), 0);
    int rc = apply(s, e, n);
    pd_free(e);
    return rc;
}

static uint32_t vip(const pd_store_t *s, const char *name)
{
    uint32_t a = 0;
    assert_int_equal(pd_store_vip_get(s, name, strlen(name), &a), 0);
    return a;
}

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static void test_range_parse(void **state)
{
    (void)state;
    pd_store_vip_range_t r;
    char err[128];
    assert_int_equal(pd_store_vip_range_parse("10.96.0.0/16", &r, err, sizeof err), 0);
    assert_int_equal(r.net, IP(10, 96, 0, 0));
    assert_int_equal(r.prefix, 16);
    const char *bad[] = {"10.96.0.0", "10.96.0.1/16", "10.96.0.0/31", "10.0.0.0/7", "x/16", "10.96.0.0/",
                         "10.96.0.0/16x", "::1/64", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(pd_store_vip_range_parse(bad[i], &r, err, sizeof err), -PD_EUSAGE);
        assert_true(err[0] != '\0');
    }
}

static void test_alloc_lowest_free(void **state)
{
    (void)state;
    pd_store_t *s = mk();
    pd_store_vip_range_t r;
    assert_int_equal(pd_store_vip_range(s, &r), -PD_ENOTFOUND);
    assert_int_equal(alloc(s, "web", "10.96.0.0/24"), 0);
    assert_int_equal(vip(s, "web"), IP(10, 96, 0, 1)); /* never the network address */
    assert_int_equal(alloc(s, "db", "10.96.0.0/24"), 0);
    assert_int_equal(vip(s, "db"), IP(10, 96, 0, 2));
    /* Again for a name that has one: no-op, same address. */
    assert_int_equal(alloc(s, "web", "10.96.0.0/24"), 0);
    assert_int_equal(vip(s, "web"), IP(10, 96, 0, 1));
    assert_int_equal(pd_store_vip_count(s), 2);
    /* The first allocation fixed the range: a later entry's range is ignored. */
    assert_int_equal(alloc(s, "cache", "10.200.0.0/16"), 0);
    assert_int_equal(vip(s, "cache"), IP(10, 96, 0, 3));
    assert_int_equal(pd_store_vip_range(s, &r), 0);
    assert_int_equal(r.net, IP(10, 96, 0, 0));
    /* A released address is the lowest free again. */
    assert_int_equal(release(s, "web"), 0);
    assert_int_equal(release(s, "web"), -PD_ENOTFOUND);
    assert_int_equal(pd_store_vip_get(s, "web", 3, &(uint32_t){0}), -PD_ENOTFOUND);
    assert_int_equal(alloc(s, "api", "10.96.0.0/24"), 0);
    assert_int_equal(vip(s, "api"), IP(10, 96, 0, 1));
    /* Name order for iteration. */
    const char *names[] = {"api", "cache", "db"};
    for (size_t i = 0; i < pd_store_vip_count(s); i++) {
        const char *n;
        uint32_t a;
        pd_store_vip_at(s, i, &n, &a);
        assert_string_equal(n, names[i]);
    }
    pd_store_free(s);
}

static void test_full_range(void **state)
{
    (void)state;
    pd_store_t *s = mk();
    /* A /30 has two usable addresses (.1 and .2; .0 network, .3 broadcast). */
    assert_int_equal(alloc(s, "a", "192.168.7.0/30"), 0);
    assert_int_equal(alloc(s, "b", "192.168.7.0/30"), 0);
    assert_int_equal(vip(s, "b"), IP(192, 168, 7, 2));
    uint64_t idx = pd_store_applied_index(s);
    assert_int_equal(alloc(s, "c", "192.168.7.0/30"), -PD_ELIMIT);
    assert_int_equal(pd_store_applied_index(s), idx + 1); /* consumed, state unchanged */
    assert_int_equal(pd_store_vip_count(s), 2);
    assert_int_equal(release(s, "a"), 0);
    assert_int_equal(alloc(s, "c", "192.168.7.0/30"), 0);
    assert_int_equal(vip(s, "c"), IP(192, 168, 7, 1));
    pd_store_free(s);
}

static void test_bad_entries(void **state)
{
    (void)state;
    pd_store_vip_range_t r = range_of("10.96.0.0/16"), odd = {.net = IP(10, 96, 0, 1), .prefix = 16};
    uint8_t *e;
    size_t n;
    assert_int_equal(pd_store_wire_encode_vip_alloc("Bad_Name", &r, &e, &n), -PD_EUSAGE);
    assert_int_equal(pd_store_wire_encode_vip_alloc("web", &odd, &e, &n), -PD_EUSAGE);
    assert_int_equal(pd_store_wire_encode_vip_alloc("web", NULL, &e, &n), -PD_EUSAGE);
    assert_int_equal(pd_store_wire_encode_vip_release("-x", &e, &n), -PD_EUSAGE);
    pd_store_t *s = mk();
    /* Malformed payloads are consumed with an error by every manager alike. */
    const uint8_t junk[] = {PD_STORE_ENTRY_VIP_ALLOC, 0xc1};
    assert_int_equal(apply(s, junk, sizeof junk), -PD_EMALFORMED);
    const uint8_t noname[] = {PD_STORE_ENTRY_VIP_RELEASE, 0x80};
    assert_int_equal(apply(s, noname, sizeof noname), -PD_EMALFORMED);
    /* {"n": "web"} as an ALLOC: no range. */
    const uint8_t norange[] = {PD_STORE_ENTRY_VIP_ALLOC, 0x81, 0xa1, 'n', 0xa3, 'w', 'e', 'b'};
    assert_int_equal(apply(s, norange, sizeof norange), -PD_EMALFORMED);
    assert_int_equal(pd_store_vip_count(s), 0);
    assert_int_equal(pd_store_applied_index(s), 3);
    pd_store_free(s);
}

static void test_snapshot(void **state)
{
    (void)state;
    pd_store_t *s = mk();
    assert_int_equal(alloc(s, "web", "10.96.0.0/16"), 0);
    assert_int_equal(alloc(s, "db", "10.96.0.0/16"), 0);
    assert_int_equal(alloc(s, "api", "10.96.0.0/16"), 0);
    assert_int_equal(release(s, "web"), 0);
    uint8_t *b, *b2;
    size_t n, n2;
    assert_int_equal(pd_store_snapshot_encode(s, &b, &n), 0);
    pd_store_t *t = mk();
    assert_int_equal(pd_store_snapshot_restore(t, b, n), 0);
    assert_int_equal(pd_store_vip_count(t), 2);
    assert_int_equal(vip(t, "db"), IP(10, 96, 0, 2));
    assert_int_equal(vip(t, "api"), IP(10, 96, 0, 3));
    assert_int_equal(pd_store_snapshot_encode(t, &b2, &n2), 0);
    assert_int_equal(n, n2);
    assert_memory_equal(b, b2, n);
    /* The restored store allocates like the original: same next address on both. */
    assert_int_equal(alloc(s, "x", "10.96.0.0/16"), 0);
    assert_int_equal(alloc(t, "x", "10.96.0.0/16"), 0);
    assert_int_equal(vip(t, "x"), IP(10, 96, 0, 1));
    assert_int_equal(vip(s, "x"), vip(t, "x"));
    /* Only into an empty store. */
    assert_int_equal(pd_store_snapshot_restore(t, b, n), -PD_ESTATE);
    pd_free(b2);

    /* Rejects: two VIPs with one address, out-of-order names; the store stays empty. */
    uint8_t *bad = malloc(n);
    memcpy(bad, b, n);
    uint8_t *va = memmem(bad, n, "\xa2va\x92", 4);
    assert_non_null(va);
    /* [["api", 3], ["db", 2]]: swap the addresses' last bytes -> still valid; make both 2. */
    uint8_t *p3 = memmem(va, n - (size_t)(va - bad), "\xce\x0a\x60\x00\x03", 5);
    assert_non_null(p3);
    p3[4] = 0x02;
    pd_store_t *u = mk();
    assert_int_equal(pd_store_snapshot_restore(u, bad, n), -PD_EMALFORMED);
    assert_int_equal(pd_store_vip_count(u), 0);
    memcpy(bad, b, n);
    uint8_t *api = memmem(bad, n, "\xa3" "api", 4);
    assert_non_null(api);
    memcpy(api + 1, "zzz", 3); /* "zzz" before "db": out of order */
    assert_int_equal(pd_store_snapshot_restore(u, bad, n), -PD_EMALFORMED);
    assert_int_equal(pd_store_vip_count(u), 0);
    /* An address outside the range. */
    memcpy(bad, b, n);
    p3 = memmem(bad, n, "\xce\x0a\x60\x00\x03", 5);
    p3[2] = 0x61;
    assert_int_equal(pd_store_snapshot_restore(u, bad, n), -PD_EMALFORMED);
    free(bad);

    /* A v1 snapshot (no VIP keys) restores with no VIPs. */
    const uint8_t v1[] = {0x84, 0xa1, 'v', 0x01, 0xa1, 'i', 0x00, 0xa1, 't', 0x00, 0xa1, 'o', 0x90};
    assert_int_equal(pd_store_snapshot_restore(u, v1, sizeof v1), 0);
    assert_int_equal(pd_store_vip_count(u), 0);
    pd_free(b);
    pd_store_free(u);
    pd_store_free(t);
    pd_store_free(s);
}

/* Every manager applying the same log computes the same addresses. */
static void test_deterministic(void **state)
{
    (void)state;
    pd_store_t *a = mk(), *b = mk();
    char name[16];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "s%d", (i * 7919) % 101);
        pd_store_t *both[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            if (i % 3 == 2)
                (void)release(both[k], name);
            else
                (void)alloc(both[k], name, "10.96.0.0/24");
        }
    }
    uint8_t *x, *y;
    size_t nx, ny;
    assert_int_equal(pd_store_snapshot_encode(a, &x, &nx), 0);
    assert_int_equal(pd_store_snapshot_encode(b, &y, &ny), 0);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    /* Addresses are unique. */
    for (size_t i = 0; i < pd_store_vip_count(a); i++)
        for (size_t j = i + 1; j < pd_store_vip_count(a); j++) {
            const char *n1, *n2;
            uint32_t a1, a2;
            pd_store_vip_at(a, i, &n1, &a1);
            pd_store_vip_at(a, j, &n2, &a2);
            assert_int_not_equal(a1, a2);
        }
    pd_free(x);
    pd_free(y);
    pd_store_free(a);
    pd_store_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_parse),   cmocka_unit_test(test_alloc_lowest_free),
        cmocka_unit_test(test_full_range),    cmocka_unit_test(test_bad_entries),
        cmocka_unit_test(test_snapshot),      cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
