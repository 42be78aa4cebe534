/* Query name -> what we hold for it. The name is lowercased once; each table probe hashes only the
 * label(s) that make its key. */
#include "dns_classify.h"

#include <stddef.h>
#include <string.h>

static const uint8_t L_SVC[] = "\3svc";
static const uint8_t L_NODE[] = "\4node";
static const uint8_t L_TASKS[] = "\5tasks";
static const uint8_t L_TCP[] = "\4_tcp";
static const uint8_t L_UDP[] = "\4_udp";
static const uint8_t L_ARPA[] = "\4arpa";
static const uint8_t L_INADDR[] = "\7in-addr";
static const uint8_t L_IP6[] = "\3ip6";

typedef struct {
    const pd_dns_table_t *t;
    const pd_dns_name_t *n;
    uint8_t lc[PD_DNS_NAME_MAX];
} cls_t;

static int lab_is(const cls_t *c, unsigned i, const uint8_t *label)
{
    const uint8_t *l = c->lc + c->n->off[i];
    return l[0] == label[0] && memcmp(l + 1, label + 1, label[0]) == 0;
}

static const uint8_t *lab(const cls_t *c, unsigned i) { return c->lc + c->n->off[i]; }

static const pd_dns_service_t *svc_at(const cls_t *c, unsigned i)
{
    const uint8_t *k = lab(c, i);
    size_t len = (size_t)k[0] + 1;
    return pd_dns_table_service_find(c->t, k, len, pd_dns_key_hash(k, len));
}

static int has_proto(const pd_dns_service_t *s, uint8_t proto)
{
    for (unsigned i = 0; i < s->nports; i++) {
        if (s->ports[i].proto == proto)
            return 1;
    }
    return 0;
}

/* label "_name" (lowercase wire) against the service's ports. */
static const pd_dns_port_t *port_find(const pd_dns_service_t *s, const uint8_t *label,
                                      uint8_t proto)
{
    if (label[0] < 2 || label[1] != '_')
        return NULL;
    size_t len = (size_t)label[0] - 1;
    for (unsigned i = 0; i < s->nports; i++) {
        const pd_dns_port_t *p = &s->ports[i];
        if (p->proto == proto && strlen(p->name) == len && memcmp(p->name, label + 2, len) == 0)
            return p;
    }
    return NULL;
}

/* m labels precede "svc". */
static void classify_svc(const cls_t *c, unsigned m, pd_dns_match_t *out)
{
    out->zone = PD_DNS_ZONE_SVC;
    out->kind = PD_DNS_M_NXDOMAIN;
    if (m == 0) {
        out->kind = PD_DNS_M_APEX;
        return;
    }
    if (m > 3 || !(out->svc = svc_at(c, m - 1)))
        return;
    if (m == 1) {
        out->kind = PD_DNS_M_SERVICE;
        return;
    }
    uint8_t proto = lab_is(c, m - 2, L_TCP) ? PD_DNS_PROTO_TCP
                    : lab_is(c, m - 2, L_UDP) ? PD_DNS_PROTO_UDP
                                              : 0;
    if (m == 2) {
        if (lab_is(c, 0, L_TASKS))
            out->kind = PD_DNS_M_TASKS;
        else if (proto && has_proto(out->svc, proto))
            out->kind = PD_DNS_M_ENT;
        return;
    }
    if (lab_is(c, 1, L_TASKS)) {
        const uint8_t *id = lab(c, 0);
        out->task = pd_dns_service_task_find(out->svc, id + 1, id[0]);
        if (out->task)
            out->kind = PD_DNS_M_TASK;
    } else if (proto) {
        out->port = port_find(out->svc, lab(c, 0), proto);
        if (out->port)
            out->kind = PD_DNS_M_SRV;
    }
}

static void classify_node(const cls_t *c, unsigned m, pd_dns_match_t *out)
{
    out->zone = PD_DNS_ZONE_NODE;
    if (m == 0) {
        out->kind = PD_DNS_M_APEX;
        return;
    }
    const uint8_t *k = lab(c, 0);
    size_t len = c->n->off[m]; /* labels 0..m-1, the first starts at 0 */
    out->node = pd_dns_table_node_find(c->t, k, len, pd_dns_key_hash(k, len));
    out->kind = out->node ? PD_DNS_M_NODE : PD_DNS_M_NXDOMAIN;
}

static int dec_octet(const uint8_t *l, uint8_t *out)
{
    unsigned n = l[0], v = 0;
    if (n < 1 || n > 3 || (n > 1 && l[1] == '0'))
        return -1;
    for (unsigned i = 1; i <= n; i++) {
        if (l[i] < '0' || l[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(l[i] - '0');
    }
    if (v > 255)
        return -1;
    *out = (uint8_t)v;
    return 0;
}

static int hex_nibble(const uint8_t *l)
{
    if (l[0] != 1)
        return -1;
    uint8_t ch = l[1];
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

static int reverse_parse(const cls_t *c, uint8_t addr[16])
{
    const pd_dns_name_t *n = c->n;
    if (n->nlabels == 6 && lab_is(c, 5, L_ARPA) && lab_is(c, 4, L_INADDR)) {
        for (unsigned i = 0; i < 4; i++) {
            if (dec_octet(lab(c, i), &addr[3 - i]) < 0)
                return 0;
        }
        return 4;
    }
    if (n->nlabels == 34 && lab_is(c, 33, L_ARPA) && lab_is(c, 32, L_IP6)) {
        for (unsigned i = 0; i < 32; i++) {
            int v = hex_nibble(lab(c, i));
            if (v < 0)
                return 0;
            unsigned k = 31 - i; /* nibble index from the address start */
            if (k & 1)
                addr[k / 2] = (uint8_t)((addr[k / 2] & 0xf0) | v);
            else
                addr[k / 2] = (uint8_t)((addr[k / 2] & 0x0f) | (v << 4));
        }
        return 6;
    }
    return 0;
}

/* Wire label against a lowercase one, ignoring ASCII case. */
static int raw_label_is(const uint8_t *l, const uint8_t *label)
{
    if (l[0] != label[0])
        return 0;
    for (unsigned i = 1; i <= l[0]; i++) {
        if (pd_dns_lower[l[i]] != label[i])
            return 0;
    }
    return 1;
}

int pd_dns_query_service_hash(const uint8_t *msg, size_t len, uint32_t *hash)
{
    enum { HINT_LABELS = 4 }; /* the longest service name shape: <task>.tasks.<svc>.svc */
    size_t off[HINT_LABELS];
    unsigned n = 0;
    for (size_t pos = PD_DNS_HDR_LEN;;) {
        if (pos >= len)
            return 0;
        uint8_t c = msg[pos];
        if (c == 0)
            break;
        if (c > PD_DNS_LABEL_MAX || n == HINT_LABELS || (size_t)c + 1 > len - pos)
            return 0; /* a pointer, too many labels, or cut */
        off[n++] = pos;
        pos += (size_t)c + 1;
    }
    const uint8_t *k;
    if (n >= 2 && raw_label_is(msg + off[n - 1], L_SVC))
        k = msg + off[n - 2];
    else if (n == 1)
        k = msg + off[0];
    else if (n == 2 && raw_label_is(msg + off[0], L_TASKS))
        k = msg + off[1];
    else
        return 0;
    uint8_t lc[1 + PD_DNS_LABEL_MAX];
    size_t klen = (size_t)k[0] + 1;
    pd_dns_name_lower(lc, k, klen);
    *hash = pd_dns_key_hash(lc, klen);
    return 1;
}

int pd_dns_reverse_parse(const uint8_t *lc, const pd_dns_name_t *n, uint8_t addr[16])
{
    cls_t c = {.n = n};
    memcpy(c.lc, lc, n->len);
    return reverse_parse(&c, addr);
}

void pd_dns_classify(const pd_dns_table_t *t, const pd_dns_name_t *qname, pd_dns_match_t *out)
{
    cls_t c; /* lc is filled below: no zeroing of the whole buffer */
    c.t = t;
    c.n = qname;
    pd_dns_match_t m;
    m.kind = PD_DNS_M_FORWARD;
    m.zone = PD_DNS_ZONE_NONE;
    m.svc = NULL;
    m.task = NULL;
    m.port = NULL;
    m.node = NULL;
    m.family = 0;
    unsigned n = qname->nlabels;
    pd_dns_name_lower(c.lc, qname->wire, qname->len);
    if (n == 0) {
        /* the root: upstream's business */
    } else if (lab_is(&c, n - 1, L_SVC)) {
        classify_svc(&c, n - 1, &m);
    } else if (lab_is(&c, n - 1, L_NODE)) {
        classify_node(&c, n - 1, &m);
    } else if (lab_is(&c, n - 1, L_ARPA)) {
        m.family = (uint8_t)reverse_parse(&c, m.addr);
        if (m.family && pd_dns_table_rev_first(t, m.family, m.addr))
            m.kind = PD_DNS_M_PTR;
    } else if (n == 1 && (m.svc = svc_at(&c, 0))) {
        m.kind = PD_DNS_M_SERVICE;
        m.zone = PD_DNS_ZONE_SVC;
    } else if (n == 2 && lab_is(&c, 0, L_TASKS) && (m.svc = svc_at(&c, 1))) {
        m.kind = PD_DNS_M_TASKS;
        m.zone = PD_DNS_ZONE_SVC;
    }
    if (m.kind == PD_DNS_M_FORWARD)
        m.svc = NULL;
    memcpy(out, &m, offsetof(pd_dns_match_t, addr));
    if (m.kind == PD_DNS_M_PTR)
        memcpy(out->addr, m.addr, sizeof m.addr);
}
