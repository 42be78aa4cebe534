/* pd_dns_answer: parse, classify, build. Every buffer is on the stack or the caller's; the only
 * per-query hashing is of the query name's labels (in dns_classify.c). */
#include "dns_answer.h"

#include <string.h>

#include "dns_classify.h"
#include "pd_assert.h"
#include "pd_err.h"

typedef struct {
    const pd_dns_table_t *t;
    const pd_dns_config_t *cfg;
    pd_rng_t *rng;
    const pd_dns_query_t *q;
    pd_dns_match_t m;
    pd_dns_builder_t b;
    uint32_t ttl_s;
    uint16_t flags; /* AA, TC */
    uint8_t rcode;
    uint8_t tcp;
} ans_t;

static const uint8_t APEX_SVC[] = "\3svc";
static const uint8_t APEX_NODE[] = "\4node";
static const uint8_t MNAME_SVC[] = "\2ns\3svc";
static const uint8_t MNAME_NODE[] = "\2ns\4node";
static const uint8_t RNAME_SVC[] = "\12hostmaster\3svc";
static const uint8_t RNAME_NODE[] = "\12hostmaster\4node";

void pd_dns_config_default(pd_dns_config_t *cfg)
{
    cfg->ttl_s = PD_DNS_TTL_DEFAULT_S;
    cfg->udp_answer_max = PD_DNS_UDP_ANSWER_DEFAULT;
    cfg->edns_udp_size = PD_DNS_EDNS_ADVERTISE;
    cfg->recursion_available = 1;
}

/* An answer record that does not fit truncates the reply. */
static int an_fail(ans_t *a, int rc)
{
    if (rc < 0)
        a->flags |= PD_DNS_F_TC;
    return rc;
}

static int want_v4(uint16_t qtype) { return qtype == PD_DNS_T_A || qtype == PD_DNS_T_ANY; }
static int want_v6(uint16_t qtype) { return qtype == PD_DNS_T_AAAA || qtype == PD_DNS_T_ANY; }

/* The addresses of `ad` the query asks for, under `owner`. */
static int put_addrs(ans_t *a, pd_dns_sec_t sec, const uint8_t *owner, const pd_dns_addrs_t *ad)
{
    int rc = 0;
    if (ad->has_v4 && want_v4(a->q->qtype))
        rc = pd_dns_build_a(&a->b, sec, owner, a->ttl_s, ad->v4);
    if (rc == 0 && ad->has_v6 && want_v6(a->q->qtype))
        rc = pd_dns_build_aaaa(&a->b, sec, owner, a->ttl_s, ad->v6);
    return rc;
}

/* Healthy tasks usable for the query (any address for SRV), the first `k` of them shuffled into
 * idx[0..k). Returns k. */
static uint32_t pick_tasks(ans_t *a, const pd_dns_service_t *s, int any_family, uint16_t *idx)
{
    uint32_t n = 0;
    int v4 = any_family || want_v4(a->q->qtype), v6 = any_family || want_v6(a->q->qtype);
    for (uint32_t i = 0; i < s->ntasks; i++) {
        const pd_dns_task_t *k = &s->tasks[i];
        if (k->healthy && ((v4 && k->addr.has_v4) || (v6 && k->addr.has_v6)))
            idx[n++] = (uint16_t)i;
    }
    uint32_t k = n;
    if (!a->tcp && a->cfg->udp_answer_max && k > a->cfg->udp_answer_max)
        k = a->cfg->udp_answer_max;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t j = i + (uint32_t)pd_rng_below(a->rng, n - i);
        uint16_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
    return k;
}

static int answer_tasks(ans_t *a, const pd_dns_service_t *s)
{
    uint16_t idx[PD_DNS_TASKS_PER_SERVICE_HARD];
    uint32_t k = pick_tasks(a, s, 0, idx);
    for (uint32_t i = 0; i < k; i++) {
        int rc = put_addrs(a, PD_DNS_SEC_AN, a->q->qname.wire, &s->tasks[idx[i]].addr);
        if (rc < 0)
            return an_fail(a, rc);
    }
    return 0;
}

static int has_vip(const pd_dns_service_t *s) { return s->vip.has_v4 || s->vip.has_v6; }

/* SRV for a VIP service: one record at the VIP. Without one: a record per healthy task. Glue
 * (the targets' addresses) goes to the additional section when it fits. */
static int answer_srv(ans_t *a)
{
    const pd_dns_service_t *s = a->m.svc;
    const uint8_t *owner = a->q->qname.wire;
    uint16_t port = a->m.port->port;
    if (has_vip(s)) {
        int rc = pd_dns_build_srv(&a->b, PD_DNS_SEC_AN, owner, a->ttl_s, 0, 0, port, s->fqdn);
        if (rc < 0)
            return an_fail(a, rc);
        if (s->vip.has_v4)
            (void)pd_dns_build_a(&a->b, PD_DNS_SEC_AR, s->fqdn, a->ttl_s, s->vip.v4);
        if (s->vip.has_v6)
            (void)pd_dns_build_aaaa(&a->b, PD_DNS_SEC_AR, s->fqdn, a->ttl_s, s->vip.v6);
        return 0;
    }
    uint16_t idx[PD_DNS_TASKS_PER_SERVICE_HARD];
    uint8_t target[PD_DNS_NAME_MAX];
    uint32_t k = pick_tasks(a, s, 1, idx);
    for (uint32_t i = 0; i < k; i++) {
        const pd_dns_task_t *tk = &s->tasks[idx[i]];
        pd_dns_task_fqdn(s, tk, target);
        int rc = pd_dns_build_srv(&a->b, PD_DNS_SEC_AN, owner, a->ttl_s, 0, 1,
                                  tk->port ? tk->port : port, target);
        if (rc < 0)
            return an_fail(a, rc);
    }
    for (uint32_t i = 0; i < k; i++) {
        const pd_dns_task_t *tk = &s->tasks[idx[i]];
        pd_dns_task_fqdn(s, tk, target);
        if ((tk->addr.has_v4 &&
             pd_dns_build_a(&a->b, PD_DNS_SEC_AR, target, a->ttl_s, tk->addr.v4)) ||
            (tk->addr.has_v6 &&
             pd_dns_build_aaaa(&a->b, PD_DNS_SEC_AR, target, a->ttl_s, tk->addr.v6)))
            break;
    }
    return 0;
}

static int answer_ptr(ans_t *a)
{
    const pd_dns_rev_t *r = pd_dns_table_rev_first(a->t, a->m.family, a->m.addr);
    for (; r; r = pd_dns_table_rev_next(r, a->m.family, a->m.addr)) {
        int rc = pd_dns_build_ptr(&a->b, PD_DNS_SEC_AN, a->q->qname.wire, a->ttl_s, r->name);
        if (rc < 0)
            return an_fail(a, rc);
    }
    return 0;
}

static int put_soa(ans_t *a, pd_dns_sec_t sec)
{
    int node = a->m.zone == PD_DNS_ZONE_NODE;
    pd_dns_soa_t soa = {
        .mname = node ? MNAME_NODE : MNAME_SVC,
        .rname = node ? RNAME_NODE : RNAME_SVC,
        .serial = pd_dns_table_serial(a->t),
        .refresh_s = 3600,
        .retry_s = 600,
        .expire_s = 86400,
        .minimum_s = a->ttl_s,
    };
    return pd_dns_build_soa(&a->b, sec, node ? APEX_NODE : APEX_SVC, a->ttl_s, &soa);
}

/* The answer section for a name that exists. */
static int answer_records(ans_t *a)
{
    uint16_t qt = a->q->qtype;
    int addr_q = want_v4(qt) || want_v6(qt);
    const uint8_t *owner = a->q->qname.wire;
    switch (a->m.kind) {
    case PD_DNS_M_APEX:
        return (qt == PD_DNS_T_SOA || qt == PD_DNS_T_ANY) ? an_fail(a, put_soa(a, PD_DNS_SEC_AN))
                                                          : 0;
    case PD_DNS_M_SERVICE:
        if (!addr_q)
            return 0;
        if (!has_vip(a->m.svc))
            return answer_tasks(a, a->m.svc); /* DNS round robin mode */
        return an_fail(a, put_addrs(a, PD_DNS_SEC_AN, owner, &a->m.svc->vip));
    case PD_DNS_M_TASKS:
        return addr_q ? answer_tasks(a, a->m.svc) : 0;
    case PD_DNS_M_TASK:
        return addr_q ? an_fail(a, put_addrs(a, PD_DNS_SEC_AN, owner, &a->m.task->addr)) : 0;
    case PD_DNS_M_NODE:
        return addr_q ? an_fail(a, put_addrs(a, PD_DNS_SEC_AN, owner, &a->m.node->addr)) : 0;
    case PD_DNS_M_SRV:
        return (qt == PD_DNS_T_SRV || qt == PD_DNS_T_ANY) ? answer_srv(a) : 0;
    case PD_DNS_M_PTR:
        return (qt == PD_DNS_T_PTR || qt == PD_DNS_T_ANY) ? answer_ptr(a) : 0;
    default:
        return 0;
    }
}

/* Reply with header only: for queries whose question we could not (or will not) read. */
static pd_dns_verdict_t reply_bare(const pd_dns_hdr_t *h, uint8_t rcode, uint8_t *out,
                                   size_t *out_len)
{
    uint16_t flags = PD_DNS_F_QR | (h->flags & (PD_DNS_F_OPCODE | PD_DNS_F_RD)) | rcode;
    memset(out, 0, PD_DNS_HDR_LEN);
    pd_put_u16(out, h->id);
    pd_put_u16(out + 2, flags);
    *out_len = PD_DNS_HDR_LEN;
    return PD_DNS_ANSWERED;
}

/* Rcode and authority for a name in our zones, by what the classifier found. */
static void fill_body(ans_t *a)
{
    uint16_t qt = a->q->qtype;
    if (a->q->qclass != PD_DNS_C_IN && a->q->qclass != PD_DNS_C_ANY) {
        a->rcode = PD_DNS_R_NOTIMP;
        return;
    }
    if (qt == PD_DNS_T_AXFR || qt == PD_DNS_T_IXFR || qt == PD_DNS_T_MAILA ||
        qt == PD_DNS_T_MAILB) {
        a->rcode = PD_DNS_R_NOTIMP;
        return;
    }
    a->flags |= PD_DNS_F_AA;
    if (a->m.kind == PD_DNS_M_NXDOMAIN)
        a->rcode = PD_DNS_R_NXDOMAIN;
    else if (answer_records(a) < 0)
        return; /* truncated: no authority */
    if (a->b.count[PD_DNS_SEC_AN] == 0 && !(a->flags & PD_DNS_F_TC) &&
        a->m.zone != PD_DNS_ZONE_NONE)
        (void)an_fail(a, put_soa(a, PD_DNS_SEC_NS)); /* NXDOMAIN or NODATA */
}

static pd_dns_verdict_t finish(ans_t *a, size_t *out_len)
{
    const pd_dns_query_t *q = a->q;
    uint8_t ext = 0;
    if (q->has_edns) {
        pd_dns_build_release(&a->b);
        if (a->rcode > 15)
            ext = (uint8_t)(a->rcode >> 4);
        (void)pd_dns_build_opt(&a->b, a->cfg->edns_udp_size, ext, 0,
                               q->edns_flags & PD_DNS_EDNS_DO);
    }
    uint16_t flags = PD_DNS_F_QR | a->flags | (q->hdr.flags & (PD_DNS_F_RD | PD_DNS_F_CD)) |
                     (a->rcode & 0x0f);
    if (a->cfg->recursion_available)
        flags |= PD_DNS_F_RA;
    if (pd_dns_build_finish(&a->b, q->hdr.id, flags, out_len) < 0)
        return PD_DNS_DROP;
    return PD_DNS_ANSWERED;
}

pd_dns_verdict_t pd_dns_answer(const pd_dns_table_t *t, const uint8_t *query, size_t len,
                               pd_dns_transport_t transport, pd_rng_t *rng,
                               const pd_dns_config_t *cfg, uint8_t *out, size_t out_cap,
                               size_t *out_len)
{
    pd_dns_hdr_t h;
    *out_len = 0;
    if (!out || out_cap < PD_DNS_REPLY_MIN || pd_dns_hdr_parse(query, len, &h) < 0 ||
        (h.flags & PD_DNS_F_QR))
        return PD_DNS_DROP;
    if (h.flags & PD_DNS_F_OPCODE)
        return reply_bare(&h, PD_DNS_R_NOTIMP, out, out_len);
    pd_dns_query_t q;
    if (pd_dns_query_parse(query, len, &q) < 0 || q.qtype == PD_DNS_T_OPT)
        return reply_bare(&h, PD_DNS_R_FORMERR, out, out_len);
    ans_t a;
    a.t = t;
    a.cfg = cfg;
    a.rng = rng;
    a.q = &q;
    a.ttl_s = cfg->ttl_s > PD_DNS_TTL_MAX_S ? PD_DNS_TTL_MAX_S : cfg->ttl_s;
    a.flags = 0;
    a.rcode = PD_DNS_R_NOERROR;
    a.tcp = transport == PD_DNS_TCP;
    if (q.has_edns && q.edns_version != 0) {
        a.rcode = PD_DNS_R_BADVERS;
        a.m.kind = PD_DNS_M_FORWARD;
    } else {
        pd_dns_classify(t, &q.qname, &a.m);
        /* reverse zones are upstream's: we only add PTRs for addresses we know */
        if (a.m.kind == PD_DNS_M_FORWARD ||
            (a.m.kind == PD_DNS_M_PTR && q.qtype != PD_DNS_T_PTR && q.qtype != PD_DNS_T_ANY))
            return PD_DNS_FORWARD;
    }
    size_t cap = a.tcp ? out_cap : PD_MIN(out_cap, (size_t)q.udp_size);
    pd_dns_build_init(&a.b, out, cap);
    if (q.has_edns)
        pd_dns_build_reserve(&a.b, PD_DNS_OPT_LEN);
    if (pd_dns_build_question(&a.b, q.qname.wire, q.qtype, q.qclass) < 0)
        return PD_DNS_DROP; /* cannot happen: cap >= 512 */
    if (a.rcode == PD_DNS_R_NOERROR)
        fill_body(&a);
    return finish(&a, out_len);
}
