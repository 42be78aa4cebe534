/* Id and name indexes: open-addressing hash sets of object pointers, keyed by the object's own id
 * or name bytes. Seeded hash (the seed changes the layout only, never what a lookup returns).
 * Linear probing with backward-shift deletion, so there are no tombstones and a table whose room
 * was reserved never needs to allocate: a txn reserves first, then its inserts and rollbacks
 * cannot fail. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "store_int.h"

#define INDEX_CAP_MIN 16u

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(uint64_t seed, const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = mix64(seed ^ (0x9e3779b97f4a7c15ULL * (len + 1)));
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = mix64(h ^ v) + 0x9e3779b97f4a7c15ULL;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    return mix64(h ^ tail);
}

static void obj_key(const pd_store__index_t *ix, const pd_store_obj_t *o, const void **key, size_t *len)
{
    if (ix->by_name) {
        *key = o->name;
        *len = o->name_len;
    } else {
        *key = o->id;
        *len = o->id_len;
    }
}

static int key_eq(const pd_store__index_t *ix, const pd_store_obj_t *o, const void *key, size_t len)
{
    const void *k;
    size_t n;
    obj_key(ix, o, &k, &n);
    return n == len && memcmp(k, key, len) == 0;
}

static uint32_t home_slot(const pd_store__index_t *ix, const pd_store_obj_t *o)
{
    const void *k;
    size_t n;
    obj_key(ix, o, &k, &n);
    return (uint32_t)(hash_bytes(ix->seed, k, n) & (ix->cap - 1));
}

void pd_store__index_init(pd_store__index_t *ix, uint64_t seed, int by_name)
{
    memset(ix, 0, sizeof *ix);
    ix->seed = seed;
    ix->by_name = (uint8_t)(by_name != 0);
}

void pd_store__index_free(pd_store__index_t *ix)
{
    pd_free(ix->slots);
    ix->slots = NULL;
    ix->cap = ix->count = 0;
}

static void place(pd_store_obj_t **slots, uint32_t mask, uint32_t home, pd_store_obj_t *o)
{
    uint32_t i = home;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = o;
}

int pd_store__index_reserve(pd_store__index_t *ix, size_t n)
{
    if ((uint64_t)n * 4 <= (uint64_t)ix->cap * 3)
        return 0;
    uint64_t cap = INDEX_CAP_MIN;
    while (cap * 3 < (uint64_t)n * 4)
        cap *= 2;
    if (cap > UINT32_MAX / 2)
        return -ENOMEM;
    pd_store_obj_t **slots = pd_calloc((size_t)cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    pd_store__index_t grown = *ix;
    grown.slots = slots;
    grown.cap = (uint32_t)cap;
    for (uint32_t i = 0; i < ix->cap; i++) {
        if (ix->slots[i])
            place(slots, grown.cap - 1, home_slot(&grown, ix->slots[i]), ix->slots[i]);
    }
    pd_free(ix->slots);
    *ix = grown;
    return 0;
}

/* Slot holding `key`, or -1. */
static long find_slot(const pd_store__index_t *ix, const void *key, size_t len)
{
    if (ix->cap == 0)
        return -1;
    uint32_t mask = ix->cap - 1;
    uint32_t i = (uint32_t)(hash_bytes(ix->seed, key, len) & mask);
    for (uint32_t probes = 0; probes < ix->cap; probes++) {
        pd_store_obj_t *o = ix->slots[i];
        if (!o)
            return -1;
        if (key_eq(ix, o, key, len))
            return (long)i;
        i = (i + 1) & mask;
    }
    return -1;
}

pd_store_obj_t *pd_store__index_find(const pd_store__index_t *ix, const void *key, size_t len)
{
    long i = find_slot(ix, key, len);
    return i < 0 ? NULL : ix->slots[i];
}

void pd_store__index_insert(pd_store__index_t *ix, pd_store_obj_t *o)
{
    PD_ASSERT((uint64_t)(ix->count + 1) * 4 <= (uint64_t)ix->cap * 3); /* reserved */
    place(ix->slots, ix->cap - 1, home_slot(ix, o), o);
    ix->count++;
}

/* Is slot `i` between `home` and `hole` (cyclically, hole exclusive)? Then the entry at i may not
 * move into the hole. */
static int stays(uint32_t home, uint32_t hole, uint32_t i)
{
    if (hole <= i)
        return home > hole && home <= i;
    return home > hole || home <= i;
}

void pd_store__index_remove(pd_store__index_t *ix, const pd_store_obj_t *o)
{
    const void *k;
    size_t n;
    obj_key(ix, o, &k, &n);
    long at = find_slot(ix, k, n);
    PD_ASSERT(at >= 0 && ix->slots[at] == o);
    uint32_t mask = ix->cap - 1, hole = (uint32_t)at, i = hole;
    ix->slots[hole] = NULL;
    for (;;) {
        i = (i + 1) & mask;
        pd_store_obj_t *e = ix->slots[i];
        if (!e)
            break;
        if (stays(home_slot(ix, e), hole, i))
            continue;
        ix->slots[hole] = e;
        ix->slots[i] = NULL;
        hole = i;
    }
    ix->count--;
}

void pd_store__index_replace(pd_store__index_t *ix, const pd_store_obj_t *old, pd_store_obj_t *o)
{
    const void *k;
    size_t n;
    obj_key(ix, old, &k, &n);
    PD_ASSERT(key_eq(ix, o, k, n));
    long at = find_slot(ix, k, n);
    PD_ASSERT(at >= 0 && ix->slots[at] == old);
    ix->slots[at] = o;
}
