/* Linearizability checker for a history of reads and writes on registers (keys), for simulation
 * workloads. Each key is checked on its own (a register history is linearizable iff every key's
 * is), by a Wing & Gong search with Lowe's memoisation of (set of linearized ops, register value):
 * the shape of Jepsen's Knossos and Porcupine.
 *
 * History rules:
 *   - every op has an invocation time call_ms and, if it completed, a completion time ret_ms
 *     (ret_ms >= call_ms). Two ops overlap unless one's ret_ms < the other's call_ms: equal times
 *     count as concurrent (virtual time has millisecond steps, so "same ms" gives no order).
 *   - OK: the op took effect between call and return; a read returned `value`.
 *   - UNKNOWN (a write that timed out, or whose server crashed): it may have taken effect at any
 *     time after its call, or never. UNKNOWN reads constrain nothing; leave them out.
 *   - every key starts at value 0; written values must be unique per key and nonzero. Uniqueness
 *     lets the checker tighten UNKNOWN writes first: one never read is dropped, one that was read
 *     must have taken effect before the earliest read of its value returned.
 * Bounded: at most PD_LINZ_KEY_OPS_MAX ops per key and a step budget per key; beyond either the
 * answer is PD_LINZ_INCONCLUSIVE, never a false "linearizable". */
#ifndef PD_SIM_LINZ_H
#define PD_SIM_LINZ_H

#include <stddef.h>
#include <stdint.h>

#define PD_LINZ_KEY_OPS_MAX 4096u        /* ops of one key in one check */
#define PD_LINZ_STEPS_DEFAULT 2000000ull /* search steps per key */

typedef enum { PD_LINZ_WRITE = 0, PD_LINZ_READ = 1 } pd_linz_kind_t;
typedef enum { PD_LINZ_OK = 0, PD_LINZ_UNKNOWN = 1 } pd_linz_status_t;

typedef struct {
    uint32_t key;
    uint8_t kind;   /* pd_linz_kind_t */
    uint8_t status; /* pd_linz_status_t */
    uint64_t value; /* written, or read back */
    uint64_t call_ms, ret_ms; /* ret_ms ignored for UNKNOWN */
} pd_linz_op_t;

typedef enum {
    PD_LINZ_LINEARIZABLE = 0,
    PD_LINZ_VIOLATION = 1,
    PD_LINZ_INCONCLUSIVE = 2, /* a bound was hit */
} pd_linz_verdict_t;

typedef struct {
    pd_linz_verdict_t verdict;
    uint32_t bad_key;     /* VIOLATION / INCONCLUSIVE: the first such key */
    uint64_t steps;       /* search steps, all keys */
    size_t keys, ops;     /* keys and ops checked (UNKNOWN reads excluded) */
} pd_linz_result_t;

/* Check ops[0..n) (any order). steps_max: per key, 0 = PD_LINZ_STEPS_DEFAULT. Returns 0 and fills
 * *out, or -ENOMEM. */
int pd_linz_check(const pd_linz_op_t *ops, size_t n, uint64_t steps_max, pd_linz_result_t *out);

const char *pd_linz_verdict_name(pd_linz_verdict_t v);

#endif
