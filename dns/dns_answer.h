/* Pure DNS answering: query bytes + name table -> reply bytes or a verdict. No IO, no allocation,
 * no clock; randomness (answer shuffling) comes from the caller's rng.
 *
 * Names we own:
 *   svc.                               zone apex (SOA)
 *   <service>.svc, <service>            VIP (A/AAAA); a service without VIPs answers like tasks.*
 *   tasks.<service>.svc, tasks.<service> healthy tasks' addresses, shuffled, capped over UDP
 *   <task-id>.tasks.<service>.svc      one task's address (what PTR for a task IP points at)
 *   _<port>._<tcp|udp>.<service>.svc   SRV: the VIP, or each healthy task without a VIP
 *   node., <hostname>.node             node address
 *   in-addr.arpa / ip6.arpa PTR        for addresses in the table (VIPs, tasks, nodes)
 * A bare name (one label, or tasks.<label>) is ours only if the service exists; everything else
 * outside svc./node. is FORWARD, as is a PTR query for an address we don't know. */
#ifndef PD_DNS_ANSWER_H
#define PD_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "dns_table.h"
#include "dns_wire.h"
#include "pd_rng.h"

enum pd_dns_answer_caps {
    PD_DNS_TTL_DEFAULT_S = 5,
    PD_DNS_TTL_MAX_S = 300,         /* a configured TTL above this is clamped */
    PD_DNS_UDP_ANSWER_DEFAULT = 8,  /* tasks per UDP answer, as Consul's maxUDPAnswerLimit */
    PD_DNS_EDNS_ADVERTISE = 1232,   /* our OPT UDP size (DNS flag day 2020) */
    PD_DNS_REPLY_MIN = PD_DNS_UDP_MIN, /* smallest out_cap pd_dns_answer accepts */
};

typedef enum { PD_DNS_UDP = 0, PD_DNS_TCP = 1 } pd_dns_transport_t;

typedef enum {
    PD_DNS_ANSWERED = 0, /* out holds the reply */
    PD_DNS_FORWARD = 1,  /* not ours: send the query upstream */
    PD_DNS_DROP = 2,     /* not even a header (or a response, or out_cap too small): say nothing */
} pd_dns_verdict_t;

typedef struct {
    uint32_t ttl_s;              /* answers and negative caching (SOA minimum) */
    uint16_t udp_answer_max;     /* tasks per UDP answer for tasks.* and SRV; 0 = no cap */
    uint16_t edns_udp_size;      /* advertised in our OPT */
    uint8_t recursion_available; /* set RA: the shell forwards other names */
} pd_dns_config_t;

void pd_dns_config_default(pd_dns_config_t *cfg);

/* Answers one query. On PD_DNS_ANSWERED *out_len is the reply length (at most out_cap, and at most
 * the client's UDP size over UDP: the TC bit is set when records had to be left out); otherwise
 * *out_len is 0. out_cap must be at least PD_DNS_REPLY_MIN. */
pd_dns_verdict_t pd_dns_answer(const pd_dns_table_t *t, const uint8_t *query, size_t len,
                               pd_dns_transport_t transport, pd_rng_t *rng,
                               const pd_dns_config_t *cfg, uint8_t *out, size_t out_cap,
                               size_t *out_len);

#endif
