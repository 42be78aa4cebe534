/* Majority arithmetic: committed index from match indexes, election tallies. Pure. */
#include "pd_assert.h"
#include "raft_int.h"

uint32_t rq_majority(uint32_t n_voters)
{
    return n_voters / 2 + 1;
}

uint64_t rq_committed_index(uint64_t *vals, uint32_t n)
{
    if (n == 0)
        return 0;
    /* Insertion sort, descending: n <= PD_RAFT_NODES_MAX. */
    for (uint32_t i = 1; i < n; i++) {
        uint64_t v = vals[i];
        uint32_t j = i;
        while (j > 0 && vals[j - 1] < v) {
            vals[j] = vals[j - 1];
            j--;
        }
        vals[j] = v;
    }
    return vals[rq_majority(n) - 1];
}

raft_vote_result_t rq_vote_result(uint32_t n_voters, uint32_t granted, uint32_t rejected)
{
    PD_ASSERT(granted + rejected <= n_voters);
    uint32_t q = rq_majority(n_voters);
    if (granted >= q)
        return VOTE_WON;
    if (n_voters - rejected < q)
        return VOTE_LOST;
    return VOTE_PENDING;
}
