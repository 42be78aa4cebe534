/* peerctl members / gossip stats. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pd_mp.h"

static void print_members(const msgpack_object *data)
{
    if (data->type != MSGPACK_OBJECT_ARRAY)
        return;
    printf("%-27s %-20s %-22s %-8s %-8s %s\n", "NODE ID", "HOSTNAME", "ADDRESS", "STATUS", "ROLE", "AGE");
    for (uint32_t i = 0; i < data->via.array.size; i++) {
        const msgpack_object *m = &data->via.array.ptr[i];
        char id[64], host[256], addr[64], st[16], role[16], age[64];
        uint64_t age_s = 0;
        pd_mp_get_u64(m, "state_age_s", &age_s);
        pd_cli_human_duration(age_s, age, sizeof age);
        printf("%-27s %-20s %-22s %-8s %-8s %s\n", pd_cli_str(m, "node_id", id, sizeof id),
               pd_cli_str(m, "hostname", host, sizeof host), pd_cli_str(m, "address", addr, sizeof addr),
               pd_cli_str(m, "status", st, sizeof st), pd_cli_str(m, "role", role, sizeof role), age);
    }
}

static int cmd_members(pd_cli_t *cli) { return pd_cli_read_cmd(cli, "members", print_members); }
static int cmd_gossip_stats(pd_cli_t *cli) { return pd_cli_read_cmd(cli, "gossip.stats", pd_cli_print_counters); }

static void print_keys(const msgpack_object *data)
{
    if (data->type != MSGPACK_OBJECT_ARRAY)
        return;
    printf("%-10s %-12s %-12s\n", "KEY ID", "PRIMARY ON", "INSTALLED ON");
    for (uint32_t i = 0; i < data->via.array.size; i++) {
        const msgpack_object *m = &data->via.array.ptr[i];
        char id[16], p[32], in[32];
        uint64_t prim = 0, inst = 0, nodes = 0;
        pd_mp_get_u64(m, "primary_on", &prim);
        pd_mp_get_u64(m, "installed_on", &inst);
        pd_mp_get_u64(m, "members_alive", &nodes);
        snprintf(p, sizeof p, "%llu/%llu", (unsigned long long)prim, (unsigned long long)nodes);
        snprintf(in, sizeof in, "%llu/%llu", (unsigned long long)inst, (unsigned long long)nodes);
        printf("%-10s %-12s %-12s\n", pd_cli_str(m, "key_id", id, sizeof id), p, in);
    }
}

static int cmd_key_list(pd_cli_t *cli) { return pd_cli_read_cmd(cli, "gossip.key.list", print_keys); }

static void pack_key(msgpack_packer *pk, void *ctx) { pd_mp_pack_kv_str(pk, "key", ctx); }

/* install / use / remove: one positional key. */
static int key_op(pd_cli_t *cli, const char *op, const char *verb)
{
    const char *pos[1];
    int npos = 0;
    int rc = pd_cli_parse_simple(cli, 0, 1, pos, &npos);
    if (rc)
        return rc;
    if (npos != 1)
        return pd_cli_usage_error(cli, "a base64 key is required");
    pd_ctl_client_t conn;
    if (pd_cli_connect(cli, &conn) != PD_CLI_OK)
        return PD_CLI_FAIL;
    pd_ctl_reply_t rep;
    rc = pd_cli_request(cli, &conn, op, 1, pack_key, (void *)pos[0], &rep);
    if (rc == PD_CLI_OK) {
        char id[16];
        printf("Key %s %s; the change spreads to every member by gossip (see 'peerctl gossip key list')\n",
               pd_cli_str(rep.data, "key_id", id, sizeof id), verb);
    }
    pd_ctl_client_close(&conn);
    return rc;
}

static int cmd_key_install(pd_cli_t *cli) { return key_op(cli, "gossip.key.install", "installed"); }
static int cmd_key_use(pd_cli_t *cli) { return key_op(cli, "gossip.key.use", "is now primary"); }
static int cmd_key_remove(pd_cli_t *cli) { return key_op(cli, "gossip.key.remove", "removed"); }

static int cmd_key_generate(pd_cli_t *cli)
{
    int rc = pd_cli_parse_simple(cli, 0, 0, NULL, NULL);
    if (rc)
        return rc;
    if (sodium_init() < 0)
        return PD_CLI_FAIL;
    uint8_t key[32];
    char text[64];
    randombytes_buf(key, sizeof key);
    sodium_bin2base64(text, sizeof text, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof key);
    printf("%s\n", text);
    return PD_CLI_OK;
}

const pd_cli_cmd_t pd_cli_gossip_cmds[] = {
    {"gossip key list", cmd_key_list, "[--json]", "Gossip keys and how many members hold / use each"},
    {"gossip key install", cmd_key_install, "KEY", "Add a gossip key on every member (step 1; not in a swarm: see swarm gossip-key)"},
    {"gossip key use", cmd_key_use, "KEY", "Make an installed key the primary everywhere (step 2; not in a swarm)"},
    {"gossip key remove", cmd_key_remove, "KEY", "Remove an old key everywhere (step 3; not in a swarm)"},
    {"gossip key generate", cmd_key_generate, "", "Print a new random key (no daemon needed)"},
    {"members", cmd_members, "[--json]", "List cluster members as gossip sees them"},
    {"gossip stats", cmd_gossip_stats, "[--json]", "Gossip counters (frames, auth failures, probes)"},
    {NULL, NULL, NULL, NULL},
};
