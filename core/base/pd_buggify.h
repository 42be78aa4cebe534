/* FoundationDB-style fault injection sites. In simulation builds (PD_SIMULATION defined) each site
 * is enabled or not once per run, then fires with some probability, all from the run's seeded rng.
 * In every other build PD_BUGGIFY() is the constant 0 and compiles away. */
#ifndef PD_BUGGIFY_H
#define PD_BUGGIFY_H

#include "pd_rng.h"

#ifdef PD_SIMULATION
/* Turn buggify on for this run with the given rng (NULL turns it off). */
void pd_buggify_enable(pd_rng_t *rng, double site_enable_p, double fire_p);
int pd_buggify_site(const char *file, int line);
#define PD_BUGGIFY() pd_buggify_site(__FILE__, __LINE__)
#else
#define PD_BUGGIFY() 0
#endif

#endif
