/* Gossip -> DNS name table. Every change arrives as a table watch event or a membership call; the
 * feed turns it into pd_dns_table_* updates right away (no batching: events are rare next to
 * queries, and an update is a few hash operations). */
#include "dns_feed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "vip_value.h"

enum { SVC_NAME_MAX = PD_DNS_LABEL_MAX, NODES_GROW_MIN = 16 };

typedef struct {
    char id[PD_DNS_FEED_NODE_ID_MAX + 1];
    char host[PD_DNS_FEED_HOST_MAX + 1];
    pd_dns_addrs_t addr;
} feed_node_t;

struct pd_dns_feed {
    pd_dns_table_t *dt;
    pd_gtable_t *gt; /* attached table, or NULL */
    int watch_id, vip_watch_id;
    const pd_log_t *log;
    feed_node_t *nodes;
    size_t nnodes, nodes_cap;
    pd_dns_feed_stats_t st;
};

/* One decoded endpoint value. */
typedef struct {
    pd_dns_addrs_t addr;
    uint16_t port;
    int healthy;
    size_t nports;
    pd_dns_port_t ports[PD_DNS_PORTS_MAX];
} endpoint_t;

int pd_dns_feed_new(pd_dns_table_t *dt, const pd_log_t *log, pd_dns_feed_t **out)
{
    pd_dns_feed_t *f = pd_calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->dt = dt;
    f->log = log ? log : &pd_log_null;
    f->watch_id = f->vip_watch_id = -1;
    *out = f;
    return 0;
}

void pd_dns_feed_free(pd_dns_feed_t *f)
{
    if (!f)
        return;
    pd_dns_feed_detach(f);
    pd_free(f->nodes);
    pd_free(f);
}

const pd_dns_feed_stats_t *pd_dns_feed_stats(const pd_dns_feed_t *f) { return &f->st; }

/* ---- endpoint values ------------------------------------------------------------------------ */

static int parse_ip(const char *s, size_t n, pd_dns_addrs_t *out)
{
    char buf[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof buf)
        return -PD_EMALFORMED;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->v4) == 1)
        out->has_v4 = 1;
    else if (inet_pton(AF_INET6, buf, out->v6) == 1)
        out->has_v6 = 1;
    else
        return -PD_EMALFORMED;
    return 0;
}

static int port_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > PD_DNS_PORT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* [name, port, "tcp"|"udp"]; a malformed element is skipped (0), a good one returns 1. */
static int decode_port(const msgpack_object *o, pd_dns_port_t *p)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 3)
        return 0;
    const msgpack_object *nm = &o->via.array.ptr[0], *num = &o->via.array.ptr[1];
    const msgpack_object *proto = &o->via.array.ptr[2];
    if (nm->type != MSGPACK_OBJECT_STR || !port_name_ok(nm->via.str.ptr, nm->via.str.size) ||
        num->type != MSGPACK_OBJECT_POSITIVE_INTEGER || num->via.u64 < 1 || num->via.u64 > 65535)
        return 0;
    if (pd_mp_str_eq(proto, "tcp"))
        p->proto = PD_DNS_PROTO_TCP;
    else if (pd_mp_str_eq(proto, "udp"))
        p->proto = PD_DNS_PROTO_UDP;
    else
        return 0;
    memcpy(p->name, nm->via.str.ptr, nm->via.str.size);
    p->name[nm->via.str.size] = '\0';
    p->port = (uint16_t)num->via.u64;
    return 1;
}

static int endpoint_decode(const uint8_t *v, size_t len, endpoint_t *ep)
{
    msgpack_unpacked u;
    if (!v || pd_mp_unpack(v, len, &u) != 0)
        return -PD_EMALFORMED;
    const char *ip;
    size_t iplen;
    uint64_t port = 0;
    int rc = u.data.type == MSGPACK_OBJECT_MAP ? 0 : -PD_EMALFORMED;
    if (rc == 0 && (pd_mp_get_str(&u.data, "a", &ip, &iplen) != 0 || parse_ip(ip, iplen, &ep->addr) != 0))
        rc = -PD_EMALFORMED;
    if (rc == 0 && pd_mp_get(&u.data, "p") && (pd_mp_get_u64(&u.data, "p", &port) != 0 || port > 65535))
        rc = -PD_EMALFORMED;
    ep->port = (uint16_t)port;
    ep->healthy = 1; /* absent: healthy */
    if (rc == 0 && pd_mp_get(&u.data, "h"))
        pd_mp_get_bool(&u.data, "h", &ep->healthy);
    ep->nports = 0;
    const msgpack_object *ports = rc == 0 ? pd_mp_get(&u.data, "ports") : NULL;
    if (ports && ports->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < ports->via.array.size && ep->nports < PD_DNS_PORTS_MAX; i++)
            ep->nports += (size_t)decode_port(&ports->via.array.ptr[i], &ep->ports[ep->nports]);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* "svc/<name>" -> name, when it is one valid label. */
static int service_name(const char *table, char name[SVC_NAME_MAX + 1])
{
    const size_t plen = sizeof PD_DNS_FEED_TABLE_PREFIX - 1;
    if (strncmp(table, PD_DNS_FEED_TABLE_PREFIX, plen) != 0)
        return -PD_EUSAGE;
    size_t n = strlen(table + plen);
    if (!port_name_ok(table + plen, n) || n > SVC_NAME_MAX)
        return -PD_EUSAGE;
    memcpy(name, table + plen, n + 1);
    return 0;
}

/* ---- services ------------------------------------------------------------------------------- */

/* Adds p to set unless a port of that name and protocol is there (the first endpoint wins). */
static void ports_union_add(pd_dns_port_t *set, size_t *n, const pd_dns_port_t *p)
{
    for (size_t i = 0; i < *n; i++) {
        if (set[i].proto == p->proto && strcasecmp(set[i].name, p->name) == 0)
            return;
    }
    if (*n < PD_DNS_PORTS_MAX)
        set[(*n)++] = *p;
}

typedef struct {
    pd_dns_port_t ports[PD_DNS_PORTS_MAX];
    size_t n;
} ports_acc_t;

static int collect_ports(void *ctx, const pd_gtable_view_t *e)
{
    ports_acc_t *acc = ctx;
    endpoint_t ep;
    if (endpoint_decode(e->value, e->value_len, &ep) == 0) {
        for (size_t i = 0; i < ep.nports; i++)
            ports_union_add(acc->ports, &acc->n, &ep.ports[i]);
    }
    return 0;
}

/* The service's VIP as gossip shows it now: 0, or -PD_ENOTFOUND (none, or a value that does not
 * decode). */
static int vip_lookup(const pd_dns_feed_t *f, const char *name, pd_dns_addrs_t *out)
{
    pd_gtable_view_t v;
    uint32_t addr;
    uint64_t term;
    if (!f->gt || pd_gtable_get(f->gt, PD_DNS_FEED_VIP_TABLE, name, &v) != 0 ||
        pd_vip_value_decode(v.value, v.value_len, &addr, &term) != 0)
        return -PD_ENOTFOUND;
    memset(out, 0, sizeof *out);
    out->has_v4 = 1;
    out->v4[0] = (uint8_t)(addr >> 24), out->v4[1] = (uint8_t)(addr >> 16);
    out->v4[2] = (uint8_t)(addr >> 8), out->v4[3] = (uint8_t)addr;
    return 0;
}

/* The one place a service's own record (VIP, SRV ports) is written: with a VIP, A for
 * <name>[.svc] answers it (and its PTR <name>.svc); without, the healthy tasks. */
static int service_define(pd_dns_feed_t *f, const char *name, const pd_dns_port_t *ports, size_t n)
{
    pd_dns_addrs_t vip;
    int has = vip_lookup(f, name, &vip) == 0;
    return pd_dns_table_service_put(f->dt, name, has ? &vip : NULL, ports, n);
}

/* After a change to table "svc/<name>": drop the service with its last visible endpoint, else
 * (re)define it with the union of its endpoints' ports. */
static void service_refresh(pd_dns_feed_t *f, const char *table, const char *name)
{
    if (!f->gt || pd_gtable_count(f->gt, table) == 0) {
        pd_dns_table_service_remove(f->dt, name); /* -PD_ENOTFOUND: already gone with its tasks */
        return;
    }
    ports_acc_t acc = {.n = 0};
    pd_gtable_foreach(f->gt, table, collect_ports, &acc);
    if (service_define(f, name, acc.ports, acc.n) != 0)
        f->st.table_errors++;
}

/* True when every port of ep is already among the service's (nothing to recompute). */
static int ports_known(const pd_dns_service_t *s, const endpoint_t *ep)
{
    if (!s || !s->defined)
        return 0;
    for (size_t i = 0; i < ep->nports; i++) {
        int found = 0;
        for (size_t j = 0; j < s->nports && !found; j++) {
            found = s->ports[j].proto == ep->ports[i].proto && s->ports[j].port == ep->ports[i].port &&
                    strcasecmp(s->ports[j].name, ep->ports[i].name) == 0;
        }
        if (!found)
            return 0;
    }
    return 1;
}

static void task_gone(pd_dns_feed_t *f, const char *table, const char *name, const char *owner)
{
    if (pd_dns_table_task_remove(f->dt, name, owner) == 0)
        f->st.tasks_removed++;
    const pd_dns_service_t *s = pd_dns_table_service_get(f->dt, name);
    if (s && (s->nports > 0 || !f->gt || pd_gtable_count(f->gt, table) == 0))
        service_refresh(f, table, name);
}

void pd_dns_feed_on_table(void *ctx, const pd_gtable_view_t *ev)
{
    pd_dns_feed_t *f = ctx;
    char name[SVC_NAME_MAX + 1];
    f->st.events++;
    if (service_name(ev->table, name) != 0) {
        f->st.bad_values++;
        return;
    }
    endpoint_t ep;
    if (ev->deleted) {
        task_gone(f, ev->table, name, ev->key);
        return;
    }
    if (endpoint_decode(ev->value, ev->value_len, &ep) != 0) {
        f->st.bad_values++;
        PD_DEBUG(f->log, "dns feed: endpoint value not understood service=%s owner=%s", name, ev->owner);
        task_gone(f, ev->table, name, ev->key);
        return;
    }
    int rc = pd_dns_table_task_put(f->dt, name, ev->key, &ep.addr, ep.healthy, ep.port);
    if (rc) {
        f->st.table_errors++;
        PD_WARN(f->log, "dns feed: task not added service=%s task=%s err=%s", name, ev->key, pd_strerror(rc));
        return;
    }
    f->st.tasks_put++;
    if (!ports_known(pd_dns_table_service_get(f->dt, name), &ep))
        service_refresh(f, ev->table, name);
}

void pd_dns_feed_on_vip(void *ctx, const pd_gtable_view_t *ev)
{
    pd_dns_feed_t *f = ctx;
    char table[sizeof PD_DNS_FEED_TABLE_PREFIX + SVC_NAME_MAX], name[SVC_NAME_MAX + 1];
    f->st.vip_events++;
    if (strcmp(ev->table, PD_DNS_FEED_VIP_TABLE) != 0)
        return; /* another table under the prefix */
    snprintf(table, sizeof table, PD_DNS_FEED_TABLE_PREFIX "%s", ev->key);
    if (service_name(table, name) != 0) {
        f->st.bad_values++;
        return;
    }
    /* Only a service with endpoints is served; one that gets endpoints later picks its VIP up in
     * service_define. */
    if (f->gt && pd_gtable_count(f->gt, table) > 0)
        service_refresh(f, table, name);
}

/* ---- attach --------------------------------------------------------------------------------- */

static int load_one(void *ctx, const pd_gtable_view_t *e)
{
    pd_dns_feed_on_table(ctx, e);
    return 0;
}

int pd_dns_feed_attach(pd_dns_feed_t *f, pd_gtable_t *gt)
{
    if (f->gt)
        return -PD_ESTATE;
    int rc = pd_gtable_watch(gt, PD_DNS_FEED_TABLE_PREFIX, pd_dns_feed_on_table, f, &f->watch_id);
    if (rc)
        return rc;
    rc = pd_gtable_watch(gt, PD_DNS_FEED_VIP_TABLE, pd_dns_feed_on_vip, f, &f->vip_watch_id);
    if (rc) {
        pd_gtable_unwatch(gt, f->watch_id);
        f->watch_id = -1;
        return rc;
    }
    f->gt = gt;
    pd_gtable_foreach_prefix(gt, PD_DNS_FEED_TABLE_PREFIX, load_one, f); /* VIPs known now come along */
    return 0;
}

void pd_dns_feed_detach(pd_dns_feed_t *f)
{
    if (!f->gt)
        return;
    pd_gtable_unwatch(f->gt, f->watch_id);
    pd_gtable_unwatch(f->gt, f->vip_watch_id);
    f->gt = NULL;
    f->watch_id = f->vip_watch_id = -1;
}

/* ---- nodes ---------------------------------------------------------------------------------- */

static feed_node_t *node_find(pd_dns_feed_t *f, const char *id)
{
    for (size_t i = 0; i < f->nnodes; i++) {
        if (strcmp(f->nodes[i].id, id) == 0)
            return &f->nodes[i];
    }
    return NULL;
}

/* n stops answering for its hostname: if the record is n's, another node of that name (if any)
 * takes it over, else it goes. */
static void host_release(pd_dns_feed_t *f, const feed_node_t *n)
{
    const pd_dns_node_t *cur = pd_dns_table_node_get(f->dt, n->host);
    if (!cur || memcmp(&cur->addr, &n->addr, sizeof n->addr) != 0)
        return;
    for (size_t i = 0; i < f->nnodes; i++) {
        const feed_node_t *o = &f->nodes[i];
        if (o != n && strcasecmp(o->host, n->host) == 0) {
            pd_dns_table_node_put(f->dt, o->host, &o->addr);
            return;
        }
    }
    pd_dns_table_node_remove(f->dt, n->host);
}

static int nodes_grow(pd_dns_feed_t *f)
{
    if (f->nnodes < f->nodes_cap)
        return 0;
    size_t cap = f->nodes_cap ? f->nodes_cap * 2 : NODES_GROW_MIN;
    feed_node_t *nn = pd_realloc(f->nodes, cap * sizeof *nn);
    if (!nn)
        return -ENOMEM;
    f->nodes = nn;
    f->nodes_cap = cap;
    return 0;
}

int pd_dns_feed_node_up(pd_dns_feed_t *f, const char *node_id, const char *hostname,
                        const pd_dns_addrs_t *addr)
{
    if (!node_id || !*node_id || strlen(node_id) > PD_DNS_FEED_NODE_ID_MAX || !hostname ||
        !*hostname || strlen(hostname) > PD_DNS_FEED_HOST_MAX)
        return -PD_EUSAGE;
    feed_node_t *n = node_find(f, node_id);
    if (n && strcasecmp(n->host, hostname) != 0) {
        host_release(f, n); /* renamed */
        n->host[0] = '\0';
    }
    int rc = pd_dns_table_node_put(f->dt, hostname, addr);
    if (rc) {
        f->st.table_errors++;
        return rc;
    }
    if (!n) {
        if ((rc = nodes_grow(f)) != 0) {
            pd_dns_table_node_remove(f->dt, hostname);
            return rc;
        }
        n = &f->nodes[f->nnodes++];
        snprintf(n->id, sizeof n->id, "%s", node_id);
    }
    snprintf(n->host, sizeof n->host, "%s", hostname);
    n->addr = *addr;
    f->st.nodes_up++;
    return 0;
}

int pd_dns_feed_node_down(pd_dns_feed_t *f, const char *node_id)
{
    feed_node_t *n = node_id ? node_find(f, node_id) : NULL;
    if (!n)
        return 0;
    feed_node_t gone = *n;
    *n = f->nodes[--f->nnodes]; /* out of the list first, so it cannot take its own name over */
    host_release(f, &gone);
    f->st.nodes_down++;
    return 0;
}
