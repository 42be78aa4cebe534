#include "pd_clock.h"

#include <time.h>

static uint64_t read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t real_now(pd_clock_t *c)
{
    (void)c;
    return read_clock(CLOCK_MONOTONIC);
}

static uint64_t real_wall(pd_clock_t *c)
{
    (void)c;
    return read_clock(CLOCK_REALTIME);
}

pd_clock_t pd_clock_real = {real_now, real_wall};

static uint64_t sim_now(pd_clock_t *c) { return ((pd_clock_sim_t *)c)->now; }

static uint64_t sim_wall(pd_clock_t *c)
{
    pd_clock_sim_t *s = (pd_clock_sim_t *)c;
    return s->epoch_ms + s->now;
}

void pd_clock_sim_init(pd_clock_sim_t *c, uint64_t start_ms, uint64_t epoch_ms)
{
    c->base.now_ms = sim_now;
    c->base.wall_ms = sim_wall;
    c->now = start_ms;
    c->epoch_ms = epoch_ms;
}

void pd_clock_sim_advance(pd_clock_sim_t *c, uint64_t delta_ms) { c->now += delta_ms; }

void pd_clock_sim_set(pd_clock_sim_t *c, uint64_t now_ms)
{
    if (now_ms > c->now)
        c->now = now_ms;
}
