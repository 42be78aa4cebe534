/* Time as an interface: the daemon uses the real monotonic clock, the simulator a virtual one that
 * it advances itself. Cores never read a clock; the caller passes now_ms in. */
#ifndef PD_CLOCK_H
#define PD_CLOCK_H

#include <stdint.h>

typedef struct pd_clock pd_clock_t;
struct pd_clock {
    uint64_t (*now_ms)(pd_clock_t *c);   /* monotonic milliseconds */
    uint64_t (*wall_ms)(pd_clock_t *c);  /* Unix epoch milliseconds, for timestamps users see */
};

/* The real clocks (CLOCK_MONOTONIC / CLOCK_REALTIME). */
extern pd_clock_t pd_clock_real;

/* A virtual clock: starts at `start_ms`, moves only when advanced; wall = epoch + now. */
typedef struct {
    pd_clock_t base;
    uint64_t now;
    uint64_t epoch_ms;
} pd_clock_sim_t;

void pd_clock_sim_init(pd_clock_sim_t *c, uint64_t start_ms, uint64_t epoch_ms);
void pd_clock_sim_advance(pd_clock_sim_t *c, uint64_t delta_ms);
void pd_clock_sim_set(pd_clock_sim_t *c, uint64_t now_ms); /* never moves backwards */

static inline uint64_t pd_clock_now(pd_clock_t *c) { return c->now_ms(c); }
static inline uint64_t pd_clock_wall(pd_clock_t *c) { return c->wall_ms(c); }

#endif
