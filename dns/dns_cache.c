/* The forwarder's reply cache: fixed slots, a hash index and an LRU list, all indices into one
 * array allocated at creation. */
#include "dns_cache.h"

#include <errno.h>
#include <string.h>

#include "dns_table.h"
#include "pd_alloc.h"
#include "pd_err.h"

enum { KEY_MAX = PD_DNS_NAME_MAX + 5, NIL = -1 };

/* Bits of the query that change what a reply may carry. */
enum { KB_EDNS = 1, KB_DO = 2, KB_CD = 4 };

typedef struct {
    int32_t hnext;      /* hash chain */
    int32_t prev, next; /* LRU list (most recent first), or the free list through next */
    uint32_t hash;
    uint16_t key_len;
    uint16_t len;       /* reply bytes */
    uint16_t qname_len; /* wire bytes of the question name at offset 12 */
    uint8_t used;
    uint8_t nttl;
    uint16_t ttl_off[PD_DNS_CACHE_RRS_MAX];
    uint64_t stored_ms, expire_ms;
    uint8_t key[KEY_MAX];
    uint8_t data[PD_DNS_CACHE_DATA_MAX];
} slot_t;

struct pd_dns_cache {
    slot_t *slots;
    uint32_t n;
    int32_t *buckets;
    uint32_t mask;
    int32_t head, tail, free_head;
    pd_dns_cache_stats_t st;
};

static size_t make_key(const pd_dns_query_t *q, uint8_t key[KEY_MAX])
{
    size_t n = q->qname.len;
    pd_dns_name_lower(key, q->qname.wire, n);
    pd_put_u16(key + n, q->qtype);
    pd_put_u16(key + n + 2, q->qclass);
    uint8_t bits = 0;
    if (q->has_edns)
        bits |= KB_EDNS;
    if (q->has_edns && (q->edns_flags & PD_DNS_EDNS_DO))
        bits |= KB_DO;
    if (q->hdr.flags & PD_DNS_F_CD)
        bits |= KB_CD;
    key[n + 4] = bits;
    return n + 5;
}

static void free_list_reset(pd_dns_cache_t *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        c->slots[i].used = 0;
        c->slots[i].next = i + 1 < c->n ? (int32_t)(i + 1) : NIL;
    }
    for (uint32_t i = 0; i <= c->mask; i++)
        c->buckets[i] = NIL;
    c->free_head = 0;
    c->head = c->tail = NIL;
    c->st.entries = 0;
}

int pd_dns_cache_new(uint32_t entries, pd_dns_cache_t **out)
{
    if (entries == 0)
        entries = PD_DNS_CACHE_ENTRIES_DEFAULT;
    if (entries > PD_DNS_CACHE_ENTRIES_MAX)
        return -PD_EUSAGE;
    uint32_t nb = 1;
    while (nb < entries * 2)
        nb <<= 1;
    pd_dns_cache_t *c = pd_calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->slots = pd_calloc(entries, sizeof *c->slots);
    c->buckets = pd_calloc(nb, sizeof *c->buckets);
    if (!c->slots || !c->buckets) {
        pd_dns_cache_free(c);
        return -ENOMEM;
    }
    c->n = entries;
    c->mask = nb - 1;
    free_list_reset(c);
    *out = c;
    return 0;
}

void pd_dns_cache_free(pd_dns_cache_t *c)
{
    if (!c)
        return;
    pd_free(c->slots);
    pd_free(c->buckets);
    pd_free(c);
}

void pd_dns_cache_clear(pd_dns_cache_t *c) { free_list_reset(c); }

const pd_dns_cache_stats_t *pd_dns_cache_stats(const pd_dns_cache_t *c) { return &c->st; }

/* ---- lists ---------------------------------------------------------------------------------- */

static void lru_unlink(pd_dns_cache_t *c, int32_t i)
{
    slot_t *s = &c->slots[i];
    if (s->prev != NIL)
        c->slots[s->prev].next = s->next;
    else
        c->head = s->next;
    if (s->next != NIL)
        c->slots[s->next].prev = s->prev;
    else
        c->tail = s->prev;
}

static void lru_push(pd_dns_cache_t *c, int32_t i)
{
    slot_t *s = &c->slots[i];
    s->prev = NIL;
    s->next = c->head;
    if (c->head != NIL)
        c->slots[c->head].prev = i;
    c->head = i;
    if (c->tail == NIL)
        c->tail = i;
}

static int32_t find(const pd_dns_cache_t *c, const uint8_t *key, size_t len, uint32_t hash)
{
    for (int32_t i = c->buckets[hash & c->mask]; i != NIL; i = c->slots[i].hnext) {
        const slot_t *s = &c->slots[i];
        if (s->hash == hash && s->key_len == len && memcmp(s->key, key, len) == 0)
            return i;
    }
    return NIL;
}

static void drop(pd_dns_cache_t *c, int32_t i)
{
    slot_t *s = &c->slots[i];
    int32_t *pp = &c->buckets[s->hash & c->mask];
    while (*pp != i)
        pp = &c->slots[*pp].hnext;
    *pp = s->hnext;
    lru_unlink(c, i);
    s->used = 0;
    s->next = c->free_head;
    c->free_head = i;
    c->st.entries--;
}

/* A free slot, evicting the least recently used entry when there is none. */
static int32_t take(pd_dns_cache_t *c)
{
    if (c->free_head == NIL) {
        c->st.evictions++;
        drop(c, c->tail);
    }
    int32_t i = c->free_head;
    c->free_head = c->slots[i].next;
    return i;
}

/* ---- lookups -------------------------------------------------------------------------------- */

int pd_dns_cache_get(pd_dns_cache_t *c, const pd_dns_query_t *q, uint64_t now_ms, uint8_t *out,
                     size_t out_cap, size_t *out_len)
{
    uint8_t key[KEY_MAX];
    size_t klen = make_key(q, key);
    uint32_t hash = pd_dns_key_hash(key, klen);
    int32_t i = find(c, key, klen, hash);
    if (i != NIL && now_ms >= c->slots[i].expire_ms) {
        c->st.expired++;
        drop(c, i);
        i = NIL;
    }
    if (i == NIL || c->slots[i].len > out_cap || c->slots[i].qname_len != q->qname.len) {
        c->st.misses++;
        return 0;
    }
    slot_t *s = &c->slots[i];
    memcpy(out, s->data, s->len);
    pd_put_u16(out, q->hdr.id);
    out[2] = (uint8_t)((out[2] & ~0x01) | ((q->hdr.flags >> 8) & 0x01)); /* the client's RD */
    memcpy(out + PD_DNS_HDR_LEN, q->qname.wire, q->qname.len);        /* and its spelling */
    uint64_t age_s = (now_ms - s->stored_ms) / 1000;
    for (uint8_t k = 0; k < s->nttl; k++) {
        uint32_t ttl = pd_get_u32(out + s->ttl_off[k]);
        pd_put_u32(out + s->ttl_off[k], ttl > age_s ? (uint32_t)(ttl - age_s) : 0);
    }
    lru_unlink(c, i);
    lru_push(c, i);
    c->st.hits++;
    *out_len = s->len;
    return 1;
}

/* ---- inserts -------------------------------------------------------------------------------- */

typedef struct {
    uint16_t qname_len;
    uint16_t end; /* end of the last record */
    uint8_t nttl;
    uint16_t ttl_off[PD_DNS_CACHE_RRS_MAX];
    uint32_t min_ttl;
    int has_soa;
    uint32_t soa_ttl; /* min(SOA TTL, SOA minimum) */
} scan_t;

/* The question must be q's; then every record, noting TTL offsets, the smallest TTL and the SOA
 * of the authority section. 0, 1 (uncacheable shape) or -PD_EMALFORMED. */
static int scan(const pd_dns_query_t *q, const uint8_t *msg, size_t len, const pd_dns_hdr_t *h,
                scan_t *sc)
{
    pd_rbuf_t r;
    pd_rbuf_init(&r, msg, len);
    pd_rbuf_skip(&r, PD_DNS_HDR_LEN);
    pd_dns_name_t qn;
    if (pd_dns_name_parse(&r, &qn) != 0)
        return -PD_EMALFORMED;
    sc->qname_len = (uint16_t)(r.pos - PD_DNS_HDR_LEN);
    uint16_t qtype = pd_rbuf_u16(&r), qclass = pd_rbuf_u16(&r);
    uint8_t a[PD_DNS_NAME_MAX], b[PD_DNS_NAME_MAX];
    if (r.err || qn.len != q->qname.len || qtype != q->qtype || qclass != q->qclass)
        return -PD_EMALFORMED;
    pd_dns_name_lower(a, qn.wire, qn.len);
    pd_dns_name_lower(b, q->qname.wire, qn.len);
    if (memcmp(a, b, qn.len) != 0 || sc->qname_len != qn.len)
        return -PD_EMALFORMED;
    sc->nttl = 0;
    sc->min_ttl = UINT32_MAX;
    sc->has_soa = 0;
    unsigned total = (unsigned)h->ancount + h->nscount + h->arcount;
    for (unsigned i = 0; i < total; i++) {
        pd_dns_rr_t rr;
        if (pd_dns_rr_parse(&r, &rr) != 0)
            return -PD_EMALFORMED;
        if (rr.type == PD_DNS_T_OPT)
            continue;
        if (sc->nttl == PD_DNS_CACHE_RRS_MAX)
            return 1;
        sc->ttl_off[sc->nttl++] = (uint16_t)(rr.rdata_off - 6);
        if (rr.ttl < sc->min_ttl)
            sc->min_ttl = rr.ttl;
        int in_ns = i >= h->ancount && i < (unsigned)h->ancount + h->nscount;
        if (in_ns && rr.type == PD_DNS_T_SOA && rr.rdlen >= 22 && !sc->has_soa) {
            uint32_t minimum = pd_get_u32(msg + rr.rdata_off + rr.rdlen - 4);
            sc->has_soa = 1;
            sc->soa_ttl = rr.ttl < minimum ? rr.ttl : minimum;
        }
    }
    sc->end = (uint16_t)r.pos;
    return 0;
}

/* Seconds to keep the reply, or 0 when it must not be cached. */
static uint32_t reply_ttl(const pd_dns_hdr_t *h, const scan_t *sc)
{
    uint8_t rcode = h->flags & PD_DNS_F_RCODE;
    int negative = rcode == PD_DNS_R_NXDOMAIN || (rcode == PD_DNS_R_NOERROR && h->ancount == 0);
    if (rcode != PD_DNS_R_NOERROR && rcode != PD_DNS_R_NXDOMAIN)
        return 0;
    if (!negative)
        return sc->min_ttl > PD_DNS_CACHE_TTL_MAX_S ? PD_DNS_CACHE_TTL_MAX_S : sc->min_ttl;
    if (!sc->has_soa)
        return 0;
    uint32_t ttl = sc->soa_ttl < sc->min_ttl ? sc->soa_ttl : sc->min_ttl;
    return ttl > PD_DNS_CACHE_NEG_TTL_MAX_S ? PD_DNS_CACHE_NEG_TTL_MAX_S : ttl;
}

int pd_dns_cache_put(pd_dns_cache_t *c, const pd_dns_query_t *q, const uint8_t *reply, size_t len,
                     uint64_t now_ms)
{
    pd_dns_hdr_t h;
    if (pd_dns_hdr_parse(reply, len, &h) != 0 || !(h.flags & PD_DNS_F_QR) || h.qdcount != 1)
        return -PD_EMALFORMED;
    scan_t sc;
    int rc = (h.flags & (PD_DNS_F_TC | PD_DNS_F_OPCODE)) ? 1 : scan(q, reply, len, &h, &sc);
    if (rc < 0)
        return rc;
    uint32_t ttl = rc == 0 ? reply_ttl(&h, &sc) : 0;
    if (ttl == 0 || sc.end > PD_DNS_CACHE_DATA_MAX) {
        c->st.uncacheable++;
        return 1;
    }
    uint8_t key[KEY_MAX];
    size_t klen = make_key(q, key);
    uint32_t hash = pd_dns_key_hash(key, klen);
    int32_t i = find(c, key, klen, hash);
    if (i != NIL)
        drop(c, i);
    i = take(c);
    slot_t *s = &c->slots[i];
    s->used = 1;
    s->hash = hash;
    s->key_len = (uint16_t)klen;
    memcpy(s->key, key, klen);
    s->len = sc.end;
    s->qname_len = sc.qname_len;
    s->nttl = sc.nttl;
    memcpy(s->ttl_off, sc.ttl_off, sc.nttl * sizeof sc.ttl_off[0]);
    s->stored_ms = now_ms;
    s->expire_ms = now_ms + (uint64_t)ttl * 1000;
    memcpy(s->data, reply, sc.end);
    s->hnext = c->buckets[hash & c->mask];
    c->buckets[hash & c->mask] = i;
    lru_push(c, i);
    c->st.entries++;
    c->st.inserts++;
    return 0;
}
