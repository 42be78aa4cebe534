/* Local service endpoints, as a Consul agent's services: `peerctl service register NAME --addr ...`
 * writes an entry owned by this node into the gossiped table "svc/<name>" (key: this node's id), so
 * every node learns it within gossip time and it vanishes when this node dies or leaves.
 * Value: {"a": "IP", "p": port or 0, "ports": [["name", port, "tcp"|"udp"], ...], "h": healthy}. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_endpoints.h"
#include "gossip_io.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "store.h"

#define SVC_PREFIX "svc/"
enum { SVC_NAME_MAX = PD_STORE_VIP_NAME_MAX, SVC_PORTS_MAX = 8 };

/* A service name follows the store's rule (one lower-case DNS label, served as <name>.svc): the
 * same name gets a VIP there. */
int pd_service_name_valid(const char *s, size_t n) { return pd_store_vip_name_valid(s, n); }

static int arg_name(const pd_ctl_request_t *req, char *name, size_t cap, char *err, size_t errlen)
{
    const char *p;
    size_t n;
    if (pd_mp_get_str(req->args, "name", &p, &n) != 0 || !pd_service_name_valid(p, n) || n >= cap) {
        snprintf(err, errlen, "a service name is 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'");
        return -PD_EUSAGE;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    return 0;
}

/* "name:port/proto" */
static int parse_port_spec(const msgpack_object *o, char *name, size_t ncap, uint64_t *port, char *proto)
{
    char buf[96];
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= sizeof buf)
        return -PD_EUSAGE;
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    char *colon = strchr(buf, ':'), *slash = strchr(buf, '/');
    if (!colon || !slash || slash < colon || !pd_service_name_valid(buf, (size_t)(colon - buf)))
        return -PD_EUSAGE;
    *colon = *slash = '\0';
    char *end;
    unsigned long v = strtoul(colon + 1, &end, 10);
    if (*end || v < 1 || v > 65535 || (strcmp(slash + 1, "tcp") != 0 && strcmp(slash + 1, "udp") != 0))
        return -PD_EUSAGE;
    snprintf(name, ncap, "%s", buf);
    *port = v;
    snprintf(proto, 4, "%s", slash + 1);
    return 0;
}

static int encode_value(const char *ip, uint64_t port, const msgpack_object *ports, uint8_t *out, size_t cap,
                        size_t *len, char *err, size_t errlen)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint32_t np = ports && ports->type == MSGPACK_OBJECT_ARRAY ? ports->via.array.size : 0;
    int rc = np <= SVC_PORTS_MAX ? 0 : -PD_ELIMIT;
    msgpack_pack_map(&pk, 4);
    pd_mp_pack_kv_str(&pk, "a", ip);
    pd_mp_pack_kv_u64(&pk, "p", port);
    pd_mp_pack_cstr(&pk, "ports");
    msgpack_pack_array(&pk, rc ? 0 : np);
    for (uint32_t i = 0; rc == 0 && i < np; i++) {
        char pname[64], proto[4];
        uint64_t pnum;
        rc = parse_port_spec(&ports->via.array.ptr[i], pname, sizeof pname, &pnum, proto);
        msgpack_pack_array(&pk, 3);
        pd_mp_pack_cstr(&pk, pname);
        msgpack_pack_uint64(&pk, pnum);
        pd_mp_pack_cstr(&pk, proto);
    }
    pd_mp_pack_kv_bool(&pk, "h", 1);
    if (rc == -PD_ELIMIT)
        snprintf(err, errlen, "at most %d named ports", SVC_PORTS_MAX);
    else if (rc)
        snprintf(err, errlen, "a port is NAME:PORT/tcp or NAME:PORT/udp");
    else if (sb.size > cap) {
        snprintf(err, errlen, "registration too large");
        rc = -PD_ETOOBIG;
    } else {
        memcpy(out, sb.data, sb.size);
        *len = sb.size;
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int pd_ctl_service_register(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    char name[SVC_NAME_MAX + 1], addr[80], host[64], table[SVC_NAME_MAX + 8];
    uint16_t port = 0;
    int rc = arg_name(req, name, sizeof name, err, errlen);
    if (rc)
        return rc;
    if (pd_mp_get_strbuf(req->args, "addr", addr, sizeof addr) != 0 ||
        pd_config_parse_hostport(addr, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "--addr must be IP or IP:PORT");
        return -PD_EUSAGE;
    }
    if (!d->gossip) {
        snprintf(err, errlen, "gossip is not running on this node");
        return -PD_ESTATE;
    }
    uint8_t val[PD_GTABLE_VALUE_MAX];
    size_t len = 0;
    rc = encode_value(host, port, pd_mp_get(req->args, "ports"), val, sizeof val, &len, err, errlen);
    if (rc)
        return rc;
    snprintf(table, sizeof table, SVC_PREFIX "%s", name);
    rc = pd_gagent_put(pd_gossip_io_agent(d->gossip), pd_gossip_io_now(d->gossip), table, d->dd.node_id, val, len);
    if (rc) {
        snprintf(err, errlen, "cannot register %s: %s", name, pd_strerror(rc));
        return rc;
    }
    pd_gossip_io_flush(d->gossip);
    msgpack_pack_map(pk, 2);
    pd_mp_pack_kv_str(pk, "name", name);
    pd_mp_pack_kv_str(pk, "node_id", d->dd.node_id);
    return 0;
}

int pd_ctl_service_deregister(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                              size_t errlen)
{
    char name[SVC_NAME_MAX + 1], table[SVC_NAME_MAX + 8];
    int rc = arg_name(req, name, sizeof name, err, errlen);
    if (rc)
        return rc;
    if (!d->gossip) {
        snprintf(err, errlen, "gossip is not running on this node");
        return -PD_ESTATE;
    }
    snprintf(table, sizeof table, SVC_PREFIX "%s", name);
    rc = pd_gagent_del(pd_gossip_io_agent(d->gossip), pd_gossip_io_now(d->gossip), table, d->dd.node_id);
    if (rc == -PD_ENOTFOUND) {
        snprintf(err, errlen, "service %s is not registered on this node", name);
        return rc;
    }
    if (rc) {
        snprintf(err, errlen, "cannot deregister %s: %s", name, pd_strerror(rc));
        return rc;
    }
    pd_gossip_io_flush(d->gossip);
    msgpack_pack_map(pk, 1);
    pd_mp_pack_kv_str(pk, "name", name);
    return 0;
}

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint32_t n;
    const char *only; /* table name filter or NULL */
} ep_list_t;

static int list_one(void *ctx, const pd_gtable_view_t *e)
{
    ep_list_t *l = ctx;
    if (l->only && strcmp(e->table, l->only) != 0)
        return 0;
    msgpack_unpacked u;
    if (pd_mp_unpack(e->value, e->value_len, &u) != 0)
        return 0;
    msgpack_pack_map(&l->pk, 4);
    pd_mp_pack_kv_str(&l->pk, "service", e->table + strlen(SVC_PREFIX));
    pd_mp_pack_kv_str(&l->pk, "node_id", e->owner);
    pd_mp_pack_kv_u64(&l->pk, "version", e->lamport);
    pd_mp_pack_cstr(&l->pk, "endpoint");
    msgpack_pack_object(&l->pk, u.data);
    msgpack_unpacked_destroy(&u);
    l->n++;
    return 0;
}

int pd_ctl_service_endpoints(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                             size_t errlen)
{
    if (!d->gossip) {
        snprintf(err, errlen, "gossip is not running on this node");
        return -PD_ESTATE;
    }
    char name[SVC_NAME_MAX + 1], table[SVC_NAME_MAX + 8];
    ep_list_t l = {.n = 0, .only = NULL};
    if (pd_mp_get(req->args, "name")) {
        int rc = arg_name(req, name, sizeof name, err, errlen);
        if (rc)
            return rc;
        snprintf(table, sizeof table, SVC_PREFIX "%s", name);
        l.only = table;
    }
    msgpack_sbuffer_init(&l.sb);
    msgpack_packer_init(&l.pk, &l.sb, msgpack_sbuffer_write);
    pd_gtable_foreach_prefix(pd_gagent_table(pd_gossip_io_agent(d->gossip)), SVC_PREFIX, list_one, &l);
    msgpack_pack_array(pk, l.n);
    msgpack_sbuffer_write(pk->data, l.sb.data, l.sb.size); /* the elements, already packed */
    msgpack_sbuffer_destroy(&l.sb);
    return 0;
}
