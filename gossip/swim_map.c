/* Byte-key hash map (see swim_map.h). */
#include "swim_map.h"

#include <errno.h>
#include <string.h>

#include "pd_alloc.h"

uint64_t pd_swim_hash(const void *key, size_t len)
{
    /* FNV-1a, then a final mix so linear probing sees well-spread low bits. */
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h ? h : 1;
}

void pd_swim_map_init(pd_swim_map_t *m, pd_swim_map_key_fn key_of)
{
    memset(m, 0, sizeof *m);
    m->key_of = key_of;
}

void pd_swim_map_free(pd_swim_map_t *m)
{
    pd_free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* Slot layout (see swim_map.h). */
enum { TAG_BITS = 19, PTR_BITS = 45 };
#define PTR_MASK ((1ULL << PTR_BITS) - 1)

static uint32_t tag_of(uint64_t h)
{
    return (uint32_t)(h >> (64 - TAG_BITS));
}

static uint64_t slot_make(uint64_t h, const void *val)
{
    return (uint64_t)tag_of(h) << PTR_BITS | (uint64_t)(uintptr_t)val >> 3;
}

static void *slot_val(uint64_t slot)
{
    return (void *)(uintptr_t)((slot & PTR_MASK) << 3);
}

static uint32_t slot_tag(uint64_t slot)
{
    return (uint32_t)(slot >> PTR_BITS);
}

static uint32_t log2_cap(const pd_swim_map_t *m)
{
    return (uint32_t)__builtin_ctz(m->cap);
}

/* Home slot of a hash: its top bits (the low bits feed nothing else). */
static uint32_t home_of_hash(const pd_swim_map_t *m, uint64_t h)
{
    return (uint32_t)(h >> (64 - log2_cap(m)));
}

static uint64_t hash_of_val(const pd_swim_map_t *m, const void *val)
{
    const uint8_t *k;
    size_t kl;
    m->key_of(val, &k, &kl);
    return pd_swim_hash(k, kl);
}

/* Home slot of an occupied slot: from its tag while the table has at most 2^TAG_BITS slots. */
static uint32_t home_of_slot(const pd_swim_map_t *m, uint64_t slot)
{
    uint32_t b = log2_cap(m);
    if (b <= TAG_BITS)
        return slot_tag(slot) >> (TAG_BITS - b);
    return home_of_hash(m, hash_of_val(m, slot_val(slot)));
}

static int key_eq(const pd_swim_map_t *m, const void *val, const void *key, size_t len)
{
    const uint8_t *k;
    size_t kl;
    m->key_of(val, &k, &kl);
    return kl == len && memcmp(k, key, len) == 0;
}

static void *find(const pd_swim_map_t *m, const void *key, size_t len, uint64_t h, uint32_t *slot)
{
    if (m->cap == 0)
        return NULL;
    uint32_t mask = m->cap - 1, tag = tag_of(h);
    for (uint32_t i = home_of_hash(m, h);; i = (i + 1) & mask) {
        uint64_t sl = m->slots[i];
        if (sl == 0)
            return NULL;
        if (slot_tag(sl) == tag && key_eq(m, slot_val(sl), key, len)) {
            *slot = i;
            return slot_val(sl);
        }
    }
}

void *pd_swim_map_get(const pd_swim_map_t *m, const void *key, size_t len)
{
    return pd_swim_map_get_h(m, key, len, pd_swim_hash(key, len));
}

void *pd_swim_map_get_h(const pd_swim_map_t *m, const void *key, size_t len, uint64_t h)
{
    uint32_t slot;
    return find(m, key, len, h, &slot);
}

static void place(pd_swim_map_t *m, uint32_t home, uint64_t slot)
{
    uint32_t mask = m->cap - 1, i = home;
    while (m->slots[i] != 0)
        i = (i + 1) & mask;
    m->slots[i] = slot;
}

static int resize(pd_swim_map_t *m, uint32_t ncap)
{
    uint64_t *ns = pd_calloc(ncap, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    uint64_t *os = m->slots;
    uint32_t ocap = m->cap;
    m->slots = ns, m->cap = ncap;
    for (uint32_t i = 0; i < ocap; i++) {
        if (os[i])
            place(m, home_of_slot(m, os[i]), os[i]);
    }
    pd_free(os);
    return 0;
}

static int grow(pd_swim_map_t *m)
{
    return resize(m, m->cap ? m->cap * 2 : 16);
}

int pd_swim_map_reserve(pd_swim_map_t *m, uint32_t n)
{
    uint32_t ncap = m->cap ? m->cap : 16;
    while ((uint64_t)n * 4 > (uint64_t)ncap * 3) {
        if (ncap >= (1u << 30))
            return -ENOMEM;
        ncap *= 2;
    }
    return ncap == m->cap ? 0 : resize(m, ncap);
}

int pd_swim_map_put(pd_swim_map_t *m, void *val)
{
    return pd_swim_map_put_h(m, val, hash_of_val(m, val));
}

int pd_swim_map_put_h(pd_swim_map_t *m, void *val, uint64_t h)
{
    uintptr_t p = (uintptr_t)val;
    if (p == 0 || (p & 7) != 0 || (uint64_t)p >> (PTR_BITS + 3) != 0)
        return -EINVAL;
    if ((uint64_t)(m->n + 1) * 4 > (uint64_t)m->cap * 3) { /* load <= 3/4 */
        int rc = grow(m);
        if (rc)
            return rc;
    }
    place(m, home_of_hash(m, h), slot_make(h, val));
    m->n++;
    return 0;
}

int pd_swim_map_del(pd_swim_map_t *m, const void *val)
{
    const uint8_t *k;
    size_t kl;
    m->key_of(val, &k, &kl);
    uint32_t i;
    if (!find(m, k, kl, pd_swim_hash(k, kl), &i))
        return 0;
    /* Backward-shift: pull later entries of the same cluster into the hole. */
    uint32_t mask = m->cap - 1;
    for (uint32_t j = (i + 1) & mask; m->slots[j] != 0; j = (j + 1) & mask) {
        uint32_t home = home_of_slot(m, m->slots[j]);
        /* Move j into i when its home is not cyclically within (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i] = 0;
    m->n--;
    return 1;
}

void pd_swim_map_prefetch_slot(const pd_swim_map_t *m, uint64_t h)
{
    if (m->cap)
        __builtin_prefetch(&m->slots[home_of_hash(m, h)]);
}

enum { PREFETCH_PROBES = 4 }; /* a hint: give up on a long cluster */

void pd_swim_map_prefetch_val(const pd_swim_map_t *m, uint64_t h)
{
    if (m->cap == 0)
        return;
    uint32_t mask = m->cap - 1, i = home_of_hash(m, h), tag = tag_of(h);
    for (uint32_t k = 0; k < PREFETCH_PROBES && m->slots[i] != 0; k++, i = (i + 1) & mask) {
        if (slot_tag(m->slots[i]) == tag) {
            const char *v = slot_val(m->slots[i]);
            __builtin_prefetch(v);
            __builtin_prefetch(v + 64); /* a member's id may start on its second line */
            return;
        }
    }
}
