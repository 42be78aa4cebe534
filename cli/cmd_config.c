/* peerctl config create / ls / inspect / rm (replicated through the managers' Raft) and
 * peerctl raft status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "pd_mp.h"

#define CONFIG_DATA_MAX (500u * 1024u) /* = PD_CONFIG_DATA_MAX in the daemon */

typedef struct {
    const char *name;
    const char *data;
    size_t len;
} create_args_t;

static void pack_create(msgpack_packer *pk, void *ctx)
{
    create_args_t *a = ctx;
    pd_mp_pack_kv_str(pk, "name", a->name);
    pd_mp_pack_cstr(pk, "data");
    msgpack_pack_bin(pk, a->len);
    msgpack_pack_bin_body(pk, a->data, a->len);
}

static void pack_ref(msgpack_packer *pk, void *ctx) { pd_mp_pack_kv_str(pk, "ref", ctx); }

/* Read FILE (or stdin for "-") up to the cap; more is an error. */
static int read_input(const char *path, char **out, size_t *len_out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "Error: cannot open %s: %s\n", path, strerror(errno));
        return PD_CLI_FAIL;
    }
    char *buf = malloc(CONFIG_DATA_MAX + 1);
    size_t n = buf ? fread(buf, 1, CONFIG_DATA_MAX + 1, f) : 0;
    int bad = !buf || ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        fprintf(stderr, "Error: cannot read %s\n", path);
        free(buf);
        return PD_CLI_FAIL;
    }
    if (n > CONFIG_DATA_MAX) {
        fprintf(stderr, "Error: config data from %s is over the size limit of %u bytes (500 KiB)\n", path,
                CONFIG_DATA_MAX);
        free(buf);
        return PD_CLI_FAIL;
    }
    *out = buf;
    *len_out = n;
    return PD_CLI_OK;
}

static int cmd_create(pd_cli_t *cli)
{
    const char *pos[2];
    int npos = 0;
    int rc = pd_cli_parse_simple(cli, 0, 2, pos, &npos);
    if (rc)
        return rc;
    if (npos != 2)
        return pd_cli_usage_error(cli, "a NAME and a FILE (or - for stdin) are required");
    create_args_t a = {.name = pos[0]};
    char *buf = NULL;
    if (read_input(pos[1], &buf, &a.len) != PD_CLI_OK)
        return PD_CLI_FAIL;
    a.data = buf;
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK) {
        free(buf);
        return PD_CLI_FAIL;
    }
    pd_ctl_reply_t rep;
    rc = pd_cli_request(cli, &conn, "config.create", 2, pack_create, &a, &rep);
    char id[64];
    if (rc == PD_CLI_OK)
        printf("%s\n", pd_cli_str(rep.data, "id", id, sizeof id));
    pd_ctl_client_close(&conn);
    free(buf);
    return rc;
}

static void ago(const msgpack_object *o, const char *key, char *out, size_t cap)
{
    int64_t ms = 0;
    pd_mp_get_i64(o, key, &ms);
    int64_t now = (int64_t)time(NULL) * 1000;
    char d[48];
    pd_cli_human_duration(now > ms ? (uint64_t)(now - ms) / 1000 : 0, d, sizeof d);
    snprintf(out, cap, "%s ago", d);
}

static void print_ls(const msgpack_object *data)
{
    printf("%-27s %-32s %-24s %s\n", "ID", "NAME", "CREATED", "UPDATED");
    if (data->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < data->via.array.size; i++) {
        const msgpack_object *o = &data->via.array.ptr[i];
        char id[80], name[80], c[64], u[64];
        ago(o, "created_ms", c, sizeof c);
        ago(o, "updated_ms", u, sizeof u);
        printf("%-27s %-32s %-24s %s\n", pd_cli_str(o, "id", id, sizeof id), pd_cli_str(o, "name", name, sizeof name),
               c, u);
    }
}

static int cmd_ls(pd_cli_t *cli) { return pd_cli_read_cmd(cli, "config.ls", print_ls); }

static int ref_cmd(pd_cli_t *cli, const char *op, int allow_json, pd_ctl_reply_t *rep, pd_ctl_client_t *conn)
{
    const char *pos[1];
    int npos = 0;
    int rc = pd_cli_parse_simple(cli, allow_json, 1, pos, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return pd_cli_usage_error(cli, "a config NAME or ID is required");
    if (pd_cli_connect(cli, conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    rc = pd_cli_request(cli, conn, op, 1, pack_ref, (void *)pos[0], rep);
    if (rc != PD_CLI_OK)
        pd_ctl_client_close(conn);
    return rc;
}

static int cmd_inspect(pd_cli_t *cli)
{
    pd_ctl_client_t conn;
    pd_ctl_reply_t rep;
    int rc = ref_cmd(cli, "config.inspect", 1, &rep, &conn);
    if (rc != PD_CLI_OK)
        return rc;
    if (cli->json) {
        pd_cli_print_json(rep.data);
    } else {
        char id[80], name[80], enc[16], c[64], u[64];
        uint64_t size = 0, version = 0;
        pd_mp_get_u64(rep.data, "size", &size);
        pd_mp_get_u64(rep.data, "version", &version);
        ago(rep.data, "created_ms", c, sizeof c);
        ago(rep.data, "updated_ms", u, sizeof u);
        printf("ID:        %s\nName:      %s\nVersion:   %llu\nCreated:   %s\nUpdated:   %s\nSize:      %llu bytes\n"
               "Encoding:  %s\nData:\n",
               pd_cli_str(rep.data, "id", id, sizeof id), pd_cli_str(rep.data, "name", name, sizeof name),
               (unsigned long long)version, c, u, (unsigned long long)size,
               pd_cli_str(rep.data, "encoding", enc, sizeof enc));
        const char *p;
        size_t len;
        if (pd_mp_get_str(rep.data, "data", &p, &len) == 0) {
            fwrite(p, 1, len, stdout);
            if (len && p[len - 1] != '\n')
                fputc('\n', stdout);
        }
    }
    pd_ctl_client_close(&conn);
    return PD_CLI_OK;
}

static int cmd_rm(pd_cli_t *cli)
{
    pd_ctl_client_t conn;
    pd_ctl_reply_t rep;
    int rc = ref_cmd(cli, "config.rm", 0, &rep, &conn);
    if (rc != PD_CLI_OK)
        return rc;
    printf("%s\n", cli->argv[cli->argc - 1]);
    pd_ctl_client_close(&conn);
    return PD_CLI_OK;
}

static void print_raft(const msgpack_object *d)
{
    char node[64], rid[32], role[32], leader[64];
    uint64_t term = 0, commit = 0, applied = 0, last = 0, snap = 0, reach = 0;
    pd_mp_get_u64(d, "term", &term);
    pd_mp_get_u64(d, "commit", &commit);
    pd_mp_get_u64(d, "applied", &applied);
    pd_mp_get_u64(d, "last_index", &last);
    pd_mp_get_u64(d, "snapshot_index", &snap);
    pd_mp_get_u64(d, "reachable", &reach);
    pd_cli_str(d, "leader", leader, sizeof leader);
    printf("Node ID:     %s\nRaft ID:     %s\nRole:        %s\nTerm:        %llu\nLeader:      %s\n"
           "Commit:      %llu\nApplied:     %llu\nLast index:  %llu\nSnapshot:    %llu\nReachable:   %llu\n",
           pd_cli_str(d, "node_id", node, sizeof node), pd_cli_str(d, "raft_id", rid, sizeof rid),
           pd_cli_str(d, "role", role, sizeof role), (unsigned long long)term, leader[0] ? leader : "(none)",
           (unsigned long long)commit, (unsigned long long)applied, (unsigned long long)last,
           (unsigned long long)snap, (unsigned long long)reach);
    const msgpack_object *m = pd_mp_get(d, "members");
    printf("\n%-27s %-16s %-20s %-8s %-9s %-7s %s\n", "NODE", "RAFT ID", "ADDRESS", "SUFFRAGE", "REACHABLE", "LEADER",
           "MATCH");
    for (uint32_t i = 0; m && m->type == MSGPACK_OBJECT_ARRAY && i < m->via.array.size; i++) {
        const msgpack_object *e = &m->via.array.ptr[i];
        char n[64], r[32], a[80], s[16], match[24] = "-";
        int reachable = 0, lead = 0;
        uint64_t mv;
        pd_mp_get_bool(e, "reachable", &reachable);
        pd_mp_get_bool(e, "leader", &lead);
        if (pd_mp_get_u64(e, "match", &mv) == 0)
            snprintf(match, sizeof match, "%llu", (unsigned long long)mv);
        printf("%-27s %-16s %-20s %-8s %-9s %-7s %s\n", pd_cli_str(e, "node_id", n, sizeof n),
               pd_cli_str(e, "raft_id", r, sizeof r), pd_cli_str(e, "addr", a, sizeof a),
               pd_cli_str(e, "suffrage", s, sizeof s), reachable ? "yes" : "no", lead ? "*" : "", match);
    }
}

static int cmd_raft_status(pd_cli_t *cli) { return pd_cli_read_cmd(cli, "raft.status", print_raft); }

const pd_cli_cmd_t pd_cli_config_cmds[] = {
    {"config create", cmd_create, "NAME FILE|-", "Store a config (up to 500 KiB) in the cluster; prints its id"},
    {"config ls", cmd_ls, "[--json]", "List configs"},
    {"config inspect", cmd_inspect, "NAME|ID [--json]", "Show a config's metadata and data"},
    {"config rm", cmd_rm, "NAME|ID", "Remove a config"},
    {"raft status", cmd_raft_status, "[--json]", "This manager's Raft state and the members' progress"},
    {NULL, NULL, NULL, NULL},
};
