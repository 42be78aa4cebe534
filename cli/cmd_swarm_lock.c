/* peerctl swarm update --autolock, swarm unlock-key [--rotate] [-q], swarm unlock (the key from a
 * prompt without echo, or a line on stdin). */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "pd_mp.h"

#define UNLOCK_KEY_LINE_MAX 256

static void pack_autolock(msgpack_packer *pk, void *ctx) { pd_mp_pack_kv_bool(pk, "autolock", *(int *)ctx); }
static void pack_rotate(msgpack_packer *pk, void *ctx) { pd_mp_pack_kv_bool(pk, "rotate", *(int *)ctx); }
static void pack_key(msgpack_packer *pk, void *ctx) { pd_mp_pack_kv_str(pk, "key", ctx); }

static void print_key_notice(const char *key)
{
    printf("To unlock a swarm manager after it restarts, run the `peerctl swarm unlock`\n"
           "command and provide the following key:\n\n    %s\n\n"
           "Please remember to store this key in a password manager, since without it you\n"
           "will not be able to restart the manager.\n", key);
}

/* One request; rep borrows from conn, which the caller closes. */
static int call(pd_cli_t *cli, pd_ctl_client_t *conn, const char *op, void (*pack)(msgpack_packer *, void *),
                void *ctx, pd_ctl_reply_t *rep)
{
    if (pd_cli_connect(cli, conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    int rc = pd_cli_request(cli, conn, op, 1, pack, ctx, rep);
    if (rc != PD_CLI_OK)
        pd_ctl_client_close(conn);
    return rc;
}

/* Call op and print the reply's unlock key: alone when quiet, else after banner with the notice. */
static int key_cmd(pd_cli_t *cli, const char *op, void (*pack)(msgpack_packer *, void *), void *ctx, int quiet,
                   const char *banner)
{
    pd_ctl_client_t conn;
    pd_ctl_reply_t rep;
    if (call(cli, &conn, op, pack, ctx, &rep) != PD_CLI_OK)
        return PD_CLI_FAIL;
    char key[128];
    pd_cli_str(rep.data, "unlock_key", key, sizeof key);
    if (quiet) {
        printf("%s\n", key);
    } else {
        fputs(banner, stdout);
        if (key[0])
            print_key_notice(key);
    }
    pd_ctl_client_close(&conn);
    return PD_CLI_OK;
}

int pd_cli_swarm_autolock_on(pd_cli_t *cli)
{
    int on = 1;
    return key_cmd(cli, "swarm.update", pack_autolock, &on, 0, "");
}

static int cmd_update(pd_cli_t *cli)
{
    int on = -1;
    for (int i = 0; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        if (strcmp(a, "--autolock") == 0 || strcmp(a, "--autolock=true") == 0)
            on = 1;
        else if (strcmp(a, "--autolock=false") == 0)
            on = 0;
        else
            return pd_cli_usage_error(cli, "unknown argument '%s'", a);
    }
    if (on < 0)
        return pd_cli_usage_error(cli, "nothing to update: give --autolock=true or --autolock=false");
    return key_cmd(cli, "swarm.update", pack_autolock, &on, 0, "Swarm updated.\n");
}

static int cmd_unlock_key(pd_cli_t *cli)
{
    int rotate = 0, quiet = 0;
    for (int i = 0; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        if (strcmp(a, "--rotate") == 0)
            rotate = 1;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
            quiet = 1;
        else
            return pd_cli_usage_error(cli, "unknown argument '%s'", a);
    }
    return key_cmd(cli, "swarm.unlock_key", pack_rotate, &rotate, quiet,
                   rotate ? "Successfully rotated manager unlock key.\n\n" : "");
}

/* One line from stdin; on a terminal, prompt and turn echo off while it is typed. */
static int read_key(char *buf, size_t cap)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "Enter unlock key: ");
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int ok = fgets(buf, (int)cap, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    buf[ok ? strcspn(buf, "\r\n") : 0] = '\0';
    return ok && buf[0];
}

static int cmd_unlock(pd_cli_t *cli)
{
    int rc = pd_cli_parse_simple(cli, 0, 0, NULL, NULL);
    if (rc)
        return rc;
    char key[UNLOCK_KEY_LINE_MAX];
    if (!read_key(key, sizeof key)) {
        fprintf(stderr, "Error: no unlock key given\n");
        return PD_CLI_FAIL;
    }
    pd_ctl_client_t conn;
    pd_ctl_reply_t rep;
    rc = call(cli, &conn, "swarm.unlock", pack_key, key, &rep);
    memset(key, 0, sizeof key);
    if (rc == PD_CLI_OK)
        pd_ctl_client_close(&conn);
    return rc;
}

const pd_cli_cmd_t pd_cli_swarm_lock_cmds[] = {
    {"swarm update", cmd_update, "--autolock=true|false",
     "Turn autolock on (prints the unlock key) or off for every manager"},
    {"swarm unlock-key", cmd_unlock_key, "[--rotate] [-q]", "Show (or rotate) the managers' unlock key"},
    {"swarm unlock", cmd_unlock, "", "Unlock this restarted autolocked manager (key from the prompt or stdin)"},
    {NULL, NULL, NULL, NULL},
};
