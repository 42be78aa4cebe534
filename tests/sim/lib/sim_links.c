/* Per-link fault state (one-way blocks, clogs) in an open-addressing hash table keyed by
 * (from, to). Only links a test touched have an entry, so 10,000 nodes never cost N^2 memory.
 * Entries are never removed one by one (an unblocked link just clears its flags); pd_sim_heal
 * drops the whole table. */
#include <errno.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "sim_internal.h"

static inline uint64_t link_key(uint32_t from, uint32_t to) { return ((uint64_t)from << 32) | to; }

static inline size_t link_hash(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key;
}

static pd_sim_link_t *probe(pd_sim_link_t *v, size_t cap, uint64_t key)
{
    size_t mask = cap - 1;
    for (size_t i = link_hash(key) & mask;; i = (i + 1) & mask) {
        if (!v[i].used || v[i].key == key)
            return &v[i];
    }
}

pd_sim_link_t *pd_sim_links_find(const pd_sim_links_t *t, uint32_t from, uint32_t to)
{
    if (t->cap == 0)
        return NULL;
    pd_sim_link_t *l = probe(t->v, t->cap, link_key(from, to));
    return l->used ? l : NULL;
}

static int grow(pd_sim_links_t *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    pd_sim_link_t *v = pd_calloc(cap, sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->v[i].used)
            *probe(v, cap, t->v[i].key) = t->v[i];
    }
    pd_free(t->v);
    t->v = v;
    t->cap = cap;
    return 0;
}

int pd_sim_links_get(pd_sim_links_t *t, uint32_t from, uint32_t to, pd_sim_link_t **out)
{
    pd_sim_link_t *l = pd_sim_links_find(t, from, to);
    if (!l) {
        if ((t->len + 1) * 2 > t->cap) { /* keep the load at or under one half */
            int rc = grow(t);
            if (rc < 0)
                return rc;
        }
        l = probe(t->v, t->cap, link_key(from, to));
        PD_ASSERT(!l->used);
        *l = (pd_sim_link_t){.key = link_key(from, to), .used = 1};
        t->len++;
    }
    *out = l;
    return 0;
}

void pd_sim_links_free(pd_sim_links_t *t)
{
    pd_free(t->v);
    *t = (pd_sim_links_t){0};
}
