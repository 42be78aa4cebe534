/* SWIM building blocks: Lifeguard suspicion math, awareness scaling, the broadcast queue
 * (ordering, retransmit limits, supersede, eviction), push/pull interval scaling. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pd_err.h"
#include "pd_rng.h"

#include "swim_awareness.h"
#include "swim_int.h"
#include "swim_map.h"
#include "swim_queue.h"
#include "swim_suspicion.h"

static void test_suspicion_math(void **state)
{
    (void)state;
    /* min = mult * max(1, log10 n) * interval */
    assert_int_equal(pd_swim_suspicion_min_ms(4, 1, 1000), 4000);
    assert_int_equal(pd_swim_suspicion_min_ms(4, 5, 1000), 4000);
    assert_int_equal(pd_swim_suspicion_min_ms(4, 100, 1000), 8000);
    assert_int_equal(pd_swim_suspicion_min_ms(4, 1000, 1000), 12000);
    /* memberlist's table: k=3, min 2 s, max 30 s. */
    assert_int_equal(pd_swim_suspicion_timeout_ms(0, 3, 2000, 30000), 30000);
    assert_int_equal(pd_swim_suspicion_timeout_ms(1, 3, 2000, 30000), 16000);
    assert_int_equal(pd_swim_suspicion_timeout_ms(2, 3, 2000, 30000), 7810);
    assert_int_equal(pd_swim_suspicion_timeout_ms(3, 3, 2000, 30000), 2000);
    assert_int_equal(pd_swim_suspicion_timeout_ms(4, 3, 2000, 30000), 2000);
    assert_int_equal(pd_swim_suspicion_timeout_ms(0, 0, 2000, 30000), 2000); /* k=0: no waiting */

    pd_swim_suspicion_t s;
    pd_swim_suspicion_start(&s, 1000, 3, 2000, 30000, pd_swim_hash("a", 1));
    assert_int_equal(pd_swim_suspicion_deadline_ms(&s), 31000);
    assert_int_equal(pd_swim_suspicion_confirm(&s, pd_swim_hash("a", 1)), 0); /* the accuser */
    assert_int_equal(pd_swim_suspicion_confirm(&s, pd_swim_hash("b", 1)), 1);
    assert_int_equal(pd_swim_suspicion_confirm(&s, pd_swim_hash("b", 1)), 0); /* not independent */
    assert_int_equal(pd_swim_suspicion_deadline_ms(&s), 17000);
    assert_int_equal(pd_swim_suspicion_confirm(&s, pd_swim_hash("c", 1)), 1);
    assert_int_equal(pd_swim_suspicion_confirm(&s, pd_swim_hash("d", 1)), 1);
    assert_int_equal(pd_swim_suspicion_confirm(&s, pd_swim_hash("e", 1)), 0); /* k reached */
    assert_int_equal(pd_swim_suspicion_deadline_ms(&s), 3000);
}

static void test_awareness(void **state)
{
    (void)state;
    pd_swim_awareness_t a;
    pd_swim_awareness_init(&a, 8);
    assert_int_equal(pd_swim_awareness_scale(&a, 500), 500);
    assert_int_equal(pd_swim_awareness_apply(&a, -1), 0); /* floor */
    assert_int_equal(pd_swim_awareness_apply(&a, 3), 3);
    assert_int_equal(pd_swim_awareness_scale(&a, 500), 2000);
    assert_int_equal(pd_swim_awareness_apply(&a, 100), 7); /* ceiling: max - 1 */
    assert_int_equal(pd_swim_awareness_scale(&a, 1000), 8000);
    assert_int_equal(pd_swim_awareness_apply(&a, -2), 5);
    assert_int_equal(pd_swim_awareness_scale(&a, UINT64_MAX / 2), UINT64_MAX); /* saturates */
}

typedef struct {
    char got[64][16];
    int n;
} collect_t;

static void collect(void *ctx, const uint8_t *data, size_t len)
{
    collect_t *c = ctx;
    snprintf(c->got[c->n++], sizeof c->got[0], "%.*s", (int)len, (const char *)data);
}

static void push(pd_swim_queue_t *q, const char *key, const char *val)
{
    assert_int_equal(pd_swim_queue_push(q, key, strlen(key), val, strlen(val)), 0);
}

static void test_queue_order_and_limit(void **state)
{
    (void)state;
    pd_swim_queue_t q;
    pd_swim_queue_init(&q, 100);
    push(&q, "a", "A1");
    push(&q, "b", "B1");
    push(&q, "c", "C1");
    collect_t c = {0};
    /* Budget for two: newest first. */
    assert_int_equal(pd_swim_queue_fill(&q, 2, 8, 2, 10, collect, &c), 2);
    assert_string_equal(c.got[0], "C1");
    assert_string_equal(c.got[1], "B1");
    /* Next: least transmitted first (A1 has 0), then the newest of those with 1. */
    memset(&c, 0, sizeof c);
    assert_int_equal(pd_swim_queue_fill(&q, 2, 100, 2, 10, collect, &c), 3);
    assert_string_equal(c.got[0], "A1");
    assert_string_equal(c.got[1], "C1");
    assert_string_equal(c.got[2], "B1");
    assert_int_equal(pd_swim_queue_len(&q), 1); /* C1, B1 hit the limit of 2 */
    memset(&c, 0, sizeof c);
    pd_swim_queue_fill(&q, 2, 100, 2, 10, collect, &c);
    assert_int_equal(pd_swim_queue_len(&q), 0);
    assert_int_equal(q.expired, 3);
    pd_swim_queue_free(&q);
}

static void test_queue_supersede_evict(void **state)
{
    (void)state;
    pd_swim_queue_t q;
    pd_swim_queue_init(&q, 4);
    push(&q, "n1", "old");
    push(&q, "n2", "x");
    push(&q, "n1", "new"); /* same key: replaces */
    assert_int_equal(pd_swim_queue_len(&q), 2);
    assert_int_equal(q.superseded, 1);
    collect_t c = {0};
    pd_swim_queue_fill(&q, 5, 1000, 0, 10, collect, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.got[0], "new");
    assert_int_equal(pd_swim_queue_drop(&q, "n2", 2), 1);
    assert_int_equal(pd_swim_queue_drop(&q, "n2", 2), 0);
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        push(&q, k, "v");
    }
    assert_int_equal(pd_swim_queue_len(&q), 4); /* capped, the excess evicted and counted */
    assert_int_equal(q.evicted, 7);
    /* A message larger than the budget is skipped, not blocking smaller ones. */
    push(&q, "big", "0123456789012345678901234567890123456789");
    memset(&c, 0, sizeof c);
    assert_int_equal(pd_swim_queue_fill(&q, 5, 10, 0, 1, collect, &c), 1);
    assert_string_equal(c.got[0], "v");
    assert_int_equal(pd_swim_queue_push(&q, "", 0, "v", 1), -PD_EUSAGE);
    pd_swim_queue_free(&q);
}

static void collect_noop_guard(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx, (void)data, (void)len;
}

static void test_queue_heap_stress(void **state)
{
    (void)state;
    /* Many pushes, supersedes and fills keep the heap ordered: fill order is non-decreasing in
     * transmits and, within equal transmits, newest first. */
    pd_swim_queue_t q;
    pd_swim_queue_init(&q, 500);
    pd_rng_t rng;
    pd_rng_seed(&rng, 7);
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 20; i++) {
            char k[16];
            snprintf(k, sizeof k, "k%u", (unsigned)pd_rng_below(&rng, 300));
            push(&q, k, "vv");
        }
        pd_swim_queue_fill(&q, 3, 40, 2, 64, collect_noop_guard, NULL);
    }
    for (uint32_t i = 1; i < q.n; i++) {
        const pd_swim_bcast_t *p = q.heap[(i - 1) / 2].b, *x = q.heap[i].b;
        assert_true(q.heap[(i - 1) / 2].order <= q.heap[i].order);
        if (!p->dropped && !x->dropped)
            assert_true(p->transmits < x->transmits || (p->transmits == x->transmits && p->id > x->id));
    }
    pd_swim_queue_free(&q);
}

/* Superseded messages are dropped lazily; their heap slots are compacted away. */
static void test_queue_lazy_drop(void **state)
{
    (void)state;
    pd_swim_queue_t q;
    pd_swim_queue_init(&q, 100);
    for (int i = 0; i < 10000; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        push(&q, i % 2 ? "a" : "b", v);
    }
    assert_int_equal(pd_swim_queue_len(&q), 2);
    assert_true(q.n <= 2 * q.live + 64 + 1);
    assert_int_equal(q.superseded, 9998);
    assert_int_equal(pd_swim_queue_drop(&q, "a", 1), 1);
    assert_int_equal(pd_swim_queue_len(&q), 1);
    pd_swim_queue_free(&q);
}

static void test_limits_and_scales(void **state)
{
    (void)state;
    assert_int_equal(pd_swim_retransmit_limit(4, 0), 4);
    assert_int_equal(pd_swim_retransmit_limit(4, 9), 4);
    assert_int_equal(pd_swim_retransmit_limit(4, 10), 8);
    assert_int_equal(pd_swim_retransmit_limit(4, 99), 8);
    assert_int_equal(pd_swim_retransmit_limit(4, 100), 12);
    assert_int_equal(pd_swim_retransmit_limit(4, 10000), 20);
    assert_int_equal(pd_swim__pushpull_interval(30000, 10), 30000);
    assert_int_equal(pd_swim__pushpull_interval(30000, 32), 30000);
    assert_int_equal(pd_swim__pushpull_interval(30000, 33), 60000);
    assert_int_equal(pd_swim__pushpull_interval(30000, 64), 60000);
    assert_int_equal(pd_swim__pushpull_interval(30000, 1000), 30000 * 6);
}

static void key_of(const void *v, const uint8_t **k, size_t *n)
{
    *k = v;
    *n = strlen(v);
}

static void test_map(void **state)
{
    (void)state;
    _Alignas(8) static char keys[2000][8];
    pd_swim_map_t m;
    pd_swim_map_init(&m, key_of);
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof keys[i], "n%d", i);
        assert_int_equal(pd_swim_map_put(&m, keys[i]), 0);
    }
    /* A slot holds an 8-byte aligned pointer: anything else is refused and changes nothing. */
    static char odd[16] = "xn1";
    assert_int_equal(pd_swim_map_put(&m, odd + ((uintptr_t)odd & 7 ? 0 : 1)), -EINVAL);
    assert_int_equal(m.n, 2000);
    for (int i = 0; i < 2000; i += 2)
        assert_int_equal(pd_swim_map_del(&m, keys[i]), 1);
    for (int i = 0; i < 2000; i++)
        assert_true((pd_swim_map_get(&m, keys[i], strlen(keys[i])) != NULL) == (i % 2 == 1));
    assert_int_equal(m.n, 1000);
    pd_swim_map_free(&m);
}

/* Past 2^19 slots the home slot no longer follows from the tag and is recomputed from the key:
 * growth and deletion must still find every entry. */
static void test_map_large(void **state)
{
    (void)state;
    enum { N = 400000 }; /* grows to 2^20 slots */
    _Alignas(8) static char keys[N][8];
    pd_swim_map_t m;
    pd_swim_map_init(&m, key_of);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        assert_int_equal(pd_swim_map_put(&m, keys[i]), 0);
    }
    assert_int_equal(m.cap, 1u << 20);
    for (int i = 0; i < N; i += 3)
        assert_int_equal(pd_swim_map_del(&m, keys[i]), 1);
    for (int i = 0; i < N; i++)
        assert_true((pd_swim_map_get(&m, keys[i], strlen(keys[i])) == keys[i]) == (i % 3 != 0));
    pd_swim_map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suspicion_math),   cmocka_unit_test(test_awareness),
        cmocka_unit_test(test_queue_order_and_limit), cmocka_unit_test(test_queue_supersede_evict),
        cmocka_unit_test(test_queue_heap_stress), cmocka_unit_test(test_limits_and_scales),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_map_large), cmocka_unit_test(test_queue_lazy_drop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
