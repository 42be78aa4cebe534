/* Helpers shared by the DNS unit tests: dotted <-> wire names, query building with the project's
 * builder, and a reply decoder built on pd_dns_rr_parse. Header-only, test code only. */
#ifndef TEST_DNS_UTIL_H
#define TEST_DNS_UTIL_H

#include <stdio.h>
#include <string.h>

#include "dns_wire.h"
#include "pd_err.h"

/* "web.svc" -> "\3web\3svc\0" (no escapes; "" or "." is the root). Returns the wire length. */
static inline size_t t_wire(const char *dotted, uint8_t *out)
{
    size_t n = 0;
    const char *p = dotted;
    while (*p && !(p[0] == '.' && p[1] == '\0')) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        out[n++] = (uint8_t)l;
        memcpy(out + n, p, l);
        n += l;
        p += l;
        if (*p == '.')
            p++;
    }
    out[n++] = 0;
    return n;
}

static inline void t_dotted(const uint8_t *wire, char *out)
{
    size_t o = 0;
    for (size_t p = 0; wire[p]; p += (size_t)wire[p] + 1) {
        memcpy(out + o, wire + p + 1, wire[p]);
        o += wire[p];
        out[o++] = '.';
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = '\0';
}

/* A query built with pd_dns_build_*: edns_size < 0 means no OPT. */
static inline size_t t_query(uint8_t *buf, size_t cap, uint16_t id, const char *name,
                             uint16_t qtype, int edns_size)
{
    uint8_t w[PD_DNS_NAME_MAX + 2];
    pd_dns_builder_t b;
    size_t len = 0;
    t_wire(name, w);
    pd_dns_build_init(&b, buf, cap);
    if (pd_dns_build_question(&b, w, qtype, PD_DNS_C_IN) < 0)
        return 0;
    if (edns_size >= 0 && pd_dns_build_opt(&b, (uint16_t)edns_size, 0, 0, 0) < 0)
        return 0;
    if (pd_dns_build_finish(&b, id, PD_DNS_F_RD, &len) < 0)
        return 0;
    return len;
}

enum { T_RR_MAX = 1100 };

typedef struct {
    pd_dns_rr_t rr;
    int sec;            /* 0 answer, 1 authority, 2 additional */
    uint8_t addr[16];   /* A / AAAA */
    char target[300];   /* PTR, SRV target, SOA mname (dotted) */
    uint16_t prio, weight, port;
    uint32_t serial, minimum;
} t_rr_t;

typedef struct {
    pd_dns_hdr_t h;
    char qname[300];
    uint16_t qtype, qclass;
    unsigned n;
    t_rr_t rr[T_RR_MAX];
} t_reply_t;

static inline int t_rdata_name(const uint8_t *msg, size_t len, size_t off, char *out)
{
    pd_dns_name_t n;
    pd_rbuf_t r;
    pd_rbuf_init(&r, msg, len);
    pd_rbuf_seek(&r, off);
    int rc = pd_dns_name_parse(&r, &n);
    if (rc == 0)
        t_dotted(n.wire, out);
    return rc;
}

/* Decodes a reply; 0 or a negative code. Also runs pd_dns_msg_check. */
static inline int t_parse_reply(const uint8_t *msg, size_t len, t_reply_t *out)
{
    int rc = pd_dns_msg_check(msg, len);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    pd_dns_hdr_parse(msg, len, &out->h);
    pd_rbuf_t r;
    pd_rbuf_init(&r, msg, len);
    pd_rbuf_skip(&r, PD_DNS_HDR_LEN);
    if (out->h.qdcount == 1) {
        pd_dns_name_t n;
        pd_dns_name_parse(&r, &n);
        t_dotted(n.wire, out->qname);
        out->qtype = pd_rbuf_u16(&r);
        out->qclass = pd_rbuf_u16(&r);
    }
    unsigned total = (unsigned)out->h.ancount + out->h.nscount + out->h.arcount;
    for (unsigned i = 0; i < total && i < T_RR_MAX; i++) {
        t_rr_t *x = &out->rr[out->n++];
        if ((rc = pd_dns_rr_parse(&r, &x->rr)) != 0)
            return rc;
        x->sec = i < out->h.ancount ? 0 : i < (unsigned)out->h.ancount + out->h.nscount ? 1 : 2;
        const uint8_t *rd = msg + x->rr.rdata_off;
        if (x->rr.type == PD_DNS_T_A || x->rr.type == PD_DNS_T_AAAA)
            memcpy(x->addr, rd, x->rr.rdlen);
        else if (x->rr.type == PD_DNS_T_PTR)
            rc = t_rdata_name(msg, len, x->rr.rdata_off, x->target);
        else if (x->rr.type == PD_DNS_T_SRV) {
            x->prio = pd_get_u16(rd);
            x->weight = pd_get_u16(rd + 2);
            x->port = pd_get_u16(rd + 4);
            rc = t_rdata_name(msg, len, x->rr.rdata_off + 6u, x->target);
        } else if (x->rr.type == PD_DNS_T_SOA) {
            rc = t_rdata_name(msg, len, x->rr.rdata_off, x->target);
            x->serial = pd_get_u32(rd + x->rr.rdlen - 20);
            x->minimum = pd_get_u32(rd + x->rr.rdlen - 4);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static inline unsigned t_count(const t_reply_t *r, int sec, uint16_t type)
{
    unsigned n = 0;
    for (unsigned i = 0; i < r->n; i++)
        n += r->rr[i].sec == sec && r->rr[i].rr.type == type;
    return n;
}

#endif
