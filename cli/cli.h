/* Shared pieces of peerctl's commands: parsed global options, connecting, calling, printing. */
#ifndef PD_CLI_H
#define PD_CLI_H

#include "ctl_client.h"

enum { PD_CLI_OK = 0, PD_CLI_FAIL = 1, PD_CLI_USAGE = 2 };

typedef struct {
    const char *socket_path;
    int json;
    int argc; /* arguments after the command words */
    char **argv;
    const struct pd_cli_cmd *cmd;
} pd_cli_t;

typedef int (*pd_cli_fn)(pd_cli_t *cli);

typedef struct pd_cli_cmd {
    const char *words; /* "info", "gossip key list" */
    pd_cli_fn fn;
    const char *args;  /* usage tail, e.g. "[--json]" */
    const char *summary;
} pd_cli_cmd_t;

/* Print "usage: peerctl <words> <args>" on stderr and return PD_CLI_USAGE. */
int pd_cli_usage_error(pd_cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Accept only --json (when allow_json) and no positional arguments beyond max_pos; fills pos[]. */
int pd_cli_parse_simple(pd_cli_t *cli, int allow_json, int max_pos, const char **pos, int *npos);
/* Connect to peerd; on failure prints one line naming the socket and returns PD_CLI_FAIL. */
int pd_cli_connect(pd_cli_t *cli, pd_ctl_client_t *conn);
/* Call op with no arguments; on a transport or daemon error prints it and returns PD_CLI_FAIL. */
int pd_cli_call0(pd_cli_t *cli, pd_ctl_client_t *conn, const char *op, pd_ctl_reply_t *rep);
/* Print a daemon error reply as "Error: ..." and return PD_CLI_FAIL. */
int pd_cli_print_error(const pd_ctl_reply_t *rep);
/* Print reply data as JSON on stdout. */
void pd_cli_print_json(const msgpack_object *data);
/* Format a duration like "3 hours" / "2 minutes" / "5 seconds" (Docker's human style). */
void pd_cli_human_duration(uint64_t seconds, char *out, size_t cap);
/* Get a string field or "" */
const char *pd_cli_str(const msgpack_object *map, const char *key, char *buf, size_t cap);

/* A read command: accept only --json, call op with no arguments, print the data as JSON with
 * --json or else through `table`. Returns the exit code. */
int pd_cli_read_cmd(pd_cli_t *cli, const char *op, void (*table)(const msgpack_object *data));
/* Send op with `nargs` key/value pairs packed by pack(pk, ctx) and wait for the reply. On a
 * transport or daemon error prints it and returns PD_CLI_FAIL; on success rep borrows from conn. */
int pd_cli_request(pd_cli_t *cli, pd_ctl_client_t *conn, const char *op, uint32_t nargs,
                   void (*pack)(msgpack_packer *pk, void *ctx), void *ctx, pd_ctl_reply_t *rep);
/* Print a flat map of counters as "name value" lines, or as JSON. */
void pd_cli_print_counters(const msgpack_object *data);

/* peerctl events (cmd_events.c) */
int pd_cli_cmd_events(pd_cli_t *cli);
extern const pd_cli_cmd_t pd_cli_system_cmds[];
extern const pd_cli_cmd_t pd_cli_gossip_cmds[];
extern const pd_cli_cmd_t pd_cli_service_cmds[];
extern const pd_cli_cmd_t pd_cli_dns_cmds[];
extern const pd_cli_cmd_t pd_cli_config_cmds[];
extern const pd_cli_cmd_t pd_cli_swarm_lock_cmds[];
/* Turn autolock on and print the unlock key with its notice (swarm update --autolock; init --autolock). */
int pd_cli_swarm_autolock_on(pd_cli_t *cli);
extern const pd_cli_cmd_t pd_cli_node_cmds[];
extern const pd_cli_cmd_t pd_cli_swarm_cmds[];
extern const pd_cli_cmd_t pd_cli_swarm_gkey_cmds[];
extern const pd_cli_cmd_t pd_cli_swarm_ca_cmds[];

#endif
