#include "pd_buggify.h"

#ifdef PD_SIMULATION
#include <string.h>

#define SITES_MAX 256

static struct {
    const char *file;
    int line;
    int enabled;
} sites[SITES_MAX];
static int nsites;
static pd_rng_t *run_rng;
static double enable_p, fire_p;

void pd_buggify_enable(pd_rng_t *rng, double site_enable_p, double site_fire_p)
{
    run_rng = rng;
    enable_p = site_enable_p;
    fire_p = site_fire_p;
    nsites = 0;
}

int pd_buggify_site(const char *file, int line)
{
    if (!run_rng)
        return 0;
    for (int i = 0; i < nsites; i++) {
        if (sites[i].line == line && strcmp(sites[i].file, file) == 0)
            return sites[i].enabled && pd_rng_chance(run_rng, fire_p);
    }
    if (nsites == SITES_MAX)
        return 0;
    sites[nsites].file = file;
    sites[nsites].line = line;
    sites[nsites].enabled = pd_rng_chance(run_rng, enable_p);
    return sites[nsites++].enabled && pd_rng_chance(run_rng, fire_p);
}
#else
typedef int pd_buggify_unused_t;
#endif
