/* libFuzzer target for the SWIM wire decoder: decode; if it decodes, re-encode, decode the result
 * again and check it round-trips to the same bytes (encoding is canonical), then release. Compound
 * parts are decoded too, as the core does. The one-walk push/pull path must agree with the
 * validating one wherever it answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pd_assert.h"
#include "pd_alloc.h"
#include "pd_limits.h"
#include "pd_mp.h"
#include "swim_wire.h"
#include "swim_wire_pp.h"

static void check_roundtrip(const pd_swim_msg_t *m)
{
    size_t cap = pd_swim_wire_size_max(m), len = 0, len2 = 0;
    uint8_t *buf = pd_malloc(cap), *buf2 = pd_malloc(cap);
    PD_ASSERT(buf && buf2);
    PD_ASSERT(pd_swim_wire_encode(m, buf, cap, &len) == 0);
    pd_swim_msg_t *again = pd_malloc(sizeof *again);
    PD_ASSERT(again);
    PD_ASSERT(pd_swim_wire_decode(buf, len, again) == 0);
    PD_ASSERT(again->type == m->type && again->n_nodes == m->n_nodes && again->n_parts == m->n_parts);
    PD_ASSERT(pd_swim_wire_encode(again, buf2, cap, &len2) == 0);
    PD_ASSERT(len == len2 && memcmp(buf, buf2, len) == 0);
    pd_swim_wire_release(again);
    pd_free(again);
    pd_free(buf);
    pd_free(buf2);
}

static int node_eq(const pd_swim_wire_node_t *a, const pd_swim_wire_node_t *b)
{
    return a->id.p == b->id.p && a->id.len == b->id.len && pd_swim_addr_eq(&a->addr, &b->addr) &&
           a->meta.p == b->meta.p && a->meta.len == b->meta.len && a->inc == b->inc && a->state == b->state;
}

/* Whatever the one-walk path accepts, validation accepts and the validated walk reads the same. */
static void check_fast_path(const uint8_t *data, size_t size)
{
    pd_swim_msg_t *f = pd_calloc(1, sizeof *f), *v = pd_calloc(1, sizeof *v);
    PD_ASSERT(f && v);
    if (pd_swim_wire__decode_pushpull_fast(data, size, f)) {
        int rc = -1;
        PD_ASSERT(pd_mp_validate(data, size, PD_MP_DEPTH_MAX) == 0);
        PD_ASSERT(pd_swim_wire__decode_pushpull(data, size, v, &rc) == 1 && rc == 0);
        PD_ASSERT(f->type == v->type && f->seq == v->seq && f->join == v->join && f->reply == v->reply);
        PD_ASSERT(f->payload.p == v->payload.p && f->payload.len == v->payload.len);
        PD_ASSERT(f->n_nodes == v->n_nodes);
        for (uint32_t i = 0; i < f->n_nodes; i++)
            PD_ASSERT(node_eq(&f->nodes[i], &v->nodes[i]));
    }
    pd_free(f->nodes);
    pd_free(v->nodes);
    pd_free(f);
    pd_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_fast_path(data, size);
    pd_swim_bytes_t node;
    if (pd_swim_wire_peek_node(data, size, &node) == 0) /* the cache-hint glance stays in bounds */
        PD_ASSERT(node.p >= data && node.p + node.len <= data + size);
    pd_swim_msg_t *m = pd_malloc(sizeof *m);
    if (!m)
        return 0;
    if (pd_swim_wire_decode(data, size, m) == 0) {
        check_roundtrip(m);
        for (uint32_t i = 0; i < m->n_parts; i++) {
            pd_swim_msg_t *part = pd_malloc(sizeof *part);
            if (part && pd_swim_wire_decode(m->parts[i].p, m->parts[i].len, part) == 0) {
                check_roundtrip(part);
                pd_swim_wire_release(part);
            }
            pd_free(part);
        }
        pd_swim_wire_release(m);
    }
    pd_free(m);
    return 0;
}
