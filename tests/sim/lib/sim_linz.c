/* Wing & Gong linearizability search with Lowe's memoisation, per register (see sim_linz.h).
 *
 * The history of one key becomes a doubly linked list of call and return events in time order
 * (calls before returns at equal times). The search walks the list: at a call it tries to
 * linearize that op next (legal for the register, and the resulting (linearized set, value) not
 * seen before), lifting its call and return out of the list and restarting from the head; at a
 * return of an op not yet linearized it backtracks. It succeeds when no return is left unmatched
 * (UNKNOWN writes have no return event, so they may stay out forever). */
#include "sim_linz.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pd_alloc.h"

typedef struct ev {
    struct ev *prev, *next, *match; /* match: a call's return event (NULL: UNKNOWN) */
    uint32_t op;                    /* index into the key's ops */
    bool is_call;
    uint64_t t;
} ev_t;

typedef struct {
    uint64_t *words; /* n_slots * nw: the linearized sets */
    uint64_t *vals;
    uint8_t *used;
    size_t n_slots, n_used, nw;
} memo_t;

typedef struct {
    ev_t *ev;
    uint64_t value;
} frame_t;

static uint64_t memo_hash(const uint64_t *bits, size_t nw, uint64_t v)
{
    uint64_t h = 0xcbf29ce484222325ull ^ v;
    for (size_t i = 0; i < nw; i++)
        h = (h ^ bits[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static int memo_init(memo_t *m, size_t nw, size_t slots)
{
    memset(m, 0, sizeof *m);
    m->nw = nw;
    m->n_slots = slots;
    m->words = pd_calloc(slots * nw, sizeof *m->words);
    m->vals = pd_calloc(slots, sizeof *m->vals);
    m->used = pd_calloc(slots, 1);
    return m->words && m->vals && m->used ? 0 : -ENOMEM;
}

static void memo_free(memo_t *m)
{
    pd_free(m->words);
    pd_free(m->vals);
    pd_free(m->used);
}

/* Insert; 1 if new, 0 if seen, -ENOMEM. */
static int memo_add(memo_t *m, const uint64_t *bits, uint64_t v);

static int memo_grow(memo_t *m)
{
    memo_t n;
    if (memo_init(&n, m->nw, m->n_slots * 2))
        return memo_free(&n), -ENOMEM;
    for (size_t i = 0; i < m->n_slots; i++) {
        if (m->used[i])
            (void)memo_add(&n, m->words + i * m->nw, m->vals[i]);
    }
    memo_free(m);
    *m = n;
    return 0;
}

static int memo_add(memo_t *m, const uint64_t *bits, uint64_t v)
{
    if ((m->n_used + 1) * 2 > m->n_slots && memo_grow(m))
        return -ENOMEM;
    size_t i = memo_hash(bits, m->nw, v) & (m->n_slots - 1);
    for (;; i = (i + 1) & (m->n_slots - 1)) {
        if (!m->used[i])
            break;
        if (m->vals[i] == v && memcmp(m->words + i * m->nw, bits, m->nw * 8) == 0)
            return 0;
    }
    m->used[i] = 1;
    m->vals[i] = v;
    memcpy(m->words + i * m->nw, bits, m->nw * 8);
    m->n_used++;
    return 1;
}

static int ev_cmp(const void *a, const void *b)
{
    const ev_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->is_call != y->is_call)
        return x->is_call ? -1 : 1;
    return x->op < y->op ? -1 : x->op > y->op;
}

static void lift(ev_t *e)
{
    e->prev->next = e->next;
    if (e->next)
        e->next->prev = e->prev;
    if (e->match) {
        e->match->prev->next = e->match->next;
        if (e->match->next)
            e->match->next->prev = e->match->prev;
    }
}

static void unlift(ev_t *e)
{
    if (e->match) {
        e->match->prev->next = e->match;
        if (e->match->next)
            e->match->next->prev = e->match;
    }
    e->prev->next = e;
    if (e->next)
        e->next->prev = e;
}

/* Build the event list of ops[0..m): evs has room for 2m + 1 (the head first). */
static ev_t *build_list(const pd_linz_op_t *const *ops, uint32_t m, ev_t *evs)
{
    ev_t *head = &evs[0], *arr = evs + 1;
    uint32_t n = 0;
    for (uint32_t i = 0; i < m; i++) {
        arr[n++] = (ev_t){.op = i, .is_call = true, .t = ops[i]->call_ms};
        if (ops[i]->status == PD_LINZ_OK)
            arr[n++] = (ev_t){.op = i, .is_call = false, .t = ops[i]->ret_ms};
    }
    qsort(arr, n, sizeof *arr, ev_cmp);
    ev_t *ret_of[PD_LINZ_KEY_OPS_MAX] = {0};
    for (uint32_t i = 0; i < n; i++) {
        if (!arr[i].is_call)
            ret_of[arr[i].op] = &arr[i];
    }
    *head = (ev_t){0};
    ev_t *prev = head;
    for (uint32_t i = 0; i < n; i++) {
        arr[i].match = arr[i].is_call ? ret_of[arr[i].op] : NULL;
        arr[i].prev = prev;
        prev->next = &arr[i];
        prev = &arr[i];
    }
    prev->next = NULL;
    return head;
}

static bool reg_step(const pd_linz_op_t *op, uint64_t *value)
{
    if (op->kind == PD_LINZ_WRITE) {
        *value = op->value;
        return true;
    }
    return op->value == *value;
}

/* One key's search. Returns a verdict, or -ENOMEM. */
static int check_key(const pd_linz_op_t *const *ops, uint32_t m, uint64_t steps_max, uint64_t *steps)
{
    size_t nw = (m + 63) / 64;
    ev_t *evs = pd_calloc(2 * (size_t)m + 1, sizeof *evs);
    frame_t *stack = pd_calloc(m + 1, sizeof *stack);
    uint64_t *bits = pd_calloc(nw + 1, sizeof *bits);
    memo_t memo;
    int rc = memo_init(&memo, nw + 1, 1024);
    if (!evs || !stack || !bits || rc) {
        rc = -ENOMEM;
        goto out;
    }
    ev_t *head = build_list(ops, m, evs), *e = head->next;
    uint32_t depth = 0;
    uint64_t value = 0;
    rc = PD_LINZ_LINEARIZABLE;
    while (head->next && e) {
        if (++*steps > steps_max) {
            rc = PD_LINZ_INCONCLUSIVE;
            break;
        }
        if (e->is_call) {
            uint64_t nv = value;
            if (reg_step(ops[e->op], &nv)) {
                bits[e->op / 64] |= 1ull << (e->op % 64);
                int fresh = memo_add(&memo, bits, nv);
                if (fresh < 0) {
                    rc = fresh;
                    break;
                }
                if (fresh) {
                    stack[depth++] = (frame_t){.ev = e, .value = value};
                    value = nv;
                    lift(e);
                    e = head->next;
                    continue;
                }
                bits[e->op / 64] &= ~(1ull << (e->op % 64));
            }
            e = e->next;
            continue;
        }
        if (depth == 0) { /* a return that nothing can precede: no order works */
            rc = PD_LINZ_VIOLATION;
            break;
        }
        frame_t f = stack[--depth];
        value = f.value;
        bits[f.ev->op / 64] &= ~(1ull << (f.ev->op % 64));
        unlift(f.ev);
        e = f.ev->next;
    }
out:
    memo_free(&memo);
    pd_free(evs);
    pd_free(stack);
    pd_free(bits);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = ((const uint64_t *)a)[0], y = ((const uint64_t *)b)[0];
    return x < y ? -1 : x > y;
}

/* Tighten UNKNOWN writes of one key (sound, since values are unique): one whose value no read
 * returned is dropped (leaving it out never breaks a linearization); one whose value was read
 * must take effect before the earliest such read returned, so it gets that as its return. Keeps
 * the search from trying each unknown write at every later point. Returns the ops kept. */
static uint32_t bound_unknown(pd_linz_op_t *ops, uint32_t m, uint64_t (*reads)[2])
{
    uint32_t nr = 0, k = 0;
    for (uint32_t i = 0; i < m; i++) {
        if (ops[i].kind == PD_LINZ_READ) {
            reads[nr][0] = ops[i].value;
            reads[nr++][1] = ops[i].ret_ms;
        }
    }
    qsort(reads, nr, sizeof *reads, cmp_u64);
    for (uint32_t i = 0; i < m; i++) {
        pd_linz_op_t o = ops[i];
        if (o.kind == PD_LINZ_WRITE && o.status == PD_LINZ_UNKNOWN) {
            uint64_t key[2] = {o.value, 0};
            const uint64_t(*r)[2] = bsearch(key, reads, nr, sizeof *reads, cmp_u64);
            if (!r)
                continue;
            while (r > reads && r[-1][0] == o.value)
                r--;
            uint64_t first = UINT64_MAX;
            for (; r < reads + nr && r[0][0] == o.value; r++)
                first = r[0][1] < first ? r[0][1] : first;
            o.status = PD_LINZ_OK;
            o.ret_ms = first > o.call_ms ? first : o.call_ms;
        }
        ops[k++] = o;
    }
    return k;
}

/* One key: copy, tighten, search. */
static int check_key_ops(const pd_linz_op_t *const *src, uint32_t m, uint64_t steps_max,
                         uint64_t *steps)
{
    pd_linz_op_t *ops = pd_calloc(m + 1, sizeof *ops);
    const pd_linz_op_t **ptrs = pd_calloc(m + 1, sizeof *ptrs);
    uint64_t(*reads)[2] = pd_calloc(m + 1, sizeof *reads);
    int rc = -ENOMEM;
    if (ops && ptrs && reads) {
        for (uint32_t i = 0; i < m; i++)
            ops[i] = *src[i];
        m = bound_unknown(ops, m, reads);
        for (uint32_t i = 0; i < m; i++)
            ptrs[i] = &ops[i];
        rc = check_key(ptrs, m, steps_max, steps);
    }
    pd_free(ops);
    pd_free(ptrs);
    pd_free(reads);
    return rc;
}

static int cmp_key(const void *a, const void *b)
{
    const pd_linz_op_t *x = *(const pd_linz_op_t *const *)a, *y = *(const pd_linz_op_t *const *)b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x < y ? -1 : x > y;
}

int pd_linz_check(const pd_linz_op_t *ops, size_t n, uint64_t steps_max, pd_linz_result_t *out)
{
    pd_linz_result_t res = {.verdict = PD_LINZ_LINEARIZABLE};
    steps_max = steps_max ? steps_max : PD_LINZ_STEPS_DEFAULT;
    const pd_linz_op_t **by_key = pd_calloc(n + 1, sizeof *by_key);
    if (!by_key)
        return -ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(ops[i].kind == PD_LINZ_READ && ops[i].status == PD_LINZ_UNKNOWN))
            by_key[m++] = &ops[i];
    }
    qsort(by_key, m, sizeof *by_key, cmp_key);
    res.ops = m;
    int rc = 0;
    for (size_t i = 0; i < m && rc == 0;) {
        size_t j = i;
        while (j < m && by_key[j]->key == by_key[i]->key)
            j++;
        res.keys++;
        uint64_t steps = 0;
        int v = j - i > PD_LINZ_KEY_OPS_MAX
                    ? PD_LINZ_INCONCLUSIVE
                    : check_key_ops(by_key + i, (uint32_t)(j - i), steps_max, &steps);
        res.steps += steps;
        if (v < 0)
            rc = v;
        else if (v != PD_LINZ_LINEARIZABLE && res.verdict != PD_LINZ_VIOLATION &&
                 (res.verdict == PD_LINZ_LINEARIZABLE || v == PD_LINZ_VIOLATION)) {
            res.verdict = (pd_linz_verdict_t)v;
            res.bad_key = by_key[i]->key;
        }
        i = j;
    }
    pd_free(by_key);
    if (rc == 0)
        *out = res;
    return rc;
}

const char *pd_linz_verdict_name(pd_linz_verdict_t v)
{
    switch (v) {
    case PD_LINZ_LINEARIZABLE:
        return "linearizable";
    case PD_LINZ_VIOLATION:
        return "violation";
    default:
        return "inconclusive";
    }
}
