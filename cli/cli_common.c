#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"
#include "pd_err.h"
#include "pd_mp.h"

int pd_cli_usage_error(pd_cli_t *cli, const char *fmt, ...)
{
    fputs("peerctl: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: peerctl %s %s\n", cli->cmd->words, cli->cmd->args);
    return PD_CLI_USAGE;
}

int pd_cli_parse_simple(pd_cli_t *cli, int allow_json, int max_pos, const char **pos, int *npos)
{
    int n = 0;
    for (int i = 0; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        if (allow_json && strcmp(a, "--json") == 0) {
            cli->json = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return pd_cli_usage_error(cli, "unknown flag '%s'", a);
        } else if (n < max_pos) {
            pos[n++] = a;
        } else {
            return pd_cli_usage_error(cli, "unexpected argument '%s'", a);
        }
    }
    if (npos)
        *npos = n;
    return PD_CLI_OK;
}

int pd_cli_connect(pd_cli_t *cli, pd_ctl_client_t *conn)
{
    int rc = pd_ctl_client_connect(conn, cli->socket_path, 1000);
    if (rc == 0)
        return PD_CLI_OK;
    const char *hint = (rc == -ENOENT || rc == -ECONNREFUSED) ? " (is peerd running?)" : "";
    fprintf(stderr, "peerctl: cannot connect to peerd at %s: %s%s\n", cli->socket_path,
            rc == -PD_ETIMEOUT ? "timed out" : pd_strerror(rc), hint);
    return PD_CLI_FAIL;
}

int pd_cli_print_error(const pd_ctl_reply_t *rep)
{
    fprintf(stderr, "Error: %s\n", rep->error);
    return PD_CLI_FAIL;
}

int pd_cli_request(pd_cli_t *cli, pd_ctl_client_t *conn, const char *op, uint32_t nargs,
                   void (*pack)(msgpack_packer *pk, void *ctx), void *ctx, pd_ctl_reply_t *rep)
{
    pd_ctl_msg_t m;
    pd_ctl_msg_init(&m);
    pd_ctl_msg_request(&m, conn->next_id++, op, nargs);
    if (pack)
        pack(&m.pk, ctx);
    int rc = pd_ctl_client_call(conn, &m, rep);
    pd_ctl_msg_destroy(&m);
    if (rc) {
        fprintf(stderr, "peerctl: request to peerd at %s failed: %s\n", cli->socket_path, pd_strerror(rc));
        return PD_CLI_FAIL;
    }
    return rep->ok ? PD_CLI_OK : pd_cli_print_error(rep);
}

int pd_cli_call0(pd_cli_t *cli, pd_ctl_client_t *conn, const char *op, pd_ctl_reply_t *rep)
{
    return pd_cli_request(cli, conn, op, 0, NULL, NULL, rep);
}

int pd_cli_read_cmd(pd_cli_t *cli, const char *op, void (*table)(const msgpack_object *data))
{
    int rc = pd_cli_parse_simple(cli, 1, 0, NULL, NULL);
    if (rc)
        return rc;
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_reply_t rep;
    rc = pd_cli_call0(cli, &conn, op, &rep);
    if (rc == PD_CLI_OK && cli->json)
        pd_cli_print_json(rep.data);
    else if (rc == PD_CLI_OK && rep.data)
        table(rep.data);
    pd_ctl_client_close(&conn);
    return rc;
}

void pd_cli_print_json(const msgpack_object *data)
{
    if (data)
        pd_json_print(stdout, data, 0);
    else
        fputs("null", stdout);
    fputc('\n', stdout);
}

void pd_cli_human_duration(uint64_t s, char *out, size_t cap)
{
    if (s < 1)
        snprintf(out, cap, "Less than a second");
    else if (s < 60)
        snprintf(out, cap, "%llu second%s", (unsigned long long)s, s == 1 ? "" : "s");
    else if (s < 3600)
        snprintf(out, cap, "%llu minute%s", (unsigned long long)(s / 60), s / 60 == 1 ? "" : "s");
    else if (s < 2 * 86400)
        snprintf(out, cap, "%llu hour%s", (unsigned long long)(s / 3600), s / 3600 == 1 ? "" : "s");
    else
        snprintf(out, cap, "%llu days", (unsigned long long)(s / 86400));
}

const char *pd_cli_str(const msgpack_object *map, const char *key, char *buf, size_t cap)
{
    if (pd_mp_get_strbuf(map, key, buf, cap) != 0)
        buf[0] = '\0';
    return buf;
}

void pd_cli_print_counters(const msgpack_object *data)
{
    if (data->type != MSGPACK_OBJECT_MAP)
        return;
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object_kv *kv = &data->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            printf("%-24.*s %llu\n", (int)kv->key.via.str.size, kv->key.via.str.ptr,
                   (unsigned long long)kv->val.via.u64);
    }
}
