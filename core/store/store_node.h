/* Node records: the managers' desired state for each node (SwarmKit's api.Node spec), one
 * PD_STORE_NODE object per node ever seen, keyed by its node id (object id and name are both the
 * node id: hostnames need not be unique). The object's spec is this msgpack map, every key present,
 * in this order (one encoding per record):
 *   {"h": hostname, "r": "manager"|"worker", "a": "active"|"pause"|"drain",
 *    "l": {key: value, ...} (keys sorted), "rm": bool}
 * "r" is the desired role (promote/demote change it; the leader's reconciler makes Raft follow).
 * A removed node keeps its record with "rm" true: a tombstone, so that its identity stays known
 * and refused (pd_node_rec_is_removed), and so that gossip does not bring it back as new.
 * Pure: no clock, no IO. */
#ifndef PD_STORE_NODE_H
#define PD_STORE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define PD_NODE_HOSTNAME_MAX 253u
#define PD_NODE_LABELS_MAX 32u
#define PD_NODE_LABEL_KEY_MAX 128u
#define PD_NODE_LABEL_VAL_MAX 256u

typedef enum { PD_NODE_WORKER = 0, PD_NODE_MANAGER = 1 } pd_node_role_t;
typedef enum { PD_NODE_ACTIVE = 0, PD_NODE_PAUSE = 1, PD_NODE_DRAIN = 2 } pd_node_avail_t;

typedef struct {
    char key[PD_NODE_LABEL_KEY_MAX + 1];
    char value[PD_NODE_LABEL_VAL_MAX + 1];
} pd_node_label_t;

typedef struct {
    char hostname[PD_NODE_HOSTNAME_MAX + 1];
    uint8_t role;  /* pd_node_role_t */
    uint8_t avail; /* pd_node_avail_t */
    bool removed;
    uint32_t n_labels;
    pd_node_label_t labels[PD_NODE_LABELS_MAX]; /* sorted by key, keys unique */
} pd_node_rec_t;

const char *pd_node_role_name(pd_node_role_t r);   /* "manager" / "worker" */
const char *pd_node_avail_name(pd_node_avail_t a); /* "active" / "pause" / "drain" */
/* Parse a name (case-insensitive): 0, or -PD_EUSAGE. */
int pd_node_role_parse(const char *s, pd_node_role_t *out);
int pd_node_avail_parse(const char *s, pd_node_avail_t *out);

/* Labels. set: add or replace (kept sorted); -PD_EUSAGE (empty or too long key/value, or a key
 * with '=' or control characters), -PD_ELIMIT (PD_NODE_LABELS_MAX). rm: 0, or -PD_ENOTFOUND. */
int pd_node_rec_label_set(pd_node_rec_t *r, const char *key, const char *value);
int pd_node_rec_label_rm(pd_node_rec_t *r, const char *key);
const char *pd_node_rec_label_get(const pd_node_rec_t *r, const char *key);

/* Spec bytes <-> record. encode: a new pd_malloc buffer; 0, -PD_EUSAGE (bad field), -ENOMEM.
 * decode: 0, -PD_EMALFORMED (not the shape above), -PD_ELIMIT; *out untouched on error. */
int pd_node_rec_encode(const pd_node_rec_t *r, uint8_t **out, size_t *len_out);
int pd_node_rec_decode(const void *spec, size_t len, pd_node_rec_t *out);

/* The record of a node in the store: 0 and *out, -PD_ENOTFOUND, or a decode error. */
int pd_node_rec_get(const pd_store_t *s, const char *node_id, pd_node_rec_t *out);
/* Was this node removed from the cluster (its record is a tombstone)? false for unknown ids. */
bool pd_node_rec_is_removed(const pd_store_t *s, const char *node_id);

#endif
