/* Raft WAL: pure record codec and scanner, recovery, group-committed writer (format in wal.h). */
#include "wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd_alloc.h"
#include "pd_crc32c.h"
#include "pd_err.h"
#include "pd_file.h"
#include "seal.h"

static const uint8_t wal_magic[8] = {'p', 'e', 'e', 'r', 'd', 'W', 'A', 'L'};

#define NAME_LEN 41u /* wal-<16>-<16>.log */
#define BATCH_INITIAL (64u << 10)

/* --- Pure codec ---------------------------------------------------------------------------- */

static uint64_t get_u64(const uint8_t *p)
{
    return ((uint64_t)pd_get_u32(p) << 32) | pd_get_u32(p + 4);
}

/* A sealed record's type byte has PD_WAL_REC_SEALED set and its payload is the plaintext payload
 * sealed in place (nonce in front, tag behind); the type byte is the associated data. */
static size_t rec_begin(pd_wbuf_t *w, uint8_t type, const pd_sealer_t *seal)
{
    size_t start = w->len;
    pd_wbuf_reserve(w, 8);
    pd_wbuf_u8(w, seal ? type | PD_WAL_REC_SEALED : type);
    if (seal)
        pd_wbuf_reserve(w, PD_SEAL_NONCE_LEN);
    return start;
}

static void rec_end(pd_wbuf_t *w, size_t start, pd_sealer_t *seal)
{
    if (seal && !w->err) {
        size_t plain = w->len - start - PD_WAL_REC_HDR_LEN - PD_SEAL_NONCE_LEN;
        if (pd_wbuf_reserve(w, PD_SEAL_TAG_LEN))
            pd_seal(seal, w->data + start + 8, 1, w->data + start + PD_WAL_REC_HDR_LEN, plain);
    }
    if (w->err)
        return;
    uint8_t *p = w->data + start;
    uint32_t plen = (uint32_t)(w->len - start - PD_WAL_REC_HDR_LEN);
    pd_put_u32(p, plen);
    pd_put_u32(p + 4, pd_crc32c(p + 8, (size_t)plen + 1));
}

void pd_wal_encode_entry(pd_wbuf_t *w, const pd_raft_entry_t *e, pd_sealer_t *seal)
{
    size_t start = rec_begin(w, PD_WAL_REC_ENTRY, seal);
    pd_wbuf_u64(w, e->index);
    pd_wbuf_u64(w, e->term);
    pd_wbuf_u8(w, e->type);
    pd_wbuf_u32(w, e->len);
    pd_wbuf_put(w, e->data, e->len);
    rec_end(w, start, seal);
}

void pd_wal_encode_hard_state(pd_wbuf_t *w, const pd_raft_hard_state_t *hs, pd_sealer_t *seal)
{
    size_t start = rec_begin(w, PD_WAL_REC_HARD_STATE, seal);
    pd_wbuf_u64(w, hs->term);
    pd_wbuf_u64(w, hs->vote);
    pd_wbuf_u64(w, hs->commit);
    rec_end(w, start, seal);
}

void pd_wal_encode_snapshot(pd_wbuf_t *w, uint64_t index, uint64_t term, uint8_t flags, pd_sealer_t *seal)
{
    size_t start = rec_begin(w, PD_WAL_REC_SNAPSHOT, seal);
    pd_wbuf_u64(w, index);
    pd_wbuf_u64(w, term);
    pd_wbuf_u8(w, flags);
    rec_end(w, start, seal);
}

int pd_wal_unseal(const uint8_t key[PD_SEAL_KEY_LEN], uint8_t type, const uint8_t *payload, uint32_t len,
                  uint8_t *out)
{
    return pd_seal_open(key, &type, 1, payload, len, out);
}

size_t pd_wal_entry_record_len(const pd_raft_entry_t *e)
{
    return PD_WAL_REC_HDR_LEN + PD_WAL_ENTRY_FIXED_LEN + (size_t)e->len;
}

int pd_wal_decode_entry(const uint8_t *payload, uint32_t len, pd_raft_entry_t *out)
{
    if (len < PD_WAL_ENTRY_FIXED_LEN || pd_get_u32(payload + 17) != len - PD_WAL_ENTRY_FIXED_LEN)
        return -PD_EMALFORMED;
    pd_raft_entry_t e = {.index = get_u64(payload), .term = get_u64(payload + 8), .type = payload[16],
                         .len = len - PD_WAL_ENTRY_FIXED_LEN};
    e.data = e.len ? (uint8_t *)payload + PD_WAL_ENTRY_FIXED_LEN : NULL;
    *out = e;
    return 0;
}

int pd_wal_decode_hard_state(const uint8_t *payload, uint32_t len, pd_raft_hard_state_t *out)
{
    if (len != PD_WAL_HARD_STATE_LEN)
        return -PD_EMALFORMED;
    *out = (pd_raft_hard_state_t){get_u64(payload), get_u64(payload + 8), get_u64(payload + 16)};
    return 0;
}

int pd_wal_decode_snapshot(const uint8_t *payload, uint32_t len, uint64_t *index, uint64_t *term,
                           uint8_t *flags)
{
    if (len != PD_WAL_SNAPSHOT_LEN)
        return -PD_EMALFORMED;
    *index = get_u64(payload);
    *term = get_u64(payload + 8);
    *flags = payload[16];
    return 0;
}

void pd_wal_header_encode(uint8_t *out, uint64_t seq, uint64_t first_index, int sealed)
{
    pd_wbuf_t w;
    pd_wbuf_init(&w, out, PD_WAL_HEADER_LEN);
    pd_wbuf_put(&w, wal_magic, sizeof wal_magic);
    pd_wbuf_u32(&w, sealed ? PD_WAL_VERSION_SEALED : PD_WAL_VERSION);
    pd_wbuf_u64(&w, seq);
    pd_wbuf_u64(&w, first_index);
    pd_wbuf_u32(&w, pd_crc32c(out, PD_WAL_HEADER_LEN - 4));
}

int pd_wal_header_check(const uint8_t *buf, size_t len, uint64_t *seq, uint64_t *first_index, int *sealed)
{
    if (len < PD_WAL_HEADER_LEN || memcmp(buf, wal_magic, sizeof wal_magic) != 0 ||
        pd_crc32c(buf, PD_WAL_HEADER_LEN - 4) != pd_get_u32(buf + PD_WAL_HEADER_LEN - 4))
        return -PD_ECORRUPT;
    uint32_t v = pd_get_u32(buf + 8);
    if (v != PD_WAL_VERSION && v != PD_WAL_VERSION_SEALED)
        return -PD_EVERSION;
    *sealed = v == PD_WAL_VERSION_SEALED;
    *seq = get_u64(buf + 12);
    *first_index = get_u64(buf + 20);
    return 0;
}

/* Does the payload have the exact size its type demands? A sealed entry's data length is only
 * known once opened (pd_wal_decode_entry checks it then). */
static int shape_ok(uint8_t type, const uint8_t *payload, uint32_t plen, int sealed)
{
    if (sealed) {
        if (plen < PD_SEAL_OVERHEAD)
            return 0;
        plen -= PD_SEAL_OVERHEAD;
        if (type == PD_WAL_REC_ENTRY)
            return plen >= PD_WAL_ENTRY_FIXED_LEN;
    }
    switch (type) {
    case PD_WAL_REC_ENTRY:
        return plen >= PD_WAL_ENTRY_FIXED_LEN &&
               pd_get_u32(payload + 17) == plen - PD_WAL_ENTRY_FIXED_LEN;
    case PD_WAL_REC_HARD_STATE:
        return plen == PD_WAL_HARD_STATE_LEN;
    case PD_WAL_REC_SNAPSHOT:
        return plen == PD_WAL_SNAPSHOT_LEN;
    default:
        return 0;
    }
}

/* Length of the valid record at buf, or 0 with *why set. Cheap checks before the CRC; with a key,
 * only sealed records are valid and the tag is checked last (*forged: the CRC held, the tag not). */
static size_t record_check(const uint8_t *buf, size_t len, const uint8_t *key, const char **why, int *forged)
{
    if (len < PD_WAL_REC_HDR_LEN) {
        *why = "incomplete record header";
        return 0;
    }
    uint32_t plen = pd_get_u32(buf);
    if (plen > PD_WAL_PAYLOAD_MAX) {
        *why = "record length over the limit";
        return 0;
    }
    if (plen > len - PD_WAL_REC_HDR_LEN) {
        *why = "incomplete record payload";
        return 0;
    }
    uint8_t type = buf[8] & (uint8_t)~PD_WAL_REC_SEALED;
    int sealed = (buf[8] & PD_WAL_REC_SEALED) != 0;
    if (sealed != (key != NULL)) {
        *why = sealed ? "sealed record in an unsealed log" : "unsealed record in a sealed log";
        return 0;
    }
    if (!shape_ok(type, buf + PD_WAL_REC_HDR_LEN, plen, sealed)) {
        *why = type >= PD_WAL_REC_ENTRY && type <= PD_WAL_REC_SNAPSHOT
                   ? "record length does not fit its type" : "unknown record type";
        return 0;
    }
    if (pd_crc32c(buf + 8, (size_t)plen + 1) != pd_get_u32(buf + 4)) {
        *why = "checksum mismatch";
        return 0;
    }
    if (key && pd_seal_verify(key, buf + 8, 1, buf + PD_WAL_REC_HDR_LEN, plen) != 0) {
        *why = "authentication failed (another data key, or the record was altered)";
        *forged = 1;
        return 0;
    }
    return PD_WAL_REC_HDR_LEN + (size_t)plen;
}

size_t pd_wal_record_valid(const uint8_t *buf, size_t len, const uint8_t *key)
{
    const char *why;
    int forged = 0;
    return record_check(buf, len, key, &why, &forged);
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i])
            return 0;
    }
    return 1;
}

/* First offset >= from holding a valid record, or len. */
static size_t find_valid(const uint8_t *buf, size_t len, size_t from, const uint8_t *key)
{
    for (size_t p = from; p + PD_WAL_REC_HDR_LEN <= len; p++) {
        if (pd_wal_record_valid(buf + p, len - p, key))
            return p;
    }
    return len;
}

int pd_wal_scan(const uint8_t *buf, size_t len, const uint8_t *key, pd_wal_record_fn fn, void *ctx,
                pd_wal_scan_t *out)
{
    size_t off = 0, n = 0, rl;
    const char *why = NULL;
    int rc = 0, forged = 0;
    while (off < len && (rl = record_check(buf + off, len - off, key, &why, &forged)) != 0) {
        if (fn && (rc = fn(ctx, buf[off + 8], buf + off + PD_WAL_REC_HDR_LEN,
                           (uint32_t)(rl - PD_WAL_REC_HDR_LEN), off)) != 0)
            break;
        off += rl;
        n++;
    }
    pd_wal_scan_t s = {.status = PD_WAL_SCAN_CLEAN, .valid_len = off, .n_records = n};
    if (!rc && off < len) {
        s.status = PD_WAL_SCAN_TORN;
        s.reason = why;
        if (forged) {
            s.status = PD_WAL_SCAN_FORGED; /* a torn write breaks the CRC first: not torn */
        } else if (all_zero(buf + off, len - off)) {
            s.reason = "zero-filled tail";
        } else if ((s.next_valid = find_valid(buf, len, off + 1, key)) < len) {
            s.status = PD_WAL_SCAN_CORRUPT;
        } else {
            s.next_valid = 0;
        }
    }
    *out = s;
    return rc;
}

/* --- Shared state -------------------------------------------------------------------------- */

typedef struct {
    uint64_t seq, first_index;
    uint64_t max_index; /* highest entry index written into the segment (0: none) */
} wal_seg_t;

/* Logical WAL state: what replay of everything written so far would give. */
typedef struct {
    int has_hs, has_snap;
    pd_raft_hard_state_t hs;
    uint64_t snap_index, snap_term;
    uint64_t last_index;
} wal_view_t;

typedef struct {
    size_t len;                           /* bytes in the batch */
    uint64_t max_index, records, entries; /* highest entry index; record counts */
} wal_pend_t;

struct pd_wal {
    char *dir;
    const pd_log_t *log;
    uint64_t seg_cap;
    int fd;            /* active (last) segment, written with pwrite at seg_size */
    uint64_t seg_size;
    wal_seg_t *segs;   /* oldest first; the last one is active */
    uint32_t n_segs, cap_segs;
    uint8_t *buf;      /* the pending batch: pend.len bytes of buf_cap */
    size_t buf_cap;
    wal_pend_t pend;
    wal_view_t view;   /* including the batch */
    wal_view_t dur;    /* durable */
    int err;           /* sticky write error */
    pd_wal_stats_t st;
    int sealed;        /* opened with a data key: records sealed under `seal` */
    pd_sealer_t seal;
    uint8_t *plain;    /* recovery: one sealed payload opened (plain_cap bytes) */
    size_t plain_cap;
};

static pd_sealer_t *sealer(pd_wal_t *w) { return w->sealed ? &w->seal : NULL; }

/* *buf holds at least need bytes afterwards (doubling from initial). 0 or -ENOMEM. */
static int grow(uint8_t **buf, size_t *cap, size_t need, size_t initial)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : initial;
    while (c < need)
        c *= 2;
    uint8_t *nb = pd_realloc(*buf, c);
    if (!nb)
        return -ENOMEM;
    *buf = nb;
    *cap = c;
    return 0;
}

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void seg_name(char *out, size_t cap, const char *dir, const wal_seg_t *s, const char *suffix)
{
    snprintf(out, cap, "%s/wal-%016" PRIx64 "-%016" PRIx64 ".log%s", dir, s->seq, s->first_index,
             suffix);
}

/* "wal-<16 hex>-<16 hex>.log" -> 1; the same plus ".tmp" -> 2; anything else (even a
 * non-canonical spelling of the same numbers) 0. */
static int parse_name(const char *name, wal_seg_t *s)
{
    size_t n = strlen(name);
    if ((n != NAME_LEN && n != NAME_LEN + 4) ||
        sscanf(name, "wal-%16" SCNx64 "-%16" SCNx64, &s->seq, &s->first_index) != 2)
        return 0;
    char canon[NAME_LEN + 8];
    snprintf(canon, sizeof canon, "wal-%016" PRIx64 "-%016" PRIx64 ".log%s", s->seq, s->first_index,
             n == NAME_LEN ? "" : ".tmp");
    s->max_index = 0;
    return strcmp(name, canon) != 0 ? 0 : n == NAME_LEN ? 1 : 2;
}

static int segs_reserve(pd_wal_t *w, uint32_t n)
{
    if (n <= w->cap_segs)
        return 0;
    if (n > PD_WAL_SEGMENTS_MAX)
        return -PD_ELIMIT;
    uint32_t cap = w->cap_segs ? w->cap_segs * 2 : 8;
    cap = cap < n ? n : cap;
    wal_seg_t *ns = pd_realloc(w->segs, (size_t)cap * sizeof *ns);
    if (!ns)
        return -ENOMEM;
    w->segs = ns;
    w->cap_segs = cap;
    return 0;
}

/* --- Recovery ------------------------------------------------------------------------------ */

typedef struct {
    pd_wal_state_t st;
    size_t cap;
    uint64_t seg_max;
    const char *why; /* semantic corruption found by a callback */
    size_t why_off;
    pd_wal_t *w;     /* sealed logs: the key, and a buffer to open payloads into */
} replay_t;

static void drop_entries_from(pd_wal_state_t *st, size_t keep)
{
    for (size_t i = keep; i < st->n_entries; i++)
        pd_free(st->entries[i].data);
    if (keep < st->n_entries)
        st->n_entries = keep;
}

static int replay_entry(replay_t *rp, const pd_raft_entry_t *e)
{
    pd_wal_state_t *st = &rp->st;
    if (e->index == 0) {
        rp->why = "entry with index 0";
        return -PD_ECORRUPT;
    }
    if (st->n_entries) {
        uint64_t first = st->entries[0].index, last = first + st->n_entries - 1;
        if (e->index > last + 1) {
            rp->why = "gap in entry indexes";
            return -PD_ECORRUPT;
        }
        drop_entries_from(st, e->index >= first ? (size_t)(e->index - first) : 0);
    }
    if (st->n_entries == rp->cap) {
        size_t cap = rp->cap ? rp->cap * 2 : 64;
        pd_raft_entry_t *ne = pd_realloc(st->entries, cap * sizeof *ne);
        if (!ne)
            return -ENOMEM;
        st->entries = ne;
        rp->cap = cap;
    }
    pd_raft_entry_t c = *e;
    if (c.len) {
        if (!(c.data = pd_malloc(c.len)))
            return -ENOMEM;
        memcpy(c.data, e->data, c.len);
    }
    st->entries[st->n_entries++] = c;
    rp->seg_max = e->index > rp->seg_max ? e->index : rp->seg_max;
    return 0;
}

/* A sealed record's plaintext payload in w->plain (the scanner has checked its tag). */
static int open_payload(pd_wal_t *w, uint8_t type, const uint8_t **payload, uint32_t *len)
{
    size_t plain = *len - PD_SEAL_OVERHEAD;
    int rc = grow(&w->plain, &w->plain_cap, plain, 4096);
    if (rc)
        return rc;
    rc = pd_wal_unseal(w->seal.key, type, *payload, *len, w->plain);
    *payload = w->plain;
    *len = (uint32_t)plain;
    return rc ? -PD_ECORRUPT : 0;
}

static int replay_record(void *ctx, uint8_t type, const uint8_t *payload, uint32_t len, size_t off)
{
    replay_t *rp = ctx;
    rp->why_off = off;
    pd_raft_entry_t e;
    uint64_t index, term;
    uint8_t flags;
    if (type & PD_WAL_REC_SEALED) {
        int rc = open_payload(rp->w, type, &payload, &len);
        if (rc)
            return rc;
        type &= (uint8_t)~PD_WAL_REC_SEALED;
        if (type == PD_WAL_REC_ENTRY && pd_wal_decode_entry(payload, len, &e) != 0) {
            rp->why = "entry length does not match its data length";
            return -PD_ECORRUPT;
        }
    }
    switch (type) {
    case PD_WAL_REC_ENTRY:
        pd_wal_decode_entry(payload, len, &e); /* the scanner (or the check above) checked the shape */
        return replay_entry(rp, &e);
    case PD_WAL_REC_HARD_STATE:
        pd_wal_decode_hard_state(payload, len, &rp->st.hs);
        rp->st.has_hs = 1;
        return 0;
    default:
        pd_wal_decode_snapshot(payload, len, &index, &term, &flags);
        if (flags & PD_WAL_SNAP_INSTALL)
            drop_entries_from(&rp->st, 0);
        else if (rp->st.has_snap && index < rp->st.snap_index)
            return 0;
        rp->st.has_snap = 1;
        rp->st.snap_index = index;
        rp->st.snap_term = term;
        return 0;
    }
}

static int read_file(const char *path, uint64_t max, uint8_t **buf_out, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    int rc = fstat(fd, &sb) == 0 ? 0 : -errno;
    if (!rc && (uint64_t)sb.st_size > max)
        rc = -PD_ETOOBIG;
    size_t len = rc ? 0 : (size_t)sb.st_size, got = 0;
    uint8_t *buf = rc ? NULL : pd_malloc(len);
    if (!rc && !buf)
        rc = -ENOMEM;
    while (!rc && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        rc = n < 0 ? -errno : n == 0 ? -EIO : 0;
        got += n > 0 ? (size_t)n : 0;
    }
    close(fd);
    if (rc) {
        pd_free(buf);
        return rc;
    }
    *buf_out = buf;
    *len_out = len;
    return 0;
}

/* Replay one segment. For the last one, *torn_at gets the offset to truncate to (0: clean). */
static int replay_segment(pd_wal_t *w, replay_t *rp, uint32_t k, uint64_t *torn_at, char *err,
                          size_t errlen)
{
    char path[4200];
    seg_name(path, sizeof path, w->dir, &w->segs[k], "");
    uint8_t *buf;
    size_t len;
    uint64_t cap = w->seg_cap > PD_WAL_SEGMENT_BYTES_DEFAULT ? w->seg_cap : PD_WAL_SEGMENT_BYTES_DEFAULT;
    int rc = read_file(path, cap + PD_WAL_BATCH_MAX + (1u << 20), &buf, &len);
    if (rc) {
        set_err(err, errlen, "wal: cannot read %s: %s", path, pd_strerror(rc));
        return rc == -PD_ETOOBIG ? -PD_ECORRUPT : rc;
    }
    uint64_t seq, first;
    int sealed = 0;
    rc = pd_wal_header_check(buf, len, &seq, &first, &sealed);
    if (!rc && (seq != w->segs[k].seq || first != w->segs[k].first_index))
        rc = -PD_ECORRUPT;
    if (!rc && sealed != w->sealed) {
        set_err(err, errlen, sealed ? "wal: %s is encrypted and no data key was given"
                                    : "wal: %s was written unencrypted (by an older peerd); this build only reads "
                                      "encrypted Raft logs: move the data dir's raft/ aside and let the node "
                                      "rejoin", path);
        pd_free(buf);
        return -PD_EVERSION;
    }
    if (rc) {
        set_err(err, errlen, "wal: %s: bad segment header at byte offset 0 (%s)", path,
                rc == -PD_EVERSION ? "unsupported version" : "magic, checksum or name mismatch");
        pd_free(buf);
        return -PD_ECORRUPT;
    }
    pd_wal_scan_t sc;
    rp->seg_max = 0;
    rc = pd_wal_scan(buf + PD_WAL_HEADER_LEN, len - PD_WAL_HEADER_LEN, sealed ? w->seal.key : NULL,
                     replay_record, rp, &sc);
    size_t bad = PD_WAL_HEADER_LEN + (rc ? rp->why_off : sc.valid_len);
    if (!rc && sc.status == PD_WAL_SCAN_FORGED) {
        set_err(err, errlen, "wal: %s: record at byte offset %zu fails authentication (%s); refusing to open",
                path, bad, sc.reason);
        rc = -PD_ECORRUPT;
    } else if (rc == -PD_ECORRUPT) {
        set_err(err, errlen, "wal: %s: invalid record at byte offset %zu (%s); refusing to open",
                path, bad, rp->why);
    } else if (!rc && sc.status == PD_WAL_SCAN_CORRUPT) {
        set_err(err, errlen, "wal: %s: corrupt record at byte offset %zu (%s), valid records follow at "
                "byte offset %zu; refusing to open", path, bad, sc.reason,
                PD_WAL_HEADER_LEN + sc.next_valid);
        rc = -PD_ECORRUPT;
    } else if (!rc && sc.status == PD_WAL_SCAN_TORN && k + 1 < w->n_segs) {
        set_err(err, errlen, "wal: %s: bad record at byte offset %zu (%s) in a sealed segment (not "
                "the last); refusing to open", path, bad, sc.reason);
        rc = -PD_ECORRUPT;
    } else if (!rc) {
        *torn_at = sc.status == PD_WAL_SCAN_TORN ? bad : 0;
        if (*torn_at)
            PD_WARN(w->log, "wal torn tail file=%s offset=%zu dropped_bytes=%zu reason=\"%s\"", path,
                    bad, len - bad, sc.reason);
        w->seg_size = len;
        w->segs[k].max_index = rp->seg_max;
    } else {
        set_err(err, errlen, "wal: replaying %s: %s", path, pd_strerror(rc));
    }
    pd_free(buf);
    return rc;
}

static int cmp_seg(const void *a, const void *b)
{
    const wal_seg_t *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Collect segment names (sorted by seq), removing temp files left by a crash mid-rotation. */
static int list_segments(pd_wal_t *w, char *err, size_t errlen)
{
    DIR *d = opendir(w->dir);
    if (!d) {
        int e = errno;
        set_err(err, errlen, "wal: cannot open directory %s: %s", w->dir, strerror(e));
        return -e;
    }
    struct dirent *de;
    int rc = 0;
    wal_seg_t s;
    while (!rc && (de = readdir(d)) != NULL) {
        int kind = parse_name(de->d_name, &s);
        if (kind == 2) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", w->dir, de->d_name);
            unlink(path);
        } else if (kind == 1 && !(rc = segs_reserve(w, w->n_segs + 1))) {
            w->segs[w->n_segs++] = s;
        }
    }
    closedir(d);
    if (rc) {
        set_err(err, errlen, "wal: listing %s: %s", w->dir, pd_strerror(rc));
        return rc;
    }
    if (w->n_segs)
        qsort(w->segs, w->n_segs, sizeof *w->segs, cmp_seg);
    for (uint32_t i = 1; i < w->n_segs; i++) {
        if (w->segs[i].seq != w->segs[i - 1].seq + 1) {
            char path[4200];
            seg_name(path, sizeof path, w->dir, &w->segs[i], "");
            set_err(err, errlen, "wal: gap (or duplicate) in segment sequence at %s (expected seq %016" PRIx64
                    "); refusing to open", path, w->segs[i - 1].seq + 1);
            return -PD_ECORRUPT;
        }
    }
    return 0;
}

/* Replay every segment into rp; cut a torn tail off the last one. */
static int replay_all(pd_wal_t *w, replay_t *rp, char *err, size_t errlen)
{
    uint64_t torn_at = 0;
    for (uint32_t k = 0; k < w->n_segs; k++) {
        int rc = replay_segment(w, rp, k, &torn_at, err, errlen);
        if (rc)
            return rc;
    }
    pd_wal_state_t *st = &rp->st;
    st->last_index = st->n_entries ? st->entries[st->n_entries - 1].index : st->snap_index;
    st->first_index = st->n_entries ? st->entries[0].index : st->snap_index + 1;
    if (st->n_entries && st->first_index > st->snap_index + 1) {
        set_err(err, errlen, "wal: %s: entries start at index %" PRIu64 " but the snapshot marker is at "
                "%" PRIu64 " (missing segments?); refusing to open", w->dir, st->first_index,
                st->snap_index);
        return -PD_ECORRUPT;
    }
    char path[4200];
    seg_name(path, sizeof path, w->dir, &w->segs[w->n_segs - 1], "");
    int e = 0;
    if ((w->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 ||
        (torn_at && (ftruncate(w->fd, (off_t)torn_at) != 0 || fsync(w->fd) != 0)))
        e = errno;
    if (e) {
        set_err(err, errlen, "wal: cannot open or truncate %s: %s", path, strerror(e));
        return -e;
    }
    if (torn_at) {
        st->truncated_bytes = w->seg_size - torn_at;
        w->seg_size = torn_at;
    }
    return 0;
}

/* --- Writer -------------------------------------------------------------------------------- */

/* Create segment `s` holding the header plus copies of the durable hard state and snapshot
 * marker: written under a temp name, fdatasynced, renamed, directory fsynced. */
static int seg_create(pd_wal_t *w, const wal_seg_t *s, int *fd_out, uint64_t *size_out)
{
    uint8_t head[PD_WAL_HEADER_LEN + 2 * (PD_WAL_REC_HDR_LEN + PD_SEAL_OVERHEAD) + PD_WAL_HARD_STATE_LEN +
                 PD_WAL_SNAPSHOT_LEN];
    pd_wal_header_encode(head, s->seq, s->first_index, w->sealed);
    pd_wbuf_t wb;
    pd_wbuf_init(&wb, head, sizeof head);
    wb.len = PD_WAL_HEADER_LEN;
    if (w->dur.has_hs)
        pd_wal_encode_hard_state(&wb, &w->dur.hs, sealer(w));
    if (w->dur.has_snap)
        pd_wal_encode_snapshot(&wb, w->dur.snap_index, w->dur.snap_term, 0, sealer(w));
    char tmp[4200], path[4200];
    seg_name(tmp, sizeof tmp, w->dir, s, ".tmp");
    seg_name(path, sizeof path, w->dir, s, "");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = pd_pwrite_all(fd, head, wb.len, 0);
    if (!rc)
        rc = fdatasync(fd) == 0 ? 0 : -errno;
    if (!rc)
        rc = rename(tmp, path) == 0 ? 0 : -errno;
    if (!rc)
        rc = pd_fsync_dir(w->dir);
    if (rc) {
        close(fd);
        unlink(tmp);
        return rc;
    }
    w->st.fdatasyncs++;
    w->st.dir_fsyncs++;
    w->st.segments_created++;
    w->st.bytes_written += wb.len;
    *fd_out = fd;
    *size_out = wb.len;
    return 0;
}

/* Seal the active segment (already synced) and start the next one. */
static int rotate(pd_wal_t *w)
{
    int rc = segs_reserve(w, w->n_segs + 1);
    if (rc)
        return rc;
    wal_seg_t s = {.seq = w->segs[w->n_segs - 1].seq + 1, .first_index = w->dur.last_index + 1};
    int fd;
    uint64_t size;
    if ((rc = seg_create(w, &s, &fd, &size)) != 0) {
        PD_ERROR(w->log, "wal rotation failed dir=%s err=%s", w->dir, pd_strerror(rc));
        return w->err = rc;
    }
    close(w->fd);
    w->fd = fd;
    w->seg_size = size;
    w->segs[w->n_segs++] = s;
    PD_DEBUG(w->log, "wal segment created seq=%" PRIu64 " first_index=%" PRIu64, s.seq, s.first_index);
    return 0;
}

int pd_wal_sync(pd_wal_t *w)
{
    if (w->err || !w->pend.len)
        return w->err;
    int rc = w->seg_size >= w->seg_cap ? rotate(w) : 0;
    if (rc)
        return rc;
    rc = pd_pwrite_all(w->fd, w->buf, w->pend.len, w->seg_size);
    if (!rc && fdatasync(w->fd) != 0)
        rc = -errno;
    if (rc) {
        PD_ERROR(w->log, "wal write failed dir=%s bytes=%zu err=%s; refusing further writes", w->dir,
                 w->pend.len, pd_strerror(rc));
        return w->err = rc;
    }
    wal_seg_t *act = &w->segs[w->n_segs - 1];
    act->max_index = w->pend.max_index > act->max_index ? w->pend.max_index : act->max_index;
    w->seg_size += w->pend.len;
    w->st.bytes_written += w->pend.len;
    w->st.records += w->pend.records;
    w->st.entries += w->pend.entries;
    w->st.syncs++;
    w->st.fdatasyncs++;
    memset(&w->pend, 0, sizeof w->pend);
    w->dur = w->view;
    return 0;
}

/* Room for `more` bytes in the batch, and a writer over it. */
static int batch_open(pd_wal_t *w, size_t more, pd_wbuf_t *wb)
{
    if (w->err)
        return w->err;
    if (more > PD_WAL_BATCH_MAX - w->pend.len)
        return -PD_ELIMIT;
    int rc = grow(&w->buf, &w->buf_cap, w->pend.len + more, BATCH_INITIAL);
    if (rc)
        return rc;
    pd_wbuf_init(wb, w->buf + w->pend.len, w->buf_cap - w->pend.len);
    return 0;
}

int pd_wal_append_entries(pd_wal_t *w, const pd_raft_entry_t *entries, size_t n)
{
    uint64_t last = w->view.last_index;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const pd_raft_entry_t *e = &entries[i];
        if (e->index <= w->view.snap_index || e->index > last + 1 || (e->len && !e->data))
            return -PD_EUSAGE;
        if (e->len > PD_WAL_ENTRY_DATA_MAX)
            return -PD_ETOOBIG;
        last = e->index;
        bytes += pd_wal_entry_record_len(e) + (w->sealed ? PD_SEAL_OVERHEAD : 0);
    }
    pd_wbuf_t wb;
    int rc = batch_open(w, bytes, &wb);
    if (rc || !n)
        return rc;
    for (size_t i = 0; i < n; i++) {
        pd_wal_encode_entry(&wb, &entries[i], sealer(w));
        if (entries[i].index > w->pend.max_index)
            w->pend.max_index = entries[i].index;
    }
    w->pend.len += wb.len;
    w->pend.records += n;
    w->pend.entries += n;
    w->view.last_index = last;
    return 0;
}

int pd_wal_append_hard_state(pd_wal_t *w, const pd_raft_hard_state_t *hs)
{
    pd_wbuf_t wb;
    int rc = batch_open(w, PD_WAL_REC_HDR_LEN + PD_WAL_HARD_STATE_LEN + PD_SEAL_OVERHEAD, &wb);
    if (rc)
        return rc;
    pd_wal_encode_hard_state(&wb, hs, sealer(w));
    w->pend.len += wb.len;
    w->pend.records++;
    w->view.has_hs = 1;
    w->view.hs = *hs;
    return 0;
}

int pd_wal_append_snapshot(pd_wal_t *w, uint64_t index, uint64_t term, unsigned flags)
{
    int install = (flags & PD_WAL_SNAP_INSTALL) != 0;
    if ((flags & ~PD_WAL_SNAP_INSTALL) || index == 0 ||
        (!install && (index > w->view.last_index || index < w->view.snap_index)))
        return -PD_EUSAGE;
    pd_wbuf_t wb;
    int rc = batch_open(w, PD_WAL_REC_HDR_LEN + PD_WAL_SNAPSHOT_LEN + PD_SEAL_OVERHEAD, &wb);
    if (rc)
        return rc;
    pd_wal_encode_snapshot(&wb, index, term, (uint8_t)flags, sealer(w));
    w->pend.len += wb.len;
    w->pend.records++;
    w->view.has_snap = 1;
    w->view.snap_index = index;
    w->view.snap_term = term;
    if (install)
        w->view.last_index = index;
    return 0;
}

int pd_wal_append_ready(pd_wal_t *w, const pd_raft_ready_t *rd)
{
    wal_view_t view = w->view;
    wal_pend_t pend = w->pend;
    int rc = 0;
    if (rd->snapshot)
        rc = pd_wal_append_snapshot(w, rd->snapshot->meta.index, rd->snapshot->meta.term,
                                    PD_WAL_SNAP_INSTALL);
    /* entries before the hard state: a torn batch may keep a prefix of its records, and a commit
     * index must never survive without the entries it covers (the raft sim found this) */
    if (!rc && rd->n_entries)
        rc = pd_wal_append_entries(w, rd->entries, rd->n_entries);
    if (!rc && rd->has_hs)
        rc = pd_wal_append_hard_state(w, &rd->hs);
    if (rc) { /* all or nothing */
        w->view = view;
        w->pend = pend;
    }
    return rc;
}

int pd_wal_release(pd_wal_t *w, uint64_t first_index, unsigned *removed_out)
{
    if (w->err)
        return w->err;
    if (first_index > w->dur.snap_index + 1)
        return -PD_EUSAGE;
    uint32_t k = 0;
    uint64_t max = 0;
    for (; k + 1 < w->n_segs; k++) {
        max = w->segs[k].max_index > max ? w->segs[k].max_index : max;
        if (max >= first_index)
            break;
    }
    uint32_t done = 0;
    int rc = 0;
    for (; done < k; done++) { /* oldest first: a crash leaves a contiguous suffix */
        char path[4200];
        seg_name(path, sizeof path, w->dir, &w->segs[done], "");
        if (unlink(path) != 0 && errno != ENOENT) {
            rc = -errno;
            break;
        }
    }
    if (done) {
        int drc = pd_fsync_dir(w->dir);
        rc = rc ? rc : drc;
        w->st.dir_fsyncs++;
        w->st.segments_removed += done;
        memmove(w->segs, w->segs + done, (size_t)(w->n_segs - done) * sizeof *w->segs);
        w->n_segs -= done;
    }
    if (removed_out && !rc)
        *removed_out = done;
    return rc;
}

/* --- Open / close -------------------------------------------------------------------------- */

static int ensure_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) == 0) { /* new: make its name in the parent durable */
        char parent[4200];
        snprintf(parent, sizeof parent, "%s", dir);
        return pd_fsync_dir(dirname(parent));
    }
    int e = errno;
    if (e == EEXIST)
        return 0;
    set_err(err, errlen, "wal: cannot create %s: %s", dir, strerror(e));
    return -e;
}

static int wal_load(pd_wal_t *w, replay_t *rp, char *err, size_t errlen)
{
    int rc = ensure_dir(w->dir, err, errlen);
    if (!rc)
        rc = list_segments(w, err, errlen);
    if (!rc && !w->n_segs) { /* a brand-new WAL */
        wal_seg_t s = {.seq = 1, .first_index = 1};
        if (!(rc = segs_reserve(w, 1)) && !(rc = seg_create(w, &s, &w->fd, &w->seg_size)))
            w->segs[w->n_segs++] = s;
        else
            set_err(err, errlen, "wal: cannot create a segment in %s: %s", w->dir, pd_strerror(rc));
        return rc;
    }
    if (rc || (rc = replay_all(w, rp, err, errlen)) != 0)
        return rc;
    pd_wal_state_t *st = &rp->st;
    wal_view_t v = {.has_hs = st->has_hs, .has_snap = st->has_snap, .hs = st->hs,
                    .snap_index = st->snap_index, .snap_term = st->snap_term,
                    .last_index = st->last_index};
    w->view = w->dur = v;
    return 0;
}

int pd_wal_open(const pd_wal_opts_t *opts, pd_wal_t **wal_out, pd_wal_state_t *state_out,
                char *err, size_t errlen)
{
    if (!opts || !opts->dir || !*opts->dir || strlen(opts->dir) > 4000 ||
        (opts->segment_bytes && opts->segment_bytes < PD_WAL_SEGMENT_BYTES_MIN)) {
        set_err(err, errlen, "wal: bad options");
        return -PD_EUSAGE;
    }
    pd_wal_t *w = pd_calloc(1, sizeof *w);
    if (!w || !(w->dir = pd_strdup(opts->dir))) {
        pd_free(w);
        set_err(err, errlen, "wal: out of memory");
        return -ENOMEM;
    }
    w->fd = -1;
    w->log = opts->log ? opts->log : &pd_log_null;
    w->seg_cap = opts->segment_bytes ? opts->segment_bytes : PD_WAL_SEGMENT_BYTES_DEFAULT;
    if (opts->key) {
        w->sealed = 1;
        pd_sealer_init(&w->seal, opts->key);
    }
    replay_t rp = {.w = w};
    int rc = wal_load(w, &rp, err, errlen);
    pd_free(w->plain); /* only recovery opens payloads */
    w->plain = NULL;
    w->plain_cap = 0;
    if (rc) {
        pd_wal_state_free(&rp.st);
        pd_wal_close(w);
        return rc;
    }
    rp.st.n_segments = w->n_segs;
    if (!rp.st.n_entries)
        rp.st.first_index = rp.st.snap_index + 1;
    PD_INFO(w->log, "wal opened dir=%s segments=%u entries=%zu first=%" PRIu64 " last=%" PRIu64
            " truncated_bytes=%" PRIu64, w->dir, w->n_segs, rp.st.n_entries, rp.st.first_index,
            rp.st.last_index, rp.st.truncated_bytes);
    *state_out = rp.st;
    *wal_out = w;
    return 0;
}

void pd_wal_close(pd_wal_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    pd_free(w->buf);
    pd_free(w->plain);
    pd_sealer_wipe(&w->seal);
    pd_free(w->segs);
    pd_free(w->dir);
    pd_free(w);
}

void pd_wal_state_free(pd_wal_state_t *st)
{
    drop_entries_from(st, 0);
    pd_free(st->entries);
    memset(st, 0, sizeof *st);
}

void pd_wal_state_to_raft(const pd_wal_state_t *st, pd_raft_config_t *cfg)
{
    cfg->hs = st->has_hs ? &st->hs : NULL;
    cfg->entries = st->entries;
    cfg->n_entries = st->n_entries;
}

uint64_t pd_wal_last_index(const pd_wal_t *w) { return w->view.last_index; }
uint64_t pd_wal_snap_index(const pd_wal_t *w) { return w->view.snap_index; }

void pd_wal_stats(const pd_wal_t *w, pd_wal_stats_t *out)
{
    *out = w->st;
    out->pending_bytes = w->pend.len;
}
