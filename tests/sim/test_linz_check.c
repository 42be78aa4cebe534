/* The register linearizability checker (tests/sim/lib/sim_linz.c) on hand-made histories, so a
 * broken checker fails here before it can wave a bad Raft history through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pd_rng.h"
#include "sim_linz.h"

#define W(k, v, c, r) {.key = (k), .kind = PD_LINZ_WRITE, .status = PD_LINZ_OK, .value = (v), .call_ms = (c), .ret_ms = (r)}
#define WU(k, v, c) {.key = (k), .kind = PD_LINZ_WRITE, .status = PD_LINZ_UNKNOWN, .value = (v), .call_ms = (c)}
#define R(k, v, c, r) {.key = (k), .kind = PD_LINZ_READ, .status = PD_LINZ_OK, .value = (v), .call_ms = (c), .ret_ms = (r)}
#define RU(k, c) {.key = (k), .kind = PD_LINZ_READ, .status = PD_LINZ_UNKNOWN, .call_ms = (c)}

static pd_linz_verdict_t verdict(const pd_linz_op_t *ops, size_t n)
{
    pd_linz_result_t res;
    assert_int_equal(pd_linz_check(ops, n, 0, &res), 0);
    return res.verdict;
}

#define CHECK(expect, ...)                                                                   \
    do {                                                                                     \
        const pd_linz_op_t h[] = {__VA_ARGS__};                                              \
        assert_int_equal(verdict(h, sizeof h / sizeof h[0]), (expect));                      \
    } while (0)

static void test_linz_sequential(void **state)
{
    (void)state;
    assert_int_equal(verdict(NULL, 0), PD_LINZ_LINEARIZABLE);
    CHECK(PD_LINZ_LINEARIZABLE, R(1, 0, 0, 5));                               /* initial value */
    CHECK(PD_LINZ_LINEARIZABLE, W(1, 7, 0, 10), R(1, 7, 20, 30));
    CHECK(PD_LINZ_VIOLATION, R(1, 9, 0, 5));                                  /* never written */
    CHECK(PD_LINZ_VIOLATION, W(1, 7, 0, 10), R(1, 0, 20, 30));                /* lost write */
}

/* The classic stale read: a read that starts after a newer write completed returns the older
 * value (what a deposed leader or a follower serving from local state does). */
static void test_linz_stale_read(void **state)
{
    (void)state;
    CHECK(PD_LINZ_VIOLATION, W(1, 1, 0, 10), W(1, 2, 20, 30), R(1, 1, 40, 50));
    /* the same read overlapping the second write is fine */
    CHECK(PD_LINZ_LINEARIZABLE, W(1, 1, 0, 10), W(1, 2, 20, 30), R(1, 1, 25, 50));
    /* equal times are concurrent: completion and invocation in the same ms */
    CHECK(PD_LINZ_LINEARIZABLE, W(1, 1, 0, 10), W(1, 2, 20, 30), R(1, 1, 30, 50));
}

/* Reads inside one long write: once a read saw the new value, a later read may not see the old. */
static void test_linz_new_old_inversion(void **state)
{
    (void)state;
    CHECK(PD_LINZ_LINEARIZABLE, W(1, 1, 0, 100), R(1, 0, 10, 20), R(1, 1, 30, 40));
    CHECK(PD_LINZ_VIOLATION, W(1, 1, 0, 100), R(1, 1, 10, 20), R(1, 0, 30, 40));
    /* two concurrent writes, reads must agree on one order */
    CHECK(PD_LINZ_LINEARIZABLE, W(1, 1, 0, 100), W(1, 2, 0, 100), R(1, 1, 10, 20), R(1, 2, 30, 40));
    CHECK(PD_LINZ_VIOLATION, W(1, 1, 0, 100), W(1, 2, 0, 100), R(1, 1, 10, 20), R(1, 2, 30, 40),
          R(1, 1, 50, 60));
}

/* A write with an unknown outcome may take effect at any time after its call, or never. */
static void test_linz_unknown_writes(void **state)
{
    (void)state;
    CHECK(PD_LINZ_LINEARIZABLE, WU(1, 5, 0), R(1, 0, 50, 60));
    CHECK(PD_LINZ_LINEARIZABLE, WU(1, 5, 0), R(1, 5, 50, 60));
    CHECK(PD_LINZ_LINEARIZABLE, WU(1, 5, 0), R(1, 0, 50, 60), R(1, 5, 1000, 1010));
    CHECK(PD_LINZ_VIOLATION, WU(1, 5, 0), R(1, 5, 50, 60), R(1, 0, 70, 80));
    CHECK(PD_LINZ_VIOLATION, WU(1, 5, 100), R(1, 5, 0, 50)); /* not before its call */
    CHECK(PD_LINZ_VIOLATION, W(1, 1, 0, 10), WU(1, 5, 20), R(1, 5, 30, 40), R(1, 1, 50, 60));
    /* failed reads constrain nothing */
    CHECK(PD_LINZ_LINEARIZABLE, W(1, 1, 0, 10), RU(1, 20), R(1, 1, 30, 40));
}

static void test_linz_keys_independent(void **state)
{
    (void)state;
    const pd_linz_op_t hist[] = {W(1, 1, 0, 10), R(2, 0, 20, 30), W(2, 2, 40, 50), R(1, 1, 60, 70),
                                 R(2, 0, 80, 90)};
    pd_linz_result_t res;
    assert_int_equal(pd_linz_check(hist, 5, 0, &res), 0);
    assert_int_equal(res.verdict, PD_LINZ_VIOLATION);
    assert_int_equal(res.bad_key, 2);
    assert_int_equal(res.keys, 2);
    /* a value written to another key is not visible */
    CHECK(PD_LINZ_VIOLATION, W(1, 1, 0, 10), R(2, 1, 20, 30));
}

/* Random histories from a real sequential execution with overlapping op windows must pass; one
 * read changed to a value never written, or to a value overwritten long before, must fail. */
static void gen_history(pd_rng_t *rng, pd_linz_op_t *ops, size_t n, uint32_t keys)
{
    uint64_t reg[4] = {0}, t = 1000, next_val = 1;
    for (size_t i = 0; i < n; i++) {
        pd_linz_op_t *o = &ops[i];
        o->key = (uint32_t)pd_rng_below(rng, keys);
        t += pd_rng_range(rng, 1, 10); /* the op's linearization point */
        o->call_ms = t - pd_rng_below(rng, 30);
        o->ret_ms = t + pd_rng_below(rng, 30);
        o->status = PD_LINZ_OK;
        if (pd_rng_below(rng, 2)) {
            o->kind = PD_LINZ_WRITE;
            o->value = next_val++;
            if (pd_rng_below(rng, 8) == 0)
                o->status = PD_LINZ_UNKNOWN;
            if (o->status == PD_LINZ_OK || pd_rng_below(rng, 2)) /* else: it never happened */
                reg[o->key] = o->value;
        } else {
            o->kind = PD_LINZ_READ;
            o->value = reg[o->key];
        }
    }
}

static void test_linz_random(void **state)
{
    (void)state;
    enum { N = 600 };
    pd_linz_op_t *ops = calloc(N, sizeof *ops);
    pd_rng_t rng;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        pd_rng_seed(&rng, seed);
        gen_history(&rng, ops, N, 3);
        pd_linz_result_t res;
        assert_int_equal(pd_linz_check(ops, N, 0, &res), 0);
        assert_int_equal(res.verdict, PD_LINZ_LINEARIZABLE);
        size_t r = N - 1;
        while (ops[r].kind != PD_LINZ_READ)
            r--;
        uint64_t saved = ops[r].value;
        ops[r].value = 999999999; /* never written */
        assert_int_equal(pd_linz_check(ops, N, 0, &res), 0);
        assert_int_equal(res.verdict, PD_LINZ_VIOLATION);
        /* a stale value: the first value ever written to this key, if overwritten well before */
        ops[r].value = saved;
        size_t w = 0;
        while (w < r && !(ops[w].key == ops[r].key && ops[w].kind == PD_LINZ_WRITE &&
                          ops[w].status == PD_LINZ_OK))
            w++;
        bool overwritten = false;
        for (size_t k = w + 1; k < r; k++)
            overwritten |= ops[k].key == ops[r].key && ops[k].kind == PD_LINZ_WRITE &&
                           ops[k].status == PD_LINZ_OK && ops[k].call_ms > ops[w].ret_ms &&
                           ops[k].ret_ms < ops[r].call_ms && ops[k].value != saved;
        if (w < r && overwritten && saved != ops[w].value) {
            ops[r].value = ops[w].value;
            assert_int_equal(pd_linz_check(ops, N, 0, &res), 0);
            assert_int_equal(res.verdict, PD_LINZ_VIOLATION);
        }
    }
    free(ops);
}

/* The step budget gives "inconclusive", never a false pass. */
static void test_linz_budget(void **state)
{
    (void)state;
    enum { N = 40 };
    pd_linz_op_t ops[N];
    for (int i = 0; i < N; i++) /* all concurrent: many orders to try before the bad read */
        ops[i] = (pd_linz_op_t)W(1, (uint64_t)i + 1, 0, 100);
    ops[N - 1] = (pd_linz_op_t)R(1, 777, 200, 210);
    pd_linz_result_t res;
    assert_int_equal(pd_linz_check(ops, N, 50, &res), 0);
    assert_int_equal(res.verdict, PD_LINZ_INCONCLUSIVE);
    assert_int_equal(pd_linz_check(ops, N, 0, &res), 0);
    assert_int_not_equal(res.verdict, PD_LINZ_LINEARIZABLE);
    ops[7] = ops[N - 1]; /* 7 concurrent writes: small enough to search through */
    assert_int_equal(pd_linz_check(ops, 8, 0, &res), 0);
    assert_int_equal(res.verdict, PD_LINZ_VIOLATION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linz_sequential),      cmocka_unit_test(test_linz_stale_read),
        cmocka_unit_test(test_linz_new_old_inversion), cmocka_unit_test(test_linz_unknown_writes),
        cmocka_unit_test(test_linz_keys_independent), cmocka_unit_test(test_linz_random),
        cmocka_unit_test(test_linz_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
