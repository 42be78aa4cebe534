/* peerctl service register / deregister / endpoints / ls: endpoints and VIPs in the gossiped table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pd_mp.h"

enum { PORTS_MAX = 8 };

typedef struct {
    const char *name, *addr;
    const char **ports;
    int nports;
} reg_args_t;

static void pack_register(msgpack_packer *pk, void *ctx)
{
    reg_args_t *r = ctx;
    pd_mp_pack_kv_str(pk, "name", r->name);
    pd_mp_pack_kv_str(pk, "addr", r->addr);
    pd_mp_pack_cstr(pk, "ports");
    msgpack_pack_array(pk, (size_t)r->nports);
    for (int i = 0; i < r->nports; i++)
        pd_mp_pack_cstr(pk, r->ports[i]);
}

static void pack_name(msgpack_packer *pk, void *ctx) { pd_mp_pack_kv_str(pk, "name", ctx); }

static int cmd_register(pd_cli_t *cli)
{
    const char *name = NULL, *addr = NULL, *ports[PORTS_MAX];
    int nports = 0;
    for (int i = 0; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        if ((strcmp(a, "--addr") == 0 || strcmp(a, "--port") == 0) && i + 1 >= cli->argc)
            return pd_cli_usage_error(cli, "%s needs a value", a);
        if (strcmp(a, "--addr") == 0)
            addr = cli->argv[++i];
        else if (strcmp(a, "--port") == 0 && nports < PORTS_MAX)
            ports[nports++] = cli->argv[++i];
        else if (strcmp(a, "--port") == 0)
            return pd_cli_usage_error(cli, "at most %d --port flags", PORTS_MAX);
        else if (a[0] == '-')
            return pd_cli_usage_error(cli, "unknown flag '%s'", a);
        else if (!name)
            name = a;
        else
            return pd_cli_usage_error(cli, "unexpected argument '%s'", a);
    }
    if (!name || !addr)
        return pd_cli_usage_error(cli, "a NAME and --addr are required");
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    reg_args_t args = {name, addr, ports, nports};
    pd_ctl_reply_t rep;
    int rc = pd_cli_request(cli, &conn, "service.register", 3, pack_register, &args, &rep);
    if (rc == PD_CLI_OK)
        printf("%s\n", name);
    pd_ctl_client_close(&conn);
    return rc;
}

static int cmd_deregister(pd_cli_t *cli)
{
    const char *pos[1];
    int npos = 0;
    int rc = pd_cli_parse_simple(cli, 0, 1, pos, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return pd_cli_usage_error(cli, "a NAME is required");
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_reply_t rep;
    rc = pd_cli_request(cli, &conn, "service.deregister", 1, pack_name, (void *)pos[0], &rep);
    if (rc == PD_CLI_OK)
        printf("%s\n", pos[0]);
    pd_ctl_client_close(&conn);
    return rc;
}

static int cmd_endpoints(pd_cli_t *cli)
{
    const char *pos[1];
    int npos = 0;
    int rc = pd_cli_parse_simple(cli, 1, 1, pos, &npos);
    if (rc)
        return rc;
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_reply_t rep;
    rc = pd_cli_request(cli, &conn, "service.endpoints", npos ? 1 : 0, npos ? pack_name : NULL,
                        (void *)(npos ? pos[0] : NULL), &rep);
    if (rc == PD_CLI_OK && cli->json) {
        pd_cli_print_json(rep.data);
    } else if (rc == PD_CLI_OK && rep.data && rep.data->type == MSGPACK_OBJECT_ARRAY) {
        printf("%-20s %-27s %-22s %s\n", "SERVICE", "NODE", "ADDRESS", "PORTS");
        for (uint32_t i = 0; i < rep.data->via.array.size; i++) {
            const msgpack_object *e = &rep.data->via.array.ptr[i], *ep = pd_mp_get(e, "endpoint");
            char svc[80], node[64], ip[64], addr[80], portstr[256] = "";
            uint64_t port = 0;
            pd_cli_str(e, "service", svc, sizeof svc);
            pd_cli_str(e, "node_id", node, sizeof node);
            pd_cli_str(ep, "a", ip, sizeof ip);
            pd_mp_get_u64(ep, "p", &port);
            snprintf(addr, sizeof addr, port ? (strchr(ip, ':') ? "[%s]:%llu" : "%s:%llu") : "%s", ip,
                     (unsigned long long)port);
            const msgpack_object *ports = pd_mp_get(ep, "ports");
            for (uint32_t k = 0; ports && ports->type == MSGPACK_OBJECT_ARRAY && k < ports->via.array.size; k++) {
                const msgpack_object *p = &ports->via.array.ptr[k];
                if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 3)
                    continue;
                size_t off = strlen(portstr);
                snprintf(portstr + off, sizeof portstr - off, "%s%.*s:%llu/%.*s", k ? "," : "",
                         (int)p->via.array.ptr[0].via.str.size, p->via.array.ptr[0].via.str.ptr,
                         (unsigned long long)p->via.array.ptr[1].via.u64, (int)p->via.array.ptr[2].via.str.size,
                         p->via.array.ptr[2].via.str.ptr);
            }
            printf("%-20s %-27s %-22s %s\n", svc, node, addr, portstr);
        }
    }
    pd_ctl_client_close(&conn);
    return rc;
}

static int cmd_ls(pd_cli_t *cli)
{
    const char *pos[1];
    int npos = 0;
    int rc = pd_cli_parse_simple(cli, 1, 0, pos, &npos);
    if (rc)
        return rc;
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_reply_t rep;
    rc = pd_cli_request(cli, &conn, "service.ls", 0, NULL, NULL, &rep);
    if (rc == PD_CLI_OK && cli->json) {
        pd_cli_print_json(rep.data);
    } else if (rc == PD_CLI_OK && rep.data && rep.data->type == MSGPACK_OBJECT_ARRAY) {
        printf("%-32s %-16s %s\n", "NAME", "VIP", "ENDPOINTS");
        for (uint32_t i = 0; i < rep.data->via.array.size; i++) {
            const msgpack_object *e = &rep.data->via.array.ptr[i];
            char name[80], vip[64];
            uint64_t n = 0;
            pd_cli_str(e, "name", name, sizeof name);
            pd_cli_str(e, "vip", vip, sizeof vip);
            pd_mp_get_u64(e, "endpoints", &n);
            printf("%-32s %-16s %llu\n", name, vip[0] ? vip : "-", (unsigned long long)n);
        }
    }
    pd_ctl_client_close(&conn);
    return rc;
}

const pd_cli_cmd_t pd_cli_service_cmds[] = {
    {"service register", cmd_register, "NAME --addr IP[:PORT] [--port NAME:PORT/tcp|udp]...",
     "Publish an endpoint of NAME owned by this node (gone when it dies)"},
    {"service deregister", cmd_deregister, "NAME", "Withdraw this node's endpoint of NAME"},
    {"service endpoints", cmd_endpoints, "[NAME] [--json]", "Endpoints known by gossip, all or of NAME"},
    {"service ls", cmd_ls, "[--json]", "Services known by gossip: NAME, VIP (from the managers), ENDPOINTS"},
    {NULL, NULL, NULL, NULL},
};
