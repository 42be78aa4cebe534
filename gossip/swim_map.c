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
    uint32_t mask = m->cap - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        const pd_swim_map_slot_t *sl = &m->slots[i];
        if (sl->hash == 0)
            return NULL;
        if (sl->hash == h && key_eq(m, sl->val, key, len)) {
            *slot = i;
            return sl->val;
        }
    }
}

void *pd_swim_map_get(const pd_swim_map_t *m, const void *key, size_t len)
{
    uint32_t slot;
    return find(m, key, len, pd_swim_hash(key, len), &slot);
}

static void place(pd_swim_map_t *m, uint64_t h, void *val)
{
    uint32_t mask = m->cap - 1, i = (uint32_t)h & mask;
    while (m->slots[i].hash != 0)
        i = (i + 1) & mask;
    m->slots[i] = (pd_swim_map_slot_t){h, val};
}

static int grow(pd_swim_map_t *m)
{
    uint32_t ncap = m->cap ? m->cap * 2 : 16;
    pd_swim_map_slot_t *ns = pd_calloc(ncap, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    pd_swim_map_slot_t *os = m->slots;
    uint32_t ocap = m->cap;
    m->slots = ns, m->cap = ncap;
    for (uint32_t i = 0; i < ocap; i++) {
        if (os[i].hash)
            place(m, os[i].hash, os[i].val);
    }
    pd_free(os);
    return 0;
}

int pd_swim_map_put(pd_swim_map_t *m, void *val)
{
    if ((uint64_t)(m->n + 1) * 4 > (uint64_t)m->cap * 3) { /* load <= 3/4 */
        int rc = grow(m);
        if (rc)
            return rc;
    }
    const uint8_t *k;
    size_t kl;
    m->key_of(val, &k, &kl);
    place(m, pd_swim_hash(k, kl), val);
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
    for (uint32_t j = (i + 1) & mask; m->slots[j].hash != 0; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)m->slots[j].hash & mask;
        /* Move j into i when its home is not cyclically within (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i] = (pd_swim_map_slot_t){0, NULL};
    m->n--;
    return 1;
}

void pd_swim_map_prefetch_slot(const pd_swim_map_t *m, uint64_t h)
{
    if (m->cap)
        __builtin_prefetch(&m->slots[(uint32_t)h & (m->cap - 1)]);
}

enum { PREFETCH_PROBES = 4 }; /* a hint: give up on a long cluster */

void pd_swim_map_prefetch_val(const pd_swim_map_t *m, uint64_t h)
{
    if (m->cap == 0)
        return;
    uint32_t mask = m->cap - 1, i = (uint32_t)h & mask;
    for (uint32_t k = 0; k < PREFETCH_PROBES && m->slots[i].hash != 0; k++, i = (i + 1) & mask) {
        if (m->slots[i].hash == h) {
            const char *v = m->slots[i].val;
            __builtin_prefetch(v);
            __builtin_prefetch(v + 64); /* a member's id starts on its second line */
            return;
        }
    }
}
