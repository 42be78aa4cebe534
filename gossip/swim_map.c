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
    pd_free(m->hashes);
    pd_free(m->vals);
    m->hashes = NULL;
    m->vals = NULL;
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
        if (m->hashes[i] == 0)
            return NULL;
        if (m->hashes[i] == h && key_eq(m, m->vals[i], key, len)) {
            *slot = i;
            return m->vals[i];
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
    while (m->hashes[i] != 0)
        i = (i + 1) & mask;
    m->hashes[i] = h;
    m->vals[i] = val;
}

static int grow(pd_swim_map_t *m)
{
    uint32_t ncap = m->cap ? m->cap * 2 : 16;
    uint64_t *nh = pd_calloc(ncap, sizeof *nh);
    void **nv = pd_calloc(ncap, sizeof *nv);
    if (!nh || !nv) {
        pd_free(nh);
        pd_free(nv);
        return -ENOMEM;
    }
    uint64_t *oh = m->hashes;
    void **ov = m->vals;
    uint32_t ocap = m->cap;
    m->hashes = nh, m->vals = nv, m->cap = ncap;
    for (uint32_t i = 0; i < ocap; i++) {
        if (oh[i])
            place(m, oh[i], ov[i]);
    }
    pd_free(oh);
    pd_free(ov);
    return 0;
}

int pd_swim_map_put(pd_swim_map_t *m, void *val)
{
    if ((m->n + 1) * 2 > m->cap) {
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
    for (uint32_t j = (i + 1) & mask; m->hashes[j] != 0; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)m->hashes[j] & mask;
        /* Move j into i when its home is not cyclically within (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->hashes[i] = m->hashes[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->hashes[i] = 0;
    m->vals[i] = NULL;
    m->n--;
    return 1;
}
