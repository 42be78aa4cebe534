/* Addressing and framing shared by every gossip node run under the simulator (SWIM cores, gossip
 * agents, the scale benchmark). Node i is "n<i>" at 10.<i>>>16>.<i>>>8>.<i>:7946. The simulator
 * has one message kind, so a one-byte header carries the stream flag (loss then applies to streams
 * too, which makes the TCP fallback pessimistic). Header-only: the simulator library itself does not
 * depend on gossip/. */
#ifndef PD_SIM_GOSSIP_H
#define PD_SIM_GOSSIP_H

#include <stdlib.h>
#include <string.h>

#include "pd_alloc.h"
#include "sim.h"
#include "swim.h"

static inline pd_swim_addr_t pd_simg_addr(uint32_t i)
{
    pd_swim_addr_t a = {.family = 4, .ip = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i}, .port = 7946};
    return a;
}

static inline uint32_t pd_simg_index(const pd_swim_addr_t *a)
{
    return ((uint32_t)a->ip[1] << 16) | ((uint32_t)a->ip[2] << 8) | a->ip[3];
}

/* The node index behind a member name "n<i>" (event subjects). */
static inline uint32_t pd_simg_subject(const char *node_name)
{
    return (uint32_t)strtoul(node_name + 1, NULL, 10);
}

/* Frame one packet (flag byte + payload) in *scratch (grown as needed; aborts on OOM: a test
 * harness has no way to go on) and send it to the node at `to` if that is one of the n nodes.
 * Returns the framed length sent, or 0 when the address is outside the world. */
static inline size_t pd_simg_send(pd_sim_t *sim, uint32_t from, uint32_t n, const pd_swim_addr_t *to,
                                  uint8_t flag, const uint8_t *data, size_t len, uint8_t **scratch,
                                  size_t *cap)
{
    uint32_t idx = pd_simg_index(to);
    if (idx >= n)
        return 0;
    if (len + 1 > *cap) {
        *cap = len + 1;
        *scratch = pd_realloc(*scratch, *cap);
        if (!*scratch)
            abort();
    }
    (*scratch)[0] = flag;
    memcpy(*scratch + 1, data, len);
    pd_sim_send(sim, from, idx, *scratch, len + 1);
    return len + 1;
}

#endif
