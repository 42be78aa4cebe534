/* DNS message builder: header, question, A/AAAA/PTR/SRV/SOA/OPT records, name compression against
 * every name already written. Each record is all-or-nothing so truncation keeps whole records. */
#include "dns_wire.h"

#include <string.h>

#include "pd_assert.h"
#include "pd_err.h"

void pd_dns_build_init(pd_dns_builder_t *b, uint8_t *buf, size_t cap)
{
    pd_wbuf_init(&b->w, buf, cap > PD_DNS_MSG_MAX ? PD_DNS_MSG_MAX : cap);
    b->reserved = 0;
    b->qdcount = 0;
    b->count[0] = b->count[1] = b->count[2] = 0;
    b->sec = 0;
    b->ncomp = 0;
    b->qname = NULL;
    uint8_t *hdr = pd_wbuf_reserve(&b->w, PD_DNS_HDR_LEN);
    if (hdr)
        memset(hdr, 0, PD_DNS_HDR_LEN);
}

void pd_dns_build_reserve(pd_dns_builder_t *b, size_t n)
{
    PD_ASSERT(b->reserved == 0);
    if (n > b->w.cap - b->w.len)
        n = b->w.cap - b->w.len;
    b->w.cap -= n;
    b->reserved = n;
}

void pd_dns_build_release(pd_dns_builder_t *b)
{
    b->w.cap += b->reserved;
    b->reserved = 0;
}

/* Does the suffix `s` (uncompressed wire) equal the name written at `pos` (maybe compressed)? */
static int name_eq_at(const uint8_t *msg, size_t pos, const uint8_t *s)
{
    for (unsigned hops = 0;;) {
        uint8_t c = msg[pos];
        if ((c & 0xc0) == 0xc0) {
            if (++hops > PD_DNS_PTR_HOPS_MAX)
                return 0;
            pos = ((size_t)(c & 0x3f) << 8) | msg[pos + 1];
            continue;
        }
        if (c != *s)
            return 0;
        if (c == 0)
            return 1;
        for (unsigned i = 1; i <= c; i++) {
            if (pd_dns_lower[msg[pos + i]] != pd_dns_lower[s[i]])
                return 0;
        }
        pos += (size_t)c + 1;
        s += c + 1;
    }
}

/* The longest already-written suffix of `name` (label offsets off[0..n)): one pass over the
 * remembered offsets, one comparison each. Returns its offset and label index, or -1. */
static int comp_find(const pd_dns_builder_t *b, const uint8_t *name, const uint8_t *off, unsigned n,
                     unsigned *at_label)
{
    int best = -1;
    unsigned best_labels = 0;
    for (unsigned i = 0; i < b->ncomp && best_labels < n; i++) {
        unsigned nl = b->comp[i].nlabels;
        if (nl <= best_labels || nl > n)
            continue;
        if (name_eq_at(b->w.data, b->comp[i].off, name + off[n - nl])) {
            best = b->comp[i].off;
            best_labels = nl;
        }
    }
    *at_label = n - best_labels;
    return best;
}

static void comp_add(pd_dns_builder_t *b, size_t off, unsigned nlabels)
{
    if (off > PD_DNS_COMP_OFF_MAX || b->ncomp >= PD_DNS_COMP_MAX)
        return;
    b->comp[b->ncomp].off = (uint16_t)off;
    b->comp[b->ncomp].nlabels = (uint8_t)nlabels;
    b->ncomp++;
}

/* Writes a wire name, replacing its longest already-written suffix by a pointer when allowed. */
static void put_name(pd_dns_builder_t *b, const uint8_t *name, int compress)
{
    if (compress && name == b->qname) { /* the question's name, the owner of most records */
        uint8_t *p = pd_wbuf_reserve(&b->w, 2);
        if (p)
            pd_put_u16(p, 0xc000 | PD_DNS_HDR_LEN);
        return;
    }
    uint8_t off[PD_DNS_LABELS_MAX];
    unsigned n = 0;
    for (size_t p = 0; name[p] != 0; p += (size_t)name[p] + 1) {
        PD_ASSERT(n < PD_DNS_LABELS_MAX && name[p] <= PD_DNS_LABEL_MAX);
        off[n++] = (uint8_t)p;
    }
    unsigned stop = n;
    int ptr = -1;
    if (compress)
        ptr = comp_find(b, name, off, n, &stop);
    /* the labels before the pointer are contiguous in `name`: one copy, then their offsets */
    if (stop > 0) {
        size_t at = b->w.len, plain = stop < n ? off[stop] : (size_t)off[n - 1] + name[off[n - 1]] + 1;
        pd_wbuf_put(&b->w, name, plain);
        for (unsigned i = 0; i < stop && !b->w.err; i++)
            comp_add(b, at + off[i], n - i);
    }
    uint8_t *end = pd_wbuf_reserve(&b->w, ptr >= 0 ? 2 : 1);
    if (end && ptr >= 0)
        pd_put_u16(end, (uint16_t)(0xc000 | ptr));
    else if (end)
        end[0] = 0;
}

typedef struct {
    size_t len;
    uint8_t ncomp;
} mark_t;

static mark_t mark(const pd_dns_builder_t *b) { return (mark_t){b->w.len, b->ncomp}; }

/* Ends an all-or-nothing write: on overflow, undo everything since the mark. */
static int commit(pd_dns_builder_t *b, mark_t m, uint16_t *counter)
{
    if (b->w.err) {
        b->w.err = 0;
        b->w.len = m.len;
        b->ncomp = m.ncomp;
        return -PD_ETOOBIG;
    }
    (*counter)++;
    return 0;
}

int pd_dns_build_question(pd_dns_builder_t *b, const uint8_t *name, uint16_t qtype, uint16_t qclass)
{
    PD_ASSERT(b->sec == 0 && b->count[0] == 0 && b->count[1] == 0 && b->count[2] == 0);
    mark_t m = mark(b);
    put_name(b, name, 1);
    uint8_t *p = pd_wbuf_reserve(&b->w, 4);
    if (p) {
        pd_put_u16(p, qtype);
        pd_put_u16(p + 2, qclass);
    }
    int rc = commit(b, m, &b->qdcount);
    if (rc == 0 && m.len == PD_DNS_HDR_LEN)
        b->qname = name; /* written whole at offset 12: later uses are a pointer there */
    return rc;
}

/* Owner, type, class IN, TTL; returns where RDLENGTH goes (NULL on overflow). */
static uint8_t *rr_head(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint16_t type,
                        uint32_t ttl_s)
{
    PD_ASSERT((unsigned)sec >= b->sec && (unsigned)sec <= PD_DNS_SEC_AR);
    b->sec = (uint8_t)sec;
    put_name(b, owner, 1);
    /* the fixed fields in one bounds check (this runs for every record of every answer) */
    uint8_t *p = pd_wbuf_reserve(&b->w, 10);
    if (!p)
        return NULL;
    pd_put_u16(p, type);
    pd_put_u16(p + 2, PD_DNS_C_IN);
    pd_put_u32(p + 4, ttl_s);
    return p + 8;
}

static int rr_end(pd_dns_builder_t *b, mark_t m, pd_dns_sec_t sec, uint8_t *rdlen)
{
    if (!b->w.err)
        pd_put_u16(rdlen, (uint16_t)(b->w.len - (size_t)(rdlen + 2 - b->w.data)));
    return commit(b, m, &b->count[sec]);
}

int pd_dns_build_a(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint32_t ttl_s,
                   const uint8_t addr[4])
{
    mark_t m = mark(b);
    uint8_t *rdlen = rr_head(b, sec, owner, PD_DNS_T_A, ttl_s);
    uint8_t *p = pd_wbuf_reserve(&b->w, 4);
    if (p)
        memcpy(p, addr, 4);
    return rr_end(b, m, sec, rdlen);
}

int pd_dns_build_aaaa(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint32_t ttl_s,
                      const uint8_t addr[16])
{
    mark_t m = mark(b);
    uint8_t *rdlen = rr_head(b, sec, owner, PD_DNS_T_AAAA, ttl_s);
    pd_wbuf_put(&b->w, addr, 16);
    return rr_end(b, m, sec, rdlen);
}

int pd_dns_build_ptr(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint32_t ttl_s,
                     const uint8_t *target)
{
    mark_t m = mark(b);
    uint8_t *rdlen = rr_head(b, sec, owner, PD_DNS_T_PTR, ttl_s);
    if (rdlen)
        put_name(b, target, 1);
    return rr_end(b, m, sec, rdlen);
}

int pd_dns_build_srv(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint32_t ttl_s,
                     uint16_t priority, uint16_t weight, uint16_t port, const uint8_t *target)
{
    mark_t m = mark(b);
    uint8_t *rdlen = rr_head(b, sec, owner, PD_DNS_T_SRV, ttl_s);
    pd_wbuf_u16(&b->w, priority);
    pd_wbuf_u16(&b->w, weight);
    pd_wbuf_u16(&b->w, port);
    if (!b->w.err)
        put_name(b, target, 0);
    return rr_end(b, m, sec, rdlen);
}

int pd_dns_build_soa(pd_dns_builder_t *b, pd_dns_sec_t sec, const uint8_t *owner, uint32_t ttl_s,
                     const pd_dns_soa_t *soa)
{
    mark_t m = mark(b);
    uint8_t *rdlen = rr_head(b, sec, owner, PD_DNS_T_SOA, ttl_s);
    if (rdlen) {
        put_name(b, soa->mname, 1);
        put_name(b, soa->rname, 1);
    }
    pd_wbuf_u32(&b->w, soa->serial);
    pd_wbuf_u32(&b->w, soa->refresh_s);
    pd_wbuf_u32(&b->w, soa->retry_s);
    pd_wbuf_u32(&b->w, soa->expire_s);
    pd_wbuf_u32(&b->w, soa->minimum_s);
    return rr_end(b, m, sec, rdlen);
}

int pd_dns_build_opt(pd_dns_builder_t *b, uint16_t udp_size, uint8_t ext_rcode, uint8_t version,
                     uint16_t flags)
{
    b->sec = PD_DNS_SEC_AR;
    mark_t m = mark(b);
    pd_wbuf_u8(&b->w, 0); /* root owner */
    pd_wbuf_u16(&b->w, PD_DNS_T_OPT);
    pd_wbuf_u16(&b->w, udp_size);
    pd_wbuf_u32(&b->w, ((uint32_t)ext_rcode << 24) | ((uint32_t)version << 16) | flags);
    pd_wbuf_u16(&b->w, 0); /* no options */
    return commit(b, m, &b->count[PD_DNS_SEC_AR]);
}

int pd_dns_build_finish(pd_dns_builder_t *b, uint16_t id, uint16_t flags, size_t *out_len)
{
    if (b->w.err || b->w.len < PD_DNS_HDR_LEN)
        return -PD_ETOOBIG;
    uint8_t *h = b->w.data;
    pd_put_u16(h, id);
    pd_put_u16(h + 2, flags);
    pd_put_u16(h + 4, b->qdcount);
    pd_put_u16(h + 6, b->count[PD_DNS_SEC_AN]);
    pd_put_u16(h + 8, b->count[PD_DNS_SEC_NS]);
    pd_put_u16(h + 10, b->count[PD_DNS_SEC_AR]);
    *out_len = b->w.len;
    return 0;
}
