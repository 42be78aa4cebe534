/* core/base: error table, sticky-error buffers, OOM countdown, seeded rng, clocks, msgpack guard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_buf.h"
#include "pd_clock.h"
#include "pd_err.h"
#include "pd_log.h"
#include "pd_mp.h"
#include "pd_rng.h"

static void test_err_table(void **state)
{
    (void)state;
    assert_string_equal(pd_err_name(-PD_EMALFORMED), "PD_EMALFORMED");
    assert_string_equal(pd_strerror(-PD_ENOQUORUM), "no manager quorum");
    assert_string_equal(pd_err_name(-ENOENT), "ENOENT");
    assert_string_equal(pd_strerror(0), "success");
    assert_string_equal(pd_err_name(-99999), "UNKNOWN");
}

static void test_rbuf_sticky(void **state)
{
    (void)state;
    const uint8_t in[] = {0x01, 0x02, 0x03, 0x04, 0x05};
    pd_rbuf_t r;
    pd_rbuf_init(&r, in, sizeof in);
    assert_int_equal(pd_rbuf_u16(&r), 0x0102);
    assert_int_equal(pd_rbuf_u16(&r), 0x0304);
    assert_int_equal(pd_rbuf_u16(&r), 0); /* only one byte left: fails */
    assert_int_equal(r.err, -PD_ETRUNCATED);
    assert_int_equal(pd_rbuf_u8(&r), 0); /* sticky: even a byte that exists is refused */
    assert_int_equal(pd_rbuf_left(&r), 0);
    pd_rbuf_init(&r, in, sizeof in);
    pd_rbuf_seek(&r, 6);
    assert_int_equal(r.err, -PD_ETRUNCATED);
}

static void test_wbuf_roundtrip(void **state)
{
    (void)state;
    uint8_t out[15];
    pd_wbuf_t w;
    pd_wbuf_init(&w, out, sizeof out);
    pd_wbuf_u8(&w, 0xab);
    pd_wbuf_u16(&w, 0x1234);
    pd_wbuf_u32(&w, 0xdeadbeef);
    pd_wbuf_u64(&w, 0x0102030405060708ULL);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.len, 15);
    pd_wbuf_u8(&w, 1);
    assert_int_equal(w.err, -PD_ETOOBIG);
    assert_int_equal(w.len, 15);
    pd_rbuf_t r;
    pd_rbuf_init(&r, out, w.len);
    assert_int_equal(pd_rbuf_u8(&r), 0xab);
    assert_int_equal(pd_rbuf_u16(&r), 0x1234);
    assert_int_equal(pd_rbuf_u32(&r), 0xdeadbeef);
    assert_true(pd_rbuf_u64(&r) == 0x0102030405060708ULL);
    assert_int_equal(r.err, 0);
}

static void test_alloc_countdown(void **state)
{
    (void)state;
    pd_alloc_fail_after(2);
    void *a = pd_malloc(8), *b = pd_malloc(8), *c = pd_malloc(8);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_null(pd_strdup("x"));
    assert_int_equal(pd_alloc_count(), 4);
    pd_alloc_fail_after(-1);
    char *d = pd_strdup("hello");
    assert_string_equal(d, "hello");
    pd_free(a);
    pd_free(b);
    pd_free(d);
}

static void test_rng_deterministic(void **state)
{
    (void)state;
    pd_rng_t a, b;
    pd_rng_seed(&a, 42);
    pd_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++)
        assert_true(pd_rng_next(&a) == pd_rng_next(&b));
    pd_rng_seed(&b, 43);
    assert_true(pd_rng_next(&a) != pd_rng_next(&b));
    int hist[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = pd_rng_below(&a, 10);
        assert_true(v < 10);
        hist[v]++;
    }
    for (int i = 0; i < 10; i++)
        assert_true(hist[i] > 9000 && hist[i] < 11000);
    for (int i = 0; i < 1000; i++) {
        uint64_t v = pd_rng_range(&a, 5, 7);
        assert_true(v >= 5 && v <= 7);
    }
}

static void test_clock_sim(void **state)
{
    (void)state;
    pd_clock_sim_t c;
    pd_clock_sim_init(&c, 100, 1000000);
    assert_int_equal(pd_clock_now(&c.base), 100);
    pd_clock_sim_advance(&c, 50);
    assert_int_equal(pd_clock_now(&c.base), 150);
    pd_clock_sim_set(&c, 10); /* never backwards */
    assert_int_equal(pd_clock_now(&c.base), 150);
    assert_int_equal(pd_clock_wall(&c.base), 1000150);
    uint64_t t1 = pd_clock_now(&pd_clock_real), t2 = pd_clock_now(&pd_clock_real);
    assert_true(t2 >= t1);
}

static int captured;
static void capture_sink(void *ctx, pd_log_level_t l, const char *subsys, const char *line)
{
    (void)l;
    captured++;
    assert_string_equal(subsys, "test");
    assert_non_null(strstr(line, "node=abc k=v 7"));
    *(int *)ctx = 1;
}

static void test_log_and_ratelimit(void **state)
{
    (void)state;
    int seen = 0;
    pd_log_t log = {capture_sink, &seen, PD_LOG_INFO, "test", "abc"};
    PD_DEBUG(&log, "k=v %d", 7); /* below level */
    assert_int_equal(captured, 0);
    PD_INFO(&log, "k=v %d", 7);
    assert_int_equal(captured, 1);
    PD_INFO(&pd_log_null, "dropped");
    pd_ratelimit_t rl = {0, 0};
    uint64_t sup = 99;
    assert_true(pd_ratelimit_ok(&rl, 0, 1000, &sup));
    assert_int_equal(sup, 0);
    assert_false(pd_ratelimit_ok(&rl, 10, 1000, &sup));
    assert_false(pd_ratelimit_ok(&rl, 20, 1000, &sup));
    assert_true(pd_ratelimit_ok(&rl, 1000, 1000, &sup));
    assert_int_equal(sup, 2);
    pd_log_level_t lv;
    assert_int_equal(pd_log_level_parse("warn", &lv), 0);
    assert_int_equal(lv, PD_LOG_WARN);
    assert_int_equal(pd_log_level_parse("loud", &lv), -PD_EUSAGE);
}

static void test_mp_validate(void **state)
{
    (void)state;
    /* {"a": [1, 2]} */
    const uint8_t ok[] = {0x81, 0xa1, 'a', 0x92, 0x01, 0x02};
    assert_int_equal(pd_mp_validate(ok, sizeof ok, 32), 0);
    assert_int_equal(pd_mp_validate(ok, sizeof ok - 1, 32), -PD_ETRUNCATED);
    /* array32 declaring 4 billion elements in 5 bytes: refused before any allocation */
    const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(pd_mp_validate(huge, sizeof huge, 32), -PD_ETRUNCATED);
    /* trailing garbage */
    const uint8_t trail[] = {0x01, 0x02};
    assert_int_equal(pd_mp_validate(trail, sizeof trail, 32), -PD_EMALFORMED);
    /* nesting past the cap */
    uint8_t deep[40];
    memset(deep, 0x91, sizeof deep);
    deep[39] = 0x01;
    assert_int_equal(pd_mp_validate(deep, sizeof deep, 32), -PD_EMALFORMED);
    assert_int_equal(pd_mp_validate(deep, sizeof deep, 64), 0);
    const uint8_t never[] = {0xc1};
    assert_int_equal(pd_mp_validate(never, 1, 32), -PD_EMALFORMED);

    msgpack_unpacked u;
    assert_int_equal(pd_mp_unpack(ok, sizeof ok, &u), 0);
    const msgpack_object *a = pd_mp_get(&u.data, "a");
    assert_non_null(a);
    assert_int_equal(a->type, MSGPACK_OBJECT_ARRAY);
    assert_null(pd_mp_get(&u.data, "b"));
    uint64_t v;
    assert_int_equal(pd_mp_get_u64(&u.data, "a", &v), -PD_EMALFORMED);
    msgpack_unpacked_destroy(&u);
}

static void test_mp_pack_and_get(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pd_mp_pack_kv_str(&pk, "name", "web");
    pd_mp_pack_kv_u64(&pk, "n", 3);
    pd_mp_pack_kv_i64(&pk, "neg", -5);
    pd_mp_pack_kv_bool(&pk, "on", 1);
    msgpack_unpacked u;
    assert_int_equal(pd_mp_unpack(sb.data, sb.size, &u), 0);
    char name[8];
    assert_int_equal(pd_mp_get_strbuf(&u.data, "name", name, sizeof name), 0);
    assert_string_equal(name, "web");
    char tiny[3];
    assert_int_equal(pd_mp_get_strbuf(&u.data, "name", tiny, sizeof tiny), -PD_ETOOBIG);
    uint64_t n;
    int64_t neg;
    int on;
    assert_int_equal(pd_mp_get_u64(&u.data, "n", &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(pd_mp_get_i64(&u.data, "neg", &neg), 0);
    assert_int_equal(neg, -5);
    assert_int_equal(pd_mp_get_bool(&u.data, "on", &on), 0);
    assert_int_equal(on, 1);
    assert_int_equal(pd_mp_get_u64(&u.data, "missing", &n), -PD_ENOTFOUND);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_table),      cmocka_unit_test(test_rbuf_sticky),
        cmocka_unit_test(test_wbuf_roundtrip), cmocka_unit_test(test_alloc_countdown),
        cmocka_unit_test(test_rng_deterministic), cmocka_unit_test(test_clock_sim),
        cmocka_unit_test(test_log_and_ratelimit), cmocka_unit_test(test_mp_validate),
        cmocka_unit_test(test_mp_pack_and_get),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
