/* Open-addressing hash map from a byte key to a value pointer; the key lives inside the value
 * (key_of extracts it). Linear probing, backward-shift deletion, grows at 3/4 load. Used for member
 * lookup by node id and broadcast supersede keys.
 *
 * A slot is 8 bytes: the value pointer (8-byte aligned, below 2^48: every user-space pointer on
 * the 64-bit Linux targets we build for) in its low 45 bits and the top 19 bits of the key's hash
 * above. The home slot is taken from the hash's top bits too, so for tables up to 2^19 slots it
 * follows from the tag (no rehashing of keys to move or delete), and a lookup only reads a value
 * whose tag matches: that happens for the key itself and, rarely, for another key with the same
 * home slot. A node tracks every member of the cluster and a simulation holds N of those tables,
 * which is why the slot is not (hash, pointer): at N=10,000 that was 1.3 GB more. */
#ifndef PD_SWIM_MAP_H
#define PD_SWIM_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef void (*pd_swim_map_key_fn)(const void *val, const uint8_t **key, size_t *len);

typedef struct {
    uint64_t *slots; /* tag << 45 | pointer >> 3; 0 marks an empty slot */
    uint32_t cap;    /* power of two */
    uint32_t n;
    pd_swim_map_key_fn key_of;
} pd_swim_map_t;

uint64_t pd_swim_hash(const void *key, size_t len); /* never 0 */

void pd_swim_map_init(pd_swim_map_t *m, pd_swim_map_key_fn key_of);
void pd_swim_map_free(pd_swim_map_t *m);
void *pd_swim_map_get(const pd_swim_map_t *m, const void *key, size_t len);
/* Insert val (its key must not be present). 0, -ENOMEM, or -EINVAL for a pointer the slot cannot
 * hold (not 8-byte aligned, or at or above 2^48); the map is unchanged on error. */
int pd_swim_map_put(pd_swim_map_t *m, void *val);
/* The same, with h = pd_swim_hash of the key already at hand (a merge computes it to prefetch). */
void *pd_swim_map_get_h(const pd_swim_map_t *m, const void *key, size_t len, uint64_t h);
int pd_swim_map_put_h(pd_swim_map_t *m, void *val, uint64_t h);
/* Room for n entries without growing (one rehash instead of one per doubling). 0 or -ENOMEM. */
int pd_swim_map_reserve(pd_swim_map_t *m, uint32_t n);
/* Remove the entry whose value is val (by its key). Returns 1 if removed. */
int pd_swim_map_del(pd_swim_map_t *m, const void *val);

/* Cache hints for lookups about to come (h from pd_swim_hash): the home slot of h, then the value
 * of the first slot carrying h (no key check: a hint, never an answer). Issuing them for a batch
 * of keys first lets the cache misses of a cold table overlap instead of queueing. */
void pd_swim_map_prefetch_slot(const pd_swim_map_t *m, uint64_t h);
void pd_swim_map_prefetch_val(const pd_swim_map_t *m, uint64_t h);

#endif
