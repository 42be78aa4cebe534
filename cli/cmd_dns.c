/* peerctl dns stats. */
#include "cli.h"

static int cmd_dns_stats(pd_cli_t *cli) { return pd_cli_read_cmd(cli, "dns.stats", pd_cli_print_counters); }

const pd_cli_cmd_t pd_cli_dns_cmds[] = {
    {"dns stats", cmd_dns_stats, "[--json]", "DNS counters (queries, answered, forwarded, cache hits)"},
    {NULL, NULL, NULL, NULL},
};
