/* The leader's view of one follower: match/next, probe/replicate/snapshot state, and the ring of
 * appends in flight that bounds pipelining. */
#include <string.h>

#include "pd_assert.h"
#include "raft_int.h"

void rpr_reset(raft_pr_t *p, uint64_t id, bool learner, uint64_t last_index)
{
    memset(p, 0, offsetof(raft_pr_t, infl));
    p->id = id;
    p->learner = learner;
    p->next = last_index + 1;
    p->state = PR_PROBE;
}

static void infl_reset(raft_pr_t *p)
{
    p->infl_start = 0;
    p->infl_count = 0;
}

void rpr_become_probe(raft_pr_t *p)
{
    if (p->state == PR_SNAPSHOT)
        p->next = PD_MAX(p->match + 1, p->snap_index + 1);
    else
        p->next = p->match + 1;
    p->state = PR_PROBE;
    p->probe_sent = false;
    p->snap_index = 0;
    infl_reset(p);
}

void rpr_become_replicate(raft_pr_t *p)
{
    p->state = PR_REPLICATE;
    p->next = p->match + 1;
    p->probe_sent = false;
    infl_reset(p);
}

void rpr_become_snapshot(raft_pr_t *p, uint64_t snap_index)
{
    p->state = PR_SNAPSHOT;
    p->snap_index = snap_index;
    p->snap_acked = 0;
    p->snap_idle_ticks = 0;
    p->probe_sent = false;
    infl_reset(p);
}

bool rpr_maybe_update(raft_pr_t *p, uint64_t n)
{
    bool updated = false;
    if (p->match < n) {
        p->match = n;
        updated = true;
        p->probe_sent = false;
    }
    if (p->next < n + 1)
        p->next = n + 1;
    return updated;
}

bool rpr_maybe_decr_to(raft_pr_t *p, uint64_t rejected, uint64_t match_hint)
{
    if (p->state == PR_REPLICATE) {
        if (rejected <= p->match)
            return false; /* stale */
        p->next = p->match + 1;
        return true;
    }
    if (p->next == 0 || p->next - 1 != rejected)
        return false; /* not the probe we are waiting for */
    uint64_t n = PD_MIN(rejected, match_hint + 1);
    p->next = PD_MAX(n, p->match + 1);
    if (p->next < 1)
        p->next = 1;
    p->probe_sent = false;
    return true;
}

bool rpr_paused(const raft_pr_t *p, uint32_t max_inflight)
{
    switch (p->state) {
    case PR_PROBE: return p->probe_sent;
    case PR_REPLICATE: return p->infl_count >= max_inflight;
    case PR_SNAPSHOT: return true;
    }
    PD_UNREACHABLE();
    return true;
}

void rpr_sent(raft_pr_t *p, uint64_t last, size_t n_entries)
{
    if (p->state == PR_REPLICATE) {
        if (n_entries == 0)
            return;
        p->next = last + 1;
        PD_ASSERT(p->infl_count < PD_RAFT_INFLIGHT_MAX);
        p->infl[(p->infl_start + p->infl_count) % PD_RAFT_INFLIGHT_MAX] = last;
        p->infl_count++;
        return;
    }
    if (p->state == PR_PROBE)
        p->probe_sent = true;
}

void rpr_infl_free_to(raft_pr_t *p, uint64_t index)
{
    while (p->infl_count > 0 && p->infl[p->infl_start] <= index) {
        p->infl_start = (p->infl_start + 1) % PD_RAFT_INFLIGHT_MAX;
        p->infl_count--;
    }
}
