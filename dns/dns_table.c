/* The DNS name table: chained hash tables of services and nodes keyed by lowercase wire names,
 * each service owning its task array, plus an address -> name map for PTR. Bucket arrays are sized
 * once from the limits, so nothing rehashes; every update is all-or-nothing under OOM. */
#include "dns_table.h"

#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"

enum { REV_BUCKETS_MAX = 1u << 20, TASKS_GROW_MIN = 4 };

struct pd_dns_table {
    pd_dns_table_limits_t lim;
    uint32_t serial;
    size_t nservices, nnodes;
    uint32_t svc_mask, node_mask, rev_mask;
    pd_dns_service_t **svc;
    pd_dns_node_t **node;
    pd_dns_rev_t **rev;
};

static const uint8_t SVC_SUFFIX[] = {3, 's', 'v', 'c', 0};
static const uint8_t NODE_SUFFIX[] = {4, 'n', 'o', 'd', 'e', 0};
static const uint8_t TASKS_LABEL[] = {5, 't', 'a', 's', 'k', 's'};

void pd_dns_table_limits_default(pd_dns_table_limits_t *lim)
{
    lim->services_max = PD_DNS_SERVICES_DEFAULT;
    lim->tasks_per_service_max = PD_DNS_TASKS_PER_SERVICE_DEFAULT;
    lim->nodes_max = PD_DNS_NODES_DEFAULT;
}

uint32_t pd_dns_key_hash(const uint8_t *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ key[i]) * 16777619u;
    return h;
}

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t p = 16;
    while (p < n && p < REV_BUCKETS_MAX)
        p <<= 1;
    return p;
}

int pd_dns_table_new(const pd_dns_table_limits_t *lim, pd_dns_table_t **out)
{
    pd_dns_table_limits_t l;
    if (lim)
        l = *lim;
    else
        pd_dns_table_limits_default(&l);
    if (!l.services_max || !l.nodes_max || !l.tasks_per_service_max ||
        l.tasks_per_service_max > PD_DNS_TASKS_PER_SERVICE_HARD)
        return -PD_EUSAGE;
    pd_dns_table_t *t = pd_calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->lim = l;
    t->svc_mask = pow2_at_least(l.services_max) - 1;
    t->node_mask = pow2_at_least(l.nodes_max) - 1;
    t->rev_mask = pow2_at_least(2 * ((uint64_t)l.services_max + l.nodes_max)) - 1;
    t->svc = pd_calloc((size_t)t->svc_mask + 1, sizeof *t->svc);
    t->node = pd_calloc((size_t)t->node_mask + 1, sizeof *t->node);
    t->rev = pd_calloc((size_t)t->rev_mask + 1, sizeof *t->rev);
    if (!t->svc || !t->node || !t->rev) {
        pd_dns_table_free(t);
        return -ENOMEM;
    }
    *out = t;
    return 0;
}

static void service_destroy(pd_dns_service_t *s)
{
    pd_free(s->tasks);
    pd_free(s);
}

void pd_dns_table_free(pd_dns_table_t *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; t->svc && i <= t->svc_mask; i++) {
        for (pd_dns_service_t *s = t->svc[i], *nx; s; s = nx) {
            nx = s->next;
            service_destroy(s);
        }
    }
    for (uint32_t i = 0; t->node && i <= t->node_mask; i++) {
        for (pd_dns_node_t *n = t->node[i], *nx; n; n = nx) {
            nx = n->next;
            pd_free(n);
        }
    }
    for (uint32_t i = 0; t->rev && i <= t->rev_mask; i++) {
        for (pd_dns_rev_t *r = t->rev[i], *nx; r; r = nx) {
            nx = r->next;
            pd_free(r);
        }
    }
    pd_free(t->svc);
    pd_free(t->node);
    pd_free(t->rev);
    pd_free(t);
}

uint32_t pd_dns_table_serial(const pd_dns_table_t *t) { return t->serial; }
size_t pd_dns_table_service_count(const pd_dns_table_t *t) { return t->nservices; }
size_t pd_dns_table_node_count(const pd_dns_table_t *t) { return t->nnodes; }

static int label_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Dotted text -> lowercase wire labels without the root. Returns the key length or -PD_EUSAGE. */
static int make_key(const char *name, uint8_t *key, size_t cap, unsigned max_labels)
{
    if (!name)
        return -PD_EUSAGE;
    size_t len = 0;
    unsigned labels = 0;
    const char *p = name;
    for (;;) {
        size_t n = 0;
        while (label_char_ok(p[n]))
            n++;
        if (n == 0 || n > PD_DNS_LABEL_MAX || (p[n] != '.' && p[n] != '\0'))
            return -PD_EUSAGE;
        if (++labels > max_labels || len + 1 + n > cap)
            return -PD_EUSAGE;
        key[len++] = (uint8_t)n;
        for (size_t i = 0; i < n; i++)
            key[len++] = pd_dns_lower[(uint8_t)p[i]];
        if (p[n] == '\0')
            return (int)len;
        p += n + 1;
    }
}

/* ---- reverse map -------------------------------------------------------------------------- */

static uint32_t rev_hash(int family, const uint8_t *addr)
{
    uint8_t k[17];
    k[0] = (uint8_t)family;
    size_t n = family == 4 ? 4 : 16;
    memcpy(k + 1, addr, n);
    return pd_dns_key_hash(k, n + 1);
}

static int rev_match(const pd_dns_rev_t *r, int family, const uint8_t *addr)
{
    return r->family == family && memcmp(r->addr, addr, family == 4 ? 4 : 16) == 0;
}

const pd_dns_rev_t *pd_dns_table_rev_next(const pd_dns_rev_t *r, int family, const uint8_t *addr)
{
    for (r = r ? r->next : NULL; r; r = r->next) {
        if (rev_match(r, family, addr))
            return r;
    }
    return NULL;
}

const pd_dns_rev_t *pd_dns_table_rev_first(const pd_dns_table_t *t, int family, const uint8_t *addr)
{
    if (family != 4 && family != 6)
        return NULL;
    const pd_dns_rev_t *r = t->rev[rev_hash(family, addr) & t->rev_mask];
    if (r && rev_match(r, family, addr))
        return r;
    return r ? pd_dns_table_rev_next(r, family, addr) : NULL;
}

/* Entries for the addresses in `a` pointing at `name`, allocated but not yet linked. */
static int rev_prepare(const pd_dns_addrs_t *a, const uint8_t *name, size_t name_len,
                       pd_dns_rev_t *out[2])
{
    out[0] = out[1] = NULL;
    for (int i = 0; i < 2; i++) {
        if (!(i == 0 ? a->has_v4 : a->has_v6))
            continue;
        pd_dns_rev_t *r = pd_malloc(sizeof *r + name_len);
        if (!r) {
            pd_free(out[0]);
            out[0] = NULL;
            return -ENOMEM;
        }
        r->next = NULL;
        r->family = i == 0 ? 4 : 6;
        memset(r->addr, 0, sizeof r->addr);
        memcpy(r->addr, i == 0 ? a->v4 : a->v6, i == 0 ? 4 : 16);
        r->name_len = (uint8_t)name_len;
        memcpy(r->name, name, name_len);
        out[i] = r;
    }
    return 0;
}

static size_t rev_chain_names(const pd_dns_table_t *t, int family, const uint8_t *addr)
{
    size_t n = 0;
    for (const pd_dns_rev_t *r = pd_dns_table_rev_first(t, family, addr); r;
         r = pd_dns_table_rev_next(r, family, addr))
        n++;
    return n;
}

/* Links prepared entries; an address already mapped to PD_DNS_PTR_NAMES_MAX names gets no more. */
static void rev_commit(pd_dns_table_t *t, pd_dns_rev_t *r[2])
{
    for (int i = 0; i < 2; i++) {
        if (!r[i])
            continue;
        if (rev_chain_names(t, r[i]->family, r[i]->addr) >= PD_DNS_PTR_NAMES_MAX) {
            pd_free(r[i]);
            continue;
        }
        pd_dns_rev_t **b = &t->rev[rev_hash(r[i]->family, r[i]->addr) & t->rev_mask];
        r[i]->next = *b;
        *b = r[i];
    }
}

static void rev_remove_one(pd_dns_table_t *t, int family, const uint8_t *addr, const uint8_t *name,
                           size_t name_len)
{
    for (pd_dns_rev_t **pp = &t->rev[rev_hash(family, addr) & t->rev_mask]; *pp;
         pp = &(*pp)->next) {
        pd_dns_rev_t *r = *pp;
        if (rev_match(r, family, addr) && r->name_len == name_len &&
            memcmp(r->name, name, name_len) == 0) {
            *pp = r->next;
            pd_free(r);
            return;
        }
    }
}

static void rev_remove(pd_dns_table_t *t, const pd_dns_addrs_t *a, const uint8_t *name,
                       size_t name_len)
{
    if (a->has_v4)
        rev_remove_one(t, 4, a->v4, name, name_len);
    if (a->has_v6)
        rev_remove_one(t, 6, a->v6, name, name_len);
}

/* ---- services and tasks ------------------------------------------------------------------- */

const pd_dns_service_t *pd_dns_table_service_find(const pd_dns_table_t *t, const uint8_t *key,
                                                  size_t len, uint32_t hash)
{
    for (const pd_dns_service_t *s = t->svc[hash & t->svc_mask]; s; s = s->next) {
        if (s->hash == hash && s->key_len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
    return NULL;
}

void pd_dns_table_prefetch(const pd_dns_table_t *t, uint32_t hash, unsigned stage)
{
    enum { LINE = 64, TASK_BYTES_MAX = 4 * LINE }; /* the first few tasks: what a UDP answer reads */
    pd_dns_service_t *const *b = &t->svc[hash & t->svc_mask];
    if (stage == 0) {
        __builtin_prefetch(b);
        return;
    }
    const pd_dns_service_t *s = *b;
    if (!s)
        return;
    if (stage == 1) {
        __builtin_prefetch(s); /* chain and hash; with the next line, the key wherever malloc put s */
        __builtin_prefetch((const uint8_t *)s + LINE);
        return;
    }
    if (s->hash != hash || !s->tasks)
        return;
    size_t bytes = PD_MIN((size_t)s->ntasks * sizeof *s->tasks, (size_t)TASK_BYTES_MAX);
    for (size_t off = 0; off < bytes; off += LINE)
        __builtin_prefetch((const uint8_t *)s->tasks + off);
}

const pd_dns_task_t *pd_dns_service_task_find(const pd_dns_service_t *s, const uint8_t *id,
                                              size_t len)
{
    for (uint32_t i = 0; i < s->ntasks; i++) {
        if (s->tasks[i].id_len == len && memcmp(s->tasks[i].id, id, len) == 0)
            return &s->tasks[i];
    }
    return NULL;
}

const pd_dns_service_t *pd_dns_table_service_get(const pd_dns_table_t *t, const char *name)
{
    uint8_t key[1 + PD_DNS_LABEL_MAX];
    int len = make_key(name, key, sizeof key, 1);
    if (len < 0)
        return NULL;
    return pd_dns_table_service_find(t, key, (size_t)len, pd_dns_key_hash(key, (size_t)len));
}

/* `<task>.tasks.<service>.svc.` */
size_t pd_dns_task_fqdn(const pd_dns_service_t *s, const pd_dns_task_t *k,
                        uint8_t out[PD_DNS_NAME_MAX])
{
    size_t n = 0;
    out[n++] = k->id_len;
    memcpy(out + n, k->id, k->id_len);
    n += k->id_len;
    memcpy(out + n, TASKS_LABEL, sizeof TASKS_LABEL);
    n += sizeof TASKS_LABEL;
    memcpy(out + n, s->fqdn, (size_t)s->key_len + sizeof SVC_SUFFIX);
    return n + s->key_len + sizeof SVC_SUFFIX;
}

static pd_dns_service_t *service_new(pd_dns_table_t *t, const uint8_t *key, size_t len,
                                     uint32_t hash)
{
    if (t->nservices >= t->lim.services_max)
        return NULL;
    pd_dns_service_t *s = pd_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hash = hash;
    s->key_len = (uint8_t)len;
    memcpy(s->key, key, len);
    memcpy(s->fqdn, key, len);
    memcpy(s->fqdn + len, SVC_SUFFIX, sizeof SVC_SUFFIX);
    return s;
}

static void service_link(pd_dns_table_t *t, pd_dns_service_t *s)
{
    pd_dns_service_t **b = &t->svc[s->hash & t->svc_mask];
    s->next = *b;
    *b = s;
    t->nservices++;
}

static void service_unlink(pd_dns_table_t *t, pd_dns_service_t *s)
{
    for (pd_dns_service_t **pp = &t->svc[s->hash & t->svc_mask]; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            t->nservices--;
            return;
        }
    }
    PD_UNREACHABLE();
}

static int ports_check(const pd_dns_port_t *ports, size_t nports)
{
    if (nports > PD_DNS_PORTS_MAX || (nports && !ports))
        return -PD_EUSAGE;
    for (size_t i = 0; i < nports; i++) {
        uint8_t key[1 + PD_DNS_LABEL_MAX];
        size_t n = strnlen(ports[i].name, sizeof ports[i].name);
        if (n > PD_DNS_PORT_NAME_MAX || make_key(ports[i].name, key, sizeof key, 1) < 0)
            return -PD_EUSAGE;
        if (ports[i].proto != PD_DNS_PROTO_TCP && ports[i].proto != PD_DNS_PROTO_UDP)
            return -PD_EUSAGE;
    }
    return 0;
}

/* The table owns its services: a lookup for update may drop the const of the reader. */
static pd_dns_service_t *service_lookup_mut(pd_dns_table_t *t, const uint8_t *key, size_t len,
                                           uint32_t hash)
{
    return (pd_dns_service_t *)pd_dns_table_service_find(t, key, len, hash);
}

int pd_dns_table_service_put(pd_dns_table_t *t, const char *name, const pd_dns_addrs_t *vip,
                             const pd_dns_port_t *ports, size_t nports)
{
    uint8_t key[1 + PD_DNS_LABEL_MAX];
    int len = make_key(name, key, sizeof key, 1);
    if (len < 0 || ports_check(ports, nports) < 0)
        return -PD_EUSAGE;
    pd_dns_addrs_t none = {0};
    const pd_dns_addrs_t *v = vip ? vip : &none;
    uint32_t hash = pd_dns_key_hash(key, (size_t)len);
    pd_dns_service_t *s = service_lookup_mut(t, key, (size_t)len, hash);
    int created = !s;
    if (created && t->nservices >= t->lim.services_max)
        return -PD_ELIMIT;
    if (created && !(s = service_new(t, key, (size_t)len, hash)))
        return -ENOMEM;
    pd_dns_rev_t *rev[2];
    if (rev_prepare(v, s->fqdn, (size_t)len + sizeof SVC_SUFFIX, rev) < 0) {
        if (created)
            service_destroy(s);
        return -ENOMEM;
    }
    rev_remove(t, &s->vip, s->fqdn, (size_t)len + sizeof SVC_SUFFIX);
    rev_commit(t, rev);
    s->vip = *v;
    s->defined = 1;
    s->nports = (uint8_t)nports;
    for (size_t i = 0; i < nports; i++) {
        s->ports[i] = ports[i];
        for (char *c = s->ports[i].name; *c; c++)
            *c = (char)pd_dns_lower[(uint8_t)*c];
    }
    if (created)
        service_link(t, s);
    t->serial++;
    return 0;
}

static void service_drop(pd_dns_table_t *t, pd_dns_service_t *s)
{
    uint8_t fq[PD_DNS_NAME_MAX];
    for (uint32_t i = 0; i < s->ntasks; i++)
        rev_remove(t, &s->tasks[i].addr, fq, pd_dns_task_fqdn(s, &s->tasks[i], fq));
    rev_remove(t, &s->vip, s->fqdn, (size_t)s->key_len + sizeof SVC_SUFFIX);
    service_unlink(t, s);
    service_destroy(s);
}

int pd_dns_table_service_remove(pd_dns_table_t *t, const char *name)
{
    uint8_t key[1 + PD_DNS_LABEL_MAX];
    int len = make_key(name, key, sizeof key, 1);
    if (len < 0)
        return -PD_EUSAGE;
    pd_dns_service_t *s =
        service_lookup_mut(t, key, (size_t)len, pd_dns_key_hash(key, (size_t)len));
    if (!s)
        return -PD_ENOTFOUND;
    service_drop(t, s);
    t->serial++;
    return 0;
}

static int tasks_grow(pd_dns_service_t *s, uint32_t max)
{
    if (s->ntasks < s->tasks_cap)
        return 0;
    uint32_t cap = s->tasks_cap ? s->tasks_cap * 2 : TASKS_GROW_MIN;
    if (cap > max)
        cap = max;
    pd_dns_task_t *nt = pd_realloc(s->tasks, (size_t)cap * sizeof *nt);
    if (!nt)
        return -ENOMEM;
    s->tasks = nt;
    s->tasks_cap = cap;
    return 0;
}

int pd_dns_table_task_put(pd_dns_table_t *t, const char *service, const char *task_id,
                          const pd_dns_addrs_t *addr, int healthy, uint16_t port)
{
    uint8_t key[1 + PD_DNS_LABEL_MAX], idk[1 + PD_DNS_LABEL_MAX], fq[PD_DNS_NAME_MAX];
    int len = make_key(service, key, sizeof key, 1);
    int idlen = make_key(task_id, idk, sizeof idk, 1);
    if (len < 0 || idlen < 0 || !addr)
        return -PD_EUSAGE;
    uint32_t hash = pd_dns_key_hash(key, (size_t)len);
    pd_dns_service_t *s = service_lookup_mut(t, key, (size_t)len, hash);
    int created = !s;
    if (created && t->nservices >= t->lim.services_max)
        return -PD_ELIMIT;
    if (created && !(s = service_new(t, key, (size_t)len, hash)))
        return -ENOMEM;
    pd_dns_task_t *k = (pd_dns_task_t *)pd_dns_service_task_find(s, idk + 1, (size_t)idlen - 1);
    int rc = 0;
    if (!k && s->ntasks >= t->lim.tasks_per_service_max)
        rc = -PD_ELIMIT;
    else if (!k)
        rc = tasks_grow(s, t->lim.tasks_per_service_max);
    pd_dns_task_t nk = {.id_len = (uint8_t)(idlen - 1), .healthy = healthy ? 1 : 0, .port = port,
                        .addr = *addr};
    memcpy(nk.id, idk + 1, nk.id_len);
    pd_dns_rev_t *rev[2] = {NULL, NULL};
    if (rc == 0)
        rc = rev_prepare(addr, fq, pd_dns_task_fqdn(s, &nk, fq), rev);
    if (rc < 0) {
        if (created)
            service_destroy(s);
        return rc;
    }
    if (k)
        rev_remove(t, &k->addr, fq, pd_dns_task_fqdn(s, k, fq));
    else
        k = &s->tasks[s->ntasks++];
    *k = nk;
    rev_commit(t, rev);
    if (created)
        service_link(t, s);
    t->serial++;
    return 0;
}

int pd_dns_table_task_remove(pd_dns_table_t *t, const char *service, const char *task_id)
{
    uint8_t key[1 + PD_DNS_LABEL_MAX], idk[1 + PD_DNS_LABEL_MAX], fq[PD_DNS_NAME_MAX];
    int len = make_key(service, key, sizeof key, 1);
    int idlen = make_key(task_id, idk, sizeof idk, 1);
    if (len < 0 || idlen < 0)
        return -PD_EUSAGE;
    pd_dns_service_t *s =
        service_lookup_mut(t, key, (size_t)len, pd_dns_key_hash(key, (size_t)len));
    pd_dns_task_t *k =
        s ? (pd_dns_task_t *)pd_dns_service_task_find(s, idk + 1, (size_t)idlen - 1) : NULL;
    if (!k)
        return -PD_ENOTFOUND;
    rev_remove(t, &k->addr, fq, pd_dns_task_fqdn(s, k, fq));
    *k = s->tasks[--s->ntasks]; /* order is irrelevant: answers are shuffled */
    if (s->ntasks == 0 && !s->defined)
        service_drop(t, s);
    t->serial++;
    return 0;
}

/* ---- nodes -------------------------------------------------------------------------------- */

const pd_dns_node_t *pd_dns_table_node_find(const pd_dns_table_t *t, const uint8_t *key, size_t len,
                                            uint32_t hash)
{
    for (const pd_dns_node_t *n = t->node[hash & t->node_mask]; n; n = n->next) {
        if (n->hash == hash && n->key_len == len && memcmp(n->key, key, len) == 0)
            return n;
    }
    return NULL;
}

const pd_dns_node_t *pd_dns_table_node_get(const pd_dns_table_t *t, const char *hostname)
{
    uint8_t key[PD_DNS_HOST_KEY_MAX];
    int len = make_key(hostname, key, sizeof key, PD_DNS_LABELS_MAX);
    if (len < 0)
        return NULL;
    return pd_dns_table_node_find(t, key, (size_t)len, pd_dns_key_hash(key, (size_t)len));
}

static size_t node_fqdn(const pd_dns_node_t *n, uint8_t *out)
{
    memcpy(out, n->key, n->key_len);
    memcpy(out + n->key_len, NODE_SUFFIX, sizeof NODE_SUFFIX);
    return n->key_len + sizeof NODE_SUFFIX;
}

int pd_dns_table_node_put(pd_dns_table_t *t, const char *hostname, const pd_dns_addrs_t *addr)
{
    pd_dns_node_t nn = {0};
    int len = make_key(hostname, nn.key, sizeof nn.key, PD_DNS_LABELS_MAX);
    if (len < 0 || !addr)
        return -PD_EUSAGE;
    nn.key_len = (uint8_t)len;
    nn.hash = pd_dns_key_hash(nn.key, (size_t)len);
    nn.addr = *addr;
    pd_dns_node_t *n = (pd_dns_node_t *)pd_dns_table_node_find(t, nn.key, (size_t)len, nn.hash);
    if (!n && t->nnodes >= t->lim.nodes_max)
        return -PD_ELIMIT;
    uint8_t fq[PD_DNS_NAME_MAX];
    size_t fql = node_fqdn(&nn, fq);
    pd_dns_node_t *fresh = n ? NULL : pd_malloc(sizeof *fresh);
    pd_dns_rev_t *rev[2] = {NULL, NULL};
    if ((!n && !fresh) || rev_prepare(addr, fq, fql, rev) < 0) {
        pd_free(fresh);
        return -ENOMEM;
    }
    if (n) {
        rev_remove(t, &n->addr, fq, fql);
        n->addr = *addr;
    } else {
        *fresh = nn;
        pd_dns_node_t **b = &t->node[nn.hash & t->node_mask];
        fresh->next = *b;
        *b = fresh;
        t->nnodes++;
    }
    rev_commit(t, rev);
    t->serial++;
    return 0;
}

int pd_dns_table_node_remove(pd_dns_table_t *t, const char *hostname)
{
    uint8_t key[PD_DNS_HOST_KEY_MAX], fq[PD_DNS_NAME_MAX];
    int len = make_key(hostname, key, sizeof key, PD_DNS_LABELS_MAX);
    if (len < 0)
        return -PD_EUSAGE;
    uint32_t hash = pd_dns_key_hash(key, (size_t)len);
    for (pd_dns_node_t **pp = &t->node[hash & t->node_mask]; *pp; pp = &(*pp)->next) {
        pd_dns_node_t *n = *pp;
        if (n->hash == hash && n->key_len == (size_t)len && memcmp(n->key, key, (size_t)len) == 0) {
            rev_remove(t, &n->addr, fq, node_fqdn(n, fq));
            *pp = n->next;
            pd_free(n);
            t->nnodes--;
            t->serial++;
            return 0;
        }
    }
    return -PD_ENOTFOUND;
}
