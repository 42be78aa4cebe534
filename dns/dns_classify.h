/* Where a query name lives: which of our name shapes it has and what the table holds for it, or
 * FORWARD. Used by dns_answer.c; exposed for tests. Pure, allocation-free. */
#ifndef PD_DNS_CLASSIFY_H
#define PD_DNS_CLASSIFY_H

#include <stdint.h>

#include "dns_table.h"
#include "dns_wire.h"

typedef enum {
    PD_DNS_M_FORWARD = 0, /* not ours */
    PD_DNS_M_NXDOMAIN,    /* in our zone, no such name */
    PD_DNS_M_APEX,        /* svc. or node. */
    PD_DNS_M_SERVICE,     /* <service>[.svc] */
    PD_DNS_M_TASKS,       /* tasks.<service>[.svc] */
    PD_DNS_M_TASK,        /* <task>.tasks.<service>.svc */
    PD_DNS_M_SRV,         /* _<port>._<proto>.<service>.svc */
    PD_DNS_M_ENT,         /* _<proto>.<service>.svc: exists, holds nothing */
    PD_DNS_M_NODE,        /* <hostname>.node */
    PD_DNS_M_PTR,         /* reverse name of an address in the table */
} pd_dns_match_kind_t;

typedef enum { PD_DNS_ZONE_NONE = 0, PD_DNS_ZONE_SVC, PD_DNS_ZONE_NODE } pd_dns_zone_t;

typedef struct {
    pd_dns_match_kind_t kind;
    pd_dns_zone_t zone; /* for the SOA of negative answers */
    const pd_dns_service_t *svc;
    const pd_dns_task_t *task;
    const pd_dns_port_t *port;
    const pd_dns_node_t *node;
    uint8_t family; /* PTR: 4 or 6 */
    uint8_t addr[16];
} pd_dns_match_t;

void pd_dns_classify(const pd_dns_table_t *t, const pd_dns_name_t *qname, pd_dns_match_t *out);

/* The hash (pd_dns_key_hash) of the service key a query's name would be looked up by: <svc>.svc,
 * tasks.<svc>[.svc], _p._tcp.<svc>.svc, <task>.tasks.<svc>.svc, bare <svc>; read straight from the
 * raw query bytes (an uncompressed question name, as every client sends). 1 with *hash set, or 0
 * (no service name, or anything unusual). Only a prefetch hint: pd_dns_answer checks everything. */
int pd_dns_query_service_hash(const uint8_t *msg, size_t len, uint32_t *hash);

/* Reverse name (lowercase wire) -> address: 4 or 6, or 0 if it is not a full in-addr/ip6 name. */
int pd_dns_reverse_parse(const uint8_t *lc, const pd_dns_name_t *n, uint8_t addr[16]);

#endif
