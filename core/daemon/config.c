#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "store.h"

enum opt_kind {
    OPT_PATH, OPT_SOCKET, OPT_ADDR, OPT_LEVEL, OPT_CONFIG, OPT_JOIN, OPT_PORT, OPT_KEYFILE, OPT_RETRIES,
    OPT_DNS_ADDR, OPT_DNS_UPSTREAM, OPT_DNS_TTL, OPT_DNS_TIMEOUT, OPT_JOIN_TOKEN, OPT_JOIN_MANAGER,
    OPT_SNAPSHOT_EVERY, OPT_SNAPSHOT_MB, OPT_VIP_RANGE, OPT_VIP_GRACE,
    OPT_BOOL_PLAINTEXT, /* value-less flags from here on */
    OPT_BOOL_NO_DNS, OPT_BOOL_INIT,
    OPT_FLAG_HELP, OPT_FLAG_VERSION
};

typedef struct {
    const char *name; /* long flag without dashes; also the config-file key */
    enum opt_kind kind;
    const char *help;
} opt_t;

static const opt_t opts[] = {
    {"data-dir", OPT_PATH, "state directory (default /var/lib/peerd)"},
    {"socket", OPT_SOCKET, "control socket (default /run/peerd/peerd.sock, or $PEERD_SOCK)"},
    {"advertise-addr", OPT_ADDR, "address other nodes use to reach this one (IP[:PORT])"},
    {"listen-addr", OPT_ADDR, "control/Raft listen address (default 0.0.0.0:2377)"},
    {"log-level", OPT_LEVEL, "debug|info|warn|error (default info)"},
    {"config", OPT_CONFIG, "read settings from FILE (key = value lines); flags override it"},
    {"join", OPT_JOIN, "gossip-only membership through this member (IP[:PORT]); repeatable"},
    {"join-retries", OPT_RETRIES, "join attempts before giving up (default 10)"},
    {"gossip-port", OPT_PORT, "gossip UDP+TCP port (default 7946)"},
    {"gossip-key-file", OPT_KEYFILE, "the cluster's gossip keyring (base64 keys, primary first)"},
    {"gossip-plaintext", OPT_BOOL_PLAINTEXT, "DEBUGGING ONLY: gossip without encryption"},
    {"dns-addr", OPT_DNS_ADDR, "serve DNS on IP[:PORT] (default 127.0.0.11:53)"},
    {"dns-upstream", OPT_DNS_UPSTREAM, "forward other names to IP[:PORT]; repeatable"},
    {"dns-ttl", OPT_DNS_TTL, "TTL of our DNS answers in seconds (default 5)"},
    {"dns-timeout-ms", OPT_DNS_TIMEOUT, "forwarded DNS queries: total timeout (default 2000)"},
    {"no-dns", OPT_BOOL_NO_DNS, "do not start the DNS server"},
    {"join-token", OPT_JOIN_TOKEN, "with no cluster state: join with this token, as 'peerctl swarm join' would"},
    {"join-manager", OPT_JOIN_MANAGER, "the manager (IP[:PORT], port 2377 by default) --join-token joins through"},
    {"snapshot-every", OPT_SNAPSHOT_EVERY, "Raft snapshot every N applied entries (default 10000)"},
    {"snapshot-mb", OPT_SNAPSHOT_MB, "or once the entries applied since the last one reach N MiB (default 64)"},
    {"vip-range", OPT_VIP_RANGE, "service VIP range, IPv4 CIDR /8../30 (default " PD_VIP_RANGE_DEFAULT ")"},
    {"vip-grace", OPT_VIP_GRACE, "seconds a service keeps its VIP with no endpoint (default 600)"},
    {"init", OPT_BOOL_INIT, "with no cluster state: 'peerctl swarm init' at start (a one-manager cluster)"},
    {"help", OPT_FLAG_HELP, "print this help"},
    {"version", OPT_FLAG_VERSION, "print the version"},
};

const char *pd_config_usage(void)
{
    return "usage: peerd [options]\n"
           "  --data-dir DIR          state directory (default /var/lib/peerd)\n"
           "  --socket PATH           control socket (default /run/peerd/peerd.sock, or $PEERD_SOCK)\n"
           "  --advertise-addr IP[:PORT]  address other nodes use to reach this one\n"
           "  --listen-addr IP[:PORT] control/Raft listen address (default 0.0.0.0:2377)\n"
           "  --log-level LEVEL       debug|info|warn|error (default info)\n"
           "  --config FILE           settings as 'key = value' lines (keys are the flag names)\n"
           "  --join-token TOKEN      with no cluster state, join at start as 'peerctl swarm join --token\n"
           "                          TOKEN ADDR:2377' would (the token's role: worker or manager)\n"
           "  --join-manager IP[:PORT]  the manager --join-token joins through (port default 2377)\n"
           "  --join IP[:PORT]        gossip-only membership through this member (repeatable; retried with\n"
           "                          backoff): no certificate, no Raft, refused on every manager's 2377\n"
           "  --join-retries N        join attempts before giving up with an error (default 10)\n"
           "  --gossip-port PORT      gossip UDP+TCP port (default 7946)\n"
           "  --gossip-key-file FILE  the cluster's gossip keyring (made on first start otherwise)\n"
           "  --gossip-plaintext      DEBUGGING ONLY: gossip without encryption\n"
           "  --dns-addr IP[:PORT]    serve DNS here (default 127.0.0.11:53)\n"
           "  --dns-upstream IP[:PORT]  forward other names here (repeatable; default /etc/resolv.conf)\n"
           "  --dns-ttl SECONDS       TTL of our DNS answers (default 5, at most 300)\n"
           "  --dns-timeout-ms MS     total timeout of a forwarded query (default 2000)\n"
           "  --no-dns                do not start the DNS server\n"
           "  --snapshot-every N      Raft snapshot every N applied entries (default 10000)\n"
           "  --snapshot-mb N         ... or once the entries applied since the last one reach N MiB (64)\n"
           "  --vip-range CIDR        service VIP range, fixed by the first VIP the managers allocate\n"
           "                          (IPv4 /8../30, default " PD_VIP_RANGE_DEFAULT ")\n"
           "  --vip-grace SECONDS     a service keeps its VIP this long with no endpoint (default 600)\n"
           "  --init                  with no cluster state, make a new cluster at start, as 'peerctl swarm\n"
           "                          init' would (without it, --join-token or --join, peerd waits for\n"
           "                          'peerctl swarm init' or 'peerctl swarm join')\n"
           "  --help, --version\n"
           "The Raft port (2377) always runs mutual TLS: a manager exists only through init or a join with\n"
           "the manager token (--bootstrap-expect and --worker were removed).\n";
}

void pd_config_defaults(pd_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "/var/lib/peerd");
    const char *env = getenv("PEERD_SOCK");
    snprintf(cfg->socket_path, sizeof cfg->socket_path, "%s",
             env && *env ? env : "/run/peerd/peerd.sock");
    snprintf(cfg->listen_addr, sizeof cfg->listen_addr, "0.0.0.0:2377");
    cfg->log_level = PD_LOG_INFO;
    cfg->gossip_port = 7946;
    cfg->join_retries = 10;
    snprintf(cfg->dns_addr, sizeof cfg->dns_addr, "127.0.0.11:53");
    cfg->dns_ttl_s = 5;
    cfg->dns_timeout_ms = 2000;
    cfg->bootstrap_expect = 0; /* set from the init/join state (pd_swarm_open) */
    cfg->snapshot_every = 10000;
    cfg->snapshot_mb = 64;
    snprintf(cfg->vip_range, sizeof cfg->vip_range, "%s", PD_VIP_RANGE_DEFAULT);
    cfg->vip_grace_s = 600;
}

static int parse_uint(const char *val, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(val, &end, 10);
    if (errno || *end || end == val || val[0] == '-' || v < lo || v > hi)
        return -PD_EUSAGE;
    *out = v;
    return 0;
}

int pd_config_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    char buf[PD_ADDR_MAX];
    if (strlen(s) >= sizeof buf || !*s)
        return -PD_EUSAGE;
    snprintf(buf, sizeof buf, "%s", s);
    char *h = buf, *p = NULL;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close)
            return -PD_EUSAGE;
        *close = '\0';
        h = buf + 1;
        if (close[1] == ':')
            p = close + 2;
        else if (close[1] != '\0')
            return -PD_EUSAGE;
    } else {
        char *colon = strchr(buf, ':');
        if (colon && !strchr(colon + 1, ':')) { /* exactly one colon: IPv4:port */
            *colon = '\0';
            p = colon + 1;
        }
    }
    unsigned char tmp[16];
    if (inet_pton(AF_INET, h, tmp) != 1 && inet_pton(AF_INET6, h, tmp) != 1)
        return -PD_EUSAGE;
    long portv = 0;
    if (p) {
        char *end;
        errno = 0;
        portv = strtol(p, &end, 10);
        if (errno || *end || end == p || portv < 1 || portv > 65535)
            return -PD_EUSAGE;
    }
    if (strlen(h) >= hostlen)
        return -PD_EUSAGE;
    snprintf(host, hostlen, "%s", h);
    *port = (uint16_t)portv;
    return 0;
}

/* Flags that are gone, with what replaces them: refused with that text rather than "unknown". */
static const struct {
    const char *name, *why;
} removed_opts[] = {
    {"bootstrap-expect", "--bootstrap-expect was removed (it formed managers over a plaintext Raft transport): "
                         "start the first manager with --init (or 'peerctl swarm init'), the other managers with "
                         "--join-token MANAGER-TOKEN --join-manager ADDR:2377 (or 'peerctl swarm join --token "
                         "MANAGER-TOKEN ADDR:2377')"},
    {"worker", "--worker was removed: a node's role comes from its join token; start a worker with "
               "--join-token WORKER-TOKEN --join-manager ADDR:2377 (or 'peerctl swarm join --token "
               "WORKER-TOKEN ADDR:2377')"},
};

static const char *removed_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof removed_opts / sizeof removed_opts[0]; i++)
        if (strlen(removed_opts[i].name) == len && strncmp(removed_opts[i].name, name, len) == 0)
            return removed_opts[i].why;
    return NULL;
}

static const opt_t *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

static int copy_value(char *dst, size_t cap, const char *val, const char *what, char *err, size_t errlen)
{
    if (!*val || strlen(val) >= cap) {
        snprintf(err, errlen, "%s: value %s", what, *val ? "too long" : "is empty");
        return -PD_EUSAGE;
    }
    snprintf(dst, cap, "%s", val);
    return 0;
}

/* Apply one setting; `where` names the flag or file:line for messages. */
static int apply(pd_config_t *cfg, const opt_t *o, const char *val, const char *where, char *err, size_t errlen)
{
    char host[PD_ADDR_MAX];
    uint16_t port;
    switch (o->kind) {
    case OPT_PATH:
        return copy_value(cfg->data_dir, sizeof cfg->data_dir, val, where, err, errlen);
    case OPT_SOCKET:
        return copy_value(cfg->socket_path, sizeof cfg->socket_path, val, where, err, errlen);
    case OPT_CONFIG:
        return copy_value(cfg->config_file, sizeof cfg->config_file, val, where, err, errlen);
    case OPT_ADDR:
        if (pd_config_parse_hostport(val, host, sizeof host, &port) != 0) {
            snprintf(err, errlen, "%s: '%s' is not an IP address or IP:PORT", where, val);
            return -PD_EUSAGE;
        }
        return copy_value(strcmp(o->name, "listen-addr") == 0 ? cfg->listen_addr : cfg->advertise_addr,
                          PD_ADDR_MAX, val, where, err, errlen);
    case OPT_JOIN:
        if (pd_config_parse_hostport(val, host, sizeof host, &port) != 0) {
            snprintf(err, errlen, "%s: '%s' is not IP[:PORT]", where, val);
            return -PD_EUSAGE;
        }
        if (cfg->n_join == PD_JOIN_MAX) {
            snprintf(err, errlen, "%s: at most %d join addresses", where, PD_JOIN_MAX);
            return -PD_EUSAGE;
        }
        return copy_value(cfg->join[cfg->n_join++], PD_ADDR_MAX, val, where, err, errlen);
    case OPT_PORT:
    case OPT_RETRIES: {
        unsigned long v;
        if (parse_uint(val, 1, o->kind == OPT_PORT ? 65535 : 1000, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not a number in range", where, val);
            return -PD_EUSAGE;
        }
        if (o->kind == OPT_PORT)
            cfg->gossip_port = (uint16_t)v;
        else
            cfg->join_retries = (unsigned)v;
        return 0;
    }
    case OPT_KEYFILE:
        return copy_value(cfg->gossip_key_file, sizeof cfg->gossip_key_file, val, where, err, errlen);
    case OPT_BOOL_PLAINTEXT:
        cfg->gossip_plaintext = strcmp(val, "false") != 0 && strcmp(val, "0") != 0;
        return 0;
    case OPT_BOOL_NO_DNS:
        cfg->no_dns = strcmp(val, "false") != 0 && strcmp(val, "0") != 0;
        return 0;
    case OPT_BOOL_INIT:
        cfg->init = strcmp(val, "false") != 0 && strcmp(val, "0") != 0;
        return 0;
    case OPT_VIP_RANGE: {
        pd_store_vip_range_t r;
        char why[128];
        if (pd_store_vip_range_parse(val, &r, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s: %s", where, why);
            return -PD_EUSAGE;
        }
        return copy_value(cfg->vip_range, sizeof cfg->vip_range, val, where, err, errlen);
    }
    case OPT_VIP_GRACE: {
        unsigned long v;
        if (parse_uint(val, 0, 604800, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not a number of seconds in 0..604800", where, val);
            return -PD_EUSAGE;
        }
        cfg->vip_grace_s = (unsigned)v;
        return 0;
    }
    case OPT_DNS_ADDR:
    case OPT_DNS_UPSTREAM:
        if (pd_config_parse_hostport(val, host, sizeof host, &port) != 0) {
            snprintf(err, errlen, "%s: '%s' is not IP[:PORT]", where, val);
            return -PD_EUSAGE;
        }
        if (o->kind == OPT_DNS_ADDR)
            return copy_value(cfg->dns_addr, PD_ADDR_MAX, val, where, err, errlen);
        if (cfg->n_dns_upstream == PD_DNS_UPSTREAM_MAX) {
            snprintf(err, errlen, "%s: at most %d upstreams", where, PD_DNS_UPSTREAM_MAX);
            return -PD_EUSAGE;
        }
        return copy_value(cfg->dns_upstream[cfg->n_dns_upstream++], PD_ADDR_MAX, val, where, err, errlen);
    case OPT_DNS_TTL:
    case OPT_DNS_TIMEOUT: {
        unsigned long v;
        int ttl = o->kind == OPT_DNS_TTL;
        if (parse_uint(val, ttl ? 0 : 100, ttl ? 300 : 60000, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not a number in %s", where, val, ttl ? "0..300" : "100..60000");
            return -PD_EUSAGE;
        }
        *(ttl ? &cfg->dns_ttl_s : &cfg->dns_timeout_ms) = (unsigned)v;
        return 0;
    }
    case OPT_JOIN_TOKEN:
        return copy_value(cfg->join_token, sizeof cfg->join_token, val, where, err, errlen);
    case OPT_JOIN_MANAGER:
        if (pd_config_parse_hostport(val, host, sizeof host, &port) != 0) {
            snprintf(err, errlen, "%s: '%s' is not IP[:PORT]", where, val);
            return -PD_EUSAGE;
        }
        return copy_value(cfg->join_manager, sizeof cfg->join_manager, val, where, err, errlen);
    case OPT_SNAPSHOT_EVERY: {
        unsigned long v;
        if (parse_uint(val, 16, 100000000, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not a number in 16..100000000", where, val);
            return -PD_EUSAGE;
        }
        cfg->snapshot_every = (unsigned)v;
        return 0;
    }
    case OPT_SNAPSHOT_MB: {
        unsigned long v;
        if (parse_uint(val, 1, 4096, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not a number in 1..4096", where, val);
            return -PD_EUSAGE;
        }
        cfg->snapshot_mb = (unsigned)v;
        return 0;
    }
    case OPT_LEVEL:
        if (pd_log_level_parse(val, &cfg->log_level) != 0) {
            snprintf(err, errlen, "%s: '%s' is not one of debug|info|warn|error|off", where, val);
            return -PD_EUSAGE;
        }
        return 0;
    default:
        snprintf(err, errlen, "%s: not a setting", where);
        return -PD_EUSAGE;
    }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

int pd_config_load_file(pd_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        return -PD_EUSAGE;
    }
    char line[PD_PATH_MAX + 128];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char where[PD_PATH_MAX + 32];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s: expected 'key = value'", where);
            rc = -PD_EUSAGE;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        const opt_t *o = find_opt(key, strlen(key));
        const char *gone = o ? NULL : removed_opt(key, strlen(key));
        if (gone) {
            snprintf(err, errlen, "%s: %s", where, gone);
            rc = -PD_EUSAGE;
            break;
        }
        if (!o || o->kind >= OPT_FLAG_HELP || o->kind == OPT_CONFIG) {
            snprintf(err, errlen, "%s: unknown setting '%s'", where, key);
            rc = -PD_EUSAGE;
            break;
        }
        rc = apply(cfg, o, val, where, err, errlen);
    }
    fclose(f);
    return rc;
}

/* Walk argv once; `only_config` picks out --config first so the file can load beneath flags. */
static int parse_args(pd_config_t *cfg, int argc, char **argv, int only_config, pd_config_action_t *action,
                      char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s'", a);
            return -PD_EUSAGE;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_t *o = find_opt(name, name_len);
        const char *gone = o ? NULL : removed_opt(name, name_len);
        if (gone) {
            snprintf(err, errlen, "%s", gone);
            return -PD_EUSAGE;
        }
        if (!o) {
            snprintf(err, errlen, "unknown flag '%s'", a);
            return -PD_EUSAGE;
        }
        if (o->kind == OPT_FLAG_HELP || o->kind == OPT_FLAG_VERSION) {
            if (!only_config)
                *action = o->kind == OPT_FLAG_HELP ? PD_CONFIG_HELP : PD_CONFIG_VERSION;
            continue;
        }
        if (o->kind >= OPT_BOOL_PLAINTEXT && o->kind <= OPT_BOOL_INIT && !eq) {
            if (!only_config)
                *(o->kind == OPT_BOOL_NO_DNS ? &cfg->no_dns
                  : o->kind == OPT_BOOL_INIT   ? &cfg->init : &cfg->gossip_plaintext) = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            snprintf(err, errlen, "flag --%s needs a value", o->name);
            return -PD_EUSAGE;
        }
        if (only_config != (o->kind == OPT_CONFIG))
            continue;
        char where[80];
        snprintf(where, sizeof where, "--%s", o->name);
        int rc = apply(cfg, o, val, where, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* The ways to start (init, a token join, gossip-only) exclude each other. */
static int check_start_flags(const pd_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg->join_token[0] != !cfg->join_manager[0]) {
        snprintf(err, errlen, "--join-token and --join-manager go together: the token and the manager "
                              "(IP[:PORT], port 2377 by default) to join through");
        return -PD_EUSAGE;
    }
    if (cfg->join_token[0] && cfg->init) {
        snprintf(err, errlen, "--init makes a new cluster and --join-token joins one: give only one of them");
        return -PD_EUSAGE;
    }
    if (cfg->n_join > 0 && (cfg->join_token[0] || cfg->init)) {
        snprintf(err, errlen, "--join is gossip-only membership (no certificate); it does not go with %s "
                              "(a joined node gets its gossip seeds from the manager)",
                 cfg->init ? "--init" : "--join-token");
        return -PD_EUSAGE;
    }
    return 0;
}

int pd_config_parse(pd_config_t *cfg, int argc, char **argv, pd_config_action_t *action, char *err,
                    size_t errlen)
{
    *action = PD_CONFIG_RUN;
    int rc = parse_args(cfg, argc, argv, 1, action, err, errlen);
    if (rc == 0 && cfg->config_file[0])
        rc = pd_config_load_file(cfg, cfg->config_file, err, errlen);
    if (rc == 0)
        rc = parse_args(cfg, argc, argv, 0, action, err, errlen);
    if (rc == 0 && *action == PD_CONFIG_RUN)
        rc = check_start_flags(cfg, err, errlen);
    return rc;
}

pd_start_mode_t pd_config_start_mode(const pd_config_t *cfg)
{
    return cfg->join_token[0] ? PD_START_JOIN
           : cfg->init        ? PD_START_INIT
           : cfg->n_join > 0  ? PD_START_GOSSIP_ONLY
                              : PD_START_WAIT;
}
