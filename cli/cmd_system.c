/* peerctl version / info / stats. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"
#include "pd_mp.h"

static int cmd_version(pd_cli_t *cli)
{
    int rc = pd_cli_parse_simple(cli, 1, 0, NULL, NULL);
    if (rc)
        return rc;
    pd_ctl_client_t conn;
    if (!cli->json)
        printf("Client:\n Version:     %s\n API version: %d\n", PD_VERSION, PD_CTL_VERSION);
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_reply_t rep;
    rc = pd_cli_call0(cli, &conn, "version", &rep);
    if (rc == PD_CLI_OK) {
        char v[64];
        uint64_t api = 0;
        pd_mp_get_u64(rep.data, "api_version", &api);
        if (cli->json) {
            printf("{\n  \"client\": {\"version\": \"%s\", \"api_version\": %d},\n  \"server\": ", PD_VERSION,
                   PD_CTL_VERSION);
            pd_json_print(stdout, rep.data, 1);
            printf("\n}\n");
        } else {
            printf("Server:\n Version:     %s\n API version: %llu\n", pd_cli_str(rep.data, "version", v, sizeof v),
                   (unsigned long long)api);
        }
    }
    pd_ctl_client_close(&conn);
    return rc;
}

static void print_info(const msgpack_object *data)
{
    static const struct {
        const char *key, *label;
    } rows[] = {{"node_id", "Node ID"},       {"hostname", "Hostname"},
                {"version", "Version"},       {"role", "Role"},
                {"data_dir", "Data dir"},     {"advertise_addr", "Advertise address"},
                {"listen_addr", "Listen address"}, {"socket", "Control socket"}};
    char buf[4200];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *v = pd_cli_str(data, rows[i].key, buf, sizeof buf);
        printf("%-18s %s\n", rows[i].label, *v ? v : "-");
    }
    uint64_t up = 0;
    pd_mp_get_u64(data, "uptime_s", &up);
    pd_cli_human_duration(up, buf, sizeof buf);
    printf("%-18s %s\n", "Uptime", buf);
}

static int cmd_info(pd_cli_t *cli) { return pd_cli_read_cmd(cli, "info", print_info); }
static int cmd_stats(pd_cli_t *cli) { return pd_cli_read_cmd(cli, "stats", pd_cli_print_counters); }

const pd_cli_cmd_t pd_cli_system_cmds[] = {
    {"version", cmd_version, "[--json]", "Show the peerctl and peerd versions"},
    {"info", cmd_info, "[--json]", "Show this node's identity, role and uptime"},
    {"stats", cmd_stats, "[--json]", "Show daemon counters"},
    {"events", pd_cli_cmd_events, "[--json] [--count N]", "Stream the cluster store's changes (on a manager)"},
    {NULL, NULL, NULL, NULL},
};
