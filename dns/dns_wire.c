/* DNS wire parsing: header, names with compression, the one-question query and its OPT record.
 * Pure and bounded; reads through a sticky-error pd_rbuf_t. */
#include "dns_wire.h"

#include <string.h>

#include "pd_err.h"

#define L8(x) (x), (x) + 1, (x) + 2, (x) + 3, (x) + 4, (x) + 5, (x) + 6, (x) + 7
#define L32(x) L8(x), L8((x) + 8), L8((x) + 16), L8((x) + 24)
/* Identity except 'A'..'Z' (65..90) -> 'a'..'z'. */
const uint8_t pd_dns_lower[256] = {
    L32(0), L32(32), 64, L8(97), L8(105), L8(113), 121, 122, 91, 92, 93, 94, 95,
    L32(96), L32(128), L32(160), L32(192), L32(224),
};
#undef L8
#undef L32

void pd_dns_name_lower(uint8_t *dst, const uint8_t *src, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] = pd_dns_lower[src[i]];
}

int pd_dns_hdr_parse(const uint8_t *msg, size_t len, pd_dns_hdr_t *out)
{
    if (!msg || len < PD_DNS_HDR_LEN)
        return -PD_ETRUNCATED;
    out->id = pd_get_u16(msg);
    out->flags = pd_get_u16(msg + 2);
    out->qdcount = pd_get_u16(msg + 4);
    out->ancount = pd_get_u16(msg + 6);
    out->nscount = pd_get_u16(msg + 8);
    out->arcount = pd_get_u16(msg + 10);
    return 0;
}

static int name_fail(pd_rbuf_t *r, int err)
{
    pd_rbuf_fail(r, err);
    return err;
}

int pd_dns_name_parse(pd_rbuf_t *r, pd_dns_name_t *out)
{
    if (r->err)
        return r->err;
    const uint8_t *msg = r->data;
    size_t len = r->len, pos = r->pos, seg = r->pos, after = 0;
    pd_dns_name_t *n = out; /* in place: a copy would cost as much as the parse */
    n->len = 0;
    n->nlabels = 0;
    for (;;) {
        if (pos >= len)
            return name_fail(r, -PD_ETRUNCATED);
        uint8_t c = msg[pos];
        if ((c & 0xc0) == 0xc0) {
            if (pos + 1 >= len)
                return name_fail(r, -PD_ETRUNCATED);
            size_t target = ((size_t)(c & 0x3f) << 8) | msg[pos + 1];
            /* Strictly before the segment that led here: chains shrink, loops are impossible. */
            if (target < PD_DNS_HDR_LEN || target >= seg)
                return name_fail(r, -PD_EMALFORMED);
            if (!after)
                after = pos + 2;
            pos = seg = target;
            continue;
        }
        if (c & 0xc0) /* 0x40 and 0x80 label types are obsolete or unassigned */
            return name_fail(r, -PD_EMALFORMED);
        if (c == 0)
            break;
        if ((size_t)n->len + 1 + c + 1 > PD_DNS_NAME_MAX)
            return name_fail(r, -PD_EMALFORMED);
        if (c > len - pos - 1)
            return name_fail(r, -PD_ETRUNCATED);
        n->off[n->nlabels++] = (uint8_t)n->len;
        memcpy(n->wire + n->len, msg + pos, (size_t)c + 1);
        n->len = (uint16_t)(n->len + c + 1);
        pos += (size_t)c + 1;
    }
    n->wire[n->len++] = 0;
    r->pos = after ? after : pos + 1;
    return 0;
}

int pd_dns_name_check(const uint8_t *wire, size_t cap)
{
    size_t pos = 0;
    for (;;) {
        if (pos >= cap || pos >= PD_DNS_NAME_MAX)
            return -PD_EMALFORMED;
        uint8_t c = wire[pos];
        if (c == 0)
            return (int)pos + 1;
        if (c > PD_DNS_LABEL_MAX)
            return -PD_EMALFORMED;
        pos += (size_t)c + 1;
    }
}

int pd_dns_rr_parse(pd_rbuf_t *r, pd_dns_rr_t *out)
{
    pd_dns_rr_t rr;
    int rc = pd_dns_name_parse(r, &rr.owner);
    if (rc)
        return rc;
    rr.type = pd_rbuf_u16(r);
    rr.klass = pd_rbuf_u16(r);
    rr.ttl = pd_rbuf_u32(r);
    rr.rdlen = pd_rbuf_u16(r);
    rr.rdata_off = (uint16_t)r->pos;
    pd_rbuf_skip(r, rr.rdlen);
    if (r->err)
        return r->err;
    if (r->pos > PD_DNS_MSG_MAX)
        return -PD_EMALFORMED;
    memcpy(out, &rr, sizeof rr);
    return 0;
}

/* One record after the question: skipped, unless it is the OPT in the additional section. */
static int query_rr(pd_rbuf_t *r, int additional, pd_dns_query_t *q)
{
    pd_dns_rr_t rr;
    int rc = pd_dns_rr_parse(r, &rr);
    if (rc)
        return rc;
    if (rr.type != PD_DNS_T_OPT)
        return 0;
    if (!additional || q->has_edns || rr.owner.len != 1)
        return -PD_EMALFORMED; /* RFC 6891 6.1.1: one OPT, root owner, additional section */
    q->has_edns = 1;
    q->udp_size = rr.klass < PD_DNS_UDP_MIN ? PD_DNS_UDP_MIN
                  : rr.klass > PD_DNS_UDP_MAX ? PD_DNS_UDP_MAX
                                             : rr.klass;
    q->edns_version = (uint8_t)(rr.ttl >> 16);
    q->edns_flags = (uint16_t)rr.ttl;
    return 0;
}

/* A name inside rdata: it must decompress and end within the rdata. */
static int rdata_name(pd_rbuf_t *r, size_t end)
{
    pd_dns_name_t n;
    int rc = pd_dns_name_parse(r, &n);
    if (rc)
        return rc;
    return r->pos > end ? -PD_EMALFORMED : 0;
}

static int rdata_check(const uint8_t *msg, const pd_dns_rr_t *rr)
{
    pd_rbuf_t r;
    size_t end = (size_t)rr->rdata_off + rr->rdlen;
    pd_rbuf_init(&r, msg, end);
    pd_rbuf_seek(&r, rr->rdata_off);
    int rc = 0;
    switch (rr->type) {
    case PD_DNS_T_A:
        return rr->rdlen == 4 ? 0 : -PD_EMALFORMED;
    case PD_DNS_T_AAAA:
        return rr->rdlen == 16 ? 0 : -PD_EMALFORMED;
    case PD_DNS_T_PTR:
        rc = rdata_name(&r, end);
        break;
    case PD_DNS_T_SRV:
        pd_rbuf_skip(&r, 6);
        rc = r.err ? r.err : rdata_name(&r, end);
        break;
    case PD_DNS_T_SOA:
        rc = rdata_name(&r, end);
        if (rc == 0)
            rc = rdata_name(&r, end);
        pd_rbuf_skip(&r, 20);
        break;
    case PD_DNS_T_OPT:
        return rr->owner.len == 1 ? 0 : -PD_EMALFORMED;
    default:
        return 0;
    }
    if (rc == 0 && (r.err || r.pos != end))
        rc = -PD_EMALFORMED;
    return rc;
}

int pd_dns_msg_check(const uint8_t *msg, size_t len)
{
    pd_dns_hdr_t h;
    int rc = pd_dns_hdr_parse(msg, len, &h);
    if (rc)
        return rc;
    pd_rbuf_t r;
    pd_rbuf_init(&r, msg, len);
    pd_rbuf_skip(&r, PD_DNS_HDR_LEN);
    for (unsigned i = 0; i < h.qdcount; i++) {
        pd_dns_name_t n;
        if ((rc = pd_dns_name_parse(&r, &n)) != 0)
            return rc;
        pd_rbuf_skip(&r, 4);
    }
    unsigned total = (unsigned)h.ancount + h.nscount + h.arcount;
    for (unsigned i = 0; i < total && !r.err; i++) {
        pd_dns_rr_t rr;
        if ((rc = pd_dns_rr_parse(&r, &rr)) != 0 || (rc = rdata_check(msg, &rr)) != 0)
            return rc;
    }
    if (r.err)
        return r.err;
    return pd_rbuf_left(&r) ? -PD_EMALFORMED : 0;
}

int pd_dns_query_parse(const uint8_t *msg, size_t len, pd_dns_query_t *out)
{
    /* Parsed in place (this runs for every query; the name alone is a copy of up to 255 bytes). */
    pd_dns_query_t *q = out;
    int rc = pd_dns_hdr_parse(msg, len, &q->hdr);
    if (rc)
        return rc;
    if (q->hdr.qdcount != 1)
        return -PD_EMALFORMED;
    unsigned others = (unsigned)q->hdr.ancount + q->hdr.nscount + q->hdr.arcount;
    if (others > PD_DNS_QUERY_RR_MAX)
        return -PD_EMALFORMED;
    pd_rbuf_t r;
    pd_rbuf_init(&r, msg, len);
    pd_rbuf_skip(&r, PD_DNS_HDR_LEN);
    rc = pd_dns_name_parse(&r, &q->qname);
    if (rc)
        return rc;
    q->qtype = pd_rbuf_u16(&r);
    q->qclass = pd_rbuf_u16(&r);
    q->has_edns = 0;
    q->edns_version = 0;
    q->edns_flags = 0;
    q->udp_size = PD_DNS_UDP_MIN;
    unsigned first_ar = (unsigned)q->hdr.ancount + q->hdr.nscount;
    for (unsigned i = 0; i < others && !r.err; i++) {
        rc = query_rr(&r, i >= first_ar, q);
        if (rc)
            return rc;
    }
    return r.err;
}
