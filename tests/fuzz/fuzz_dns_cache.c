/* Fuzz the forwarder's reply cache with arbitrary upstream replies: bytes whose question parses
 * become (query, reply); put must refuse or store without reading out of bounds, and a stored
 * reply must come back for the same question with the query's id, the same length, and not at
 * all once its TTL passed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_cache.h"
#include "dns_wire.h"

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "fuzz_dns_cache: %s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                               \
        }                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pd_dns_cache_t *c;
    static uint8_t out[PD_DNS_MSG_MAX];
    if (!c)
        CHECK(pd_dns_cache_new(4, &c) == 0);
    pd_dns_query_t q;
    if (pd_dns_query_parse(data, size, &q) != 0)
        return 0;
    q.hdr.id ^= 0x5555; /* the asking client's id differs from the upstream's */
    int rc = pd_dns_cache_put(c, &q, data, size, 1000);
    size_t len = 0;
    int hit = pd_dns_cache_get(c, &q, 1000, out, sizeof out, &len);
    CHECK(hit == (rc == 0));
    if (hit) {
        CHECK(len <= size && len >= PD_DNS_HDR_LEN);
        CHECK(out[0] == (uint8_t)(q.hdr.id >> 8) && out[1] == (uint8_t)q.hdr.id);
        CHECK(pd_dns_cache_get(c, &q, 1000 + (uint64_t)PD_DNS_CACHE_TTL_MAX_S * 1000, out, sizeof out, &len) == 0);
    }
    if ((data[0] & 7) == 0)
        pd_dns_cache_clear(c);
    return 0;
}
