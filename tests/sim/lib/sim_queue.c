/* The simulator's two priority queues, both binary min-heaps keyed by (time, seq):
 *   - events: messages in flight and scheduled calls, O(log M) push and pop;
 *   - timers: at most one per node, indexed (each node knows its slot) so re-arming a timer moves
 *     it in O(log N) instead of leaving stale entries behind.
 * seq comes from one counter shared by both, so the order of equal-time events is the order in
 * which they were scheduled: ties never depend on heap layout. */
#include <errno.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "sim_internal.h"

static inline bool key_less(uint64_t at_a, uint64_t seq_a, uint64_t at_b, uint64_t seq_b)
{
    return at_a < at_b || (at_a == at_b && seq_a < seq_b);
}

/* ---- event heap ----------------------------------------------------------------------------- */

static inline bool slot_less(const pd_sim_slot_t *a, const pd_sim_slot_t *b)
{
    return key_less(a->at, a->seq, b->at, b->seq);
}

static void ev_sift_up(pd_sim_slot_t *v, size_t i)
{
    pd_sim_slot_t x = v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!slot_less(&x, &v[parent]))
            break;
        v[i] = v[parent];
        i = parent;
    }
    v[i] = x;
}

static void ev_sift_down(pd_sim_slot_t *v, size_t len, size_t i)
{
    pd_sim_slot_t x = v[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= len)
            break;
        if (child + 1 < len && slot_less(&v[child + 1], &v[child]))
            child++;
        if (!slot_less(&v[child], &x))
            break;
        v[i] = v[child];
        i = child;
    }
    v[i] = x;
}

int pd_sim_evheap_push(pd_sim_evheap_t *h, uint64_t at, uint64_t seq, pd_sim_event_t *ev)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        pd_sim_slot_t *v = pd_realloc(h->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->len] = (pd_sim_slot_t){.at = at, .seq = seq, .ev = ev};
    ev_sift_up(h->v, h->len);
    h->len++;
    return 0;
}

pd_sim_slot_t pd_sim_evheap_pop(pd_sim_evheap_t *h)
{
    PD_ASSERT(h->len > 0);
    pd_sim_slot_t top = h->v[0];
    h->len--;
    if (h->len > 0) {
        h->v[0] = h->v[h->len];
        ev_sift_down(h->v, h->len, 0);
    }
    return top;
}

void pd_sim_evheap_free(pd_sim_evheap_t *h)
{
    for (size_t i = 0; i < h->len; i++)
        pd_free(h->v[i].ev);
    pd_free(h->v);
    *h = (pd_sim_evheap_t){0};
}

/* ---- timer heap ----------------------------------------------------------------------------- */

static inline bool timer_less(const pd_sim_node_t *nodes, uint32_t a, uint32_t b)
{
    return key_less(nodes[a].timer_at, nodes[a].timer_seq, nodes[b].timer_at, nodes[b].timer_seq);
}

static inline void timer_place(pd_sim_timerheap_t *h, pd_sim_node_t *nodes, uint32_t i, uint32_t node)
{
    h->v[i] = node;
    nodes[node].timer_pos = i;
}

static void timer_sift_up(pd_sim_timerheap_t *h, pd_sim_node_t *nodes, uint32_t i)
{
    uint32_t x = h->v[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!timer_less(nodes, x, h->v[parent]))
            break;
        timer_place(h, nodes, i, h->v[parent]);
        i = parent;
    }
    timer_place(h, nodes, i, x);
}

static void timer_sift_down(pd_sim_timerheap_t *h, pd_sim_node_t *nodes, uint32_t i)
{
    uint32_t x = h->v[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && timer_less(nodes, h->v[child + 1], h->v[child]))
            child++;
        if (!timer_less(nodes, h->v[child], x))
            break;
        timer_place(h, nodes, i, h->v[child]);
        i = child;
    }
    timer_place(h, nodes, i, x);
}

int pd_sim_timerheap_init(pd_sim_timerheap_t *h, uint32_t nodes)
{
    h->v = pd_calloc(nodes, sizeof *h->v);
    h->len = 0;
    return h->v ? 0 : -ENOMEM;
}

void pd_sim_timerheap_free(pd_sim_timerheap_t *h)
{
    pd_free(h->v);
    *h = (pd_sim_timerheap_t){0};
}

static void timer_remove(pd_sim_timerheap_t *h, pd_sim_node_t *nodes, uint32_t node)
{
    uint32_t i = nodes[node].timer_pos;
    PD_ASSERT(i < h->len && h->v[i] == node);
    nodes[node].timer_pos = PD_SIM_NO_POS;
    nodes[node].timer_at = PD_SIM_NEVER;
    h->len--;
    if (i == h->len)
        return;
    uint32_t moved = h->v[h->len];
    timer_place(h, nodes, i, moved);
    timer_sift_down(h, nodes, i);
    timer_sift_up(h, nodes, nodes[moved].timer_pos);
}

void pd_sim_timerheap_set(pd_sim_timerheap_t *h, pd_sim_node_t *nodes, uint32_t node, uint64_t at,
                          uint64_t seq)
{
    pd_sim_node_t *n = &nodes[node];
    if (at == PD_SIM_NEVER) {
        if (n->timer_pos != PD_SIM_NO_POS)
            timer_remove(h, nodes, node);
        return;
    }
    n->timer_at = at;
    n->timer_seq = seq;
    if (n->timer_pos == PD_SIM_NO_POS) {
        timer_place(h, nodes, h->len++, node);
        timer_sift_up(h, nodes, n->timer_pos);
        return;
    }
    /* Moved: it can only need to go one way; trying both is cheap and simple. */
    timer_sift_up(h, nodes, n->timer_pos);
    timer_sift_down(h, nodes, n->timer_pos);
}
