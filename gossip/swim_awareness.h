/* Lifeguard local health multiplier ("awareness"): 0 is healthy, up to max. Missed nacks, failed
 * probes and having to refute raise it; successful probes lower it. Probe interval and timeout are
 * scaled by (score + 1), so a node that is itself slow stops accusing healthy peers. */
#ifndef PD_SWIM_AWARENESS_H
#define PD_SWIM_AWARENESS_H

#include <stdint.h>

typedef struct {
    int max;   /* exclusive upper bound, as Lifeguard's "max" (score in 0..max-1) */
    int score;
} pd_swim_awareness_t;

void pd_swim_awareness_init(pd_swim_awareness_t *a, int max);
/* Add delta (may be negative), clamped to [0, max-1]. Returns the new score. */
int pd_swim_awareness_apply(pd_swim_awareness_t *a, int delta);
int pd_swim_awareness_score(const pd_swim_awareness_t *a);
/* base * (score + 1), saturating. */
uint64_t pd_swim_awareness_scale(const pd_swim_awareness_t *a, uint64_t base_ms);

#endif
