/* Fuzz the WAL record scanner (wal.h, pd_wal_scan) over arbitrary bytes. Properties:
 *   - the valid prefix re-scans as fully valid (CLEAN) with the same record count;
 *   - every record in it decodes, and re-encodes to the very same bytes;
 *   - TORN / CORRUPT are consistent with their offsets (a CORRUPT scan names a valid record after
 *     the bad one; a TORN one has none);
 *   - the segment header check never reads past its input;
 *   - scanned as a sealed log (a fixed key), every record that passes opens. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pd_buf.h"
#include "wal.h"

typedef struct {
    const uint8_t *base;
    size_t n;
} fz_t;

static void reencode_equal(const uint8_t *rec, size_t rec_len, uint8_t type, const uint8_t *p,
                           uint32_t len)
{
    uint8_t *buf = malloc(rec_len);
    if (!buf)
        abort();
    pd_wbuf_t w;
    pd_wbuf_init(&w, buf, rec_len);
    pd_raft_entry_t e;
    pd_raft_hard_state_t hs;
    uint64_t index, term;
    uint8_t flags;
    if (type == PD_WAL_REC_ENTRY) {
        if (pd_wal_decode_entry(p, len, &e) != 0 || pd_wal_entry_record_len(&e) != rec_len)
            abort();
        pd_wal_encode_entry(&w, &e, NULL);
    } else if (type == PD_WAL_REC_HARD_STATE) {
        if (pd_wal_decode_hard_state(p, len, &hs) != 0)
            abort();
        pd_wal_encode_hard_state(&w, &hs, NULL);
    } else {
        if (type != PD_WAL_REC_SNAPSHOT || pd_wal_decode_snapshot(p, len, &index, &term, &flags) != 0)
            abort();
        pd_wal_encode_snapshot(&w, index, term, flags, NULL);
    }
    if (w.err || w.len != rec_len || memcmp(buf, rec, rec_len) != 0)
        abort();
    free(buf);
}

static int on_record(void *ctx, uint8_t type, const uint8_t *payload, uint32_t len, size_t off)
{
    fz_t *f = ctx;
    const uint8_t *rec = f->base + off;
    if (payload != rec + PD_WAL_REC_HDR_LEN || rec[8] != type)
        abort();
    reencode_equal(rec, PD_WAL_REC_HDR_LEN + (size_t)len, type, payload, len);
    f->n++;
    return 0;
}

static const uint8_t fz_key[PD_SEAL_KEY_LEN] = {7};

static int on_sealed(void *ctx, uint8_t type, const uint8_t *payload, uint32_t len, size_t off)
{
    fz_t *f = ctx;
    uint8_t *plain = malloc(len);
    if (!(type & PD_WAL_REC_SEALED) || len < PD_SEAL_OVERHEAD || !plain ||
        pd_wal_unseal(fz_key, type, payload, len, plain) != 0)
        abort();
    free(plain);
    (void)off;
    f->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f = {.base = data};
    pd_wal_scan_t a, b;
    if (pd_wal_scan(data, size, NULL, on_record, &f, &a) != 0 || f.n != a.n_records)
        abort();
    if (a.valid_len > size || (a.status == PD_WAL_SCAN_CLEAN) != (a.valid_len == size))
        abort();
    if (a.status == PD_WAL_SCAN_CORRUPT &&
        (a.next_valid <= a.valid_len || !pd_wal_record_valid(data + a.next_valid, size - a.next_valid, NULL)))
        abort();
    if (a.status != PD_WAL_SCAN_CLEAN && !a.reason)
        abort();
    for (size_t p = a.valid_len + 1; a.status == PD_WAL_SCAN_TORN && p < size && size <= 65536; p++) {
        if (pd_wal_record_valid(data + p, size - p, NULL))
            abort(); /* torn means nothing valid follows */
    }
    /* the valid prefix alone is clean */
    if (pd_wal_scan(data, a.valid_len, NULL, NULL, NULL, &b) != 0 || b.status != PD_WAL_SCAN_CLEAN ||
        b.valid_len != a.valid_len || b.n_records != a.n_records)
        abort();
    /* the same bytes read as a segment file */
    uint64_t seq, first;
    int sealed;
    if (pd_wal_header_check(data, size, &seq, &first, &sealed) == 0 && size >= PD_WAL_HEADER_LEN)
        pd_wal_scan(data + PD_WAL_HEADER_LEN, size - PD_WAL_HEADER_LEN, NULL, NULL, NULL, &b);
    /* the same bytes as a sealed log: whatever passes opens, and the status agrees */
    fz_t g = {.base = data};
    if (pd_wal_scan(data, size, fz_key, on_sealed, &g, &a) != 0 || g.n != a.n_records || a.valid_len > size ||
        (a.status == PD_WAL_SCAN_CLEAN) != (a.valid_len == size) || (a.status != PD_WAL_SCAN_CLEAN && !a.reason))
        abort();
    return 0;
}
