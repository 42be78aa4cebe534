/* "service.ls": every service this node's gossip view knows, with its VIP (from the "vip" table the
 * managers' leader publishes) and its number of visible endpoints. Local view only: it answers on
 * any node, managers down or not. A service in its VIP grace (no endpoint) is listed with 0. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_endpoints.h"
#include "dns_feed.h"
#include "gossip_io.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "vip_value.h"

enum { LS_NAME_MAX = 63, LS_VIP_MAX = 45 };

typedef struct {
    char name[LS_NAME_MAX + 1];
    char vip[LS_VIP_MAX + 1];
    uint64_t endpoints;
} ls_row_t;

typedef struct {
    ls_row_t *rows;
    size_t n, cap;
    int err;
} ls_t;

static ls_row_t *row_for(ls_t *l, const char *name)
{
    if (strlen(name) > LS_NAME_MAX)
        return NULL;
    for (size_t i = l->n; i-- > 0;) /* services arrive grouped: the last row is the likely one */
        if (strcmp(l->rows[i].name, name) == 0)
            return &l->rows[i];
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        ls_row_t *r = pd_realloc(l->rows, cap * sizeof *r);
        if (!r) {
            l->err = -ENOMEM;
            return NULL;
        }
        l->rows = r;
        l->cap = cap;
    }
    ls_row_t *r = &l->rows[l->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

static int count_endpoint(void *ctx, const pd_gtable_view_t *e)
{
    ls_t *l = ctx;
    ls_row_t *r = row_for(l, e->table + strlen(PD_DNS_FEED_TABLE_PREFIX));
    if (r)
        r->endpoints++;
    return l->err;
}

static int add_vip(void *ctx, const pd_gtable_view_t *e)
{
    ls_t *l = ctx;
    uint32_t addr;
    uint64_t term;
    if (pd_vip_value_decode(e->value, e->value_len, &addr, &term) != 0)
        return 0;
    ls_row_t *r = row_for(l, e->key);
    if (r) {
        struct in_addr a = {.s_addr = htonl(addr)};
        inet_ntop(AF_INET, &a, r->vip, sizeof r->vip);
    }
    return l->err;
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const ls_row_t *)a)->name, ((const ls_row_t *)b)->name);
}

int pd_ctl_service_ls(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    (void)req;
    if (!d->gossip) {
        snprintf(err, errlen, "gossip is not running on this node");
        return -PD_ESTATE;
    }
    pd_gtable_t *gt = pd_gagent_table(pd_gossip_io_agent(d->gossip));
    ls_t l = {0};
    pd_gtable_foreach_prefix(gt, PD_DNS_FEED_TABLE_PREFIX, count_endpoint, &l);
    pd_gtable_foreach(gt, PD_DNS_FEED_VIP_TABLE, add_vip, &l);
    if (l.err) {
        pd_free(l.rows);
        snprintf(err, errlen, "out of memory");
        return l.err;
    }
    if (l.n)
        qsort(l.rows, l.n, sizeof *l.rows, row_cmp);
    msgpack_pack_array(pk, (uint32_t)l.n);
    for (size_t i = 0; i < l.n; i++) {
        msgpack_pack_map(pk, 3);
        pd_mp_pack_kv_str(pk, "name", l.rows[i].name);
        pd_mp_pack_kv_str(pk, "vip", l.rows[i].vip);
        pd_mp_pack_kv_u64(pk, "endpoints", l.rows[i].endpoints);
    }
    pd_free(l.rows);
    return 0;
}
