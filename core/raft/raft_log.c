/* The in-memory Raft log: entries after the snapshot point, stable/commit/applied marks, and the
 * latest snapshot. The caller's stable storage mirrors it through ready()/advance(). */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "raft_int.h"

void rlog_init(raft_log_t *l)
{
    memset(l, 0, sizeof *l);
}

static void free_entries(pd_raft_entry_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pd_free(e[i].data);
        e[i].data = NULL;
    }
}

void rlog_free(raft_log_t *l)
{
    free_entries(l->ents, l->n);
    pd_free(l->ents);
    pd_free(l->snap.data);
    memset(l, 0, sizeof *l);
}

uint64_t rlog_last_index(const raft_log_t *l)
{
    return l->prev_index + l->n;
}

uint64_t rlog_last_term(const raft_log_t *l)
{
    return l->n ? l->ents[l->n - 1].term : l->prev_term;
}

int rlog_term(const raft_log_t *l, uint64_t index, uint64_t *term_out)
{
    if (index == l->prev_index) {
        *term_out = l->prev_term;
        return 0;
    }
    if (index < l->prev_index || index > rlog_last_index(l))
        return -1;
    *term_out = l->ents[index - l->prev_index - 1].term;
    return 0;
}

bool rlog_match(const raft_log_t *l, uint64_t index, uint64_t term)
{
    uint64_t t;
    return rlog_term(l, index, &t) == 0 && t == term;
}

bool rlog_up_to_date(const raft_log_t *l, uint64_t last_index, uint64_t last_term)
{
    uint64_t my_term = rlog_last_term(l);
    return last_term > my_term || (last_term == my_term && last_index >= rlog_last_index(l));
}

static int reserve(raft_log_t *l, size_t want)
{
    if (want <= l->cap)
        return 0;
    size_t cap = l->cap ? l->cap : 64;
    while (cap < want)
        cap *= 2;
    pd_raft_entry_t *e = pd_realloc(l->ents, cap * sizeof *e);
    if (!e)
        return -ENOMEM;
    l->ents = e;
    l->cap = cap;
    return 0;
}

static void truncate_after(raft_log_t *l, uint64_t index)
{
    PD_ASSERT(index >= l->prev_index);
    PD_ASSERT(index >= l->committed); /* committed entries never change */
    size_t keep = (size_t)(index - l->prev_index);
    if (keep >= l->n)
        return;
    free_entries(l->ents + keep, l->n - keep);
    l->n = keep;
    if (l->stable > index)
        l->stable = index;
}

int rlog_append(raft_log_t *l, const pd_raft_entry_t *ents, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t first = ents[0].index;
    PD_ASSERT(first > l->prev_index && first <= rlog_last_index(l) + 1);
    size_t keep = (size_t)(first - 1 - l->prev_index);
    if (reserve(l, keep + n) != 0)
        return -ENOMEM;
    /* Copy the payloads first so a failure leaves the log as it was. */
    uint8_t **copies = pd_calloc(n, sizeof *copies);
    if (!copies)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (ents[i].len == 0)
            continue;
        copies[i] = pd_malloc(ents[i].len);
        if (!copies[i]) {
            for (size_t j = 0; j < i; j++)
                pd_free(copies[j]);
            pd_free(copies);
            return -ENOMEM;
        }
        memcpy(copies[i], ents[i].data, ents[i].len);
    }
    truncate_after(l, first - 1);
    for (size_t i = 0; i < n; i++) {
        PD_ASSERT(ents[i].index == first + i);
        l->ents[l->n] = ents[i];
        l->ents[l->n].data = copies[i];
        l->n++;
    }
    pd_free(copies);
    return 0;
}

/* Index of the first entry in ents that is not already in the log with the same term, or 0. */
static uint64_t find_conflict(const raft_log_t *l, const pd_raft_entry_t *ents, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t t;
        if (ents[i].index <= l->prev_index)
            continue; /* covered by the snapshot: committed, so it matches */
        if (rlog_term(l, ents[i].index, &t) != 0 || t != ents[i].term)
            return ents[i].index;
    }
    return 0;
}

int rlog_maybe_append(raft_log_t *l, uint64_t prev_index, uint64_t prev_term, uint64_t commit,
                      const pd_raft_entry_t *ents, size_t n, uint64_t *last_new)
{
    if (prev_index >= l->prev_index && !rlog_match(l, prev_index, prev_term))
        return 0;
    if (prev_index < l->prev_index && prev_index + n <= l->prev_index) {
        /* Entirely inside our snapshot: nothing to do. */
        *last_new = prev_index + n;
        rlog_commit_to(l, PD_MIN(commit, *last_new));
        return 1;
    }
    uint64_t conflict = find_conflict(l, ents, n);
    if (conflict) {
        PD_ASSERT(conflict > l->committed);
        size_t off = (size_t)(conflict - ents[0].index);
        int rc = rlog_append(l, ents + off, n - off);
        if (rc)
            return rc;
    }
    *last_new = prev_index + n;
    rlog_commit_to(l, PD_MIN(commit, *last_new));
    return 1;
}

uint64_t rlog_find_conflict_by_term(const raft_log_t *l, uint64_t index, uint64_t term)
{
    uint64_t last = rlog_last_index(l);
    if (index > last)
        index = last;
    while (index > l->prev_index) {
        uint64_t t = l->ents[index - l->prev_index - 1].term;
        if (t <= term)
            break;
        index--;
    }
    return index;
}

void rlog_commit_to(raft_log_t *l, uint64_t commit)
{
    if (commit <= l->committed)
        return;
    PD_ASSERT(commit <= rlog_last_index(l));
    l->committed = commit;
}

const pd_raft_entry_t *rlog_slice(const raft_log_t *l, uint64_t lo, uint64_t hi, size_t max_n,
                                  uint64_t max_bytes, size_t *n_out)
{
    *n_out = 0;
    if (hi > rlog_last_index(l))
        hi = rlog_last_index(l);
    if (lo > hi || lo <= l->prev_index)
        return NULL;
    const pd_raft_entry_t *e = &l->ents[lo - l->prev_index - 1];
    size_t n = 0;
    uint64_t bytes = 0;
    while (lo + n <= hi && n < max_n) {
        bytes += e[n].len;
        if (n > 0 && bytes > max_bytes)
            break;
        n++;
    }
    *n_out = n;
    return e;
}

static void set_snapshot(raft_log_t *l, pd_raft_snapshot_t *snap)
{
    pd_free(l->snap.data);
    l->snap = *snap;
    snap->data = NULL;
    snap->len = 0;
}

void rlog_restore(raft_log_t *l, pd_raft_snapshot_t *snap)
{
    uint64_t index = snap->meta.index, term = snap->meta.term;
    PD_ASSERT(index > l->committed);
    if (rlog_match(l, index, term)) {
        /* Keep what follows; the caller drops its stored log, so re-persist the rest. */
        size_t drop = (size_t)(index - l->prev_index);
        free_entries(l->ents, drop);
        memmove(l->ents, l->ents + drop, (l->n - drop) * sizeof *l->ents);
        l->n -= drop;
    } else {
        free_entries(l->ents, l->n);
        l->n = 0;
    }
    l->prev_index = index;
    l->prev_term = term;
    l->stable = index;
    l->committed = index;
    l->applied = index;
    set_snapshot(l, snap);
    l->snap_unstable = true;
}

void rlog_compact(raft_log_t *l, pd_raft_snapshot_t *snap, uint64_t keep)
{
    uint64_t index = snap->meta.index;
    PD_ASSERT(index <= l->applied && index >= l->prev_index);
    set_snapshot(l, snap);
    if (index <= keep)
        return;
    uint64_t upto = index - keep;
    if (upto <= l->prev_index)
        return;
    /* Drop only what is durable, so the caller never misses an entry to persist. */
    if (upto > l->stable)
        upto = l->stable;
    if (upto <= l->prev_index)
        return;
    uint64_t new_prev_term;
    PD_ASSERT(rlog_term(l, upto, &new_prev_term) == 0);
    size_t drop = (size_t)(upto - l->prev_index);
    free_entries(l->ents, drop);
    memmove(l->ents, l->ents + drop, (l->n - drop) * sizeof *l->ents);
    l->n -= drop;
    l->prev_index = upto;
    l->prev_term = new_prev_term;
}
