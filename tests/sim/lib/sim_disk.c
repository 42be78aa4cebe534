/* A simulated disk: one growable byte array with two images.
 *   cur  what reads see: every write applied at once (the page cache);
 *   dur  what survives a crash: only what a sync made durable.
 * The writes and truncates since the last sync are kept as a list of operations. A sync applies
 * them to dur. A crash applies a random prefix of them to dur, maybe a torn leading part of the
 * next write, drops the rest, and resets cur to dur.
 *
 * Every buffer a sync or crash will need is reserved when the write is accepted, so sync and
 * crash never allocate and never fail, and a write that runs out of memory changes nothing. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "sim_internal.h"

typedef enum { OP_WRITE = 1, OP_TRUNCATE = 2 } op_kind_t;

typedef struct {
    uint8_t kind;
    uint64_t off;  /* write: offset; truncate: the new size */
    uint64_t len;  /* write: byte count */
    uint8_t *data; /* write: a private copy */
} disk_op_t;

struct pd_sim_disk {
    uint8_t *cur, *dur;
    uint64_t cur_len, dur_len;
    uint64_t cur_cap, dur_cap;
    disk_op_t *ops; /* unsynced, oldest first */
    size_t nops, ops_cap;
    pd_sim_disk_stats_t stats;
};

int pd_sim_disk_new(pd_sim_disk_t **out)
{
    pd_sim_disk_t *d = pd_calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    *out = d;
    return 0;
}

static void drop_ops(pd_sim_disk_t *d)
{
    for (size_t i = 0; i < d->nops; i++)
        pd_free(d->ops[i].data);
    d->nops = 0;
}

void pd_sim_disk_free(pd_sim_disk_t *d)
{
    if (!d)
        return;
    drop_ops(d);
    pd_free(d->ops);
    pd_free(d->cur);
    pd_free(d->dur);
    pd_free(d);
}

uint64_t pd_sim_disk_size(const pd_sim_disk_t *d) { return d->cur_len; }
const uint8_t *pd_sim_disk_data(const pd_sim_disk_t *d) { return d->cur_len ? d->cur : NULL; }
size_t pd_sim_disk_unsynced_ops(const pd_sim_disk_t *d) { return d->nops; }
const pd_sim_disk_stats_t *pd_sim_disk_stats(const pd_sim_disk_t *d) { return &d->stats; }

size_t pd_sim_disk_read(const pd_sim_disk_t *d, uint64_t off, void *buf, size_t len)
{
    if (off >= d->cur_len)
        return 0;
    size_t n = (size_t)PD_MIN((uint64_t)len, d->cur_len - off);
    memcpy(buf, d->cur + off, n);
    return n;
}

/* ---- applying operations to an image ---------------------------------------------------------- */

static void image_write(uint8_t *buf, uint64_t *len, uint64_t off, const uint8_t *data, uint64_t n)
{
    if (off > *len)
        memset(buf + *len, 0, off - *len);
    if (n)
        memcpy(buf + off, data, n);
    *len = PD_MAX(*len, off + n);
}

static void image_truncate(uint8_t *buf, uint64_t *len, uint64_t size)
{
    if (size > *len)
        memset(buf + *len, 0, size - *len);
    *len = size;
}

/* Apply op to an image, keeping only its first `keep` bytes if it is a write. */
static void image_apply(uint8_t *buf, uint64_t *len, const disk_op_t *op, uint64_t keep)
{
    if (op->kind == OP_WRITE)
        image_write(buf, len, op->off, op->data, PD_MIN(keep, op->len));
    else
        image_truncate(buf, len, op->off);
}

/* ---- accepting operations ----------------------------------------------------------------------- */

static int reserve_buf(uint8_t **buf, uint64_t *cap, uint64_t need)
{
    if (need <= *cap)
        return 0;
    uint64_t ncap = PD_MAX(need, PD_MAX(*cap * 2, (uint64_t)4096));
    ncap = PD_MIN(ncap, PD_SIM_DISK_MAX);
    uint8_t *p = pd_realloc(*buf, (size_t)ncap);
    if (!p)
        return -ENOMEM;
    *buf = p;
    *cap = ncap;
    return 0;
}

/* Make room for one more unsynced op reaching `extent` bytes, in both images and the op list. */
static int reserve(pd_sim_disk_t *d, uint64_t extent)
{
    if (d->nops == d->ops_cap) {
        size_t ncap = d->ops_cap ? d->ops_cap * 2 : 16;
        disk_op_t *ops = pd_realloc(d->ops, ncap * sizeof *ops);
        if (!ops)
            return -ENOMEM;
        d->ops = ops;
        d->ops_cap = ncap;
    }
    int rc = reserve_buf(&d->cur, &d->cur_cap, extent);
    return rc < 0 ? rc : reserve_buf(&d->dur, &d->dur_cap, extent);
}

/* Accept op (its data already copied): apply to cur, remember it until sync or crash. */
static int accept_op(pd_sim_disk_t *d, disk_op_t op, uint64_t extent)
{
    int rc = reserve(d, extent);
    if (rc < 0) {
        pd_free(op.data);
        return rc;
    }
    image_apply(d->cur, &d->cur_len, &op, op.len);
    d->ops[d->nops++] = op;
    return 0;
}

int pd_sim_disk_write(pd_sim_disk_t *d, uint64_t off, const void *data, size_t len)
{
    PD_ASSERT(data || len == 0);
    if (off > PD_SIM_DISK_MAX || (uint64_t)len > PD_SIM_DISK_MAX - off)
        return -PD_ETOOBIG;
    if (len == 0)
        return 0; /* like pwrite: writes nothing, extends nothing */
    disk_op_t op = {.kind = OP_WRITE, .off = off, .len = len};
    op.data = pd_malloc(len);
    if (!op.data)
        return -ENOMEM;
    memcpy(op.data, data, len);
    int rc = accept_op(d, op, off + len);
    if (rc == 0) {
        d->stats.writes++;
        d->stats.bytes_written += len;
    }
    return rc;
}

int pd_sim_disk_append(pd_sim_disk_t *d, const void *data, size_t len)
{
    return pd_sim_disk_write(d, d->cur_len, data, len);
}

int pd_sim_disk_truncate(pd_sim_disk_t *d, uint64_t size)
{
    if (size > PD_SIM_DISK_MAX)
        return -PD_ETOOBIG;
    int rc = accept_op(d, (disk_op_t){.kind = OP_TRUNCATE, .off = size}, size);
    if (rc == 0)
        d->stats.truncates++;
    return rc;
}

/* ---- sync, crash, wipe -------------------------------------------------------------------------- */

void pd_sim_disk_sync(pd_sim_disk_t *d)
{
    for (size_t i = 0; i < d->nops; i++) {
        image_apply(d->dur, &d->dur_len, &d->ops[i], d->ops[i].len);
        if (d->ops[i].kind == OP_WRITE)
            d->stats.bytes_synced += d->ops[i].len;
    }
    drop_ops(d);
    PD_ASSERT(d->dur_len == d->cur_len);
    d->stats.syncs++;
}

void pd_sim_disk_crash(pd_sim_disk_t *d, pd_rng_t *rng)
{
    d->stats.crashes++;
    size_t keep = (size_t)pd_rng_below(rng, (uint64_t)d->nops + 1);
    for (size_t i = 0; i < keep; i++)
        image_apply(d->dur, &d->dur_len, &d->ops[i], d->ops[i].len);
    size_t lost = d->nops - keep;
    if (keep < d->nops && d->ops[keep].kind == OP_WRITE && d->ops[keep].len > 1 &&
        pd_rng_chance(rng, 0.5)) {
        /* Torn: a strict, non-empty prefix of the write reached the platter. */
        uint64_t prefix = pd_rng_range(rng, 1, d->ops[keep].len - 1);
        image_apply(d->dur, &d->dur_len, &d->ops[keep], prefix);
        d->stats.ops_torn++;
        lost--;
    }
    d->stats.ops_lost += lost;
    drop_ops(d);
    PD_ASSERT(d->dur_len <= d->cur_cap);
    if (d->dur_len)
        memcpy(d->cur, d->dur, (size_t)d->dur_len);
    d->cur_len = d->dur_len;
}

void pd_sim_disk_wipe(pd_sim_disk_t *d)
{
    drop_ops(d);
    d->cur_len = 0;
    d->dur_len = 0;
}
