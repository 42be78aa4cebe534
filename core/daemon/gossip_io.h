/* The gossip shell: UDP datagrams and TCP streams on the gossip port, one timer, join retries,
 * and graceful leave on shutdown, around the sans-IO gossip agent. */
#ifndef PD_GOSSIP_IO_H
#define PD_GOSSIP_IO_H

#include <uv.h>

#include "gossip_agent.h"

typedef struct pd_gossip_io pd_gossip_io_t;

/* Membership events as they happen (after they are logged), e.g. for DNS node records. The event
 * is borrowed for the call; the callback must not call into the gossip agent. */
#define PD_GOSSIP_IO_MEMBER_WATCHERS 4
typedef void (*pd_gossip_io_member_fn)(void *ctx, const pd_swim_event_t *ev);

typedef struct {
    const char *node_id;
    const char *bind_host;      /* "0.0.0.0", "::", or an address */
    const char *advertise_host; /* what others use to reach us */
    uint16_t port;
    const char *const *join;    /* seed addresses "IP[:PORT]" */
    size_t n_join;
    uint32_t join_retries;      /* attempts before giving up (then on_fatal runs) */
    const pd_keyring_t *keyring;
    int allow_plaintext;
    const uint8_t *meta;
    size_t meta_len;
    const pd_log_t *log;
    void (*on_fatal)(void *ctx, const char *why); /* join gave up */
    void (*on_change)(void *ctx);                 /* membership or table changed */
    void *ctx;
} pd_gossip_io_config_t;

int pd_gossip_io_start(uv_loop_t *loop, const pd_gossip_io_config_t *cfg, pd_gossip_io_t **out,
                       char *err, size_t errlen);
/* Leave gracefully (broadcast "left", give it up to linger_ms to spread), close every handle,
 * then call done(ctx). */
void pd_gossip_io_stop(pd_gossip_io_t *g, uint32_t linger_ms, void (*done)(void *ctx), void *ctx);
/* Free after the loop closed every handle (after done ran, or after a failed start and uv_run). */
void pd_gossip_io_free(pd_gossip_io_t *g);
pd_gagent_t *pd_gossip_io_agent(pd_gossip_io_t *g);
/* Run the agent's outbox now (after a local write through the agent). */
void pd_gossip_io_flush(pd_gossip_io_t *g);
uint64_t pd_gossip_io_now(pd_gossip_io_t *g);
/* 0 or -PD_ELIMIT (all PD_GOSSIP_IO_MEMBER_WATCHERS slots taken). */
int pd_gossip_io_watch_members(pd_gossip_io_t *g, pd_gossip_io_member_fn fn, void *ctx);
void pd_gossip_io_unwatch_members(pd_gossip_io_t *g, pd_gossip_io_member_fn fn, void *ctx);

int pd_swim_addr_from_sockaddr(const struct sockaddr *sa, pd_swim_addr_t *out);
int pd_swim_addr_parse(const char *s, uint16_t default_port, pd_swim_addr_t *out);
void pd_swim_addr_format(const pd_swim_addr_t *a, char *out, size_t cap);

#endif
