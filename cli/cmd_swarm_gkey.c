/* peerctl swarm gossip-key [--rotate [--detach]] [--json]: the gossip keyring committed through Raft
 * (key ids and the rotation's phase, never a key), and rotating it. Like `docker swarm ca --rotate`,
 * a rotation is followed until every member uses the new key unless --detach. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "pd_mp.h"

#define FOLLOW_POLL_MS 500
#define FOLLOW_MAX_S 300

static void pack_rotate(msgpack_packer *pk, void *ctx) { pd_mp_pack_kv_bool(pk, "rotate", *(int *)ctx); }

static uint64_t u64(const msgpack_object *m, const char *k)
{
    uint64_t v = 0;
    pd_mp_get_u64(m, k, &v);
    return v;
}

static void print_list(const msgpack_object *m, const char *k)
{
    const msgpack_object *a = pd_mp_get(m, k);
    for (uint32_t i = 0; a && a->type == MSGPACK_OBJECT_ARRAY && i < a->via.array.size; i++) {
        const msgpack_object *o = &a->via.array.ptr[i];
        if (o->type == MSGPACK_OBJECT_STR)
            printf("%s%.*s", i ? ", " : "", (int)o->via.str.size, o->via.str.ptr);
    }
    printf("\n");
}

static void print_status(const msgpack_object *m)
{
    char phase[16], primary[16], old[16], nw[16];
    pd_cli_str(m, "phase", phase, sizeof phase);
    pd_cli_str(m, "primary", primary, sizeof primary);
    pd_cli_str(m, "old", old, sizeof old);
    pd_cli_str(m, "new", nw, sizeof nw);
    printf("Gossip keyring (committed through Raft, generation %llu):\n", (unsigned long long)u64(m, "gen"));
    printf("  Primary key:    %s\n", primary);
    printf("  Keys:           ");
    print_list(m, "keys");
    if (strcmp(phase, "idle") == 0) {
        printf("  Rotation:       none in progress (%llu done)\n", (unsigned long long)u64(m, "rotations"));
        return;
    }
    printf("  Rotation:       %s -> %s, phase %s (install -> use -> remove) for %llu s\n", old, nw, phase,
           (unsigned long long)u64(m, "phase_age_s"));
    printf("  Acked:          %llu of %llu live members\n", (unsigned long long)u64(m, "acked"),
           (unsigned long long)u64(m, "members"));
    if (u64(m, "acked") < u64(m, "members")) {
        printf("  Waiting for:    ");
        print_list(m, "waiting");
    }
    int stalled = 0;
    pd_mp_get_bool(m, "stalled", &stalled);
    if (stalled)
        printf("  STALLED: some live member has not acked this phase for a long time. It keeps waiting (moving\n"
               "  on would cut that member off); check its peerd log, or remove it with 'peerctl node rm'.\n");
}

/* One call of swarm.gossip_key; print gets the reply data. */
static int call(pd_cli_t *cli, int rotate, void (*print)(pd_cli_t *, const msgpack_object *, void *), void *ctx)
{
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_reply_t rep;
    int rc = pd_cli_request(cli, &conn, "swarm.gossip_key", 1, pack_rotate, &rotate, &rep);
    if (rc == PD_CLI_OK)
        print(cli, rep.data, ctx);
    pd_ctl_client_close(&conn);
    return rc;
}

static void show(pd_cli_t *cli, const msgpack_object *m, void *ctx)
{
    if (cli->json)
        pd_cli_print_json(m);
    else
        print_status(m);
}

typedef struct {
    char new_id[16];
    char last_phase[16];
    int done, stalled;
} follow_t;

static void started(pd_cli_t *cli, const msgpack_object *m, void *ctx)
{
    follow_t *f = ctx;
    pd_cli_str(m, "next", f->new_id, sizeof f->new_id);
    if (!cli->json)
        printf("Gossip key rotation started: new key %s\n", f->new_id);
}

static void progress(pd_cli_t *cli, const msgpack_object *m, void *ctx)
{
    follow_t *f = ctx;
    char phase[16], primary[16];
    pd_cli_str(m, "phase", phase, sizeof phase);
    pd_cli_str(m, "primary", primary, sizeof primary);
    f->done = strcmp(phase, "idle") == 0 && strcmp(primary, f->new_id) == 0;
    pd_mp_get_bool(m, "stalled", &f->stalled);
    if (!f->done && strcmp(phase, f->last_phase) != 0 && !cli->json)
        printf("  phase %s\n", phase);
    snprintf(f->last_phase, sizeof f->last_phase, "%s", phase);
    if (f->done || f->stalled)
        show(cli, m, NULL);
}

static int cmd_gossip_key(pd_cli_t *cli)
{
    int rotate = 0, detach = 0;
    for (int i = 0; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        if (strcmp(a, "--rotate") == 0)
            rotate = 1;
        else if (strcmp(a, "--detach") == 0 || strcmp(a, "-d") == 0)
            detach = 1;
        else if (strcmp(a, "--json") == 0)
            cli->json = 1;
        else
            return pd_cli_usage_error(cli, "unknown argument '%s'", a);
    }
    if (!rotate)
        return detach ? pd_cli_usage_error(cli, "--detach goes with --rotate") : call(cli, 0, show, NULL);
    follow_t f = {0};
    if (call(cli, 1, started, &f) != PD_CLI_OK)
        return PD_CLI_FAIL;
    if (detach)
        return PD_CLI_OK;
    struct timespec nap = {0, FOLLOW_POLL_MS * 1000000L};
    for (int i = 0; i < FOLLOW_MAX_S * 1000 / FOLLOW_POLL_MS; i++) {
        nanosleep(&nap, NULL);
        if (call(cli, 0, progress, &f) != PD_CLI_OK)
            return PD_CLI_FAIL;
        if (f.done) {
            if (!cli->json)
                printf("Gossip key rotated: every member uses key %s; the old key is gone.\n", f.new_id);
            return PD_CLI_OK;
        }
        if (f.stalled) {
            fprintf(stderr, "Error: the rotation is stalled; it continues in the background (see 'peerctl swarm "
                            "gossip-key')\n");
            return PD_CLI_FAIL;
        }
    }
    fprintf(stderr, "Error: the rotation did not finish within %d s; it continues in the background\n", FOLLOW_MAX_S);
    return PD_CLI_FAIL;
}

const pd_cli_cmd_t pd_cli_swarm_gkey_cmds[] = {
    {"swarm gossip-key", cmd_gossip_key, "[--rotate [--detach]] [--json]",
     "Show the gossip keyring (key ids, rotation phase), or rotate it through Raft"},
    {NULL, NULL, NULL, NULL},
};
