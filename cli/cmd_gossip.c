/* peerctl members / gossip stats. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pd_mp.h"

static int cmd_members(pd_cli_t *cli)
{
    int rc = pd_cli_parse_simple(cli, 1, 0, NULL, NULL);
    if (rc)
        return rc;
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_reply_t rep;
    rc = pd_cli_call0(cli, &conn, "members", &rep);
    if (rc == PD_CLI_OK && cli->json) {
        pd_cli_print_json(rep.data);
    } else if (rc == PD_CLI_OK && rep.data && rep.data->type == MSGPACK_OBJECT_ARRAY) {
        printf("%-27s %-20s %-22s %-8s %-8s %s\n", "NODE ID", "HOSTNAME", "ADDRESS", "STATUS", "ROLE", "AGE");
        for (uint32_t i = 0; i < rep.data->via.array.size; i++) {
            const msgpack_object *m = &rep.data->via.array.ptr[i];
            char id[64], host[256], addr[64], st[16], role[16], age[64];
            uint64_t age_s = 0;
            pd_mp_get_u64(m, "state_age_s", &age_s);
            pd_cli_human_duration(age_s, age, sizeof age);
            printf("%-27s %-20s %-22s %-8s %-8s %s\n", pd_cli_str(m, "node_id", id, sizeof id),
                   pd_cli_str(m, "hostname", host, sizeof host), pd_cli_str(m, "address", addr, sizeof addr),
                   pd_cli_str(m, "status", st, sizeof st), pd_cli_str(m, "role", role, sizeof role), age);
        }
    }
    pd_ctl_client_close(&conn);
    return rc;
}

static int cmd_gossip_stats(pd_cli_t *cli)
{
    int rc = pd_cli_parse_simple(cli, 1, 0, NULL, NULL);
    if (rc)
        return rc;
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_reply_t rep;
    rc = pd_cli_call0(cli, &conn, "gossip.stats", &rep);
    if (rc == PD_CLI_OK)
        pd_cli_print_map_counters(rep.data, cli->json);
    pd_ctl_client_close(&conn);
    return rc;
}

const pd_cli_cmd_t pd_cli_gossip_cmds[] = {
    {"members", cmd_members, "[--json]", "List cluster members as gossip sees them"},
    {"gossip stats", cmd_gossip_stats, "[--json]", "Gossip counters (frames, auth failures, probes)"},
    {NULL, NULL, NULL, NULL},
};
