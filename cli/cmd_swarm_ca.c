/* peerctl swarm ca [--rotate] [--cert-expiry D] [--json]: the cluster's root CA, the certificates
 * of its nodes, and rotating the root (printing the new join tokens, which pin the new root). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "pd_mp.h"

typedef struct {
    int rotate;
    const char *expiry;
} ca_args_t;

static void pack_args(msgpack_packer *pk, void *ctx)
{
    const ca_args_t *a = ctx;
    if (a->rotate)
        pd_mp_pack_kv_bool(pk, "rotate", 1);
    if (a->expiry)
        pd_mp_pack_kv_str(pk, "cert_expiry", a->expiry);
}

static int64_t get_i64(const msgpack_object *m, const char *key)
{
    int64_t v = 0;
    pd_mp_get_i64(m, key, &v);
    return v;
}

static void utc(int64_t s, char out[32])
{
    time_t t = (time_t)s;
    struct tm tm;
    if (s <= 0 || !gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "-");
}

static void print_ca(const msgpack_object *d)
{
    char root[80], prev[80], self[40], serial[48], selfroot[80], ex[40], dur[64], when[32];
    pd_cli_str(d, "root", root, sizeof root);
    pd_cli_str(d, "previous_root", prev, sizeof prev);
    pd_cli_human_duration((uint64_t)get_i64(d, "expiry_s"), dur, sizeof dur);
    printf("Root CA:             %s\n", root);
    if (prev[0])
        printf("Previous root:       %s (rotation in progress: %lld node(s) still on it%s%s)\n", prev,
               (long long)get_i64(d, "pending"), pd_cli_str(d, "pending_example", ex, sizeof ex)[0] ? ", e.g. " : "",
               ex);
    else
        printf("Previous root:       none (no rotation in progress)\n");
    printf("Node certificates:   valid for %s, renewed between 1/2 and 4/5 of that\n", dur);
    utc(get_i64(d, "self_not_after"), when);
    pd_cli_str(d, "self_root", selfroot, sizeof selfroot);
    printf("This node:           %s, serial %s, expires %s, root %.16s, %lld renewal(s) since start\n",
           pd_cli_str(d, "self", self, sizeof self), pd_cli_str(d, "self_serial", serial, sizeof serial), when,
           selfroot, (long long)get_i64(d, "renewals"));
    const msgpack_object *nodes = pd_mp_get(d, "nodes");
    printf("\n%-27s %-8s %-9s %-34s %s\n", "NODE", "ROLE", "ROOT", "SERIAL", "EXPIRES");
    for (uint32_t i = 0; nodes && nodes->type == MSGPACK_OBJECT_ARRAY && i < nodes->via.array.size; i++) {
        const msgpack_object *n = &nodes->via.array.ptr[i];
        char id[40], role[16], r[16];
        int removed = 0;
        pd_mp_get_bool(n, "removed", &removed);
        utc(get_i64(n, "not_after"), when);
        printf("%-27s %-8s %-9s %-34s %s%s\n", pd_cli_str(n, "node_id", id, sizeof id),
               pd_cli_str(n, "role", role, sizeof role), pd_cli_str(n, "root", r, sizeof r),
               pd_cli_str(n, "serial", serial, sizeof serial), when, removed ? " (removed)" : "");
    }
}

static void print_rotated(const msgpack_object *d)
{
    char root[80], tok[128], addr[96];
    printf("Root CA rotated: the new root is %s.\n", pd_cli_str(d, "root", root, sizeof root));
    printf("Every node now moves to it; the old root stays trusted until all live nodes have.\n"
           "The join tokens changed (they pin the new root):\n\n");
    pd_cli_str(d, "addr", addr, sizeof addr);
    printf("To add a worker to this swarm, run the following command:\n\n    peerctl swarm join --token %s %s\n\n",
           pd_cli_str(d, "worker_token", tok, sizeof tok), addr);
    printf("To add a manager to this swarm, run the following command:\n\n    peerctl swarm join --token %s %s\n\n",
           pd_cli_str(d, "manager_token", tok, sizeof tok), addr);
}

static int cmd_ca(pd_cli_t *cli)
{
    ca_args_t a = {0};
    int json = 0;
    for (int i = 0; i < cli->argc; i++) {
        const char *x = cli->argv[i];
        if (strcmp(x, "--rotate") == 0)
            a.rotate = 1;
        else if (strcmp(x, "--json") == 0)
            json = 1;
        else if (strncmp(x, "--cert-expiry=", 14) == 0)
            a.expiry = x + 14;
        else if (strcmp(x, "--cert-expiry") == 0 && i + 1 < cli->argc)
            a.expiry = cli->argv[++i];
        else
            return pd_cli_usage_error(cli, "unexpected argument '%s'", x);
    }
    pd_ctl_client_t conn;
    pd_ctl_reply_t rep;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    int rc = pd_cli_request(cli, &conn, "swarm.ca", (uint32_t)(a.rotate + (a.expiry != NULL)), pack_args, &a, &rep);
    if (rc == PD_CLI_OK) {
        if (json)
            pd_cli_print_json(rep.data);
        else if (a.rotate)
            print_rotated(rep.data);
        else
            print_ca(rep.data);
        if (!json && a.expiry)
            printf("Node certificates are now issued for %s (each node's next renewal uses it).\n", a.expiry);
    }
    pd_ctl_client_close(&conn);
    return rc;
}

const pd_cli_cmd_t pd_cli_swarm_ca_cmds[] = {
    {"swarm ca", cmd_ca, "[--rotate] [--cert-expiry D] [--json]", "Show the root CA and node certificates, or rotate the root"},
    {NULL, NULL, NULL, NULL},
};
