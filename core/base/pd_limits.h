/* Every cap in one place (module-specific wire caps live in each *_wire.h). Hitting a cap is
 * counted and logged with a rate limit, never a crash. */
#ifndef PD_LIMITS_H
#define PD_LIMITS_H

/* Control protocol (unix socket / 2377). */
#define PD_CTL_FRAME_MAX (4u * 1024u * 1024u) /* one request or reply frame */
#define PD_CTL_CLIENTS_MAX 256                /* concurrent control connections */
#define PD_CTL_PENDING_MAX 64                 /* requests queued per connection */
#define PD_CTL_IDLE_TIMEOUT_MS 60000u         /* a silent client is dropped */

/* msgpack decoding: nesting depth and the ratio of declared elements to bytes are bounded. */
#define PD_MP_DEPTH_MAX 32

/* Identity. */
#define PD_NODE_ID_LEN 25 /* base36, like Docker's node ids */
#define PD_HOSTNAME_MAX 253

/* Log line rate limit for hot-path warnings. */
#define PD_LOG_RATE_INTERVAL_MS 5000u

#endif
