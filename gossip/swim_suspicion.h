/* Lifeguard suspicion timer: starts at max and shrinks towards min as independent members confirm
 * the suspicion, on a log scale (memberlist suspicion.go): with n of k expected confirmations,
 *   timeout = max - (max - min) * log(n + 1) / log(k + 1), never below min.
 * The deadline is start + timeout; the caller fires it (sans-IO). */
#ifndef PD_SWIM_SUSPICION_H
#define PD_SWIM_SUSPICION_H

#include <stdint.h>

#include "swim_wire.h"

typedef struct {
    uint64_t start_ms;
    uint64_t min_ms;
    uint64_t max_ms;
    uint32_t k;          /* confirmations that bring the timeout down to min */
    uint32_t n;          /* independent confirmations seen so far */
    uint64_t deadline_ms; /* start + timeout for n: asked for at every turn, changed only here */
    uint64_t from_hash[PD_SWIM_SUSPICION_CONFIRM_MAX]; /* who confirmed (hashes of ids) */
} pd_swim_suspicion_t;

/* min = mult * max(1, log10(max(1, members))) * probe_interval; the max is min * max_mult. */
uint64_t pd_swim_suspicion_min_ms(uint32_t mult, uint32_t members, uint64_t probe_interval_ms);
/* Timeout after n of k confirmations. */
uint64_t pd_swim_suspicion_timeout_ms(uint32_t n, uint32_t k, uint64_t min_ms, uint64_t max_ms);

/* Start a suspicion raised by `from_hash` (the first accuser counts as no confirmation). */
void pd_swim_suspicion_start(pd_swim_suspicion_t *s, uint64_t now_ms, uint32_t k, uint64_t min_ms,
                             uint64_t max_ms, uint64_t from_hash);
/* Record an accusation by from_hash. Returns 1 if it was a new independent confirmation (the
 * deadline moved earlier and the suspect message is worth re-gossiping), 0 otherwise. */
int pd_swim_suspicion_confirm(pd_swim_suspicion_t *s, uint64_t from_hash);
uint64_t pd_swim_suspicion_deadline_ms(const pd_swim_suspicion_t *s);

#endif
