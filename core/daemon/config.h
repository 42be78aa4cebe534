/* peerd configuration: defaults, then the --config file, then command-line flags (flags win). */
#ifndef PD_CONFIG_H
#define PD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "pd_log.h"

#define PD_PATH_MAX 4096
#define PD_ADDR_MAX 64
#define PD_JOIN_MAX 16
#define PD_DNS_UPSTREAM_MAX 8
#define PD_VIP_RANGE_DEFAULT "10.96.0.0/16" /* clear of the e2e's 10.99.0.0/24 */

typedef struct {
    char data_dir[PD_PATH_MAX];
    char socket_path[108]; /* sun_path size */
    char config_file[PD_PATH_MAX];
    char advertise_addr[PD_ADDR_MAX]; /* "" = pick at start */
    char listen_addr[PD_ADDR_MAX];    /* control/raft listener, default 0.0.0.0:2377 */
    pd_log_level_t log_level;
    /* gossip */
    uint16_t gossip_port;                 /* 7946 */
    char join[PD_JOIN_MAX][PD_ADDR_MAX];  /* seed addresses, in order */
    unsigned n_join;                      /* --join: gossip-only membership (no certificate) */
    unsigned join_retries;                /* attempts before giving up */
    char gossip_key_file[PD_PATH_MAX];
    int gossip_plaintext;                 /* debugging only */
    /* DNS */
    char dns_addr[PD_ADDR_MAX];           /* 127.0.0.11:53 */
    char dns_upstream[PD_DNS_UPSTREAM_MAX][PD_ADDR_MAX]; /* none: /etc/resolv.conf */
    unsigned n_dns_upstream;
    unsigned dns_ttl_s;                   /* 5 */
    unsigned dns_timeout_ms;              /* 2000: forwarded queries, total */
    int no_dns;
    /* init/join at start */
    char join_token[128];                 /* --join-token: a token join when there is no state */
    char join_manager[PD_ADDR_MAX];       /* --join-manager: the manager it joins through */
    /* managers (Raft) */
    unsigned bootstrap_expect;            /* not a flag: set from the init/join state; 1 on the node
                                           * that ran init (a one-voter cluster when it has no Raft
                                           * state), 0 on a manager that joined (the leader adds it) */
    unsigned snapshot_every;              /* applied entries between snapshots (10000) */
    unsigned snapshot_mb;                 /* ... or applied entry MiB between snapshots (64) */
    char vip_range[32];                   /* service VIP range (CIDR), PD_VIP_RANGE_DEFAULT */
    unsigned vip_grace_s;                 /* a service keeps its VIP this long without endpoints */
    int worker;                           /* not a flag: no Raft (a worker certificate, gossip-only) */
    int init;                             /* --init: swarm init at start when there is no state */
} pd_config_t;

typedef enum { PD_CONFIG_RUN, PD_CONFIG_HELP, PD_CONFIG_VERSION } pd_config_action_t;

void pd_config_defaults(pd_config_t *cfg);
/* Parse argv (and the file named by --config). On error returns -PD_EUSAGE with a one-line message
 * in err. *action says whether to run or just print help/version. */
int pd_config_parse(pd_config_t *cfg, int argc, char **argv, pd_config_action_t *action, char *err,
                    size_t errlen);
/* Parse "key = value" lines; keys are the long flag names. Exposed for tests. */
int pd_config_load_file(pd_config_t *cfg, const char *path, char *err, size_t errlen);
/* Validate "IP" or "IP:PORT" / "[IPv6]:PORT"; port optional (0 when absent). */
int pd_config_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);
const char *pd_config_usage(void);
/* How a node without cluster state (no node certificate) starts: a token join (--join-token and
 * --join-manager), a new cluster (--init), gossip-only membership (--join: no certificate, so no
 * Raft and nothing on any manager's 2377), or waiting for 'peerctl swarm init' / 'swarm join'.
 * pd_config_parse has refused the combinations that exclude each other. */
typedef enum { PD_START_WAIT, PD_START_INIT, PD_START_JOIN, PD_START_GOSSIP_ONLY } pd_start_mode_t;
pd_start_mode_t pd_config_start_mode(const pd_config_t *cfg);

#endif
