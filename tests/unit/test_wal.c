/* core/daemon/wal: the pure scanner, round trips across reopen, group commit, rotation and
 * release, suffix truncation, torn tails at every offset, corruption refusals, OOM sweep; sealed
 * logs (no plaintext on disk, another key refused without cutting anything, a tampered record
 * refused, torn tails still cut, an unencrypted log refused by a sealed open). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd_alloc.h"
#include "pd_buf.h"
#include "pd_crc32c.h"
#include "pd_err.h"
#include "pd_rng.h"
#include "raft.h"
#include "wal.h"

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
    snprintf(fx->root, sizeof fx->root, "/tmp/pd-wal-XXXXXX");
    if (!fx || !mkdtemp(fx->root))
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "%s/wal", fx->root);
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

static void reset_dir(fx_t *fx)
{
    nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int open_wal(fx_t *fx, uint64_t seg_bytes, pd_wal_t **w, pd_wal_state_t *st, char *err)
{
    pd_wal_opts_t o = {.dir = fx->dir, .segment_bytes = seg_bytes};
    return pd_wal_open(&o, w, st, err, 256);
}

static void must_open(fx_t *fx, uint64_t seg_bytes, pd_wal_t **w, pd_wal_state_t *st)
{
    char err[256] = "";
    int rc = open_wal(fx, seg_bytes, w, st, err);
    if (rc)
        fail_msg("open: %s (%s)", pd_err_name(rc), err);
}

/* Entry i's data: "entry <i> term <t>" padded with 'x' to `pad` bytes. */
static pd_raft_entry_t mk(uint64_t index, uint64_t term, char *buf, size_t pad)
{
    int n = snprintf(buf, 128, "entry %llu term %llu", (unsigned long long)index,
                     (unsigned long long)term);
    size_t len = (size_t)n;
    while (len < pad && len < 127)
        buf[len++] = 'x';
    return (pd_raft_entry_t){.index = index, .term = term, .type = PD_RAFT_ENTRY_NORMAL,
                             .len = (uint32_t)len, .data = (uint8_t *)buf};
}

static void append_range(pd_wal_t *w, uint64_t from, uint64_t to, uint64_t term, size_t pad)
{
    for (uint64_t i = from; i <= to; i++) {
        char buf[128];
        pd_raft_entry_t e = mk(i, term, buf, pad);
        assert_int_equal(pd_wal_append_entries(w, &e, 1), 0);
    }
}

static void check_entries(const pd_wal_state_t *st, uint64_t first, uint64_t last,
                          uint64_t (*term_of)(uint64_t), size_t pad)
{
    assert_int_equal(st->n_entries, last - first + 1);
    assert_int_equal(st->first_index, first);
    assert_int_equal(st->last_index, last);
    for (size_t k = 0; k < st->n_entries; k++) {
        char buf[128];
        pd_raft_entry_t want = mk(first + k, term_of(first + k), buf, pad);
        assert_int_equal(st->entries[k].index, want.index);
        assert_int_equal(st->entries[k].term, want.term);
        assert_int_equal(st->entries[k].len, want.len);
        assert_memory_equal(st->entries[k].data, want.data, want.len);
    }
}

static uint64_t term1(uint64_t i) { (void)i; return 1; }

static int n_segments(fx_t *fx, char names[][64], int max)
{
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "wal-", 4) != 0)
            continue;
        if (n < max && names)
            snprintf(names[n], 64, "%s", de->d_name);
        n++;
    }
    closedir(d);
    if (names)
        qsort(names, (size_t)(n < max ? n : max), 64, (int (*)(const void *, const void *))strcmp);
    return n;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

/* --- pure scanner -------------------------------------------------------------------------- */

typedef struct {
    size_t n, offs[64];
    uint8_t types[64];
} rec_log_t;

static int log_rec(void *ctx, uint8_t type, const uint8_t *p, uint32_t len, size_t off)
{
    (void)p, (void)len;
    rec_log_t *l = ctx;
    if (l->n < 64) {
        l->offs[l->n] = off;
        l->types[l->n] = type;
    }
    l->n++;
    return 0;
}

static int stop_at_2(void *ctx, uint8_t type, const uint8_t *p, uint32_t len, size_t off)
{
    (void)ctx, (void)type, (void)p, (void)len;
    return off > 40 && type == PD_WAL_REC_SNAPSHOT ? -PD_EINTERNAL : 0;
}

static size_t build_records(uint8_t *buf, size_t cap, size_t offs[4])
{
    pd_wbuf_t w;
    pd_wbuf_init(&w, buf, cap);
    char d[128];
    offs[0] = w.len;
    pd_wal_encode_hard_state(&w, &(pd_raft_hard_state_t){3, 2, 1}, NULL);
    offs[1] = w.len;
    pd_raft_entry_t e = mk(7, 3, d, 40);
    pd_wal_encode_entry(&w, &e, NULL);
    offs[2] = w.len;
    pd_wal_encode_snapshot(&w, 5, 2, 0, NULL);
    offs[3] = w.len;
    e = mk(8, 3, d, 0);
    e.len = 0;
    e.data = NULL;
    pd_wal_encode_entry(&w, &e, NULL);
    assert_int_equal(w.err, 0);
    return w.len;
}

static void test_scan_pure(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t offs[4];
    size_t len = build_records(buf, sizeof buf, offs);
    pd_wal_scan_t sc;
    rec_log_t l = {0};
    assert_int_equal(pd_wal_scan(buf, len, NULL, log_rec, &l, &sc), 0);
    assert_int_equal(sc.status, PD_WAL_SCAN_CLEAN);
    assert_int_equal(sc.valid_len, len);
    assert_int_equal(sc.n_records, 4);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.types[1], PD_WAL_REC_ENTRY);
    assert_int_equal(l.offs[2], offs[2]);
    /* every cut: the valid prefix is the whole records before the cut; the rest is torn */
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(pd_wal_scan(buf, cut, NULL, NULL, NULL, &sc), 0);
        size_t want = 0;
        for (int k = 0; k < 4; k++)
            want = offs[k] <= cut ? offs[k] : want;
        assert_int_equal(sc.valid_len, want);
        assert_int_equal(sc.status, want == cut ? PD_WAL_SCAN_CLEAN : PD_WAL_SCAN_TORN);
    }
    /* zero-filled tail */
    uint8_t z[600] = {0};
    memcpy(z, buf, len);
    assert_int_equal(pd_wal_scan(z, len + 50, NULL, NULL, NULL, &sc), 0);
    assert_int_equal(sc.status, PD_WAL_SCAN_TORN);
    assert_int_equal(sc.valid_len, len);
    assert_string_equal(sc.reason, "zero-filled tail");
    /* a flipped byte in record 1 with records after it: corrupt, valid data found after */
    buf[offs[1] + 20] ^= 0x10;
    assert_int_equal(pd_wal_scan(buf, len, NULL, NULL, NULL, &sc), 0);
    assert_int_equal(sc.status, PD_WAL_SCAN_CORRUPT);
    assert_int_equal(sc.valid_len, offs[1]);
    assert_int_equal(sc.next_valid, offs[2]);
    assert_string_equal(sc.reason, "checksum mismatch");
    buf[offs[1] + 20] ^= 0x10;
    /* the same in the last record: torn */
    buf[len - 1] ^= 0x01;
    assert_int_equal(pd_wal_scan(buf, len, NULL, NULL, NULL, &sc), 0);
    assert_int_equal(sc.status, PD_WAL_SCAN_TORN);
    assert_int_equal(sc.valid_len, offs[3]);
    /* decoders */
    pd_raft_entry_t e;
    assert_int_equal(pd_wal_decode_entry(buf + offs[1] + 9, (uint32_t)(offs[2] - offs[1] - 9), &e), 0);
    assert_int_equal(e.index, 7);
    assert_int_equal(e.term, 3);
    assert_int_equal(pd_wal_decode_entry(buf + offs[1] + 9, 20, &e), -PD_EMALFORMED);
    pd_raft_hard_state_t hs;
    assert_int_equal(pd_wal_decode_hard_state(buf + 9, 24, &hs), 0);
    assert_true(hs.term == 3 && hs.vote == 2 && hs.commit == 1);
    /* a callback error stops the scan at that record */
    buf[len - 1] ^= 0x01;
    assert_int_equal(pd_wal_scan(buf, len, NULL, stop_at_2, NULL, &sc), -PD_EINTERNAL);
    assert_int_equal(sc.valid_len, offs[2]);
    assert_int_equal(sc.n_records, 2);
}

static void test_header(void **state)
{
    (void)state;
    uint8_t h[PD_WAL_HEADER_LEN];
    uint64_t seq, first;
    int sealed = -1;
    pd_wal_header_encode(h, 7, 99, 0);
    assert_int_equal(pd_wal_header_check(h, sizeof h, &seq, &first, &sealed), 0);
    assert_true(seq == 7 && first == 99);
    assert_int_equal(pd_wal_header_check(h, sizeof h - 1, &seq, &first, &sealed), -PD_ECORRUPT);
    h[13] ^= 1;
    assert_int_equal(pd_wal_header_check(h, sizeof h, &seq, &first, &sealed), -PD_ECORRUPT);
}

/* --- files --------------------------------------------------------------------------------- */

static void test_roundtrip_reopen(void **state)
{
    fx_t *fx = *state;
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 0, &w, &st);
    assert_int_equal(st.n_entries, 0);
    assert_int_equal(st.first_index, 1);
    assert_false(st.has_hs);
    pd_wal_state_free(&st);
    append_range(w, 1, 10, 1, 30);
    assert_int_equal(pd_wal_append_hard_state(w, &(pd_raft_hard_state_t){1, 2, 5}), 0);
    assert_int_equal(pd_wal_sync(w), 0);
    append_range(w, 11, 11, 1, 0); /* never synced: dropped by close */
    pd_wal_close(w);

    must_open(fx, 0, &w, &st);
    check_entries(&st, 1, 10, term1, 30);
    assert_true(st.has_hs && st.hs.term == 1 && st.hs.vote == 2 && st.hs.commit == 5);
    assert_false(st.has_snap);
    assert_int_equal(st.truncated_bytes, 0);
    pd_wal_state_free(&st);
    assert_int_equal(pd_wal_append_snapshot(w, 5, 1, 0), 0); /* compaction point: entries stay */
    append_range(w, 11, 12, 1, 30);
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);

    must_open(fx, 0, &w, &st);
    check_entries(&st, 1, 12, term1, 30);
    assert_true(st.has_snap && st.snap_index == 5 && st.snap_term == 1);
    pd_wal_state_free(&st);
    /* a snapshot from the leader replaces the log */
    assert_int_equal(pd_wal_append_snapshot(w, 20, 1, PD_WAL_SNAP_INSTALL), 0);
    assert_int_equal(pd_wal_last_index(w), 20);
    append_range(w, 21, 22, 1, 30);
    assert_int_equal(pd_wal_append_hard_state(w, &(pd_raft_hard_state_t){1, 2, 20}), 0);
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);

    must_open(fx, 0, &w, &st);
    check_entries(&st, 21, 22, term1, 30);
    assert_true(st.snap_index == 20 && st.hs.commit == 20);
    pd_wal_state_free(&st);
    pd_wal_close(w);
}

static void test_append_checks(void **state)
{
    fx_t *fx = *state;
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 0, &w, &st);
    pd_wal_state_free(&st);
    char b[128];
    pd_raft_entry_t e = mk(2, 1, b, 0);
    assert_int_equal(pd_wal_append_entries(w, &e, 1), -PD_EUSAGE); /* gap after 0 */
    e = mk(0, 1, b, 0);
    assert_int_equal(pd_wal_append_entries(w, &e, 1), -PD_EUSAGE);
    pd_raft_entry_t two[2] = {mk(1, 1, b, 0), mk(3, 1, b, 0)};
    assert_int_equal(pd_wal_append_entries(w, two, 2), -PD_EUSAGE); /* all or nothing */
    assert_int_equal(pd_wal_last_index(w), 0);
    e = mk(1, 1, b, 0);
    e.len = PD_WAL_ENTRY_DATA_MAX + 1;
    assert_int_equal(pd_wal_append_entries(w, &e, 1), -PD_ETOOBIG);
    assert_int_equal(pd_wal_append_snapshot(w, 1, 1, 0), -PD_EUSAGE); /* beyond the log */
    assert_int_equal(pd_wal_append_snapshot(w, 1, 1, 0x80), -PD_EUSAGE);
    pd_wal_stats_t s;
    pd_wal_stats(w, &s);
    assert_int_equal(s.pending_bytes, 0);
    assert_int_equal(pd_wal_release(w, 5, NULL), -PD_EUSAGE); /* no snapshot covers 4 */
    pd_wal_close(w);
}

static void test_group_commit(void **state)
{
    fx_t *fx = *state;
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 0, &w, &st);
    pd_wal_state_free(&st);
    pd_wal_stats_t a, b;
    pd_wal_stats(w, &a);
    assert_int_equal(pd_wal_sync(w), 0); /* nothing pending: no IO */
    pd_wal_stats(w, &b);
    assert_int_equal(b.fdatasyncs, a.fdatasyncs);
    for (uint64_t round = 0; round < 5; round++) {
        append_range(w, round * 100 + 1, round * 100 + 100, 1, 50);
        assert_int_equal(pd_wal_append_hard_state(w, &(pd_raft_hard_state_t){1, 1, round * 100}), 0);
        pd_wal_stats(w, &a);
        assert_true(a.pending_bytes > 100 * 50);
        assert_int_equal(pd_wal_sync(w), 0);
        pd_wal_stats(w, &b);
        assert_int_equal(b.fdatasyncs - a.fdatasyncs, 1);
        assert_int_equal(b.syncs - a.syncs, 1);
        assert_int_equal(b.bytes_written - a.bytes_written, a.pending_bytes);
        assert_int_equal(b.records - a.records, 101);
        assert_int_equal(b.entries - a.entries, 100);
        assert_int_equal(b.pending_bytes, 0);
    }
    pd_wal_close(w);
}

static uint64_t term_trunc(uint64_t i) { return i >= 6 ? 2 : 1; }

static void test_suffix_truncation(void **state)
{
    fx_t *fx = *state;
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 0, &w, &st);
    pd_wal_state_free(&st);
    append_range(w, 1, 10, 1, 20);
    assert_int_equal(pd_wal_sync(w), 0);
    append_range(w, 6, 8, 2, 20); /* a new leader overwrote 6.. */
    assert_int_equal(pd_wal_last_index(w), 8);
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);
    must_open(fx, 0, &w, &st);
    check_entries(&st, 1, 8, term_trunc, 20);
    pd_wal_state_free(&st);
    /* in the same batch, and down to the first entry */
    append_range(w, 9, 12, 2, 20);
    append_range(w, 1, 3, 1, 20);
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);
    must_open(fx, 0, &w, &st);
    check_entries(&st, 1, 3, term1, 20);
    pd_wal_state_free(&st);
    pd_wal_close(w);
}

static uint64_t term_rot(uint64_t i) { return i >= 40 ? 3 : 1; }

static void test_rotation_release(void **state)
{
    fx_t *fx = *state;
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 1024, &w, &st);
    pd_wal_state_free(&st);
    assert_int_equal(pd_wal_append_hard_state(w, &(pd_raft_hard_state_t){1, 1, 0}), 0);
    for (uint64_t i = 1; i <= 60; i++) { /* ~130-byte records, one sync each */
        append_range(w, i, i, 1, 100);
        assert_int_equal(pd_wal_sync(w), 0);
    }
    append_range(w, 40, 50, 3, 100); /* truncation that lands in a later segment */
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_stats_t s;
    pd_wal_stats(w, &s);
    int nseg = n_segments(fx, NULL, 0);
    assert_true(nseg >= 6);
    assert_int_equal(s.segments_created, (uint64_t)nseg);
    pd_wal_close(w);

    must_open(fx, 1024, &w, &st);
    check_entries(&st, 1, 50, term_rot, 100);
    assert_true(st.has_hs && st.hs.term == 1);
    assert_int_equal(st.n_segments, nseg);
    pd_wal_state_free(&st);
    /* compact at 30 keeping nothing before it */
    assert_int_equal(pd_wal_append_snapshot(w, 30, 1, 0), 0);
    assert_int_equal(pd_wal_sync(w), 0);
    assert_int_equal(pd_wal_release(w, 32, NULL), -PD_EUSAGE);
    nseg = n_segments(fx, NULL, 0); /* that sync may have rotated */
    unsigned removed = 99;
    assert_int_equal(pd_wal_release(w, 31, &removed), 0);
    assert_true(removed > 0);
    assert_int_equal(n_segments(fx, NULL, 0), nseg - (int)removed);
    assert_int_equal(pd_wal_release(w, 31, &removed), 0); /* idempotent */
    assert_int_equal(removed, 0);
    append_range(w, 51, 52, 3, 100);
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);

    must_open(fx, 1024, &w, &st);
    assert_true(st.first_index <= 31);
    assert_int_equal(st.last_index, 52);
    assert_true(st.has_snap && st.snap_index == 30);
    assert_true(st.has_hs && st.hs.term == 1); /* from the copy at the head of a segment */
    for (size_t k = 0; k < st.n_entries; k++) {
        assert_int_equal(st.entries[k].index, st.first_index + k);
        assert_int_equal(st.entries[k].term, term_rot(st.entries[k].index));
    }
    pd_wal_state_free(&st);
    pd_wal_close(w);
}

/* Build a single-segment WAL holding entries 1..n (pad bytes each) plus a hard state; returns the
 * segment's path and the start offset of entry `mark`'s record (or of the last record). */
static void build_segment(fx_t *fx, uint64_t n, char *path, size_t cap, size_t *rec_off, uint64_t mark)
{
    reset_dir(fx);
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 0, &w, &st);
    pd_wal_state_free(&st);
    assert_int_equal(pd_wal_append_hard_state(w, &(pd_raft_hard_state_t){1, 1, 0}), 0);
    size_t off = 0;
    pd_wal_stats_t s;
    for (uint64_t i = 1; i <= n; i++) {
        if (i == mark) {
            pd_wal_stats(w, &s);
            off = PD_WAL_HEADER_LEN + s.pending_bytes;
        }
        append_range(w, i, i, 1, 24);
    }
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);
    char names[2][64];
    assert_int_equal(n_segments(fx, names, 2), 1);
    snprintf(path, cap, "%s/%s", fx->dir, names[0]);
    *rec_off = off;
}

static void expect_recovered(fx_t *fx, const char *path, uint64_t n, size_t trunc_to, uint64_t dropped)
{
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 0, &w, &st);
    assert_int_equal(st.n_entries, n);
    assert_int_equal(st.truncated_bytes, dropped);
    assert_int_equal(file_size(path), (off_t)trunc_to);
    pd_wal_state_free(&st);
    append_range(w, n + 1, n + 1, 2, 24); /* appends continue at the cut */
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);
    must_open(fx, 0, &w, &st);
    assert_int_equal(st.n_entries, n + 1);
    assert_int_equal(st.entries[n].term, 2);
    assert_int_equal(st.truncated_bytes, 0);
    pd_wal_state_free(&st);
    pd_wal_close(w);
}

static void test_torn_tail_every_offset(void **state)
{
    fx_t *fx = *state;
    char path[256];
    size_t last_off;
    build_segment(fx, 5, path, sizeof path, &last_off, 5);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    uint8_t *buf = calloc(1, len + 64);
    for (size_t cut = last_off + 1; cut < len; cut++) { /* incomplete header or payload */
        spit(path, orig, cut);
        expect_recovered(fx, path, 4, last_off, cut - last_off);
    }
    for (size_t cut = last_off; cut < len; cut++) { /* zero-filled tail */
        memset(buf, 0, len + 64);
        memcpy(buf, orig, cut);
        spit(path, buf, len + 64);
        expect_recovered(fx, path, 4, last_off, len + 64 - last_off);
    }
    for (size_t at = last_off; at < len; at++) { /* damaged last record */
        memcpy(buf, orig, len);
        buf[at] ^= 0x5a;
        spit(path, buf, len);
        expect_recovered(fx, path, 4, last_off, len - last_off);
    }
    free(buf);
    free(orig);
}

static void test_corrupt_middle_record(void **state)
{
    fx_t *fx = *state;
    char path[256], err[256];
    size_t rec_off;
    build_segment(fx, 6, path, sizeof path, &rec_off, 3);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    size_t rec_len = PD_WAL_REC_HDR_LEN + PD_WAL_ENTRY_FIXED_LEN + 24;
    char want[64];
    snprintf(want, sizeof want, "byte offset %zu ", rec_off);
    const char *base = strrchr(path, '/') + 1;
    for (size_t at = rec_off; at < rec_off + rec_len; at++) {
        orig[at] ^= 0x01;
        spit(path, orig, len);
        orig[at] ^= 0x01;
        pd_wal_t *w = NULL;
        pd_wal_state_t st;
        assert_int_equal(open_wal(fx, 0, &w, &st, err), -PD_ECORRUPT);
        assert_null(w);
        assert_non_null(strstr(err, base));
        if (!strstr(err, want))
            fail_msg("flip at %zu: %s", at, err);
        assert_int_equal(file_size(path), (off_t)len); /* refused: nothing truncated */
    }
    free(orig);
}

static void make_segments(fx_t *fx, char names[][64], int max, int *n)
{
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 512, &w, &st);
    pd_wal_state_free(&st);
    for (uint64_t i = 1; i <= 20; i++) {
        append_range(w, i, i, 1, 100);
        assert_int_equal(pd_wal_sync(w), 0);
    }
    pd_wal_close(w);
    *n = n_segments(fx, names, max);
    assert_true(*n >= 4);
}

static void test_missing_and_bad_segments(void **state)
{
    fx_t *fx = *state;
    char names[32][64], path[256], err[256];
    int n;
    pd_wal_t *w = NULL;
    pd_wal_state_t st;
    make_segments(fx, names, 32, &n);
    snprintf(path, sizeof path, "%s/%s", fx->dir, names[1]); /* a middle segment goes missing */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(open_wal(fx, 512, &w, &st, err), -PD_ECORRUPT);
    assert_non_null(strstr(err, "in segment sequence"));
    assert_non_null(strstr(err, names[2]));

    reset_dir(fx);
    make_segments(fx, names, 32, &n);
    snprintf(path, sizeof path, "%s/%s", fx->dir, names[0]); /* the first one goes missing */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(open_wal(fx, 512, &w, &st, err), -PD_ECORRUPT);
    assert_non_null(strstr(err, "missing segments"));

    reset_dir(fx);
    make_segments(fx, names, 32, &n);
    snprintf(path, sizeof path, "%s/%s", fx->dir, names[1]); /* bad header */
    size_t len;
    uint8_t *b = slurp(path, &len);
    b[3] ^= 0xff;
    spit(path, b, len);
    assert_int_equal(open_wal(fx, 512, &w, &st, err), -PD_ECORRUPT);
    assert_non_null(strstr(err, names[1]));
    assert_non_null(strstr(err, "header at byte offset 0"));
    b[3] ^= 0xff; /* torn record in a sealed segment */
    spit(path, b, len - 3);
    assert_int_equal(open_wal(fx, 512, &w, &st, err), -PD_ECORRUPT);
    assert_non_null(strstr(err, "sealed segment"));
    assert_non_null(strstr(err, names[1]));
    free(b);
    assert_null(w);
}

static void test_tmp_segment_removed(void **state)
{
    fx_t *fx = *state;
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 0, &w, &st);
    pd_wal_state_free(&st);
    append_range(w, 1, 3, 1, 0);
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/wal-0000000000000002-0000000000000004.log.tmp", fx->dir);
    spit(tmp, (const uint8_t *)"partial", 7); /* a crash mid-rotation */
    must_open(fx, 0, &w, &st);
    assert_int_equal(st.n_entries, 3);
    assert_int_equal(access(tmp, F_OK), -1);
    pd_wal_state_free(&st);
    pd_wal_close(w);
}

/* rd from raft goes straight in, and what comes back restarts raft. */
static void test_ready_and_raft_restart(void **state)
{
    fx_t *fx = *state;
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 0, &w, &st);
    pd_wal_state_free(&st);
    pd_rng_t rng;
    pd_rng_seed(&rng, 1);
    pd_raft_config_t cfg;
    uint64_t peers[] = {1};
    pd_raft_config_default(&cfg, 1, &rng);
    cfg.peers = peers;
    cfg.n_peers = 1;
    pd_raft_t *r;
    assert_int_equal(pd_raft_new(&cfg, &r), 0);
    pd_raft_campaign(r);
    for (int turn = 0; turn < 20; turn++) {
        if (turn == 5 || turn == 6)
            assert_int_equal(pd_raft_propose(r, "hello", 5, NULL), 0);
        if (!pd_raft_has_ready(r))
            continue;
        pd_raft_ready_t rd;
        pd_raft_ready(r, &rd);
        assert_int_equal(pd_wal_append_ready(w, &rd), 0);
        assert_int_equal(pd_wal_sync(w), 0);
        pd_raft_advance(r);
    }
    uint64_t last = pd_raft_last_index(r), term = pd_raft_term(r), commit = pd_raft_commit(r);
    assert_true(last >= 3);
    pd_raft_free(r);
    pd_wal_close(w);

    must_open(fx, 0, &w, &st);
    assert_int_equal(st.last_index, last);
    pd_raft_config_default(&cfg, 1, &rng);
    pd_wal_state_to_raft(&st, &cfg);
    assert_int_equal(pd_raft_new(&cfg, &r), 0);
    pd_wal_state_free(&st);
    assert_int_equal(pd_raft_last_index(r), last);
    assert_int_equal(pd_raft_term(r), term);
    assert_int_equal(pd_raft_commit(r), commit);
    pd_raft_free(r);
    pd_wal_close(w);
}

/* A torn final batch keeps a prefix of its records. Whatever prefix survives, the recovered hard
 * state never commits past the recovered log (pd_wal_append_ready writes entries before the hard
 * state), so raft restarts. */
static void test_torn_ready_commit_covered(void **state)
{
    fx_t *fx = *state;
    reset_dir(fx);
    pd_wal_t *w;
    pd_wal_state_t st;
    must_open(fx, 0, &w, &st);
    pd_wal_state_free(&st);
    char bufs[6][64];
    pd_raft_entry_t e[6];
    for (uint64_t i = 0; i < 6; i++)
        e[i] = mk(i + 1, 1, bufs[i], 24);
    pd_raft_ready_t rd = {.has_hs = 1, .hs = {.term = 1, .vote = 1, .commit = 2}, .entries = e,
                          .n_entries = 2};
    assert_int_equal(pd_wal_append_ready(w, &rd), 0);
    assert_int_equal(pd_wal_sync(w), 0);
    char names[4][64], path[256];
    assert_int_equal(n_segments(fx, names, 4), 1);
    snprintf(path, sizeof path, "%s/%s", fx->dir, names[0]);
    off_t before = file_size(path);
    rd = (pd_raft_ready_t){.has_hs = 1, .hs = {.term = 1, .vote = 1, .commit = 6},
                           .entries = e + 2, .n_entries = 4};
    assert_int_equal(pd_wal_append_ready(w, &rd), 0);
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    for (size_t cut = (size_t)before; cut <= len; cut++) {
        spit(path, orig, cut);
        must_open(fx, 0, &w, &st);
        assert_true(st.has_hs);
        assert_true(st.hs.commit <= st.last_index);
        pd_rng_t rng;
        pd_rng_seed(&rng, 1);
        pd_raft_config_t cfg;
        pd_raft_config_default(&cfg, 1, &rng);
        pd_wal_state_to_raft(&st, &cfg);
        pd_raft_t *r;
        assert_int_equal(pd_raft_new(&cfg, &r), 0);
        pd_raft_free(r);
        pd_wal_state_free(&st);
        pd_wal_close(w);
    }
    free(orig);
}

/* Every allocation in open (replay of 3 segments), append and sync fails in turn: -ENOMEM, no leak
 * (LSan checks at exit), and the WAL still opens cleanly afterwards. */
static void test_oom_sweep(void **state)
{
    fx_t *fx = *state;
    int done = 0;
    for (long n = 0; n < 10000 && !done; n++) {
        reset_dir(fx);
        pd_wal_t *w;
        pd_wal_state_t st;
        must_open(fx, 512, &w, &st);
        pd_wal_state_free(&st);
        append_range(w, 1, 12, 1, 100);
        assert_int_equal(pd_wal_append_hard_state(w, &(pd_raft_hard_state_t){1, 1, 0}), 0);
        assert_int_equal(pd_wal_sync(w), 0);
        append_range(w, 13, 16, 1, 100); /* the second segment fills up */
        assert_int_equal(pd_wal_sync(w), 0);
        pd_wal_close(w);
        pd_alloc_fail_after(n);
        int rc = open_wal(fx, 512, &w, &st, NULL);
        if (rc == 0) {
            pd_wal_state_free(&st);
            char b[128];
            pd_raft_entry_t e = mk(17, 1, b, 100);
            rc = pd_wal_append_entries(w, &e, 1);
            if (!rc)
                rc = pd_wal_sync(w); /* rotation here needs the segment list to grow */
            done = rc == 0;
            pd_wal_close(w);
        }
        pd_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        must_open(fx, 512, &w, &st);
        assert_true(st.last_index == 16 || (done && st.last_index == 17));
        pd_wal_state_free(&st);
        pd_wal_close(w);
    }
    assert_true(done);
}

/* --- sealed WAL ---------------------------------------------------------------------------- */

static const uint8_t key_a[PD_SEAL_KEY_LEN] = {1, 2, 3};
static const uint8_t key_b[PD_SEAL_KEY_LEN] = {9, 8, 7};
static const char secret[] = "hunter2-PLAINTEXT-MARKER";

static int contains(const uint8_t *buf, size_t len, const char *needle)
{
    return memmem(buf, len, needle, strlen(needle)) != NULL;
}

static int open_keyed(const char *dir, const uint8_t *key, pd_wal_t **w, pd_wal_state_t *st, char *err)
{
    pd_wal_opts_t o = {.dir = dir, .key = key};
    return pd_wal_open(&o, w, st, err, 256);
}

static void segment_path(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/wal-%016x-%016x.log", dir, 1, 1);
}

static void write_entries(const char *dir, uint64_t from, uint64_t to)
{
    pd_wal_t *w;
    pd_wal_state_t st;
    char err[256] = "";
    assert_int_equal(open_keyed(dir, key_a, &w, &st, err), 0);
    for (uint64_t i = from; i <= to; i++) {
        char data[64];
        int n = snprintf(data, sizeof data, "%s-%llu", secret, (unsigned long long)i);
        pd_raft_entry_t e = {.index = i, .term = 1, .type = PD_RAFT_ENTRY_NORMAL, .data = (uint8_t *)data,
                             .len = (uint32_t)n};
        assert_int_equal(pd_wal_append_entries(w, &e, 1), 0);
    }
    assert_int_equal(pd_wal_append_hard_state(w, &(pd_raft_hard_state_t){1, 1, to}), 0);
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);
    pd_wal_state_free(&st);
}

static void test_wal_sealed(void **state)
{
    char seg[256], err[256] = "";
    const char *dir = ((fx_t *)*state)->dir;
    write_entries(dir, 1, 10);
    segment_path(dir, seg, sizeof seg);
    size_t len;
    uint8_t *buf = slurp(seg, &len);
    assert_false(contains(buf, len, "hunter2"));
    pd_wal_t *w;
    pd_wal_state_t st;
    /* the right key reads every entry back */
    assert_int_equal(open_keyed(dir, key_a, &w, &st, err), 0);
    assert_int_equal(st.n_entries, 10);
    assert_int_equal(st.hs.commit, 10);
    assert_true(contains(st.entries[9].data, st.entries[9].len, "hunter2-PLAINTEXT-MARKER-10"));
    pd_wal_close(w);
    pd_wal_state_free(&st);
    /* another key: refused, and the file is not cut (a wrong key is no torn tail) */
    assert_int_equal(open_keyed(dir, key_b, &w, &st, err), -PD_ECORRUPT);
    assert_non_null(strstr(err, "fails authentication"));
    struct stat sb;
    assert_int_equal(stat(seg, &sb), 0);
    assert_int_equal((size_t)sb.st_size, len);
    /* no key: refused as another format */
    assert_int_equal(open_keyed(dir, NULL, &w, &st, err), -PD_EVERSION);
    /* a tampered record whose CRC was fixed up: refused */
    size_t off = PD_WAL_HEADER_LEN + 3 * (PD_WAL_REC_HDR_LEN + PD_SEAL_OVERHEAD + PD_WAL_ENTRY_FIXED_LEN + 26);
    uint32_t plen = pd_get_u32(buf + off);
    buf[off + PD_WAL_REC_HDR_LEN + PD_SEAL_NONCE_LEN + 5] ^= 0x20;
    pd_put_u32(buf + off + 4, pd_crc32c(buf + off + 8, (size_t)plen + 1));
    spit(seg, buf, len);
    assert_int_equal(open_keyed(dir, key_a, &w, &st, err), -PD_ECORRUPT);
    assert_non_null(strstr(err, "fails authentication"));
    /* a torn tail (the last record cut short) is still cut off and the prefix kept */
    buf[off + PD_WAL_REC_HDR_LEN + PD_SEAL_NONCE_LEN + 5] ^= 0x20;
    pd_put_u32(buf + off + 4, pd_crc32c(buf + off + 8, (size_t)plen + 1));
    spit(seg, buf, len - 7);
    assert_int_equal(open_keyed(dir, key_a, &w, &st, err), 0);
    assert_int_equal(st.n_entries, 10);     /* the hard state record was torn */
    assert_int_equal(st.truncated_bytes, len - 7 - (len - (PD_WAL_REC_HDR_LEN + PD_SEAL_OVERHEAD + PD_WAL_HARD_STATE_LEN)));
    pd_wal_close(w);
    pd_wal_state_free(&st);
    free(buf);
}

static void test_wal_plain_refused_by_sealed(void **state)
{
    char err[256] = "";
    const char *dir = ((fx_t *)*state)->dir;
    pd_wal_t *w;
    pd_wal_state_t st;
    assert_int_equal(open_keyed(dir, NULL, &w, &st, err), 0); /* an older peerd's unencrypted log */
    pd_raft_entry_t e = {.index = 1, .term = 1, .data = (uint8_t *)"x", .len = 1};
    assert_int_equal(pd_wal_append_entries(w, &e, 1), 0);
    assert_int_equal(pd_wal_sync(w), 0);
    pd_wal_close(w);
    pd_wal_state_free(&st);
    assert_int_equal(open_keyed(dir, key_a, &w, &st, err), -PD_EVERSION);
    assert_non_null(strstr(err, "unencrypted"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_pure),
        cmocka_unit_test(test_header),
        cmocka_unit_test_setup_teardown(test_roundtrip_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suffix_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_bad_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmp_segment_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready_and_raft_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_ready_commit_covered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_plain_refused_by_sealed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
