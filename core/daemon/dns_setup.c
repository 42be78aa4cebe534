#include "dns_setup.h"

#include <stdio.h>
#include <string.h>

#include "dns_server.h"
#include "gossip_io.h"
#include "gossip_setup.h"
#include "pd_err.h"

static void node_addrs(const pd_swim_addr_t *a, pd_dns_addrs_t *out)
{
    memset(out, 0, sizeof *out);
    if (a->family == 4) {
        out->has_v4 = 1;
        memcpy(out->v4, a->ip, 4);
    } else if (a->family == 6) {
        out->has_v6 = 1;
        memcpy(out->v6, a->ip, 16);
    }
}

static void node_up(pd_dns_feed_t *f, const char *id, const pd_swim_addr_t *a, const uint8_t *meta,
                    size_t meta_len)
{
    char host[PD_DNS_FEED_HOST_MAX + 1], role[32];
    pd_dns_addrs_t addrs;
    node_addrs(a, &addrs);
    if (pd_gossip_meta_decode(meta, meta_len, host, sizeof host, role, sizeof role) != 0 || !host[0] ||
        (!addrs.has_v4 && !addrs.has_v6))
        return;
    pd_dns_feed_node_up(f, id, host, &addrs);
}

void pd_dns_feed_member_event(pd_dns_feed_t *f, const pd_swim_event_t *ev)
{
    switch (ev->type) {
    case PD_SWIM_EV_JOIN:
    case PD_SWIM_EV_UPDATE:
    case PD_SWIM_EV_ALIVE_AGAIN:
        node_up(f, ev->node, &ev->addr, ev->meta, ev->meta_len);
        break;
    case PD_SWIM_EV_DEAD:
    case PD_SWIM_EV_LEFT:
        pd_dns_feed_node_down(f, ev->node);
        break;
    default: /* suspect: still answers */
        break;
    }
}

void pd_dns_feed_members_sync(pd_dns_feed_t *f, const pd_swim_t *swim)
{
    uint32_t n = pd_swim_count(swim, -1);
    for (uint32_t i = 0; i < n; i++) {
        pd_swim_member_info_t m;
        if (pd_swim_member_at(swim, i, &m) == 0 && (m.state == PD_SWIM_ALIVE || m.state == PD_SWIM_SUSPECT))
            node_up(f, m.node, &m.addr, m.meta, m.meta_len);
    }
}

static void on_member(void *ctx, const pd_swim_event_t *ev)
{
    pd_daemon_t *d = ctx;
    if (d->dns)
        pd_dns_feed_member_event(pd_dns_server_feed(d->dns), ev);
}

int pd_daemon_dns_start(pd_daemon_t *d, char *err, size_t errlen)
{
    const char *ups[PD_DNS_UPSTREAM_MAX];
    for (unsigned i = 0; i < d->cfg.n_dns_upstream; i++)
        ups[i] = d->cfg.dns_upstream[i];
    pd_gagent_t *agent = d->gossip ? pd_gossip_io_agent(d->gossip) : NULL;
    pd_dns_server_config_t sc = {
        .listen = d->cfg.dns_addr,
        .upstreams = ups,
        .n_upstreams = d->cfg.n_dns_upstream,
        .ttl_s = d->cfg.dns_ttl_s,
        .timeout_ms = d->cfg.dns_timeout_ms,
        .gtable = agent ? pd_gagent_table(agent) : NULL,
        .log = &d->log,
    };
    int rc = pd_dns_server_start(d->loop, &sc, &d->dns, err, errlen);
    if (rc || !agent)
        return rc;
    pd_dns_feed_members_sync(pd_dns_server_feed(d->dns), pd_gagent_swim(agent));
    return pd_gossip_io_watch_members(d->gossip, on_member, d);
}

void pd_daemon_dns_stop(pd_daemon_t *d)
{
    if (!d->dns)
        return;
    if (d->gossip)
        pd_gossip_io_unwatch_members(d->gossip, on_member, d);
    pd_dns_server_stop(d->dns);
}

void pd_daemon_dns_free(pd_daemon_t *d)
{
    pd_dns_server_free(d->dns);
    d->dns = NULL;
}

int pd_ctl_dns_stats(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                     size_t errlen)
{
    if (!d->dns) {
        snprintf(err, errlen, "DNS is not running on this node (started with --no-dns?)");
        return -PD_ESTATE;
    }
    pd_dns_server_pack_stats(d->dns, pk);
    return 0;
}
