/* tests/sim/lib: the simulated disk. Reads see writes at once; synced bytes always survive a
 * crash; unsynced ones survive as a prefix of the writes, the next one maybe torn; all of it
 * decided by the rng, so a seed replays it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "sim.h"

static pd_sim_disk_t *disk_new(void)
{
    pd_sim_disk_t *d = NULL;
    assert_int_equal(pd_sim_disk_new(&d), 0);
    return d;
}

static void test_write_read(void **state)
{
    pd_sim_disk_t *d = disk_new();
    uint8_t buf[32];
    assert_int_equal(pd_sim_disk_size(d), 0);
    assert_null(pd_sim_disk_data(d));
    assert_int_equal(pd_sim_disk_read(d, 0, buf, sizeof buf), 0);
    assert_int_equal(pd_sim_disk_append(d, "hello", 5), 0);
    assert_int_equal(pd_sim_disk_write(d, 10, "world", 5), 0); /* leaves a gap of zeros */
    assert_int_equal(pd_sim_disk_size(d), 15);
    assert_int_equal(pd_sim_disk_read(d, 0, buf, sizeof buf), 15);
    assert_memory_equal(buf, "hello\0\0\0\0\0world", 15);
    assert_int_equal(pd_sim_disk_write(d, 1, "EL", 2), 0); /* overwrite in place */
    assert_int_equal(pd_sim_disk_read(d, 0, buf, 5), 5);
    assert_memory_equal(buf, "hELlo", 5);
    assert_int_equal(pd_sim_disk_read(d, 13, buf, 10), 2); /* short read at the end */
    assert_int_equal(pd_sim_disk_write(d, 99, "x", 0), 0);  /* empty write: nothing at all */
    assert_int_equal(pd_sim_disk_size(d), 15);
    assert_int_equal(pd_sim_disk_truncate(d, 3), 0);
    assert_int_equal(pd_sim_disk_truncate(d, 6), 0); /* grows back with zeros, not old bytes */
    assert_int_equal(pd_sim_disk_read(d, 0, buf, sizeof buf), 6);
    assert_memory_equal(buf, "hEL\0\0\0", 6);
    assert_int_equal(pd_sim_disk_unsynced_ops(d), 5); /* the empty write is no op */
    pd_sim_disk_sync(d);
    assert_int_equal(pd_sim_disk_unsynced_ops(d), 0);
    const pd_sim_disk_stats_t *st = pd_sim_disk_stats(d);
    assert_int_equal(st->writes, 3);
    assert_int_equal(st->truncates, 2);
    assert_int_equal(st->syncs, 1);
    pd_sim_disk_wipe(d);
    assert_int_equal(pd_sim_disk_size(d), 0);
    pd_sim_disk_free(d);
}

static void test_synced_survives(void **state)
{
    pd_sim_disk_t *d = disk_new();
    pd_rng_t rng;
    pd_rng_seed(&rng, 1);
    assert_int_equal(pd_sim_disk_append(d, "durable", 7), 0);
    pd_sim_disk_sync(d);
    for (int i = 0; i < 200; i++) {
        pd_sim_disk_crash(d, &rng); /* nothing unsynced: nothing changes */
        assert_int_equal(pd_sim_disk_size(d), 7);
        assert_memory_equal(pd_sim_disk_data(d), "durable", 7);
    }
    pd_sim_disk_free(d);
}

/* Build the disk "SSSS" (synced) + 4 unsynced appends of 8 bytes each, crash, and check the
 * result is the synced part plus a prefix of the unsynced bytes: the only legal outcomes. */
static uint64_t crash_once(pd_rng_t *rng, const pd_sim_disk_stats_t **st_out, pd_sim_disk_t **dk)
{
    pd_sim_disk_t *d = disk_new();
    uint8_t all[4 + 32];
    memcpy(all, "SSSS", 4);
    for (int i = 0; i < 32; i++)
        all[4 + i] = (uint8_t)('a' + i);
    assert_int_equal(pd_sim_disk_append(d, all, 4), 0);
    pd_sim_disk_sync(d);
    for (int w = 0; w < 4; w++)
        assert_int_equal(pd_sim_disk_append(d, all + 4 + 8 * w, 8), 0);
    pd_sim_disk_crash(d, rng);
    uint64_t size = pd_sim_disk_size(d);
    assert_in_range(size, 4, 36);
    assert_memory_equal(pd_sim_disk_data(d), all, size);
    assert_int_equal(pd_sim_disk_unsynced_ops(d), 0);
    *st_out = pd_sim_disk_stats(d);
    *dk = d;
    return size;
}

static void test_unsynced_lost_or_torn(void **state)
{
    pd_rng_t rng;
    pd_rng_seed(&rng, 2);
    unsigned all_lost = 0, all_kept = 0, torn = 0, partial = 0;
    for (int i = 0; i < 500; i++) {
        const pd_sim_disk_stats_t *st;
        pd_sim_disk_t *d;
        uint64_t size = crash_once(&rng, &st, &d);
        uint64_t unsynced = size - 4;
        assert_int_equal(st->crashes, 1);
        assert_int_equal(unsynced / 8 + st->ops_torn + st->ops_lost, 4); /* every write accounted */
        all_lost += size == 4 && st->ops_torn == 0;
        all_kept += size == 36;
        torn += st->ops_torn;
        partial += unsynced % 8 != 0;
        if (st->ops_torn)
            assert_true(unsynced % 8 != 0); /* a torn write keeps a strict, non-empty part */
        pd_sim_disk_free(d);
    }
    /* Every kind of outcome shows up over 500 crashes. */
    assert_true(all_lost > 20);
    assert_true(all_kept > 20);
    assert_true(torn > 50);
    assert_int_equal(partial, torn);
}

static void test_crash_deterministic(void **state)
{
    for (uint64_t seed = 0; seed < 50; seed++) {
        pd_rng_t a, b;
        pd_rng_seed(&a, seed);
        pd_rng_seed(&b, seed);
        const pd_sim_disk_stats_t *st;
        pd_sim_disk_t *da, *db;
        uint64_t sa = crash_once(&a, &st, &da), sb = crash_once(&b, &st, &db);
        assert_int_equal(sa, sb);
        pd_sim_disk_free(da);
        pd_sim_disk_free(db);
    }
}

/* Overwrites and truncates are replayed in order at a crash: the result is always one of the
 * states the disk went through (or a torn version of the next one). */
static void test_crash_replays_in_order(void **state)
{
    pd_rng_t rng;
    pd_rng_seed(&rng, 3);
    for (int i = 0; i < 200; i++) {
        pd_sim_disk_t *d = disk_new();
        assert_int_equal(pd_sim_disk_write(d, 0, "AAAA", 4), 0);
        pd_sim_disk_sync(d);
        assert_int_equal(pd_sim_disk_truncate(d, 2), 0); /* "AA" */
        assert_int_equal(pd_sim_disk_write(d, 0, "B", 1), 0); /* "BA" */
        pd_sim_disk_crash(d, &rng);
        uint8_t buf[4];
        size_t n = pd_sim_disk_read(d, 0, buf, sizeof buf);
        bool ok = (n == 4 && memcmp(buf, "AAAA", 4) == 0) || (n == 2 && memcmp(buf, "AA", 2) == 0) ||
                  (n == 2 && memcmp(buf, "BA", 2) == 0);
        assert_true(ok);
        pd_sim_disk_free(d);
    }
}

static void test_limits_and_oom(void **state)
{
    pd_sim_disk_t *d = disk_new();
    assert_int_equal(pd_sim_disk_write(d, PD_SIM_DISK_MAX, "x", 1), -PD_ETOOBIG);
    assert_int_equal(pd_sim_disk_truncate(d, PD_SIM_DISK_MAX + 1), -PD_ETOOBIG);
    assert_int_equal(pd_sim_disk_append(d, "abc", 3), 0);
    /* Fail each allocation of a growing write in turn: -ENOMEM and nothing changed. */
    static uint8_t big[100000];
    memset(big, 'z', sizeof big);
    for (long k = 0; k < 4; k++) {
        pd_alloc_fail_after(k);
        int rc = pd_sim_disk_append(d, big, sizeof big);
        pd_alloc_fail_after(-1);
        if (rc == 0)
            break;
        assert_int_equal(rc, -ENOMEM);
        assert_int_equal(pd_sim_disk_size(d), 3);
        assert_int_equal(pd_sim_disk_unsynced_ops(d), 1);
    }
    assert_int_equal(pd_sim_disk_size(d), 3 + sizeof big);
    pd_sim_disk_sync(d);
    pd_rng_t rng;
    pd_rng_seed(&rng, 4);
    pd_sim_disk_crash(d, &rng);
    assert_int_equal(pd_sim_disk_size(d), 3 + sizeof big);
    pd_sim_disk_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_synced_survives),
        cmocka_unit_test(test_unsynced_lost_or_torn),
        cmocka_unit_test(test_crash_deterministic),
        cmocka_unit_test(test_crash_replays_in_order),
        cmocka_unit_test(test_limits_and_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
