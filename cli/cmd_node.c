/* peerctl node ls / inspect / update / promote / demote / rm (Docker's node commands). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pd_mp.h"

#define NODE_ARGS_MAX 64 /* labels added or removed in one update */

typedef struct {
    const char *ref;
    int force;
    const char *availability;
    const char *add[NODE_ARGS_MAX], *rm[NODE_ARGS_MAX];
    int n_add, n_rm;
} node_args_t;

static uint32_t nargs_of(const node_args_t *a)
{
    return 1 + (a->force != 0) + (a->availability != NULL) + (a->n_add > 0) + (a->n_rm > 0);
}

static void pack_strs(msgpack_packer *pk, const char *key, const char *const *v, int n)
{
    pd_mp_pack_cstr(pk, key);
    msgpack_pack_array(pk, (uint32_t)n);
    for (int i = 0; i < n; i++)
        pd_mp_pack_cstr(pk, v[i]);
}

static void pack_args(msgpack_packer *pk, void *ctx)
{
    node_args_t *a = ctx;
    pd_mp_pack_kv_str(pk, "ref", a->ref);
    if (a->force)
        pd_mp_pack_kv_bool(pk, "force", 1);
    if (a->availability)
        pd_mp_pack_kv_str(pk, "availability", a->availability);
    if (a->n_add)
        pack_strs(pk, "label_add", a->add, a->n_add);
    if (a->n_rm)
        pack_strs(pk, "label_rm", a->rm, a->n_rm);
}

/* --- ls ------------------------------------------------------------------------------------- */

static int quiet;

static void print_ls(const msgpack_object *data)
{
    if (!quiet)
        printf("%-28s %-20s %-8s %-13s %-15s %s\n", "ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS",
               "ENGINE VERSION");
    for (uint32_t i = 0; data->type == MSGPACK_OBJECT_ARRAY && i < data->via.array.size; i++) {
        const msgpack_object *o = &data->via.array.ptr[i];
        char id[64], host[256], st[16], av[16], ms[16], ver[32], idcol[72];
        int self = 0;
        pd_mp_get_bool(o, "self", &self);
        pd_cli_str(o, "id", id, sizeof id);
        if (quiet) {
            printf("%s\n", id);
            continue;
        }
        snprintf(idcol, sizeof idcol, "%s%s", id, self ? " *" : "");
        printf("%-28s %-20s %-8s %-13s %-15s %s\n", idcol, pd_cli_str(o, "hostname", host, sizeof host),
               pd_cli_str(o, "status", st, sizeof st), pd_cli_str(o, "availability", av, sizeof av),
               pd_cli_str(o, "manager_status", ms, sizeof ms), pd_cli_str(o, "version", ver, sizeof ver));
    }
}

static int cmd_ls(pd_cli_t *cli)
{
    for (int i = 0; i < cli->argc; i++) {
        if (strcmp(cli->argv[i], "-q") == 0 || strcmp(cli->argv[i], "--quiet") == 0) {
            quiet = 1;
            memmove(&cli->argv[i], &cli->argv[i + 1], (size_t)(cli->argc - i - 1) * sizeof cli->argv[0]);
            cli->argc--;
            i--;
        }
    }
    return pd_cli_read_cmd(cli, "node.ls", print_ls);
}

/* --- commands taking NODE... ---------------------------------------------------------------- */

/* Parse the flags of op and collect NODE arguments; -1 on a usage error (already printed). */
static int parse(pd_cli_t *cli, node_args_t *a, const char **nodes, int *n_nodes, int *pretty)
{
    *n_nodes = 0;
    for (int i = 0; i < cli->argc; i++) {
        const char *s = cli->argv[i];
        int has_val = i + 1 < cli->argc;
        if (strcmp(s, "--force") == 0 || strcmp(s, "-f") == 0)
            a->force = 1;
        else if (strcmp(s, "--pretty") == 0 && pretty)
            *pretty = 1;
        else if (strcmp(s, "--availability") == 0 && has_val)
            a->availability = cli->argv[++i];
        else if (strcmp(s, "--label-add") == 0 && has_val && a->n_add < NODE_ARGS_MAX)
            a->add[a->n_add++] = cli->argv[++i];
        else if (strcmp(s, "--label-rm") == 0 && has_val && a->n_rm < NODE_ARGS_MAX)
            a->rm[a->n_rm++] = cli->argv[++i];
        else if (s[0] == '-')
            return pd_cli_usage_error(cli, "unknown or incomplete option '%s'", s), -1;
        else
            nodes[(*n_nodes)++] = s;
    }
    if (*n_nodes == 0)
        return pd_cli_usage_error(cli, "at least one NODE (id, id prefix or hostname) is required"), -1;
    return 0;
}

static void print_pretty(const msgpack_object *o)
{
    char id[64], host[256], role[16], av[16], state[16], ver[32];
    const msgpack_object *spec = pd_mp_get(o, "Spec"), *desc = pd_mp_get(o, "Description"),
                         *st = pd_mp_get(o, "Status"), *ms = pd_mp_get(o, "ManagerStatus");
    printf("ID:\t\t\t%s\n", pd_cli_str(o, "ID", id, sizeof id));
    printf("Hostname:\t\t%s\n", desc ? pd_cli_str(desc, "Hostname", host, sizeof host) : "");
    printf("Status:\n State:\t\t\t%s\n Availability:\t\t%s\n", st ? pd_cli_str(st, "State", state, sizeof state) : "",
           spec ? pd_cli_str(spec, "Availability", av, sizeof av) : "");
    printf("Role:\t\t\t%s\n", spec ? pd_cli_str(spec, "Role", role, sizeof role) : "");
    if (ms && ms->type == MSGPACK_OBJECT_MAP) {
        char reach[16];
        int leader = 0;
        pd_mp_get_bool(ms, "Leader", &leader);
        printf("Manager Status:\n Raft ID:\t\t%s\n Leader:\t\t%s\n Reachability:\t\t%s\n",
               pd_cli_str(ms, "RaftID", id, sizeof id), leader ? "Yes" : "No",
               pd_cli_str(ms, "Reachability", reach, sizeof reach));
    }
    const msgpack_object *labels = spec ? pd_mp_get(spec, "Labels") : NULL;
    if (labels && labels->type == MSGPACK_OBJECT_MAP && labels->via.map.size) {
        printf("Labels:\n");
        for (uint32_t i = 0; i < labels->via.map.size; i++) {
            const msgpack_object *k = &labels->via.map.ptr[i].key, *v = &labels->via.map.ptr[i].val;
            if (k->type == MSGPACK_OBJECT_STR && v->type == MSGPACK_OBJECT_STR)
                printf(" - %.*s=%.*s\n", (int)k->via.str.size, k->via.str.ptr, (int)v->via.str.size, v->via.str.ptr);
        }
    }
    printf("Engine Version:\t\t%s\n", desc ? pd_cli_str(desc, "Version", ver, sizeof ver) : "");
}

/* Run op once per NODE; prints per node, returns FAIL if any failed. */
static int each_node(pd_cli_t *cli, const char *op, int pretty_allowed)
{
    node_args_t a = {0};
    const char *nodes[256];
    int n = 0, pretty = 0;
    if (cli->argc > 256)
        return pd_cli_usage_error(cli, "too many arguments");
    if (parse(cli, &a, nodes, &n, pretty_allowed ? &pretty : NULL) != 0)
        return PD_CLI_USAGE;
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    int failed = 0, inspect = strcmp(op, "node.inspect") == 0;
    if (inspect && !pretty)
        printf("[");
    for (int i = 0; i < n; i++) {
        a.ref = nodes[i];
        pd_ctl_reply_t rep;
        if (pd_cli_request(cli, &conn, op, nargs_of(&a), pack_args, &a, &rep) != PD_CLI_OK) {
            failed = 1;
            continue;
        }
        char msg[256], warn[512];
        if (inspect && pretty) {
            if (i)
                printf("\n");
            print_pretty(rep.data);
        } else if (inspect) {
            if (i)
                printf(",");
            pd_cli_print_json(rep.data);
        } else {
            printf("%s\n", pd_cli_str(rep.data, "message", msg, sizeof msg));
            if (pd_cli_str(rep.data, "warning", warn, sizeof warn)[0])
                fprintf(stderr, "WARNING: %s\n", warn);
        }
    }
    if (inspect && !pretty)
        printf("]\n");
    pd_ctl_client_close(&conn);
    return failed ? PD_CLI_FAIL : PD_CLI_OK;
}

static int cmd_inspect(pd_cli_t *cli) { return each_node(cli, "node.inspect", 1); }
static int cmd_update(pd_cli_t *cli) { return each_node(cli, "node.update", 0); }
static int cmd_promote(pd_cli_t *cli) { return each_node(cli, "node.promote", 0); }
static int cmd_demote(pd_cli_t *cli) { return each_node(cli, "node.demote", 0); }
static int cmd_rm(pd_cli_t *cli) { return each_node(cli, "node.rm", 0); }

const pd_cli_cmd_t pd_cli_node_cmds[] = {
    {"node ls", cmd_ls, "[-q] [--json]", "List the cluster's nodes (* marks this one)"},
    {"node inspect", cmd_inspect, "NODE... [--pretty]", "Show nodes in detail (JSON, or --pretty)"},
    {"node update", cmd_update, "[--availability active|pause|drain] [--label-add K=V] [--label-rm K] NODE",
     "Change a node's availability or labels"},
    {"node promote", cmd_promote, "NODE...", "Make nodes managers (Raft voters after catching up)"},
    {"node demote", cmd_demote, "NODE...", "Make managers workers (the last manager cannot be demoted)"},
    {"node rm", cmd_rm, "[--force] NODE...", "Remove nodes from the cluster (a Ready node needs --force)"},
    {NULL, NULL, NULL, NULL},
};
