/* core/daemon/snapfile: round trip, corrupt newest (refuse / fallback), crash leftovers,
 * retention, membership codec, OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "snapfile.h"

typedef struct {
    char root[64];
    char dir[96];
} fx_t;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    snprintf(fx->root, sizeof fx->root, "/tmp/pd-snap-XXXXXX");
    if (!fx || !mkdtemp(fx->root))
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "%s/snap", fx->root);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static void path_of(const fx_t *fx, uint64_t term, uint64_t index, char *out, size_t cap)
{
    snprintf(out, cap, "%s/snap-%016llx-%016llx.snap", fx->dir, (unsigned long long)term,
             (unsigned long long)index);
}

/* Data for snapshot `index`: `len` bytes derived from the index. */
static void write_snap(const fx_t *fx, uint64_t index, uint64_t term, size_t len)
{
    uint8_t *data = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(index * 31 + i);
    pd_raft_conf_t c = {.voters = {1, 2, 3}, .n_voters = 3, .learners = {9}, .n_learners = 1};
    uint8_t m[PD_SNAPFILE_CONF_MAX];
    size_t mlen = pd_snapfile_conf_encode(&c, m);
    char err[256] = "";
    int rc = pd_snapfile_write(fx->dir, index, term, m, mlen, data, len, NULL, err, sizeof err);
    if (rc)
        fail_msg("write: %s", err);
    free(data);
}

static void check_snap(const pd_snapfile_t *s, uint64_t index, uint64_t term, size_t len)
{
    assert_int_equal(s->index, index);
    assert_int_equal(s->term, term);
    assert_int_equal(s->data_len, len);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(s->data[i], (uint8_t)(index * 31 + i));
    pd_raft_snapshot_t rs;
    assert_int_equal(pd_snapfile_to_raft(s, &rs), 0);
    assert_int_equal(rs.meta.index, index);
    assert_int_equal(rs.meta.conf.n_voters, 3);
    assert_int_equal(rs.meta.conf.voters[2], 3);
    assert_int_equal(rs.meta.conf.n_learners, 1);
    assert_int_equal(rs.meta.conf.learners[0], 9);
    assert_ptr_equal(rs.data, s->data);
}

static void test_roundtrip(void **state)
{
    fx_t *fx = *state;
    pd_snapfile_t s;
    char err[256];
    assert_int_equal(pd_snapfile_load(fx->dir, 0, NULL, NULL, &s, err, sizeof err), -PD_ENOTFOUND);
    write_snap(fx, 10, 2, 1000);
    write_snap(fx, 25, 3, 70000);
    write_snap(fx, 20, 3, 0);
    assert_int_equal(pd_snapfile_load(fx->dir, 0, NULL, NULL, &s, err, sizeof err), 0);
    check_snap(&s, 25, 3, 70000);
    assert_string_equal(s.name, "snap-0000000000000003-0000000000000019.snap");
    assert_int_equal(s.skipped, 0);
    pd_snapfile_free(&s);
    write_snap(fx, 25, 3, 5); /* same name: replaced */
    assert_int_equal(pd_snapfile_load(fx->dir, 0, NULL, NULL, &s, err, sizeof err), 0);
    check_snap(&s, 25, 3, 5);
    pd_snapfile_free(&s);
    assert_int_equal(pd_snapfile_write(fx->dir, 0, 1, NULL, 0, NULL, 0, NULL, err, sizeof err), -PD_EUSAGE);
    assert_int_equal(pd_snapfile_write(fx->dir, 1, 1, NULL, 0, "x", PD_SNAPFILE_DATA_MAX + 1ul, NULL, err,
                                       sizeof err), -PD_ETOOBIG);
}

static void flip(const char *path, long at)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
}

static void test_corrupt_newest(void **state)
{
    fx_t *fx = *state;
    pd_snapfile_t s;
    char err[256], path[256];
    write_snap(fx, 10, 2, 100);
    write_snap(fx, 20, 2, 100);
    write_snap(fx, 30, 3, 100);
    path_of(fx, 3, 30, path, sizeof path);
    flip(path, 60); /* a data byte */
    assert_int_equal(pd_snapfile_load(fx->dir, 0, NULL, NULL, &s, err, sizeof err), -PD_ECORRUPT);
    assert_non_null(strstr(err, "snap-0000000000000003-000000000000001e.snap"));
    assert_non_null(strstr(err, "checksum mismatch"));
    /* opt-in fallback: skip it, load the previous one */
    assert_int_equal(pd_snapfile_load(fx->dir, PD_SNAPFILE_FALLBACK, NULL, NULL, &s, err, sizeof err), 0);
    check_snap(&s, 20, 2, 100);
    assert_int_equal(s.skipped, 1);
    pd_snapfile_free(&s);
    /* truncated (size mismatch), header naming another snapshot, all corrupt */
    path_of(fx, 2, 20, path, sizeof path);
    assert_int_equal(truncate(path, 100), 0);
    char other[256];
    path_of(fx, 2, 10, path, sizeof path);
    path_of(fx, 2, 11, other, sizeof other);
    assert_int_equal(rename(path, other), 0);
    assert_int_equal(pd_snapfile_load(fx->dir, PD_SNAPFILE_FALLBACK, NULL, NULL, &s, err, sizeof err),
                     -PD_ECORRUPT);
    assert_non_null(strstr(err, "all 3 snapshots"));
    assert_int_equal(pd_snapfile_load(fx->dir, 0, NULL, NULL, &s, err, sizeof err), -PD_ECORRUPT);
    /* pure parser on an empty or short image */
    const char *why = NULL;
    assert_int_equal(pd_snapfile_parse((const uint8_t *)"", 0, &s, &why), -PD_ECORRUPT);
    assert_non_null(why);
}

static void test_crash_leftovers(void **state)
{
    fx_t *fx = *state;
    pd_snapfile_t s;
    char err[256], path[256], tmp[300];
    write_snap(fx, 10, 2, 100);
    /* a crash while writing 40: only its temp file exists */
    path_of(fx, 2, 40, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    fputs("half a snapshot", f);
    fclose(f);
    char unrelated[256];
    snprintf(unrelated, sizeof unrelated, "%s/notes.txt", fx->dir);
    f = fopen(unrelated, "wb");
    fclose(f);
    assert_int_equal(pd_snapfile_load(fx->dir, 0, NULL, NULL, &s, err, sizeof err), 0);
    check_snap(&s, 10, 2, 100);
    pd_snapfile_free(&s);
    assert_int_equal(access(tmp, F_OK), -1); /* cleaned */
    assert_int_equal(access(unrelated, F_OK), 0); /* not ours: left alone */
}

static int count_snaps(const fx_t *fx)
{
    int n = 0;
    for (uint64_t i = 1; i <= 8; i++) {
        char path[256];
        path_of(fx, 1, i * 10, path, sizeof path);
        n += access(path, F_OK) == 0;
    }
    return n;
}

static void test_retention(void **state)
{
    fx_t *fx = *state;
    for (uint64_t i = 1; i <= 6; i++)
        write_snap(fx, i * 10, 1, 16);
    unsigned removed = 0;
    assert_int_equal(pd_snapfile_prune(fx->dir, 0, &removed), -PD_EUSAGE);
    assert_int_equal(pd_snapfile_prune(fx->dir, 2, &removed), 0);
    assert_int_equal(removed, 4);
    assert_int_equal(count_snaps(fx), 2);
    char path[256];
    path_of(fx, 1, 60, path, sizeof path);
    assert_int_equal(access(path, F_OK), 0);
    path_of(fx, 1, 50, path, sizeof path);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(pd_snapfile_prune(fx->dir, 2, &removed), 0);
    assert_int_equal(removed, 0);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope", fx->root);
    assert_int_equal(pd_snapfile_prune(missing, 2, &removed), 0);
}

static void test_conf_codec(void **state)
{
    (void)state;
    pd_raft_conf_t c = {.n_voters = PD_RAFT_NODES_MAX}, d;
    for (uint32_t i = 0; i < PD_RAFT_NODES_MAX; i++)
        c.voters[i] = 100 + i;
    uint8_t m[PD_SNAPFILE_CONF_MAX];
    size_t n = pd_snapfile_conf_encode(&c, m);
    assert_int_equal(n, 8 + 8 * PD_RAFT_NODES_MAX);
    assert_int_equal(pd_snapfile_conf_decode(m, n, &d), 0);
    assert_memory_equal(&c, &d, sizeof c);
    assert_int_equal(pd_snapfile_conf_decode(m, n - 1, &d), -PD_ECORRUPT);
    m[7] = 1; /* one learner too many */
    assert_int_equal(pd_snapfile_conf_decode(m, n + 8, &d), -PD_ECORRUPT);
}

static void test_oom(void **state)
{
    fx_t *fx = *state;
    write_snap(fx, 10, 2, 100);
    write_snap(fx, 20, 2, 100);
    int done = 0;
    for (long n = 0; n < 100 && !done; n++) {
        pd_snapfile_t s;
        pd_alloc_fail_after(n);
        int rc = pd_snapfile_load(fx->dir, 0, NULL, NULL, &s, NULL, 0);
        pd_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        if (rc == 0) {
            check_snap(&s, 20, 2, 100);
            pd_snapfile_free(&s);
            done = 1;
        }
    }
    assert_true(done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test(test_conf_codec),
        cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
