/* Broadcast queue (see swim_queue.h). */
#include "swim_queue.h"

#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"

static void bcast_key(const void *val, const uint8_t **key, size_t *len)
{
    const pd_swim_bcast_t *b = val;
    *key = b->key;
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
        pd_free(q->heap[i]);
    pd_free(q->heap);
    pd_swim_map_free(&q->keys);
    q->heap = NULL;
    q->n = q->cap = 0;
}

uint32_t pd_swim_queue_len(const pd_swim_queue_t *q)
{
    return q->n;
}

/* a goes before b: fewer transmits, then newer. */
static int before(const pd_swim_bcast_t *a, const pd_swim_bcast_t *b)
{
    return a->transmits != b->transmits ? a->transmits < b->transmits : a->id > b->id;
}

static void set_at(pd_swim_queue_t *q, uint32_t i, pd_swim_bcast_t *b)
{
    q->heap[i] = b;
    b->heap_idx = i;
}

static void sift_up(pd_swim_queue_t *q, uint32_t i)
{
    pd_swim_bcast_t *b = q->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!before(b, q->heap[p]))
            break;
        set_at(q, i, q->heap[p]);
        i = p;
    }
    set_at(q, i, b);
}

static void sift_down(pd_swim_queue_t *q, uint32_t i)
{
    pd_swim_bcast_t *b = q->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && before(q->heap[c + 1], q->heap[c]))
            c++;
        if (!before(q->heap[c], b))
            break;
        set_at(q, i, q->heap[c]);
        i = c;
    }
    set_at(q, i, b);
}

/* Detach b from the heap (and the key map) without freeing it. */
static void heap_remove(pd_swim_queue_t *q, pd_swim_bcast_t *b)
{
    uint32_t i = b->heap_idx;
    PD_ASSERT(i < q->n && q->heap[i] == b);
    pd_swim_map_del(&q->keys, b);
    q->n--;
    if (i == q->n)
        return;
    pd_swim_bcast_t *last = q->heap[q->n];
    set_at(q, i, last);
    sift_down(q, i);
    if (q->heap[i] == last)
        sift_up(q, i);
}

static int heap_insert(pd_swim_queue_t *q, pd_swim_bcast_t *b)
{
    if (q->n == q->cap) {
        uint32_t ncap = q->cap ? q->cap * 2 : 64;
        pd_swim_bcast_t **nh = pd_realloc(q->heap, ncap * sizeof *nh);
        if (!nh)
            return -ENOMEM;
        q->heap = nh, q->cap = ncap;
    }
    int rc = pd_swim_map_put(&q->keys, b);
    if (rc)
        return rc;
    q->heap[q->n] = b;
    b->heap_idx = q->n++;
    sift_up(q, b->heap_idx);
    return 0;
}

int pd_swim_queue_drop(pd_swim_queue_t *q, const void *key, size_t key_len)
{
    pd_swim_bcast_t *old = pd_swim_map_get(&q->keys, key, key_len);
    if (!old)
        return 0;
    heap_remove(q, old);
    pd_free(old);
    return 1;
}

int pd_swim_queue_push(pd_swim_queue_t *q, const void *key, size_t key_len, const void *data,
                       size_t len)
{
    if (key_len == 0 || key_len > PD_SWIM_QKEY_MAX || len == 0 || len > PD_SWIM_UDP_MAX)
        return -PD_EUSAGE;
    pd_swim_bcast_t *b = pd_malloc(sizeof *b + len);
    if (!b)
        return -ENOMEM;
    memset(b, 0, sizeof *b);
    b->id = ++q->next_id;
    b->key_len = (uint8_t)key_len;
    memcpy(b->key, key, key_len);
    b->len = (uint32_t)len;
    memcpy(b->data, data, len);
    q->superseded += (uint64_t)pd_swim_queue_drop(q, key, key_len);
    if (q->n >= q->max) {
        pd_swim_bcast_t *leaf = q->heap[q->n - 1];
        heap_remove(q, leaf);
        pd_free(leaf);
        q->evicted++;
    }
    int rc = heap_insert(q, b);
    if (rc)
        pd_free(b);
    return rc;
}

uint32_t pd_swim_queue_fill(pd_swim_queue_t *q, uint32_t limit, size_t budget, size_t part_overhead,
                            uint32_t max_items, pd_swim_queue_emit_fn emit, void *ctx)
{
    pd_swim_bcast_t *seen[PD_SWIM_QUEUE_SCAN_MAX];
    uint32_t n_seen = 0, n_sent = 0;
    /* Pop in order; the examined ones are re-inserted afterwards with their new counts. */
    while (q->n > 0 && n_seen < PD_SWIM_QUEUE_SCAN_MAX && n_sent < max_items &&
           budget > part_overhead) {
        pd_swim_bcast_t *b = q->heap[0];
        heap_remove(q, b);
        seen[n_seen++] = b;
        if (b->len + part_overhead > budget)
            continue;
        emit(ctx, b->data, b->len);
        budget -= b->len + part_overhead;
        b->transmits++;
        n_sent++;
    }
    for (uint32_t i = 0; i < n_seen; i++) {
        pd_swim_bcast_t *b = seen[i];
        if (b->transmits >= limit || heap_insert(q, b) != 0) {
            q->expired += b->transmits >= limit;
            pd_free(b);
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
