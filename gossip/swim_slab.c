/* Size-classed record slab (see swim_slab.h). */
#include "swim_slab.h"

#include <string.h>

#include "pd_alloc.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#endif
#ifdef SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define SLAB_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SLAB_POISON(p, n) ((void)(p), (void)(n))
#define SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static size_t class_size(size_t size)
{
    return (size + 7) & ~(size_t)7;
}

void pd_swim_slab_init(pd_swim_slab_t *sl)
{
    memset(sl, 0, sizeof *sl);
    sl->used = PD_SWIM_SLAB_BLOCK; /* no block yet: the first alloc opens one */
}

void pd_swim_slab_free(pd_swim_slab_t *sl)
{
    for (uint32_t i = 0; i < sl->n_blocks; i++) {
        SLAB_UNPOISON(sl->blocks[i], PD_SWIM_SLAB_BLOCK);
        pd_free(sl->blocks[i]);
    }
    pd_free(sl->blocks);
    pd_swim_slab_init(sl);
}

static int open_block(pd_swim_slab_t *sl)
{
    if (sl->n_blocks == sl->cap_blocks) {
        uint32_t ncap = sl->cap_blocks ? sl->cap_blocks * 2 : 4;
        uint8_t **nb = pd_realloc(sl->blocks, ncap * sizeof *nb);
        if (!nb)
            return -1;
        sl->blocks = nb, sl->cap_blocks = ncap;
    }
    uint8_t *b = pd_malloc(PD_SWIM_SLAB_BLOCK);
    if (!b)
        return -1;
    SLAB_POISON(b, PD_SWIM_SLAB_BLOCK);
    sl->blocks[sl->n_blocks++] = b;
    sl->used = 0;
    return 0;
}

void *pd_swim_slab_alloc(pd_swim_slab_t *sl, size_t size)
{
    if (size == 0 || size > PD_SWIM_SLAB_MAX)
        return NULL;
    size_t cs = class_size(size);
    void **head = &sl->free_list[cs / 8];
    uint8_t *p = *head;
    if (p) {
        SLAB_UNPOISON(p, cs);
        memcpy(head, p, sizeof *head); /* the next free record */
    } else {
        if (sl->used + cs > PD_SWIM_SLAB_BLOCK && open_block(sl) != 0)
            return NULL;
        p = sl->blocks[sl->n_blocks - 1] + sl->used;
        sl->used += cs;
        SLAB_UNPOISON(p, cs);
    }
    memset(p, 0, cs);
    return p;
}

void pd_swim_slab_release(pd_swim_slab_t *sl, void *p, size_t size)
{
    if (!p)
        return;
    size_t cs = class_size(size);
    void **head = &sl->free_list[cs / 8];
    memcpy(p, head, sizeof *head);
    *head = p;
    SLAB_POISON(p, cs);
}
