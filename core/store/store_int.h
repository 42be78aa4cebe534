/* core/store internals shared by store.c, store_index.c, store_watch.c and store_snapshot.c.
 * Private names use pd_store__ (double underscore). */
#ifndef PD_STORE_INT_H
#define PD_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Open-addressing hash set of objects keyed by id or by name (linear probing, backward-shift
 * delete, load <= 3/4). Inserts never allocate: pd_store__index_reserve first. */
typedef struct {
    pd_store_obj_t **slots;
    uint32_t cap; /* 0 or a power of two */
    uint32_t count;
    uint64_t seed;
    uint8_t by_name;
} pd_store__index_t;

typedef struct {
    pd_store__index_t by_id, by_name; /* by_name unused unless the kind is named */
    pd_store_obj_t *head, *tail;      /* creation order */
    size_t count;
    pd_store_validate_fn validate;
    void *validate_ctx;
} pd_store__table_t;

typedef struct {
    uint64_t index;
    uint8_t kind, op;
    pd_store_obj_t *obj; /* holds a reference */
} pd_store__event_t;

typedef struct {
    char name[PD_STORE_VIP_NAME_MAX + 1];
    uint32_t addr;
} pd_store__vip_t;

struct pd_store {
    pd_store__table_t tables[PD_STORE_KINDS];
    uint64_t applied_index, applied_term;
    pd_store__event_t *ring;
    uint32_t ring_cap;
    uint64_t ev_first, ev_next; /* the ring holds events [ev_first, ev_next) */
    pd_store__vip_t *vips;      /* sorted by name */
    uint32_t n_vips, vips_cap;
    int has_vip_range;
    pd_store_vip_range_t vip_range;
};

/* store_index.c */
void pd_store__index_init(pd_store__index_t *ix, uint64_t seed, int by_name);
void pd_store__index_free(pd_store__index_t *ix);
/* Make room for `n` entries in total. 0 or -ENOMEM (content unchanged either way). */
int pd_store__index_reserve(pd_store__index_t *ix, size_t n);
pd_store_obj_t *pd_store__index_find(const pd_store__index_t *ix, const void *key, size_t len);
void pd_store__index_insert(pd_store__index_t *ix, pd_store_obj_t *o);
void pd_store__index_remove(pd_store__index_t *ix, const pd_store_obj_t *o);
/* Swap `old` for `o` with the same key. */
void pd_store__index_replace(pd_store__index_t *ix, const pd_store_obj_t *old, pd_store_obj_t *o);

/* store.c */
/* A new object (refs 1) with copies of the bytes; NULL on -ENOMEM. */
pd_store_obj_t *pd_store__obj_new(uint8_t kind, const pd_store_op_t *op);
void pd_store__obj_put(pd_store_obj_t *o); /* drop one reference */
/* Room for `extra` more objects in the table's indexes: 0 or -ENOMEM. */
int pd_store__table_reserve(pd_store__table_t *t, size_t extra);
void pd_store__table_append(pd_store__table_t *t, pd_store_obj_t *o);
/* Remove and release every object (restore failure, free). */
void pd_store__table_clear(pd_store__table_t *t);
/* Rules every object obeys, in a txn or a snapshot: 0 or -PD_EMALFORMED / -PD_ETOOBIG. */
int pd_store__obj_check(uint8_t kind, const pd_store_op_t *op);

/* store_watch.c */
int pd_store__watch_init(pd_store_t *s, uint32_t cap);
void pd_store__watch_free(pd_store_t *s);
/* Record a change (takes its own reference on o; may release the oldest event). */
void pd_store__watch_push(pd_store_t *s, uint64_t index, uint8_t kind, uint8_t op, pd_store_obj_t *o);
/* Drop every event and move the stream past every existing cursor (they get -PD_ELIMIT). */
void pd_store__watch_reset(pd_store_t *s);

/* store_vip.c */
/* Apply a VIP_ALLOC / VIP_RELEASE entry (type byte included): 0 with r->rc the outcome, or -ENOMEM
 * with the store unchanged. */
int pd_store__vip_apply(pd_store_t *s, const uint8_t *p, size_t len, pd_store_result_t *r);
void pd_store__vip_clear(pd_store_t *s);
/* Insert at the right place in name order (restore; the caller checked order and uniqueness). */
int pd_store__vip_insert(pd_store_t *s, const char *name, size_t len, uint32_t addr);
/* The range's first and last usable address. */
int pd_store__vip_range_ok(uint32_t net, uint64_t prefix);
void pd_store__vip_bounds(const pd_store_vip_range_t *r, uint32_t *first, uint32_t *last);

#endif
