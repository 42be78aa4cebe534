/* Broadcast queue (see swim_queue.h). */
#include "swim_queue.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"

static void bcast_key(const void *val, const uint8_t **key, size_t *len)
{
    const pd_swim_bcast_t *b = val;
    *key = b->buf;
    *len = b->key_len;
}

void pd_swim_queue_init(pd_swim_queue_t *q, uint32_t max)
{
    memset(q, 0, sizeof *q);
    q->max = max == 0 || max > PD_SWIM_QUEUE_MAX ? PD_SWIM_QUEUE_MAX : max;
    pd_swim_map_init(&q->keys, bcast_key);
}

void pd_swim_queue_free(pd_swim_queue_t *q)
{
    for (uint32_t i = 0; i < q->n; i++)
        pd_free(q->heap[i].b);
    pd_free(q->heap);
    pd_swim_map_free(&q->keys);
    q->heap = NULL;
    q->n = q->cap = q->live = 0;
}

uint32_t pd_swim_queue_len(const pd_swim_queue_t *q)
{
    return q->live;
}

#define ID_BITS 40
#define ID_MASK ((UINT64_C(1) << ID_BITS) - 1)

/* Fewer transmits first, then newer (ids wrap after 2^40 pushes: harmless, order only). */
static uint64_t order_of(const pd_swim_bcast_t *b)
{
    return ((uint64_t)b->transmits << ID_BITS) | (ID_MASK - (b->id & ID_MASK));
}

static void sift_up(pd_swim_queue_t *q, uint32_t i)
{
    pd_swim_qslot_t x = q->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (q->heap[p].order <= x.order)
            break;
        q->heap[i] = q->heap[p];
        i = p;
    }
    q->heap[i] = x;
}

static void sift_down(pd_swim_queue_t *q, uint32_t i)
{
    pd_swim_qslot_t x = q->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && q->heap[c + 1].order < q->heap[c].order)
            c++;
        if (q->heap[c].order >= x.order)
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    q->heap[i] = x;
}

/* Take the first slot out (live or dropped). */
static pd_swim_bcast_t *heap_pop(pd_swim_queue_t *q)
{
    pd_swim_bcast_t *b = q->heap[0].b;
    __builtin_prefetch(b); /* the caller reads it next: let that miss overlap the sift */
    q->heap[0] = q->heap[--q->n];
    if (q->n > 0) {
        sift_down(q, 0);
        __builtin_prefetch(q->heap[0].b); /* likely the next one taken */
    }
    return b;
}

static int heap_reserve(pd_swim_queue_t *q)
{
    if (q->n < q->cap)
        return 0;
    uint32_t ncap = q->cap ? q->cap * 2 : 64;
    pd_swim_qslot_t *nh = pd_realloc(q->heap, ncap * sizeof *nh);
    if (!nh)
        return -ENOMEM;
    q->heap = nh, q->cap = ncap;
    return 0;
}

static void heap_add(pd_swim_queue_t *q, pd_swim_bcast_t *b)
{
    PD_ASSERT(q->n < q->cap);
    q->heap[q->n] = (pd_swim_qslot_t){order_of(b), b};
    sift_up(q, q->n++);
}

/* Free the dropped slots and re-heapify, once they outnumber the live ones. */
static void heap_compact(pd_swim_queue_t *q)
{
    if (q->n - q->live <= q->live + 64)
        return;
    uint32_t k = 0;
    for (uint32_t i = 0; i < q->n; i++) {
        if (q->heap[i].b->dropped)
            pd_free(q->heap[i].b);
        else
            q->heap[k++] = q->heap[i];
    }
    q->n = k;
    for (uint32_t i = k / 2; i > 0; i--)
        sift_down(q, i - 1);
}

/* Forget b: out of the key map now, out of the heap (and freed) when it surfaces. */
static void mark_dropped(pd_swim_queue_t *q, pd_swim_bcast_t *b)
{
    pd_swim_map_del(&q->keys, b);
    b->dropped = 1;
    q->live--;
}

int pd_swim_queue_drop(pd_swim_queue_t *q, const void *key, size_t key_len)
{
    pd_swim_bcast_t *old = pd_swim_map_get(&q->keys, key, key_len);
    if (!old)
        return 0;
    mark_dropped(q, old);
    heap_compact(q);
    return 1;
}

/* Evict the worst live message: the heap's last slots are leaves (many transmits, old). */
static void evict_one(pd_swim_queue_t *q)
{
    while (q->n > 0) {
        pd_swim_bcast_t *b = q->heap[--q->n].b;
        int was_live = !b->dropped;
        if (was_live) {
            pd_swim_map_del(&q->keys, b);
            q->live--;
            q->evicted++;
        }
        pd_free(b);
        if (was_live)
            return;
    }
}

int pd_swim_queue_push(pd_swim_queue_t *q, const void *key, size_t key_len, const void *data,
                       size_t len)
{
    if (key_len == 0 || key_len > PD_SWIM_QKEY_MAX || len == 0 || len > PD_SWIM_UDP_MAX)
        return -PD_EUSAGE;
    pd_swim_bcast_t *b = pd_malloc(offsetof(pd_swim_bcast_t, buf) + key_len + len);
    if (!b)
        return -ENOMEM;
    memset(b, 0, offsetof(pd_swim_bcast_t, buf));
    b->id = ++q->next_id;
    b->key_len = (uint8_t)key_len;
    memcpy(b->buf, key, key_len);
    b->len = (uint32_t)len;
    memcpy(b->buf + key_len, data, len);
    q->superseded += (uint64_t)pd_swim_queue_drop(q, key, key_len);
    if (q->live >= q->max)
        evict_one(q);
    int rc = heap_reserve(q);
    if (rc == 0)
        rc = pd_swim_map_put(&q->keys, b);
    if (rc) {
        pd_free(b);
        return rc;
    }
    heap_add(q, b);
    q->live++;
    return 0;
}

uint32_t pd_swim_queue_fill(pd_swim_queue_t *q, uint32_t limit, size_t budget, size_t part_overhead,
                            uint32_t max_items, pd_swim_queue_emit_fn emit, void *ctx)
{
    pd_swim_bcast_t *seen[PD_SWIM_QUEUE_SCAN_MAX];
    uint32_t n_seen = 0, n_sent = 0, misfits = 0;
    /* Pop in order; the examined ones are re-inserted afterwards with their new counts. Only the
     * heap moves: the key map keeps them, so a fill costs no hashing. A few misfits in a row
     * mean the packet is as full as it gets. */
    while (q->n > 0 && n_seen < PD_SWIM_QUEUE_SCAN_MAX && n_sent < max_items && misfits < 4 &&
           budget > part_overhead) {
        pd_swim_bcast_t *b = heap_pop(q);
        if (b->dropped) {
            pd_free(b);
            continue;
        }
        seen[n_seen++] = b;
        if (b->len + part_overhead > budget) {
            misfits++;
            continue;
        }
        misfits = 0;
        emit(ctx, pd_swim_bcast_data(b), b->len);
        budget -= b->len + part_overhead;
        b->transmits++;
        n_sent++;
    }
    for (uint32_t i = 0; i < n_seen; i++) {
        pd_swim_bcast_t *b = seen[i];
        if (b->transmits >= limit) {
            pd_swim_map_del(&q->keys, b);
            q->live--;
            q->expired++;
            pd_free(b);
        } else {
            heap_add(q, b); /* room: it was popped */
        }
    }
    return n_sent;
}

uint32_t pd_swim_retransmit_limit(uint32_t mult, uint32_t n)
{
    uint32_t scale = 0;
    for (uint64_t p = 1; p < (uint64_t)n + 1; p *= 10)
        scale++; /* ceil(log10(n + 1)) */
    uint64_t lim = (uint64_t)mult * (scale ? scale : 1);
    if (lim < 1)
        lim = 1;
    return lim > PD_SWIM_RETRANSMIT_MAX ? PD_SWIM_RETRANSMIT_MAX : (uint32_t)lim;
}
