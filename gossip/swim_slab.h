/* A node's member records, packed: records come from 16 KB blocks in 8-byte size classes, with
 * a free list per class for reuse after reaping. No per-record malloc header or 16-byte rounding:
 * a node tracks every member of the cluster and a simulation holds N such tables (10^8 records
 * at N=10,000), so the 8-24 bytes saved per record are gigabytes there. Blocks are returned only
 * when the slab is freed; what reaping frees is reused by the next records of that size. Under
 * AddressSanitizer, released records and unused block space are poisoned. */
#ifndef PD_SWIM_SLAB_H
#define PD_SWIM_SLAB_H

#include <stddef.h>
#include <stdint.h>

enum {
    PD_SWIM_SLAB_BLOCK = 16 * 1024,
    PD_SWIM_SLAB_MAX = 256, /* largest record */
};

typedef struct {
    uint8_t **blocks;
    uint32_t n_blocks, cap_blocks;
    size_t used;                                /* bytes handed out of the last block */
    void *free_list[PD_SWIM_SLAB_MAX / 8 + 1]; /* per class (size / 8): released records */
} pd_swim_slab_t;

void pd_swim_slab_init(pd_swim_slab_t *sl);
/* Every block, and so every record still allocated. */
void pd_swim_slab_free(pd_swim_slab_t *sl);
/* A zeroed, 8-byte aligned record of size bytes (1..PD_SWIM_SLAB_MAX), or NULL (no memory, or a
 * size out of range). */
void *pd_swim_slab_alloc(pd_swim_slab_t *sl, size_t size);
/* Give back a record from pd_swim_slab_alloc with the same size. NULL is ignored. */
void pd_swim_slab_release(pd_swim_slab_t *sl, void *p, size_t size);

#endif
