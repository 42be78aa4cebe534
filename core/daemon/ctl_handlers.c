/* Control operations served on the local socket. Each packs its answer as a msgpack map so
 * peerctl can print a table or --json without knowing every field. */
#include <stdio.h>
#include <string.h>

#include "ca_state.h"
#include "ctl_config.h"
#include "ctl_events.h"
#include "ctl_endpoints.h"
#include "ctl_gossip.h"
#include "ctl_lock.h"
#include "ctl_node.h"
#include "daemon.h"
#include "dns_setup.h"
#include "gossip_keys.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "swarm.h"
#include "gossip_rotation_run.h"

static int h_ping(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    msgpack_pack_map(pk, 1);
    pd_mp_pack_kv_str(pk, "pong", d->dd.node_id);
    return 0;
}

static int h_version(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                     size_t errlen)
{
    msgpack_pack_map(pk, 2);
    pd_mp_pack_kv_str(pk, "version", PD_VERSION);
    pd_mp_pack_kv_u64(pk, "api_version", PD_CTL_VERSION);
    return 0;
}

static int h_info(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    uint64_t uptime_ms = uv_now(d->loop) - d->start_mono_ms;
    msgpack_pack_map(pk, 10);
    pd_mp_pack_kv_str(pk, "node_id", d->dd.node_id);
    pd_mp_pack_kv_str(pk, "hostname", d->hostname);
    pd_mp_pack_kv_str(pk, "version", PD_VERSION);
    pd_mp_pack_kv_u64(pk, "uptime_s", uptime_ms / 1000);
    pd_mp_pack_kv_u64(pk, "started_at_ms", d->start_wall_ms);
    pd_mp_pack_kv_str(pk, "data_dir", d->cfg.data_dir);
    pd_mp_pack_kv_str(pk, "role", !pd_swarm_in_cluster(d) ? "none" : d->cfg.worker ? "worker" : "manager");
    pd_mp_pack_kv_str(pk, "advertise_addr", d->cfg.advertise_addr[0] ? d->cfg.advertise_addr : d->advertise_host);
    pd_mp_pack_kv_str(pk, "listen_addr", d->cfg.listen_addr);
    pd_mp_pack_kv_str(pk, "socket", d->cfg.socket_path);
    return 0;
}

static int h_stats(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    msgpack_pack_map(pk, 4);
    pd_mp_pack_kv_u64(pk, "ctl_requests", d->ctl_stats.requests);
    pd_mp_pack_kv_u64(pk, "ctl_bad_frames", d->ctl_stats.bad_frames);
    pd_mp_pack_kv_u64(pk, "ctl_clients_refused", d->ctl_stats.clients_refused);
    pd_mp_pack_kv_u64(pk, "ctl_clients", (uint64_t)d->nclients);
    return 0;
}

static const struct {
    const char *op;
    pd_ctl_handler_fn fn;
} handlers[] = {
    {"ping", h_ping},
    {"version", h_version},
    {"info", h_info},
    {"stats", h_stats},
    {"members", pd_ctl_members},
    {"gossip.stats", pd_ctl_gossip_stats},
    {"gossip.key.list", pd_ctl_gossip_key_list},
    {"service.register", pd_ctl_service_register},
    {"service.deregister", pd_ctl_service_deregister},
    {"service.endpoints", pd_ctl_service_endpoints},
    {"service.ls", pd_ctl_service_ls},
    {"gossip.key.install", pd_ctl_gossip_key_install},
    {"gossip.key.use", pd_ctl_gossip_key_use},
    {"gossip.key.remove", pd_ctl_gossip_key_remove},
    {"dns.stats", pd_ctl_dns_stats},
    {"raft.status", pd_ctl_raft_status},
    {"events", pd_ctl_events},
    {"config.create", pd_ctl_object_create},
    {"config.ls", pd_ctl_object_ls},
    {"config.inspect", pd_ctl_object_inspect},
    {"config.rm", pd_ctl_object_rm},
    {"secret.create", pd_ctl_object_create},
    {"secret.ls", pd_ctl_object_ls},
    {"secret.inspect", pd_ctl_object_inspect},
    {"secret.rm", pd_ctl_object_rm},
    {"swarm.update", pd_ctl_swarm_update},
    {"swarm.unlock_key", pd_ctl_swarm_unlock_key},
    {"swarm.unlock", pd_ctl_swarm_unlock},
    {"node.ls", pd_ctl_node_ls},
    {"node.inspect", pd_ctl_node_inspect},
    {"node.update", pd_ctl_node_update},
    {"node.promote", pd_ctl_node_promote},
    {"node.demote", pd_ctl_node_demote},
    {"node.rm", pd_ctl_node_rm},
    {"swarm.init", pd_ctl_swarm_init},
    {"swarm.join", pd_ctl_swarm_join},
    {"swarm.join_token", pd_ctl_swarm_join_token},
    {"swarm.leave", pd_ctl_swarm_leave},
    {"swarm.gossip_key", pd_ctl_swarm_gossip_key},
    {"swarm.ca", pd_ctl_swarm_ca},
};

pd_ctl_handler_fn pd_ctl_handler_find(const char *op)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        if (strcmp(handlers[i].op, op) == 0)
            return handlers[i].fn;
    }
    return NULL;
}

/* Turn one request body into one reply message (initialised by the caller). */
void pd_ctl_dispatch(pd_daemon_t *d, const uint8_t *body, size_t len, pd_ctl_msg_t *reply)
{
    msgpack_unpacked u;
    pd_ctl_request_t req;
    uint64_t id = 0;
    int rc = pd_ctl_decode_request(body, len, &u, &req, &id);
    if (rc) {
        d->ctl_stats.bad_frames++;
        char msg[128];
        snprintf(msg, sizeof msg, "bad request: %s", pd_strerror(rc));
        pd_ctl_msg_reply_err(reply, id, rc, msg);
        return;
    }
    d->ctl_stats.requests++;
    pd_ctl_handler_fn fn = pd_ctl_handler_find(req.op);
    if (!fn) {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown operation '%s' (peerctl and peerd versions may differ)", req.op);
        pd_ctl_msg_reply_err(reply, req.id, -PD_EUNKNOWN_OP, msg);
        msgpack_unpacked_destroy(&u);
        return;
    }
    msgpack_sbuffer data;
    msgpack_sbuffer_init(&data);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &data, msgpack_sbuffer_write);
    char err[PD_CTL_ERRMSG_MAX] = "";
    d->ctl_cur.req_id = req.id;
    rc = fn(d, &req, &pk, err, sizeof err);
    if (rc == PD_CTL_LATER) {
        d->ctl_deferred = 1; /* answered later through pd_daemon_ctl_answer */
    } else if (rc == 0) {
        pd_ctl_msg_reply_ok(reply, req.id);
        msgpack_sbuffer_write(&reply->sb, data.data, data.size);
    } else {
        pd_ctl_msg_reply_err(reply, req.id, rc, err[0] ? err : pd_strerror(rc));
    }
    msgpack_sbuffer_destroy(&data);
    msgpack_unpacked_destroy(&u);
}
