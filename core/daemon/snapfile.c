/* Raft snapshot files (format and policy in snapfile.h). */
#include "snapfile.h"

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
#include "pd_buf.h"
#include "pd_crc32c.h"
#include "pd_err.h"
#include "pd_file.h"
#include "seal.h"

static const uint8_t snap_magic[8] = {'p', 'e', 'e', 'r', 'd', 'S', 'N', 'P'};

#define NAME_LEN 43u /* snap-<16>-<16>.snap */

typedef struct {
    uint64_t term, index;
} snap_id_t;

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int parse_hex16(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 1;
}

/* 1: a snapshot name, 2: its temp name, 0: something else. */
static int parse_name(const char *name, snap_id_t *id)
{
    size_t n = strlen(name);
    if ((n != NAME_LEN && n != NAME_LEN + 4) || memcmp(name, "snap-", 5) != 0 || name[21] != '-' ||
        memcmp(name + 38, ".snap", 5) != 0 || !parse_hex16(name + 5, &id->term) ||
        !parse_hex16(name + 22, &id->index))
        return 0;
    if (n == NAME_LEN)
        return 1;
    return strcmp(name + NAME_LEN, ".tmp") == 0 ? 2 : 0;
}

static void make_name(char *out, size_t cap, snap_id_t id)
{
    snprintf(out, cap, "snap-%016" PRIx64 "-%016" PRIx64 ".snap", id.term, id.index);
}

static void encode_header(uint8_t out[PD_SNAPFILE_HEADER_LEN], uint64_t index, uint64_t term,
                          uint32_t mlen, uint64_t dlen, uint32_t flags)
{
    pd_wbuf_t w;
    pd_wbuf_init(&w, out, PD_SNAPFILE_HEADER_LEN);
    pd_wbuf_put(&w, snap_magic, sizeof snap_magic);
    pd_wbuf_u32(&w, PD_SNAPFILE_VERSION);
    pd_wbuf_u32(&w, flags);
    pd_wbuf_u64(&w, index);
    pd_wbuf_u64(&w, term);
    pd_wbuf_u32(&w, mlen);
    pd_wbuf_u64(&w, dlen);
}

/* Header, body and trailer into fd, then fsync. */
static int write_parts(int fd, const uint8_t hdr[PD_SNAPFILE_HEADER_LEN], const void *m, size_t mlen,
                       const void *d, size_t dlen)
{
    uint8_t trl[PD_SNAPFILE_TRAILER_LEN];
    uint32_t crc = pd_crc32c(hdr, PD_SNAPFILE_HEADER_LEN);
    crc = pd_crc32c_extend(crc, m, mlen);
    crc = pd_crc32c_extend(crc, d, dlen);
    pd_put_u32(trl, crc);
    int rc = pd_write_all(fd, hdr, PD_SNAPFILE_HEADER_LEN);
    if (!rc)
        rc = pd_write_all(fd, m, mlen);
    if (!rc)
        rc = pd_write_all(fd, d, dlen);
    if (!rc)
        rc = pd_write_all(fd, trl, sizeof trl);
    if (!rc && fsync(fd) != 0)
        rc = -errno;
    return rc;
}

/* Plain: the parts as they are. Sealed: membership and data copied into one buffer and sealed
 * in place under the header as associated data (one allocation per snapshot). */
static int write_body(int fd, uint64_t index, uint64_t term, const void *m, size_t mlen, const void *d,
                      size_t dlen, const uint8_t *key)
{
    uint8_t hdr[PD_SNAPFILE_HEADER_LEN];
    encode_header(hdr, index, term, (uint32_t)mlen, dlen, key ? PD_SNAPFILE_SEALED : 0);
    if (!key)
        return write_parts(fd, hdr, m, mlen, d, dlen);
    size_t plain = mlen + dlen;
    uint8_t *buf = pd_malloc(plain + PD_SEAL_OVERHEAD);
    if (!buf)
        return -ENOMEM;
    if (mlen)
        memcpy(buf + PD_SEAL_NONCE_LEN, m, mlen);
    if (dlen)
        memcpy(buf + PD_SEAL_NONCE_LEN + mlen, d, dlen);
    pd_sealer_t s;
    pd_sealer_init(&s, key);
    pd_seal(&s, hdr, sizeof hdr, buf, plain);
    pd_sealer_wipe(&s);
    int rc = write_parts(fd, hdr, buf, plain + PD_SEAL_OVERHEAD, NULL, 0);
    pd_free(buf);
    return rc;
}

int pd_snapfile_write(const char *dir, uint64_t index, uint64_t term, const void *membership,
                      size_t membership_len, const void *data, size_t data_len, const uint8_t *key,
                      char *err, size_t errlen)
{
    if (!dir || strlen(dir) > 4000 || index == 0 || (membership_len && !membership) ||
        (data_len && !data)) {
        set_err(err, errlen, "snapfile: bad arguments");
        return -PD_EUSAGE;
    }
    if (membership_len > PD_SNAPFILE_MEMBERSHIP_MAX || data_len > PD_SNAPFILE_DATA_MAX) {
        set_err(err, errlen, "snapfile: snapshot too big (membership %zu, data %zu bytes)",
                membership_len, data_len);
        return -PD_ETOOBIG;
    }
    char name[64], tmp[4200], path[4200];
    int rc = 0;
    if (mkdir(dir, 0700) == 0) { /* new: make its name in the parent durable too */
        snprintf(tmp, sizeof tmp, "%s", dir);
        rc = pd_fsync_dir(dirname(tmp));
    } else if (errno != EEXIST) {
        rc = -errno;
    }
    if (rc) {
        set_err(err, errlen, "snapfile: cannot create %s: %s", dir, pd_strerror(rc));
        return rc;
    }
    make_name(name, sizeof name, (snap_id_t){term, index});
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        set_err(err, errlen, "snapfile: cannot create %s: %s", tmp, pd_strerror(rc));
        return rc;
    }
    rc = write_body(fd, index, term, membership, membership_len, data, data_len, key);
    close(fd);
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc) {
        unlink(tmp);
        set_err(err, errlen, "snapfile: cannot write %s: %s", path, pd_strerror(rc));
        return rc;
    }
    if ((rc = pd_fsync_dir(dir)) != 0)
        set_err(err, errlen, "snapfile: cannot fsync directory %s: %s", dir, pd_strerror(rc));
    return rc;
}

int pd_snapfile_parse(const uint8_t *buf, size_t len, pd_snapfile_t *out, const char **why)
{
    const char *w = NULL;
    pd_rbuf_t r;
    pd_rbuf_init(&r, buf, len);
    const uint8_t *magic = pd_rbuf_take(&r, sizeof snap_magic);
    uint32_t version = pd_rbuf_u32(&r), flags = pd_rbuf_u32(&r);
    uint64_t index = pd_rbuf_u64(&r), term = pd_rbuf_u64(&r);
    uint32_t mlen = pd_rbuf_u32(&r);
    uint64_t dlen = pd_rbuf_u64(&r);
    if (r.err || memcmp(magic, snap_magic, sizeof snap_magic) != 0)
        w = "bad magic or short header";
    else if (version != PD_SNAPFILE_VERSION || (flags & ~PD_SNAPFILE_SEALED))
        w = "unsupported version";
    uint64_t over = flags & PD_SNAPFILE_SEALED ? PD_SEAL_OVERHEAD : 0;
    if (!w && (mlen > PD_SNAPFILE_MEMBERSHIP_MAX || dlen > PD_SNAPFILE_DATA_MAX ||
               len != PD_SNAPFILE_HEADER_LEN + over + mlen + dlen + PD_SNAPFILE_TRAILER_LEN))
        w = "size does not match the header";
    else if (!w && pd_crc32c(buf, len - PD_SNAPFILE_TRAILER_LEN) != pd_get_u32(buf + len - 4))
        w = "checksum mismatch";
    if (w) {
        if (why)
            *why = w;
        return strcmp(w, "unsupported version") == 0 ? -PD_EVERSION : -PD_ECORRUPT;
    }
    out->index = index;
    out->term = term;
    out->sealed = over != 0;
    out->membership = buf + PD_SNAPFILE_HEADER_LEN + (over ? PD_SEAL_NONCE_LEN : 0);
    out->membership_len = mlen;
    out->data = out->membership + mlen;
    out->data_len = (size_t)dlen;
    return 0;
}

int pd_snapfile_unseal(uint8_t *buf, size_t len, const pd_snapfile_t *s, const uint8_t *key)
{
    size_t plain = s->membership_len + s->data_len;
    if (!s->sealed || len < PD_SNAPFILE_HEADER_LEN + PD_SEAL_OVERHEAD + plain)
        return -PD_EUSAGE;
    return pd_seal_open(key, buf, PD_SNAPFILE_HEADER_LEN, buf + PD_SNAPFILE_HEADER_LEN, plain + PD_SEAL_OVERHEAD,
                        buf + PD_SNAPFILE_HEADER_LEN + PD_SEAL_NONCE_LEN);
}

static int read_file(const char *path, uint8_t **buf_out, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    int rc = fstat(fd, &sb) == 0 ? 0 : -errno;
    if (!rc && (uint64_t)sb.st_size > (uint64_t)PD_SNAPFILE_HEADER_LEN + PD_SEAL_OVERHEAD +
                                          PD_SNAPFILE_MEMBERSHIP_MAX + PD_SNAPFILE_DATA_MAX +
                                          PD_SNAPFILE_TRAILER_LEN)
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

static int cmp_newest_first(const void *a, const void *b)
{
    const snap_id_t *x = a, *y = b;
    if (x->index != y->index)
        return x->index > y->index ? -1 : 1;
    return x->term > y->term ? -1 : x->term < y->term;
}

/* Snapshot ids in dir, newest first (temp files deleted). -ENOENT when dir is missing. */
static int list_snaps(const char *dir, snap_id_t **ids_out, size_t *n_out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    snap_id_t *ids = NULL, id;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d)) != NULL) {
        int kind = parse_name(de->d_name, &id);
        if (kind == 2) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
            continue;
        }
        if (kind != 1)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            snap_id_t *ni = cap > PD_SNAPFILE_FILES_MAX ? NULL : pd_realloc(ids, cap * sizeof *ni);
            rc = ni ? 0 : cap > PD_SNAPFILE_FILES_MAX ? -PD_ELIMIT : -ENOMEM;
            ids = ni ? ni : ids;
        }
        if (!rc)
            ids[n++] = id;
    }
    closedir(d);
    if (rc) {
        pd_free(ids);
        return rc;
    }
    if (n)
        qsort(ids, n, sizeof *ids, cmp_newest_first);
    *ids_out = ids;
    *n_out = n;
    return 0;
}

/* Read and check one snapshot file (and open it with key). 0, -PD_ECORRUPT (*why set), -PD_EVERSION
 * (sealed or not, against the key) or a read error. */
static int load_one(const char *dir, snap_id_t id, const uint8_t *key, pd_snapfile_t *out, const char **why)
{
    char path[4200];
    make_name(out->name, sizeof out->name, id);
    snprintf(path, sizeof path, "%s/%s", dir, out->name);
    uint8_t *buf;
    size_t len;
    int rc = read_file(path, &buf, &len);
    if (rc == -PD_ETOOBIG) {
        *why = "file larger than any valid snapshot";
        return -PD_ECORRUPT;
    }
    if (rc)
        return rc;
    rc = pd_snapfile_parse(buf, len, out, why);
    if (!rc && (out->index != id.index || out->term != id.term)) {
        *why = "index/term in the header do not match the file name";
        rc = -PD_ECORRUPT;
    }
    if (rc == -PD_EVERSION)
        rc = -PD_ECORRUPT;
    if (!rc && out->sealed != (key != NULL)) {
        *why = key ? "written unencrypted (by an older peerd); this build only reads encrypted snapshots"
                   : "encrypted, and no data key was given";
        rc = -PD_EVERSION;
    }
    if (!rc && key && pd_snapfile_unseal(buf, len, out, key) != 0) {
        *why = "authentication failed (another data key, or the file was altered)";
        rc = -PD_ECORRUPT;
    }
    if (rc) {
        pd_free(buf);
        return rc;
    }
    out->mem = buf;
    return 0;
}

int pd_snapfile_load(const char *dir, unsigned flags, const uint8_t *key, const pd_log_t *log,
                     pd_snapfile_t *out, char *err, size_t errlen)
{
    log = log ? log : &pd_log_null;
    snap_id_t *ids = NULL;
    size_t n = 0;
    int rc = list_snaps(dir, &ids, &n);
    if (rc == -ENOENT) {
        set_err(err, errlen, "snapfile: no snapshot in %s (no directory)", dir);
        return -PD_ENOTFOUND;
    }
    if (rc) {
        set_err(err, errlen, "snapfile: cannot list %s: %s", dir, pd_strerror(rc));
        return rc;
    }
    pd_snapfile_t s = {0};
    rc = -PD_ENOTFOUND;
    set_err(err, errlen, "snapfile: no snapshot in %s", dir);
    for (size_t i = 0; i < n; i++) {
        const char *why = "";
        rc = load_one(dir, ids[i], key, &s, &why);
        if (rc == -PD_ECORRUPT && (flags & PD_SNAPFILE_FALLBACK)) {
            PD_WARN(log, "snapfile corrupt, falling back to an older one file=%s/%s reason=\"%s\"", dir,
                    s.name, why);
            s.skipped++;
            continue;
        }
        if (rc == -PD_ECORRUPT)
            set_err(err, errlen, "snapfile: newest snapshot %s/%s is corrupt (%s); refusing to load it "
                    "(move it aside to use an older one)", dir, s.name, why);
        else if (rc == -PD_EVERSION)
            set_err(err, errlen, "snapfile: %s/%s is %s", dir, s.name, why);
        else if (rc)
            set_err(err, errlen, "snapfile: cannot read %s/%s: %s", dir, s.name, pd_strerror(rc));
        break;
    }
    pd_free(ids);
    if (rc == -PD_ECORRUPT && (flags & PD_SNAPFILE_FALLBACK)) { /* every one was skipped */
        set_err(err, errlen, "snapfile: all %u snapshots in %s are corrupt", s.skipped, dir);
        rc = -PD_ECORRUPT;
    }
    if (!rc)
        *out = s;
    return rc;
}

void pd_snapfile_free(pd_snapfile_t *s)
{
    pd_free(s->mem);
    memset(s, 0, sizeof *s);
}

int pd_snapfile_prune(const char *dir, unsigned keep, unsigned *removed_out)
{
    if (keep == 0)
        return -PD_EUSAGE;
    snap_id_t *ids = NULL;
    size_t n = 0;
    int rc = list_snaps(dir, &ids, &n);
    if (rc)
        return rc == -ENOENT ? 0 : rc;
    unsigned removed = 0;
    for (size_t i = keep; i < n && !rc; i++) {
        char name[64], path[4200];
        make_name(name, sizeof name, ids[i]);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (unlink(path) == 0)
            removed++;
        else if (errno != ENOENT)
            rc = -errno;
    }
    pd_free(ids);
    if (removed) {
        int drc = pd_fsync_dir(dir);
        rc = rc ? rc : drc;
    }
    if (!rc && removed_out)
        *removed_out = removed;
    return rc;
}

size_t pd_snapfile_conf_encode(const pd_raft_conf_t *c, uint8_t out[PD_SNAPFILE_CONF_MAX])
{
    pd_wbuf_t w;
    pd_wbuf_init(&w, out, PD_SNAPFILE_CONF_MAX);
    pd_wbuf_u32(&w, c->n_voters);
    pd_wbuf_u32(&w, c->n_learners);
    for (uint32_t i = 0; i < c->n_voters && i < PD_RAFT_NODES_MAX; i++)
        pd_wbuf_u64(&w, c->voters[i]);
    for (uint32_t i = 0; i < c->n_learners && i < PD_RAFT_NODES_MAX; i++)
        pd_wbuf_u64(&w, c->learners[i]);
    return w.len;
}

int pd_snapfile_conf_decode(const uint8_t *buf, size_t len, pd_raft_conf_t *out)
{
    pd_rbuf_t r;
    pd_rbuf_init(&r, buf, len);
    pd_raft_conf_t c;
    memset(&c, 0, sizeof c);
    c.n_voters = pd_rbuf_u32(&r);
    c.n_learners = pd_rbuf_u32(&r);
    if (r.err || c.n_voters > PD_RAFT_NODES_MAX || c.n_learners > PD_RAFT_NODES_MAX ||
        c.n_voters + c.n_learners > PD_RAFT_NODES_MAX ||
        len != 8u + 8u * ((size_t)c.n_voters + c.n_learners))
        return -PD_ECORRUPT;
    for (uint32_t i = 0; i < c.n_voters; i++)
        c.voters[i] = pd_rbuf_u64(&r);
    for (uint32_t i = 0; i < c.n_learners; i++)
        c.learners[i] = pd_rbuf_u64(&r);
    *out = c;
    return 0;
}

int pd_snapfile_to_raft(const pd_snapfile_t *s, pd_raft_snapshot_t *out)
{
    pd_raft_snapshot_t rs;
    memset(&rs, 0, sizeof rs);
    int rc = pd_snapfile_conf_decode(s->membership, s->membership_len, &rs.meta.conf);
    if (rc)
        return rc;
    rs.meta.index = s->index;
    rs.meta.term = s->term;
    rs.data = (uint8_t *)s->data;
    rs.len = s->data_len;
    *out = rs;
    return 0;
}
