/* peerctl config and secret create / ls / inspect / rm (replicated through the managers' Raft)
 * and peerctl raft status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "pd_mp.h"

#define OBJECT_DATA_MAX (500u * 1024u) /* = PD_CONFIG_DATA_MAX in the daemon */
#define LABELS_MAX 64u                 /* = PD_OBJECT_LABELS_MAX */

/* "config" or "secret": the command's first word picks the kind (both share these commands). */
static void noun_of(const pd_cli_t *cli, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s", (int)strcspn(cli->cmd->words, " "), cli->cmd->words);
}

typedef struct {
    const char *name;
    const char *data;
    size_t len;
    const char *labels[LABELS_MAX];
    unsigned n_labels;
} create_args_t;

static void pack_create(msgpack_packer *pk, void *ctx)
{
    create_args_t *a = ctx;
    pd_mp_pack_kv_str(pk, "name", a->name);
    pd_mp_pack_cstr(pk, "data");
    msgpack_pack_bin(pk, a->len);
    msgpack_pack_bin_body(pk, a->data, a->len);
    pd_mp_pack_cstr(pk, "labels");
    msgpack_pack_map(pk, a->n_labels);
    for (unsigned i = 0; i < a->n_labels; i++) {
        const char *eq = strchr(a->labels[i], '=');
        size_t kl = (size_t)(eq - a->labels[i]);
        msgpack_pack_str(pk, kl);
        msgpack_pack_str_body(pk, a->labels[i], kl);
        pd_mp_pack_cstr(pk, eq + 1);
    }
}

static void pack_ref(msgpack_packer *pk, void *ctx) { pd_mp_pack_kv_str(pk, "ref", ctx); }

/* Read FILE (or stdin for "-") up to the cap; more is an error. */
static int read_input(const char *noun, const char *path, char **out, size_t *len_out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "Error: cannot open %s: %s\n", path, strerror(errno));
        return PD_CLI_FAIL;
    }
    char *buf = malloc(OBJECT_DATA_MAX + 1);
    size_t n = buf ? fread(buf, 1, OBJECT_DATA_MAX + 1, f) : 0;
    int bad = !buf || ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        fprintf(stderr, "Error: cannot read %s\n", path);
        free(buf);
        return PD_CLI_FAIL;
    }
    if (n > OBJECT_DATA_MAX) {
        fprintf(stderr, "Error: %s data from %s is over the size limit of %u bytes (500 KiB)\n", noun,
                strcmp(path, "-") == 0 ? "stdin" : path, OBJECT_DATA_MAX);
        free(buf);
        return PD_CLI_FAIL;
    }
    *out = buf;
    *len_out = n;
    return PD_CLI_OK;
}

/* NAME FILE|- and any number of --label k=v (or --label=k=v). */
static int parse_create(pd_cli_t *cli, create_args_t *a, const char **file)
{
    const char *pos[2];
    int npos = 0;
    for (int i = 0; i < cli->argc; i++) {
        const char *v = cli->argv[i], *lab = NULL;
        if (strcmp(v, "--label") == 0 || strcmp(v, "-l") == 0) {
            if (i + 1 >= cli->argc)
                return pd_cli_usage_error(cli, "%s needs a value", v);
            lab = cli->argv[++i];
        } else if (strncmp(v, "--label=", 8) == 0) {
            lab = v + 8;
        } else if (v[0] == '-' && v[1] != '\0') {
            return pd_cli_usage_error(cli, "unknown flag '%s'", v);
        } else if (npos < 2) {
            pos[npos++] = v;
            continue;
        } else {
            return pd_cli_usage_error(cli, "unexpected argument '%s'", v);
        }
        if (!strchr(lab, '=') || lab[0] == '=')
            return pd_cli_usage_error(cli, "a label is KEY=VALUE, got '%s'", lab);
        if (a->n_labels == LABELS_MAX)
            return pd_cli_usage_error(cli, "at most %u labels", LABELS_MAX);
        a->labels[a->n_labels++] = lab;
    }
    if (npos != 2)
        return pd_cli_usage_error(cli, "a NAME and a FILE (or - for stdin) are required");
    a->name = pos[0];
    *file = pos[1];
    return PD_CLI_OK;
}

static int cmd_create(pd_cli_t *cli)
{
    char noun[16], op[32];
    noun_of(cli, noun, sizeof noun);
    create_args_t a = {0};
    const char *file;
    int rc = parse_create(cli, &a, &file);
    if (rc)
        return rc;
    char *buf = NULL;
    if (read_input(noun, file, &buf, &a.len) != PD_CLI_OK)
        return PD_CLI_FAIL;
    a.data = buf;
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK) {
        free(buf);
        return PD_CLI_FAIL;
    }
    pd_ctl_reply_t rep;
    snprintf(op, sizeof op, "%s.create", noun);
    rc = pd_cli_request(cli, &conn, op, 3, pack_create, &a, &rep);
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

static int cmd_ls(pd_cli_t *cli)
{
    char noun[16], op[32];
    noun_of(cli, noun, sizeof noun);
    snprintf(op, sizeof op, "%s.ls", noun);
    return pd_cli_read_cmd(cli, op, print_ls);
}

static void print_labels(const msgpack_object *o)
{
    const msgpack_object *l = pd_mp_get(o, "labels");
    printf("Labels:");
    if (!l || l->type != MSGPACK_OBJECT_MAP || l->via.map.size == 0) {
        printf("    {}\n");
        return;
    }
    printf("\n");
    for (uint32_t i = 0; i < l->via.map.size; i++) {
        const msgpack_object_kv *kv = &l->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->val.type == MSGPACK_OBJECT_STR)
            printf(" - %.*s=%.*s\n", (int)kv->key.via.str.size, kv->key.via.str.ptr, (int)kv->val.via.str.size,
                   kv->val.via.str.ptr);
    }
}

static void print_inspect(const msgpack_object *d)
{
    char id[80], name[80], c[64], u[64];
    uint64_t size = 0, version = 0;
    pd_mp_get_u64(d, "size", &size);
    pd_mp_get_u64(d, "version", &version);
    ago(d, "created_ms", c, sizeof c);
    ago(d, "updated_ms", u, sizeof u);
    printf("ID:        %s\nName:      %s\nVersion:   %llu\nCreated:   %s\nUpdated:   %s\nSize:      %llu bytes\n",
           pd_cli_str(d, "id", id, sizeof id), pd_cli_str(d, "name", name, sizeof name), (unsigned long long)version,
           c, u, (unsigned long long)size);
    print_labels(d);
    const char *p;
    size_t len;
    if (pd_mp_get_str(d, "data", &p, &len) != 0)
        return; /* a secret: the daemon never sends its data */
    char enc[16];
    printf("Encoding:  %s\nData:\n", pd_cli_str(d, "encoding", enc, sizeof enc));
    fwrite(p, 1, len, stdout);
    if (len && p[len - 1] != '\n')
        fputc('\n', stdout);
}

static int cmd_inspect(pd_cli_t *cli)
{
    char noun[16], op[32];
    noun_of(cli, noun, sizeof noun);
    snprintf(op, sizeof op, "%s.inspect", noun);
    const char *pos[1];
    int npos = 0;
    int rc = pd_cli_parse_simple(cli, 1, 1, pos, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return pd_cli_usage_error(cli, "a %s NAME or ID is required", noun);
    pd_ctl_client_t conn;
    pd_ctl_reply_t rep;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    rc = pd_cli_request(cli, &conn, op, 1, pack_ref, (void *)pos[0], &rep);
    if (rc == PD_CLI_OK && cli->json)
        pd_cli_print_json(rep.data);
    else if (rc == PD_CLI_OK)
        print_inspect(rep.data);
    pd_ctl_client_close(&conn);
    return rc;
}

/* rm NAME|ID...: each one removed is printed; a failure is reported and the rest still tried. */
static int cmd_rm(pd_cli_t *cli)
{
    char noun[16], op[32];
    noun_of(cli, noun, sizeof noun);
    snprintf(op, sizeof op, "%s.rm", noun);
    for (int i = 0; i < cli->argc; i++)
        if (cli->argv[i][0] == '-' && cli->argv[i][1] != '\0')
            return pd_cli_usage_error(cli, "unknown flag '%s'", cli->argv[i]);
    if (cli->argc == 0)
        return pd_cli_usage_error(cli, "at least one %s NAME or ID is required", noun);
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    int rc = PD_CLI_OK;
    for (int i = 0; i < cli->argc; i++) {
        pd_ctl_reply_t rep;
        if (pd_cli_request(cli, &conn, op, 1, pack_ref, cli->argv[i], &rep) == PD_CLI_OK)
            printf("%s\n", cli->argv[i]);
        else
            rc = PD_CLI_FAIL;
    }
    pd_ctl_client_close(&conn);
    return rc;
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
    {"config create", cmd_create, "NAME FILE|- [--label KEY=VALUE]...",
     "Store a config (up to 500 KiB) in the cluster; prints its id"},
    {"config ls", cmd_ls, "[--json]", "List configs"},
    {"config inspect", cmd_inspect, "NAME|ID [--json]", "Show a config's metadata and data"},
    {"config rm", cmd_rm, "NAME|ID...", "Remove configs"},
    {"secret create", cmd_create, "NAME FILE|- [--label KEY=VALUE]...",
     "Store a secret (1 byte to 500 KiB, encrypted at rest on the managers); prints its id"},
    {"secret ls", cmd_ls, "[--json]", "List secrets"},
    {"secret inspect", cmd_inspect, "NAME|ID [--json]", "Show a secret's metadata (never its data)"},
    {"secret rm", cmd_rm, "NAME|ID...", "Remove secrets"},
    {"raft status", cmd_raft_status, "[--json]", "This manager's Raft state and the members' progress"},
    {NULL, NULL, NULL, NULL},
};
