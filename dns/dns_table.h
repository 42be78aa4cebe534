/* The local name table DNS answers from, fed by the daemon from the gossiped endpoint table:
 * services (VIPs, named ports), their tasks (address, health, port), nodes (hostname -> address),
 * and a reverse map (address -> names) for PTR. Hash tables keyed by the lowercase wire form of the
 * name, hashed once at insert; lookups allocate nothing. Bounded by pd_dns_table_limits_t.
 *
 * Names given to the update calls are dotted text ("web", "host1.lan"); services, task ids and
 * port names are single labels of [A-Za-z0-9_-], hostnames one or more such labels. Matching is
 * case-insensitive (keys are stored lowercase). */
#ifndef PD_DNS_TABLE_H
#define PD_DNS_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"

enum pd_dns_table_caps {
    PD_DNS_SERVICES_DEFAULT = 4096,
    PD_DNS_TASKS_PER_SERVICE_DEFAULT = 1024,
    PD_DNS_NODES_DEFAULT = 4096,
    PD_DNS_TASKS_PER_SERVICE_HARD = 4096, /* the answerer's per-query index array is this long */
    PD_DNS_PORTS_MAX = 16,                /* named ports per service */
    PD_DNS_PORT_NAME_MAX = 62,            /* "_" + name must fit a label */
    PD_DNS_HOST_KEY_MAX = 128,            /* wire bytes of a hostname key (root excluded) */
    PD_DNS_PTR_NAMES_MAX = 8,             /* names one address may map back to */
};

typedef enum { PD_DNS_PROTO_TCP = 6, PD_DNS_PROTO_UDP = 17 } pd_dns_proto_t;

/* Either address may be absent. */
typedef struct {
    uint8_t has_v4, has_v6;
    uint8_t v4[4];
    uint8_t v6[16];
} pd_dns_addrs_t;

typedef struct {
    char name[PD_DNS_PORT_NAME_MAX + 1]; /* without the leading '_', e.g. "http" */
    uint8_t proto;                       /* pd_dns_proto_t */
    uint16_t port;
} pd_dns_port_t;

/* Field order matters: what every A answer reads (health, address) comes first, the id (read
 * only for <task>.tasks names, SRV and PTR) last. */
typedef struct {
    uint8_t healthy;
    uint8_t id_len;
    uint16_t port;
    pd_dns_addrs_t addr;
    uint8_t id[PD_DNS_LABEL_MAX]; /* lowercase */
} pd_dns_task_t;

/* Field order matters: a lookup and an A answer touch only the first cache line for a short name
 * (chain, hash, key, VIP, task array); the ports (about 1 KB) come last. */
typedef struct pd_dns_service {
    struct pd_dns_service *next; /* hash chain */
    uint32_t hash;
    uint8_t key_len;
    uint8_t defined;                     /* by service_put (else only implied by its tasks) */
    uint8_t nports;
    uint32_t ntasks, tasks_cap;
    pd_dns_task_t *tasks;
    pd_dns_addrs_t vip;                  /* none of either: DNS round robin over the tasks */
    uint8_t key[1 + PD_DNS_LABEL_MAX]; /* lowercase wire label, e.g. "\3web" */
    uint8_t fqdn[1 + PD_DNS_LABEL_MAX + 5]; /* "\3web\3svc\0": SRV / PTR target */
    pd_dns_port_t ports[PD_DNS_PORTS_MAX];
} pd_dns_service_t;

typedef struct pd_dns_node {
    struct pd_dns_node *next;
    uint32_t hash;
    uint8_t key_len;
    uint8_t key[PD_DNS_HOST_KEY_MAX]; /* lowercase wire labels, no root */
    pd_dns_addrs_t addr;
} pd_dns_node_t;

/* One address -> name mapping (VIP, task or node). */
typedef struct pd_dns_rev {
    struct pd_dns_rev *next;
    uint8_t family; /* 4 or 6 */
    uint8_t addr[16];
    uint8_t name_len;
    uint8_t name[]; /* wire name, root included */
} pd_dns_rev_t;

typedef struct {
    uint32_t services_max;
    uint32_t tasks_per_service_max; /* <= PD_DNS_TASKS_PER_SERVICE_HARD */
    uint32_t nodes_max;
} pd_dns_table_limits_t;

typedef struct pd_dns_table pd_dns_table_t;

void pd_dns_table_limits_default(pd_dns_table_limits_t *lim);
/* lim NULL: defaults. 0, -PD_EUSAGE or -ENOMEM. */
int pd_dns_table_new(const pd_dns_table_limits_t *lim, pd_dns_table_t **out);
void pd_dns_table_free(pd_dns_table_t *t);

/* Add or replace a service's VIPs and ports (its tasks are kept). 0, -PD_EUSAGE (bad name or
 * too many ports), -PD_ELIMIT (table full) or -ENOMEM. */
int pd_dns_table_service_put(pd_dns_table_t *t, const char *name, const pd_dns_addrs_t *vip,
                             const pd_dns_port_t *ports, size_t nports);
/* Removes the service and all its tasks. 0 or -PD_ENOTFOUND. */
int pd_dns_table_service_remove(pd_dns_table_t *t, const char *name);
/* Add or update a task; a service not yet defined is implied (no VIP) until its last task goes.
 * 0, -PD_EUSAGE, -PD_ELIMIT or -ENOMEM. */
int pd_dns_table_task_put(pd_dns_table_t *t, const char *service, const char *task_id,
                          const pd_dns_addrs_t *addr, int healthy, uint16_t port);
int pd_dns_table_task_remove(pd_dns_table_t *t, const char *service, const char *task_id);
int pd_dns_table_node_put(pd_dns_table_t *t, const char *hostname, const pd_dns_addrs_t *addr);
int pd_dns_table_node_remove(pd_dns_table_t *t, const char *hostname);

/* Counts every change; the answerer uses it as the SOA serial. */
uint32_t pd_dns_table_serial(const pd_dns_table_t *t);
size_t pd_dns_table_service_count(const pd_dns_table_t *t);
size_t pd_dns_table_node_count(const pd_dns_table_t *t);

/* ---- hot path: no allocation ------------------------------------------------------------- */

/* FNV-1a over a key (lowercase wire labels). */
uint32_t pd_dns_key_hash(const uint8_t *key, size_t len);
/* key: lowercase wire label(s) without the root, e.g. "\3web"; hash from pd_dns_key_hash. */
const pd_dns_service_t *pd_dns_table_service_find(const pd_dns_table_t *t, const uint8_t *key,
                                                  size_t len, uint32_t hash);
const pd_dns_node_t *pd_dns_table_node_find(const pd_dns_table_t *t, const uint8_t *key, size_t len,
                                            uint32_t hash);
/* id: lowercase label bytes (no length prefix). Linear in the service's tasks. */
const pd_dns_task_t *pd_dns_service_task_find(const pd_dns_service_t *s, const uint8_t *id,
                                              size_t len);
/* Names for an address (family 4: 4 bytes, 6: 16 bytes): first, then next until NULL. */
const pd_dns_rev_t *pd_dns_table_rev_first(const pd_dns_table_t *t, int family,
                                           const uint8_t *addr);
const pd_dns_rev_t *pd_dns_table_rev_next(const pd_dns_rev_t *r, int family, const uint8_t *addr);

/* A hint for a batch of queries: start loading what a lookup of `hash` (pd_dns_key_hash of a
 * service key) will touch, by stage: 0 the bucket, 1 the first service in it, 2 that service's
 * tasks when it is the one. Run each stage over the whole batch before the next, so the batch's
 * cache misses overlap instead of coming one after another. Changes nothing. */
void pd_dns_table_prefetch(const pd_dns_table_t *t, uint32_t hash, unsigned stage);

/* `<task>.tasks.<service>.svc.` as a wire name into out; returns its length. */
size_t pd_dns_task_fqdn(const pd_dns_service_t *s, const pd_dns_task_t *k,
                        uint8_t out[PD_DNS_NAME_MAX]);

/* Conveniences for tests and the shell (dotted names; not for the hot path). */
const pd_dns_service_t *pd_dns_table_service_get(const pd_dns_table_t *t, const char *name);
const pd_dns_node_t *pd_dns_table_node_get(const pd_dns_table_t *t, const char *hostname);

#endif
