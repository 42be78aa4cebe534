/* A small cache of upstream replies for the forwarder, sans-IO: time comes in as now_ms.
 *
 * Keyed by (lowercase qname, qtype, qclass) plus the bits that change what a reply may hold (the
 * query had EDNS, the DO bit, the CD flag). A positive reply lives for the smallest TTL of its
 * records; a negative one (NXDOMAIN, or NOERROR with no answer) for min(SOA TTL, SOA minimum) of the
 * SOA in its authority section (RFC 2308), and is not cached without one. Replies with TC, other
 * rcodes, a zero TTL, or too large/too many records are not cached.
 *
 * Fixed size: every slot (and its reply bytes) is allocated once at pd_dns_cache_new; a full cache
 * evicts the least recently used entry. A hit copies the stored reply into the caller's buffer with
 * the client's id and question spelling and every TTL lowered by the entry's age: no allocation. */
#ifndef PD_DNS_CACHE_H
#define PD_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"

enum pd_dns_cache_caps {
    PD_DNS_CACHE_ENTRIES_DEFAULT = 1024,
    PD_DNS_CACHE_ENTRIES_MAX = 65536,
    PD_DNS_CACHE_DATA_MAX = 1232,   /* reply bytes a slot holds (EDNS flag-day size) */
    PD_DNS_CACHE_RRS_MAX = 48,      /* records whose TTLs a slot tracks */
    PD_DNS_CACHE_TTL_MAX_S = 3600,  /* positive answers are kept at most this long */
    PD_DNS_CACHE_NEG_TTL_MAX_S = 300,
};

typedef struct pd_dns_cache pd_dns_cache_t;

typedef struct {
    uint64_t hits, misses, inserts, evictions, expired;
    uint64_t uncacheable; /* replies refused by pd_dns_cache_put */
    uint32_t entries;
} pd_dns_cache_stats_t;

/* entries 0: the default. 0, -PD_EUSAGE or -ENOMEM. */
int pd_dns_cache_new(uint32_t entries, pd_dns_cache_t **out);
void pd_dns_cache_free(pd_dns_cache_t *c);

/* On a hit writes the reply for q (parsed from the client's query; id = q->hdr.id) into out and
 * returns 1 with *out_len set; 0 on a miss (absent, expired, or larger than out_cap). */
int pd_dns_cache_get(pd_dns_cache_t *c, const pd_dns_query_t *q, uint64_t now_ms, uint8_t *out,
                     size_t out_cap, size_t *out_len);

/* Stores reply (the upstream's answer to q). 0 stored; 1 not cacheable (counted); -PD_EMALFORMED
 * when the reply does not parse or does not answer q's question. */
int pd_dns_cache_put(pd_dns_cache_t *c, const pd_dns_query_t *q, const uint8_t *reply, size_t len,
                     uint64_t now_ms);

void pd_dns_cache_clear(pd_dns_cache_t *c);
const pd_dns_cache_stats_t *pd_dns_cache_stats(const pd_dns_cache_t *c);

#endif
