/* Broadcast queue (memberlist TransmitLimitedQueue): encoded messages waiting to be piggybacked.
 * Order: fewest transmissions first, then newest first. A message with the same key supersedes
 * the queued one (a newer alive/suspect/dead about a node, or a user broadcast with the same
 * key). After `limit` transmissions a message is dropped. Binary heap of (order key, message)
 * slots + key map, so a push and each taken message cost O(log n) without touching the messages
 * themselves (their memory is cold); a superseded message is only marked and freed when it
 * surfaces (the heap is compacted when such dead slots outnumber the live ones). */
#ifndef PD_SWIM_QUEUE_H
#define PD_SWIM_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "swim_map.h"
#include "swim_wire.h"

enum {
    PD_SWIM_QKEY_MAX = 1 + PD_SWIM_USER_KEY_MAX, /* namespace byte + key */
    PD_SWIM_QUEUE_SCAN_MAX = 64,                 /* messages examined per fill */
};

typedef struct {
    uint64_t id; /* insertion order: larger is newer */
    uint32_t transmits;
    uint32_t len;    /* encoded message bytes */
    uint8_t key_len;
    uint8_t dropped; /* superseded or dropped: out of the key map, freed when popped */
    uint8_t buf[];   /* the key, then the encoded message (pd_swim_bcast_data) */
} pd_swim_bcast_t;

static inline const uint8_t *pd_swim_bcast_data(const pd_swim_bcast_t *b)
{
    return b->buf + b->key_len;
}

typedef struct {
    uint64_t order; /* transmits << 40 | (2^40 - 1 - id): smaller goes first */
    pd_swim_bcast_t *b;
} pd_swim_qslot_t;

typedef struct {
    pd_swim_qslot_t *heap;
    uint32_t n, cap, max; /* n: heap slots, dropped ones included */
    uint32_t live;        /* messages queued (pd_swim_queue_len) */
    uint64_t next_id;
    pd_swim_map_t keys;
    uint64_t superseded; /* counters */
    uint64_t evicted;
    uint64_t expired;
} pd_swim_queue_t;

void pd_swim_queue_init(pd_swim_queue_t *q, uint32_t max);
void pd_swim_queue_free(pd_swim_queue_t *q);
uint32_t pd_swim_queue_len(const pd_swim_queue_t *q);
/* Queue a copy of data under key. 0, -ENOMEM, -PD_EUSAGE (bad key/size). Past max the worst
 * queued message (a heap leaf: many transmits, old) is evicted and counted. */
int pd_swim_queue_push(pd_swim_queue_t *q, const void *key, size_t key_len, const void *data,
                       size_t len);
/* Drop a queued message by key (e.g. our own alive when we leave). Returns 1 if one was queued. */
int pd_swim_queue_drop(pd_swim_queue_t *q, const void *key, size_t key_len);

typedef void (*pd_swim_queue_emit_fn)(void *ctx, const uint8_t *data, size_t len);
/* Hand out messages in order while each fits in budget (counting part_overhead per message),
 * up to max_items. Each handed-out message counts one transmission and is freed once it reaches
 * limit. Returns the number of messages emitted. */
uint32_t pd_swim_queue_fill(pd_swim_queue_t *q, uint32_t limit, size_t budget, size_t part_overhead,
                            uint32_t max_items, pd_swim_queue_emit_fn emit, void *ctx);

/* mult * ceil(log10(n + 1)), at least 1, at most PD_SWIM_RETRANSMIT_MAX. */
uint32_t pd_swim_retransmit_limit(uint32_t mult, uint32_t n);

#endif
