/* peerctl: the command-line client. Global options, then command words, then the command's own
 * arguments. Exit codes: 0 ok, 1 the operation failed, 2 usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const pd_cli_cmd_t *const groups[] = {pd_cli_system_cmds, pd_cli_gossip_cmds, pd_cli_service_cmds,
                                              pd_cli_dns_cmds, pd_cli_config_cmds, pd_cli_swarm_cmds,
                                              pd_cli_swarm_lock_cmds, pd_cli_swarm_ca_cmds, pd_cli_node_cmds,
                                              pd_cli_swarm_gkey_cmds};

static void usage(FILE *out)
{
    fprintf(out, "usage: peerctl [--socket PATH] COMMAND [ARGS...]\n\n"
                 "Global options:\n"
                 "  --socket PATH   peerd control socket (default $PEERD_SOCK or /run/peerd/peerd.sock)\n"
                 "  -h, --help      show this help\n\nCommands:\n");
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        for (const pd_cli_cmd_t *c = groups[g]; c->words; c++)
            fprintf(out, "  %-22s %s\n", c->words, c->summary);
    }
}

/* Match the longest command whose words prefix argv. Returns the number of words matched. */
static int match_words(const char *words, char **argv, int argc)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", words);
    int n = 0;
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save), n++) {
        if (n >= argc || strcmp(argv[n], w) != 0)
            return 0;
    }
    return n;
}

static const pd_cli_cmd_t *find_cmd(char **argv, int argc, int *nwords)
{
    const pd_cli_cmd_t *best = NULL;
    *nwords = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        for (const pd_cli_cmd_t *c = groups[g]; c->words; c++) {
            int n = match_words(c->words, argv, argc);
            if (n > *nwords) {
                *nwords = n;
                best = c;
            }
        }
    }
    return best;
}

int main(int argc, char **argv)
{
    pd_cli_t cli = {0};
    const char *env = getenv("PEERD_SOCK");
    cli.socket_path = env && *env ? env : "/run/peerd/peerd.sock";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return PD_CLI_OK;
        } else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            cli.socket_path = argv[++i];
        } else if (strncmp(argv[i], "--socket=", 9) == 0) {
            cli.socket_path = argv[i] + 9;
        } else {
            fprintf(stderr, "peerctl: unknown flag '%s'\n", argv[i]);
            usage(stderr);
            return PD_CLI_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return PD_CLI_USAGE;
    }
    int nwords;
    const pd_cli_cmd_t *cmd = find_cmd(argv + i, argc - i, &nwords);
    if (!cmd) {
        fprintf(stderr, "peerctl: unknown command '%s'\n", argv[i]);
        usage(stderr);
        return PD_CLI_USAGE;
    }
    cli.cmd = cmd;
    cli.argc = argc - i - nwords;
    cli.argv = argv + i + nwords;
    for (int k = 0; k < cli.argc; k++) {
        if (strcmp(cli.argv[k], "-h") == 0 || strcmp(cli.argv[k], "--help") == 0) {
            printf("usage: peerctl %s %s\n\n%s\n", cmd->words, cmd->args, cmd->summary);
            return PD_CLI_OK;
        }
    }
    return cmd->fn(&cli);
}
