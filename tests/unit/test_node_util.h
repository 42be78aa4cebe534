/* Helper shared by the node unit tests: write a node record into a store the way the daemon does
 * (pd_node_records_txn, then apply the entry). Header-only, test code only. */
#ifndef TEST_NODE_UTIL_H
#define TEST_NODE_UTIL_H

#include <stdio.h>
#include <string.h>

#include "node_records.h"
#include "pd_alloc.h"

/* Create or replace the record of id (hostname, role, removed) at the next index. */
static inline void t_node_put(pd_store_t *st, uint64_t *index, const char *id, const char *host,
                              pd_node_role_t role, bool removed)
{
    pd_node_rec_t *r = pd_calloc(1, sizeof *r);
    assert_non_null(r);
    snprintf(r->hostname, sizeof r->hostname, "%s", host);
    r->role = (uint8_t)role;
    r->removed = removed;
    const pd_store_obj_t *old = pd_store_get(st, PD_STORE_NODE, id, strlen(id));
    uint8_t *entry = NULL;
    size_t len = 0;
    assert_int_equal(pd_node_records_txn(id, r, old ? old->version : 0, &entry, &len), 0);
    pd_store_result_t res;
    ++*index;
    assert_int_equal(pd_store_apply(st, *index, 1, entry, len, &res), 0);
    assert_int_equal(res.rc, 0);
    pd_free(entry);
    pd_free(r);
}

#endif
