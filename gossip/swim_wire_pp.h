/* Push/pull decoding straight from the bytes (swim_wire_pp.c); internal to swim_wire*.c. */
#ifndef PD_SWIM_WIRE_PP_H
#define PD_SWIM_WIRE_PP_H

#include "swim_wire.h"

/* buf must have passed pd_mp_validate. If it is a version-1 push/pull, decode it into *m (whose
 * fields up to `parts` are zero; nodes allocated with pd_calloc) with exactly the results and
 * errors of the msgpack object path, set *rc and return 1. Otherwise (another type, or a header
 * the object path should judge) return 0 and leave *m alone. */
int pd_swim_wire__decode_pushpull(const uint8_t *buf, size_t len, pd_swim_msg_t *m, int *rc);

/* Any bytes. If they are a well-formed version-1 push/pull that starts as our encoder writes it,
 * decode it into *m (fields up to `parts` zero on entry) with the result pd_mp_validate followed by
 * pd_swim_wire__decode_pushpull would give, and return 1, after reading each byte once. Otherwise
 * (any error, any other message or shape) return 0 with *m zeroed: the caller takes the
 * validating path, which gives the verdict. */
int pd_swim_wire__decode_pushpull_fast(const uint8_t *buf, size_t len, pd_swim_msg_t *m);

/* An address field's bytes (4 or 16 address bytes, then the port): 0 or -PD_EMALFORMED. Shared
 * with swim_wire.c. */
int pd_swim_wire__addr_from(pd_swim_bytes_t b, pd_swim_addr_t *out);

#endif
