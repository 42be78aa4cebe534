/* Lifeguard suspicion timeout math (see swim_suspicion.h). Pure: no clock, the caller passes now. */
#include "swim_suspicion.h"

#include <string.h>

/* Natural log without libm (the module links no math library): x = m * 2^e with m in [1, 2),
 * ln(m) = 2 atanh((m - 1) / (m + 1)), a series that converges fast for z <= 1/3. */
static double swim_ln(double x)
{
    if (x <= 0.0)
        return 0.0;
    int e = 0;
    while (x >= 2.0)
        x /= 2.0, e++;
    while (x < 1.0)
        x *= 2.0, e--;
    double z = (x - 1.0) / (x + 1.0), z2 = z * z, term = z, sum = 0.0;
    for (int i = 1; i < 60; i += 2) {
        sum += term / i;
        term *= z2;
    }
    return 2.0 * sum + e * 0.69314718055994530942;
}

static double swim_log10(double x)
{
    return swim_ln(x) / 2.30258509299404568402;
}

uint64_t pd_swim_suspicion_min_ms(uint32_t mult, uint32_t members, uint64_t probe_interval_ms)
{
    double scale = swim_log10((double)(members < 1 ? 1 : members));
    if (scale < 1.0)
        scale = 1.0;
    /* Rounded to whole milliseconds so log10(100) = 1.99999... still gives an exact 2x. */
    return (uint64_t)((double)mult * scale * (double)probe_interval_ms + 0.5);
}

uint64_t pd_swim_suspicion_timeout_ms(uint32_t n, uint32_t k, uint64_t min_ms, uint64_t max_ms)
{
    if (max_ms <= min_ms || k == 0)
        return k == 0 ? min_ms : max_ms;
    double frac = swim_ln((double)n + 1.0) / swim_ln((double)k + 1.0);
    double t = (double)max_ms - frac * (double)(max_ms - min_ms);
    uint64_t out = t <= 0.0 ? 0 : (uint64_t)t; /* truncation = floor for t >= 0 */
    return out < min_ms ? min_ms : out;
}

void pd_swim_suspicion_start(pd_swim_suspicion_t *s, uint64_t now_ms, uint32_t k, uint64_t min_ms,
                             uint64_t max_ms, uint64_t from_hash)
{
    memset(s, 0, sizeof *s);
    s->start_ms = now_ms;
    s->k = k > PD_SWIM_SUSPICION_CONFIRM_MAX ? PD_SWIM_SUSPICION_CONFIRM_MAX : k;
    s->min_ms = min_ms;
    s->max_ms = max_ms < min_ms ? min_ms : max_ms;
    /* The accuser that started it is remembered so its repeats do not count. */
    s->from_hash[0] = from_hash;
    s->deadline_ms = now_ms + pd_swim_suspicion_timeout_ms(0, s->k, s->min_ms, s->max_ms);
}

int pd_swim_suspicion_confirm(pd_swim_suspicion_t *s, uint64_t from_hash)
{
    if (s->n >= s->k)
        return 0;
    /* Slot 0 holds the original accuser; slots 1..n the confirmers. */
    for (uint32_t i = 0; i <= s->n && i < PD_SWIM_SUSPICION_CONFIRM_MAX; i++) {
        if (s->from_hash[i] == from_hash)
            return 0;
    }
    s->n++;
    if (s->n < PD_SWIM_SUSPICION_CONFIRM_MAX)
        s->from_hash[s->n] = from_hash;
    s->deadline_ms = s->start_ms + pd_swim_suspicion_timeout_ms(s->n, s->k, s->min_ms, s->max_ms);
    return 1;
}

uint64_t pd_swim_suspicion_deadline_ms(const pd_swim_suspicion_t *s)
{
    return s->deadline_ms;
}
