/* Seeded, deterministic RNG (xoshiro256**) passed into every core, so a seed replays a run. */
#ifndef PD_RNG_H
#define PD_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} pd_rng_t;

void pd_rng_seed(pd_rng_t *rng, uint64_t seed);
uint64_t pd_rng_next(pd_rng_t *rng);
/* Uniform in [0, bound); bound 0 returns 0. Unbiased (rejection sampling). */
uint64_t pd_rng_below(pd_rng_t *rng, uint64_t bound);
/* Uniform in [lo, hi] inclusive. */
uint64_t pd_rng_range(pd_rng_t *rng, uint64_t lo, uint64_t hi);
/* True with probability p (0..1). */
int pd_rng_chance(pd_rng_t *rng, double p);
double pd_rng_unit(pd_rng_t *rng); /* [0,1) */
void pd_rng_fill(pd_rng_t *rng, void *out, unsigned long n);
/* A seed from the OS (getrandom) for production use. */
uint64_t pd_rng_os_seed(void);

#endif
