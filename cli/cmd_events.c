/* peerctl events [--json] [--count N]: the cluster store's changes as they commit, one line each
 * (Docker's `docker events` shape), until interrupted or N events were printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "json_out.h"
#include "pd_err.h"
#include "pd_mp.h"

static void print_event(const msgpack_object *ev)
{
    char type[32], action[16], id[128], name[256];
    uint64_t ms = 0, index = 0;
    pd_mp_get_u64(ev, "time_ms", &ms);
    pd_mp_get_u64(ev, "index", &index);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    printf("%s.%03uZ %s %s %s (name=%s, index=%llu)\n", when, (unsigned)(ms % 1000),
           pd_cli_str(ev, "type", type, sizeof type), pd_cli_str(ev, "action", action, sizeof action),
           pd_cli_str(ev, "id", id, sizeof id), pd_cli_str(ev, "name", name, sizeof name),
           (unsigned long long)index);
}

int pd_cli_cmd_events(pd_cli_t *cli)
{
    unsigned long count = 0;
    for (int i = 0; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        if (strcmp(a, "--json") == 0) {
            cli->json = 1;
        } else if (strcmp(a, "--count") == 0 && i + 1 < cli->argc) {
            char *end;
            count = strtoul(cli->argv[++i], &end, 10);
            if (*end || count == 0)
                return pd_cli_usage_error(cli, "--count wants a positive number, not '%s'", cli->argv[i]);
        } else {
            return pd_cli_usage_error(cli, "unexpected argument '%s'", a);
        }
    }
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_msg_t m;
    pd_ctl_msg_init(&m);
    uint64_t id = conn.next_id++;
    pd_ctl_msg_request(&m, id, "events", 0);
    int rc = pd_ctl_client_send(&conn, &m);
    pd_ctl_msg_destroy(&m);
    unsigned long seen = 0;
    while (rc == 0 && (!count || seen < count)) {
        pd_ctl_reply_t rep;
        rc = pd_ctl_client_recv(&conn, &rep, -1);
        if (rc)
            break;
        if (rep.id != id)
            continue;
        if (!rep.ok) {
            pd_ctl_client_close(&conn);
            return pd_cli_print_error(&rep);
        }
        if (cli->json) {
            pd_json_print(stdout, rep.data, 0);
            putchar('\n');
        } else {
            print_event(rep.data);
        }
        fflush(stdout);
        seen++;
    }
    pd_ctl_client_close(&conn);
    if (rc) {
        fprintf(stderr, "peerctl: event stream from peerd at %s ended: %s\n", cli->socket_path, pd_strerror(rc));
        return PD_CLI_FAIL;
    }
    return PD_CLI_OK;
}
