/* The running daemon: configuration, identity, and the libuv handles of the shell (loop.c). */
#ifndef PD_DAEMON_H
#define PD_DAEMON_H

#include <msgpack.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "ctl_wire.h"
#include "datadir.h"
#include "gossip_keyring.h"
#include "pd_log.h"

typedef struct pd_ctl_client pd_ctl_client_t;
typedef struct pd_gossip_io pd_gossip_io_t;
typedef struct pd_dns_server pd_dns_server_t;
typedef struct pd_raft_node pd_raft_node_t;
typedef struct pd_vip_alloc pd_vip_alloc_t;
typedef struct pd_node_records pd_node_records_t;
typedef struct pd_swarm pd_swarm_t;
typedef struct pd_gkey pd_gkey_t;

/* Deferred control replies: a handler that returns PD_CTL_LATER keeps a copy of d->ctl_cur (the
 * request's connection and id) and answers later with pd_daemon_ctl_answer (raft_node.c). */
#define PD_CTL_LATER 1
typedef struct {
    pd_ctl_client_t *client;
    uint64_t serial; /* the connection's serial: a closed (or reused) connection gets nothing */
    uint64_t req_id;
} pd_ctl_token_t;

typedef struct {
    uint64_t requests;     /* control requests answered */
    uint64_t bad_frames;   /* malformed, oversized or truncated control input */
    uint64_t clients_refused;
} pd_ctl_stats_t;

typedef struct {
    pd_config_t cfg;
    pd_datadir_t dd;
    char hostname[256];
    uint64_t start_mono_ms;
    uint64_t start_wall_ms;
    pd_log_t log;

    uv_loop_t *loop;
    uv_pipe_t ctl_server;
    uv_signal_t sig_int, sig_term;
    pd_ctl_client_t *clients; /* intrusive list */
    int nclients;
    int stopping;
    int exit_code;
    pd_ctl_stats_t ctl_stats;

    char advertise_host[64];
    pd_keyring_t keyring;    /* gossip keys as loaded; the live copy is the agent's */
    pd_gossip_io_t *gossip;
    uv_timer_t keys_timer; /* republishes key ids / persists the keyring after a change */
    pd_dns_server_t *dns;  /* NULL with --no-dns */
    pd_raft_node_t *raft;  /* the manager's Raft + store */
    pd_vip_alloc_t *vip;   /* the manager's VIP loop (acts while it leads) */
    pd_node_records_t *nodes; /* node records and role changes (node_records.c) */
    pd_ctl_token_t ctl_cur; /* the request being dispatched */
    int ctl_deferred;       /* its handler returned PD_CTL_LATER */
    pd_swarm_t *swarm;      /* init/join state and the node certificate (swarm.h) */
    pd_gkey_t *gkey;        /* the Raft-committed gossip keyring (gossip_rotation_run.h) */
} pd_daemon_t;

/* One control operation: packs exactly one data object on success, or returns a negative code
 * with an optional message in err. Handlers do no IO. */
typedef int (*pd_ctl_handler_fn)(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *data,
                                 char *err, size_t errlen);
pd_ctl_handler_fn pd_ctl_handler_find(const char *op);
/* Decode a request body, run its handler, and build the reply (error replies included). */
void pd_ctl_dispatch(pd_daemon_t *d, const uint8_t *body, size_t len, pd_ctl_msg_t *reply);

/* Answer a deferred request: rc 0 with `data` (one packed msgpack object), or an error. Dropped
 * when the connection is gone. */
void pd_daemon_ctl_answer(pd_daemon_t *d, const pd_ctl_token_t *tok, int rc, const char *err,
                          const void *data, size_t len);

/* 1 while the deferred request's connection is open (streams use it to notice a client gone). */
int pd_daemon_ctl_alive(pd_daemon_t *d, const pd_ctl_token_t *tok);

/* Begin a clean stop (leave gossip, close every handle); the loop then ends. */
void pd_daemon_shutdown(pd_daemon_t *d, const char *why);
/* Start gossip, Raft (managers), the VIP loop and DNS for the configured role (at start, or after
 * `swarm init` / `swarm join`). On failure the daemon shuts down with exit code 1. */
void pd_daemon_start_cluster(pd_daemon_t *d);
/* Run the daemon until SIGINT/SIGTERM; returns the process exit code, or PD_DAEMON_RESTART after
 * `swarm leave` (main runs peerd again, without --init, on the same data dir). */
#define PD_DAEMON_RESTART 255
int pd_daemon_run(pd_daemon_t *d);

#endif
