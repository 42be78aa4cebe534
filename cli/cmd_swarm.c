/* peerctl swarm init / join / join-token / leave, with Docker's wording. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pd_mp.h"

typedef struct {
    const char *k[3];
    const char *v[3];
    int b[3]; /* 1: v is a boolean ("1") */
    uint32_t n;
} kv_args_t;

static void pack_kv(msgpack_packer *pk, void *ctx)
{
    kv_args_t *a = ctx;
    for (uint32_t i = 0; i < a->n; i++) {
        if (a->b[i])
            pd_mp_pack_kv_bool(pk, a->k[i], 1);
        else
            pd_mp_pack_kv_str(pk, a->k[i], a->v[i]);
    }
}

static void add(kv_args_t *a, const char *k, const char *v, int b)
{
    a->k[a->n] = k;
    a->v[a->n] = v;
    a->b[a->n] = b;
    a->n++;
}

/* One request; on success the reply's data is handed to print. */
static int call(pd_cli_t *cli, const char *op, kv_args_t *a, void (*print)(const msgpack_object *, void *), void *ctx)
{
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_reply_t rep;
    int rc = pd_cli_request(cli, &conn, op, a->n, pack_kv, a, &rep);
    if (rc == PD_CLI_OK)
        print(rep.data, ctx);
    pd_ctl_client_close(&conn);
    return rc;
}

/* "--flag VALUE" or "--flag=VALUE" at argv[*i]; 1 when it matched (value in *out). */
static int flag_value(pd_cli_t *cli, int *i, const char *flag, const char **out)
{
    const char *a = cli->argv[*i];
    size_t n = strlen(flag);
    if (strncmp(a, flag, n) != 0)
        return 0;
    if (a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    if (a[n] == '\0' && *i + 1 < cli->argc) {
        *out = cli->argv[++*i];
        return 1;
    }
    return 0;
}

static void print_worker_command(const char *token, const char *addr)
{
    printf("To add a worker to this swarm, run the following command:\n\n"
           "    peerctl swarm join --token %s %s\n\n",
           token, addr);
}

static void print_init(const msgpack_object *data, void *ctx)
{
    char id[64], tok[128], addr[96];
    printf("Swarm initialized: current node (%s) is now a manager.\n\n", pd_cli_str(data, "node_id", id, sizeof id));
    print_worker_command(pd_cli_str(data, "worker_token", tok, sizeof tok), pd_cli_str(data, "addr", addr, sizeof addr));
    printf("To add a manager to this swarm, run 'peerctl swarm join-token manager' and follow the instructions.\n\n");
}

static void print_force(const msgpack_object *data, void *ctx)
{
    print_init(data, ctx);
    const msgpack_object *rm = pd_mp_get(data, "removed");
    if (!rm || rm->type != MSGPACK_OBJECT_ARRAY || rm->via.array.size == 0)
        return;
    printf("Former managers removed from the swarm (to bring one back: 'peerctl swarm leave --force' on it, then "
           "join with a token):\n");
    for (uint32_t i = 0; i < rm->via.array.size; i++) {
        const msgpack_object *o = &rm->via.array.ptr[i];
        if (o->type == MSGPACK_OBJECT_STR)
            printf("    %.*s\n", (int)o->via.str.size, o->via.str.ptr);
    }
    printf("\n");
}

static int cmd_init(pd_cli_t *cli)
{
    kv_args_t a = {0};
    const char *adv = NULL, *expiry = NULL;
    int autolock = 0, force = 0;
    for (int i = 0; i < cli->argc; i++) {
        if (flag_value(cli, &i, "--advertise-addr", &adv) || flag_value(cli, &i, "--cert-expiry", &expiry))
            continue;
        if (strcmp(cli->argv[i], "--force-new-cluster") == 0) {
            force = 1;
            continue;
        }
        if (strcmp(cli->argv[i], "--autolock") == 0 || strcmp(cli->argv[i], "--autolock=true") == 0) {
            autolock = 1;
            continue;
        }
        if (strcmp(cli->argv[i], "--autolock=false") == 0)
            continue;
        return pd_cli_usage_error(cli, "unexpected argument '%s'", cli->argv[i]);
    }
    if (force && adv)
        return pd_cli_usage_error(cli, "--advertise-addr cannot change with --force-new-cluster: the manager keeps "
                                       "its address");
    if (adv)
        add(&a, "advertise_addr", adv, 0);
    if (force && expiry)
        return pd_cli_usage_error(cli, "--cert-expiry cannot be set with --force-new-cluster (use 'swarm ca "
                                       "--cert-expiry')");
    if (force)
        add(&a, "force_new_cluster", "1", 1);
    if (expiry)
        add(&a, "cert_expiry", expiry, 0);
    int rc = call(cli, "swarm.init", &a, force ? print_force : print_init, NULL);
    if (rc != PD_CLI_OK || !autolock)
        return rc;
    /* init returns once the tokens are committed, so this manager leads and can write the setting */
    if (pd_cli_swarm_autolock_on(cli) != PD_CLI_OK) {
        fprintf(stderr, "The swarm was initialized, but autolock is off: run 'peerctl swarm update --autolock=true'.\n");
        return PD_CLI_FAIL;
    }
    return PD_CLI_OK;
}

static void print_join(const msgpack_object *data, void *ctx)
{
    char role[32];
    printf("This node joined a swarm as a %s.\n", pd_cli_str(data, "role", role, sizeof role));
}

static int cmd_join(pd_cli_t *cli)
{
    kv_args_t a = {0};
    const char *token = NULL, *addr = NULL;
    for (int i = 0; i < cli->argc; i++) {
        if (flag_value(cli, &i, "--token", &token))
            continue;
        if (cli->argv[i][0] == '-' || addr)
            return pd_cli_usage_error(cli, "unexpected argument '%s'", cli->argv[i]);
        addr = cli->argv[i];
    }
    if (!token || !addr)
        return pd_cli_usage_error(cli, "a --token and the manager's HOST:PORT are required");
    add(&a, "token", token, 0);
    add(&a, "addr", addr, 0);
    return call(cli, "swarm.join", &a, print_join, NULL);
}

static void print_token(const msgpack_object *data, void *ctx)
{
    int quiet = *(int *)ctx;
    char role[32], tok[128], addr[96];
    pd_cli_str(data, "role", role, sizeof role);
    pd_cli_str(data, "token", tok, sizeof tok);
    pd_cli_str(data, "addr", addr, sizeof addr);
    if (quiet) {
        printf("%s\n", tok);
        return;
    }
    if (strcmp(role, "worker") == 0)
        print_worker_command(tok, addr);
    else
        printf("To add a manager to this swarm, run the following command:\n\n"
               "    peerctl swarm join --token %s %s\n\n",
               tok, addr);
}

static int cmd_join_token(pd_cli_t *cli)
{
    kv_args_t a = {0};
    const char *role = NULL;
    int rotate = 0, quiet = 0;
    for (int i = 0; i < cli->argc; i++) {
        const char *x = cli->argv[i];
        if (strcmp(x, "--rotate") == 0)
            rotate = 1;
        else if (strcmp(x, "-q") == 0 || strcmp(x, "--quiet") == 0)
            quiet = 1;
        else if (x[0] != '-' && !role && (strcmp(x, "worker") == 0 || strcmp(x, "manager") == 0))
            role = x;
        else
            return pd_cli_usage_error(cli, "unexpected argument '%s'", x);
    }
    if (!role)
        return pd_cli_usage_error(cli, "worker or manager is required");
    add(&a, "role", role, 0);
    if (rotate)
        add(&a, "rotate", "1", 1);
    int rc = call(cli, "swarm.join_token", &a, print_token, &quiet);
    if (rc == PD_CLI_OK && rotate && !quiet)
        printf("Successfully rotated %s join token.\n", role);
    return rc;
}

static void print_leave(const msgpack_object *data, void *ctx) { printf("Node left the swarm.\n"); }

static int cmd_leave(pd_cli_t *cli)
{
    kv_args_t a = {0};
    for (int i = 0; i < cli->argc; i++) {
        if (strcmp(cli->argv[i], "--force") == 0 || strcmp(cli->argv[i], "-f") == 0)
            add(&a, "force", "1", 1);
        else
            return pd_cli_usage_error(cli, "unexpected argument '%s'", cli->argv[i]);
    }
    return call(cli, "swarm.leave", &a, print_leave, NULL);
}

const pd_cli_cmd_t pd_cli_swarm_cmds[] = {
    {"swarm init", cmd_init, "[--advertise-addr ADDR] [--autolock] [--cert-expiry D] [--force-new-cluster]",
     "Make a new cluster with this node as its first manager (or recover a lost quorum from this one)"},
    {"swarm join", cmd_join, "--token TOKEN HOST:PORT", "Join a cluster through one of its managers"},
    {"swarm join-token", cmd_join_token, "worker|manager [--rotate] [-q]", "Show (or rotate) a join token"},
    {"swarm leave", cmd_leave, "[--force]", "Leave the cluster (a manager needs --force)"},
    {NULL, NULL, NULL, NULL},
};
