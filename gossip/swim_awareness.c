/* Lifeguard awareness: a clamped integer score; see swim_awareness.h. */
#include "swim_awareness.h"

#include "pd_assert.h"

void pd_swim_awareness_init(pd_swim_awareness_t *a, int max)
{
    PD_ASSERT(max >= 1);
    a->max = max;
    a->score = 0;
}

int pd_swim_awareness_apply(pd_swim_awareness_t *a, int delta)
{
    long s = (long)a->score + delta;
    if (s < 0)
        s = 0;
    if (s > a->max - 1)
        s = a->max - 1;
    a->score = (int)s;
    return a->score;
}

int pd_swim_awareness_score(const pd_swim_awareness_t *a)
{
    return a->score;
}

uint64_t pd_swim_awareness_scale(const pd_swim_awareness_t *a, uint64_t base_ms)
{
    uint64_t m = (uint64_t)a->score + 1;
    if (base_ms > UINT64_MAX / m)
        return UINT64_MAX;
    return base_ms * m;
}
