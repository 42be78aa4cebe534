/* Control operations on gossip: members, gossip stats. */
#include <stdio.h>
#include <string.h>

#include "ctl_gossip.h"
#include "gossip_io.h"
#include "gossip_setup.h"
#include "pd_err.h"
#include "pd_mp.h"

static const char *state_name(uint8_t st)
{
    switch (st) {
    case PD_SWIM_ALIVE: return "alive";
    case PD_SWIM_SUSPECT: return "suspect";
    case PD_SWIM_DEAD: return "failed";
    case PD_SWIM_LEFT: return "left";
    default: return "unknown";
    }
}

static int need_gossip(pd_daemon_t *d, char *err, size_t errlen)
{
    if (d->gossip)
        return 0;
    snprintf(err, errlen, "gossip is not running on this node");
    return -PD_ESTATE;
}

int pd_ctl_members(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    int rc = need_gossip(d, err, errlen);
    if (rc)
        return rc;
    pd_swim_t *s = pd_gagent_swim(pd_gossip_io_agent(d->gossip));
    uint64_t now = pd_gossip_io_now(d->gossip);
    uint32_t n = pd_swim_count(s, -1);
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        pd_swim_member_info_t m;
        if (pd_swim_member_at(s, i, &m) != 0) {
            msgpack_pack_nil(pk);
            continue;
        }
        char host[256], role[32], addr[64];
        pd_gossip_meta_decode(m.meta, m.meta_len, host, sizeof host, role, sizeof role);
        pd_swim_addr_format(&m.addr, addr, sizeof addr);
        msgpack_pack_map(pk, 7);
        pd_mp_pack_kv_str(pk, "node_id", m.node);
        pd_mp_pack_kv_str(pk, "hostname", host);
        pd_mp_pack_kv_str(pk, "address", addr);
        pd_mp_pack_kv_str(pk, "status", state_name(m.state));
        pd_mp_pack_kv_str(pk, "role", role);
        pd_mp_pack_kv_u64(pk, "incarnation", m.inc);
        pd_mp_pack_kv_u64(pk, "state_age_s", now > m.state_change_ms ? (now - m.state_change_ms) / 1000 : 0);
    }
    return 0;
}

int pd_ctl_gossip_stats(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    int rc = need_gossip(d, err, errlen);
    if (rc)
        return rc;
    pd_gagent_t *a = pd_gossip_io_agent(d->gossip);
    const pd_gcrypto_stats_t *c = pd_gagent_crypto_stats(a);
    const pd_gagent_stats_t *g = pd_gagent_stats(a);
    const pd_swim_stats_t *s = pd_swim_stats(pd_gagent_swim(a));
    const struct {
        const char *k;
        uint64_t v;
    } rows[] = {
        {"frames_in", g->frames_in},           {"frames_out", g->frames_out},
        {"bytes_in", g->bytes_in},             {"bytes_out", g->bytes_out},
        {"frames_opened", c->opened},          {"auth_failures", c->auth_fail},
        {"unknown_key", c->unknown_key},       {"malformed_frames", c->malformed},
        {"truncated_frames", c->truncated},    {"plaintext_refused", c->plain_refused},
        {"decode_errors", g->decode_errors},   {"probes", s->probes},
        {"probe_failures", s->probe_failures}, {"suspects_raised", s->suspects_raised},
        {"deads_declared", s->deads_declared}, {"refutes", s->refutes},
        {"pushpull_sent", s->pushpull_sent},   {"pushpull_recv", s->pushpull_recv},
        {"members_alive", pd_swim_count(pd_gagent_swim(a), PD_SWIM_ALIVE)},
        {"awareness", (uint64_t)pd_swim_awareness(pd_gagent_swim(a))},
        /* updates still to be piggybacked: 0 once this node has spread what it knows */
        {"broadcast_queue", pd_swim_pending(pd_gagent_swim(a))},
    };
    msgpack_pack_map(pk, sizeof rows / sizeof rows[0]);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        pd_mp_pack_kv_u64(pk, rows[i].k, rows[i].v);
    return 0;
}
