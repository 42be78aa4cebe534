/* The libuv shell: the only code in peerd that calls uv_*. It owns the control socket and the
 * signal handlers, frames bytes into requests and hands them to pd_ctl_dispatch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "dns_setup.h"
#include "gossip_io.h"
#include "gossip_keys.h"
#include "gossip_rotation_run.h"
#include "gossip_setup.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "raft_node.h"
#include "node_records.h"
#include "swarm.h"
#include "vip_alloc.h"

struct pd_ctl_client {
    uv_pipe_t pipe;
    uv_timer_t idle;
    pd_ctl_framer_t framer;
    pd_daemon_t *d;
    pd_ctl_client_t *next, *prev;
    int handles_open; /* pipe + timer: freed when both close callbacks ran */
    int closing;
    uint64_t serial; /* for deferred replies (pd_daemon_ctl_answer) */
};

typedef struct {
    uv_write_t req;
    pd_ctl_msg_t msg;
    pd_ctl_client_t *client;
} ctl_write_t;

static void client_free_cb(uv_handle_t *h)
{
    pd_ctl_client_t *c = h->data;
    if (--c->handles_open == 0) {
        pd_ctl_framer_free(&c->framer);
        pd_free(c);
    }
}

static void client_close(pd_ctl_client_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    pd_daemon_t *d = c->d;
    if (c->prev)
        c->prev->next = c->next;
    else
        d->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    d->nclients--;
    uv_close((uv_handle_t *)&c->pipe, client_free_cb);
    uv_close((uv_handle_t *)&c->idle, client_free_cb);
}

static void write_done(uv_write_t *req, int status)
{
    ctl_write_t *w = (ctl_write_t *)req;
    pd_ctl_msg_destroy(&w->msg);
    pd_free(w);
}

/* Queue a finished reply; `close_after` ends the connection once it is written. */
static void client_send(pd_ctl_client_t *c, ctl_write_t *w, int close_after)
{
    const uint8_t *frame;
    size_t len;
    if (pd_ctl_msg_finish(&w->msg, &frame, &len) != 0) {
        pd_ctl_msg_destroy(&w->msg);
        pd_ctl_msg_init(&w->msg);
        pd_ctl_msg_reply_err(&w->msg, 0, -PD_ETOOBIG, "reply exceeds the frame size limit");
        pd_ctl_msg_finish(&w->msg, &frame, &len);
    }
    uv_buf_t buf = uv_buf_init((char *)frame, (unsigned)len);
    w->client = c;
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, write_done) != 0) {
        pd_ctl_msg_destroy(&w->msg);
        pd_free(w);
        client_close(c);
        return;
    }
    if (close_after)
        client_close(c); /* uv_close lets queued writes finish with ECANCELED or done first */
}

static ctl_write_t *write_new(void)
{
    ctl_write_t *w = pd_calloc(1, sizeof *w);
    if (w)
        pd_ctl_msg_init(&w->msg);
    return w;
}

static void client_reject(pd_ctl_client_t *c, int code, const char *why)
{
    c->d->ctl_stats.bad_frames++;
    static pd_ratelimit_t rl;
    uint64_t hidden = 0;
    if (pd_ratelimit_ok(&rl, uv_now(c->d->loop), PD_LOG_RATE_INTERVAL_MS, &hidden))
        PD_WARN(&c->d->log, "control client dropped reason=\"%s\" suppressed=%llu", why,
                (unsigned long long)hidden);
    ctl_write_t *w = write_new();
    if (!w) {
        client_close(c);
        return;
    }
    pd_ctl_msg_reply_err(&w->msg, 0, code, why);
    client_send(c, w, 1);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[64 * 1024]; /* one read at a time on this single-threaded loop */
    *buf = uv_buf_init(slab, sizeof slab);
}

static void drain_frames(pd_ctl_client_t *c)
{
    const uint8_t *body;
    size_t len;
    int rc;
    while (!c->closing && (rc = pd_ctl_framer_next(&c->framer, &body, &len)) == 1) {
        ctl_write_t *w = write_new();
        if (!w) {
            client_close(c);
            return;
        }
        c->d->ctl_cur = (pd_ctl_token_t){.client = c, .serial = c->serial};
        c->d->ctl_deferred = 0;
        pd_ctl_dispatch(c->d, body, len, &w->msg);
        if (c->d->ctl_deferred) { /* the handler answers later */
            pd_ctl_msg_destroy(&w->msg);
            pd_free(w);
            continue;
        }
        client_send(c, w, 0);
    }
    if (!c->closing && rc < 0)
        client_reject(c, rc, rc == -PD_ETOOBIG ? "frame exceeds the size limit" : "malformed frame");
}

int pd_daemon_ctl_alive(pd_daemon_t *d, const pd_ctl_token_t *tok)
{
    for (pd_ctl_client_t *c = d->clients; c; c = c->next)
        if (c == tok->client && c->serial == tok->serial)
            return !c->closing;
    return 0;
}

void pd_daemon_ctl_answer(pd_daemon_t *d, const pd_ctl_token_t *tok, int rc, const char *err,
                          const void *data, size_t len)
{
    pd_ctl_client_t *c = d->clients;
    while (c && !(c == tok->client && c->serial == tok->serial))
        c = c->next;
    if (!c || c->closing)
        return;
    ctl_write_t *w = write_new();
    if (!w)
        return;
    if (rc == 0) {
        pd_ctl_msg_reply_ok(&w->msg, tok->req_id);
        msgpack_sbuffer_write(&w->msg.sb, data, len);
    } else {
        pd_ctl_msg_reply_err(&w->msg, tok->req_id, rc, err && err[0] ? err : pd_strerror(rc));
    }
    client_send(c, w, 0);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    pd_ctl_client_t *c = s->data;
    if (c->closing)
        return;
    if (nread < 0) {
        if (pd_ctl_framer_pending(&c->framer) > 0)
            c->d->ctl_stats.bad_frames++; /* closed mid-frame: truncated input */
        client_close(c);
        return;
    }
    if (nread == 0)
        return;
    uv_timer_again(&c->idle);
    int rc = pd_ctl_framer_feed(&c->framer, buf->base, (size_t)nread);
    if (rc == -ENOMEM) {
        client_close(c);
        return;
    }
    drain_frames(c);
}

static void idle_cb(uv_timer_t *t)
{
    client_close(t->data);
}

static void on_connection(uv_stream_t *server, int status)
{
    pd_daemon_t *d = server->data;
    if (status < 0 || d->stopping)
        return;
    pd_ctl_client_t *c = pd_calloc(1, sizeof *c);
    if (!c)
        return;
    c->d = d;
    static uint64_t serials;
    c->serial = ++serials;
    uv_pipe_init(d->loop, &c->pipe, 0);
    uv_timer_init(d->loop, &c->idle);
    c->pipe.data = c->idle.data = c;
    c->handles_open = 2;
    pd_ctl_framer_init(&c->framer, PD_CTL_FRAME_MAX);
    c->next = d->clients;
    if (d->clients)
        d->clients->prev = c;
    d->clients = c;
    d->nclients++;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        client_close(c);
        return;
    }
    if (d->nclients > PD_CTL_CLIENTS_MAX) {
        d->ctl_stats.clients_refused++;
        client_reject(c, -PD_ELIMIT, "too many control connections");
        return;
    }
    uv_timer_start(&c->idle, idle_cb, PD_CTL_IDLE_TIMEOUT_MS, PD_CTL_IDLE_TIMEOUT_MS);
    uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
}

/* A socket file left by a crashed peerd is removed; one that answers belongs to a live daemon. */
static int clear_stale_socket(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket", path);
        return -EEXIST;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int live = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    if (live) {
        snprintf(err, errlen, "control socket %s is in use by another peerd", path);
        return -EADDRINUSE;
    }
    unlink(path);
    return 0;
}

static int ctl_listen(pd_daemon_t *d, char *err, size_t errlen)
{
    char dir[sizeof d->cfg.socket_path];
    snprintf(dir, sizeof dir, "%s", d->cfg.socket_path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        int rc = pd_datadir_mkdirs(dir, err, errlen);
        if (rc)
            return rc;
    }
    int rc = clear_stale_socket(d->cfg.socket_path, err, errlen);
    if (rc)
        return rc;
    uv_pipe_init(d->loop, &d->ctl_server, 0);
    d->ctl_server.data = d;
    mode_t old = umask(0077); /* root-only socket: created 0600 */
    rc = uv_pipe_bind(&d->ctl_server, d->cfg.socket_path);
    umask(old);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&d->ctl_server, 128, on_connection);
    if (rc) {
        snprintf(err, errlen, "cannot listen on %s: %s", d->cfg.socket_path, uv_strerror(rc));
        uv_close((uv_handle_t *)&d->ctl_server, NULL);
        return rc;
    }
    return 0;
}

static void gossip_stopped(void *ctx)
{
    pd_daemon_t *d = ctx;
    if (!uv_is_closing((uv_handle_t *)&d->sig_int)) {
        uv_close((uv_handle_t *)&d->sig_int, NULL);
        uv_close((uv_handle_t *)&d->sig_term, NULL);
    }
}

static void shutdown_after_handoff(pd_daemon_t *d);

void pd_daemon_shutdown(pd_daemon_t *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    PD_INFO(&d->log, "shutting down reason=%s", why);
    uv_close((uv_handle_t *)&d->ctl_server, NULL);
    while (d->clients)
        client_close(d->clients);
    pd_swarm_close(d);
    pd_daemon_dns_stop(d); /* before gossip: DNS watches its table */
    pd_vip_alloc_stop(d);
    pd_node_records_stop(d);
    pd_gkey_stop(d);
    if (pd_raft_node_handoff(d, shutdown_after_handoff))
        return; /* a leader hands over first; the rest follows */
    shutdown_after_handoff(d);
}

/* The second half of a shutdown, once leadership (if we held it) has moved on. */
static void shutdown_after_handoff(pd_daemon_t *d)
{
    pd_raft_node_stop(d); /* before gossip: it watches the members */
    if (d->gossip) {
        if (d->keys_timer.loop) /* only once gossip started and the timer exists */
            pd_gossip_keys_stop(d);
        /* Say "left" and give it a second to spread, unless nobody is there to hear it. */
        int peers = pd_swim_count(pd_gagent_swim(pd_gossip_io_agent(d->gossip)), PD_SWIM_ALIVE) > 1;
        pd_gossip_io_stop(d->gossip, peers ? 1000 : 0, gossip_stopped, d);
    }
    else
        gossip_stopped(d);
}

static void on_signal(uv_signal_t *s, int signum)
{
    pd_daemon_shutdown(s->data, signum == SIGINT ? "signal=SIGINT" : "signal=SIGTERM");
}

/* Raft state without a node certificate: left by the removed plaintext formation. */
static int has_raft_state(const pd_daemon_t *d)
{
    char path[PD_PATH_MAX + 16];
    struct stat st;
    snprintf(path, sizeof path, "%s/raft", d->cfg.data_dir);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void pd_daemon_start_cluster(pd_daemon_t *d)
{
    char err[512];
    int rc = pd_daemon_gossip_start(d, err, sizeof err);
    if (rc) {
        PD_ERROR(&d->log, "%s", err);
        fprintf(stderr, "peerd: %s\n", err);
        d->exit_code = 1;
        d->stopping = 0;
        pd_daemon_shutdown(d, "gossip failed to start");
        return;
    }
    pd_gossip_keys_start(d);
    if (!d->cfg.worker && (rc = pd_raft_node_start(d, err, sizeof err)) != 0) {
        PD_ERROR(&d->log, "%s", err);
        fprintf(stderr, "peerd: %s\n", err);
        d->exit_code = 1;
        pd_daemon_shutdown(d, "raft failed to start");
    } else if (!d->cfg.worker && (rc = pd_vip_alloc_start(d, err, sizeof err)) != 0) {
        PD_ERROR(&d->log, "%s", err);
        fprintf(stderr, "peerd: %s\n", err);
        d->exit_code = 1;
        pd_daemon_shutdown(d, "vip allocator failed to start");
    } else if (!d->cfg.no_dns && (rc = pd_daemon_dns_start(d, err, sizeof err)) != 0) {
        PD_ERROR(&d->log, "%s", err);
        fprintf(stderr, "peerd: %s\n", err);
        d->exit_code = 1;
        pd_daemon_shutdown(d, "dns failed to start");
    } else if ((rc = pd_node_records_start(d, err, sizeof err)) != 0) {
        PD_ERROR(&d->log, "node records: %s", pd_strerror(rc));
        d->exit_code = 1;
        pd_daemon_shutdown(d, "node records failed to start");
    } else {
        pd_swarm_after_start(d);
        pd_swarm_seeds_start(d);
        pd_gkey_start(d);
    }
}

int pd_daemon_run(pd_daemon_t *d)
{
    char err[512] = "";
    int pki = pd_swarm_open(d, err, sizeof err);
    if (pki == 0 && has_raft_state(d)) {
        snprintf(err, sizeof err, "%s/raft holds Raft state but there is no node certificate: it was made by the "
                 "removed --bootstrap-expect formation (plaintext Raft). Move %s/raft away, then form the "
                 "cluster again with --init (or 'peerctl swarm init') and token joins", d->cfg.data_dir,
                 d->cfg.data_dir);
        pki = -PD_ESTATE;
    }
    if (pki < 0) {
        PD_ERROR(&d->log, "%s", err);
        fprintf(stderr, "peerd: %s\n", err);
        pd_swarm_free(d);
        return 1;
    }
    /* the node certificate decides the role; without one, the start flags say what to do */
    pd_start_mode_t mode = pd_config_start_mode(&d->cfg);
    if (pki) {
        PD_INFO(&d->log, "role: %s (node certificate; cluster %s)", d->cfg.worker ? "worker" : "manager",
                d->swarm->ca.cluster_id);
        if (mode == PD_START_JOIN || mode == PD_START_INIT)
            PD_INFO(&d->log, "already in cluster %s: %s ignored", d->swarm->ca.cluster_id,
                    mode == PD_START_JOIN ? "--join-token" : "--init");
    } else if (mode == PD_START_GOSSIP_ONLY) {
        d->cfg.worker = 1;
        PD_INFO(&d->log, "role: gossip-only member (--join, no certificate: no Raft, and every manager's "
                         "Raft port refuses this node)");
    }
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return 1;
    d->loop = &loop;
    d->start_mono_ms = uv_now(&loop);
    int rc = ctl_listen(d, err, sizeof err);
    if (rc) {
        PD_ERROR(&d->log, "%s", err);
        fprintf(stderr, "peerd: %s\n", err);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        pd_swarm_free(d);
        return 1;
    }
    uv_signal_init(&loop, &d->sig_int);
    uv_signal_init(&loop, &d->sig_term);
    d->sig_int.data = d->sig_term.data = d;
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    if (pki || mode == PD_START_GOSSIP_ONLY) {
        pd_daemon_start_cluster(d);
    } else if (mode == PD_START_WAIT) {
        PD_INFO(&d->log, "not in a cluster: waiting for 'peerctl swarm init' or 'peerctl swarm join'");
    } else if ((rc = mode == PD_START_INIT ? pd_swarm_init_state(d, err, sizeof err)
                                           : pd_join_start(d, err, sizeof err)) != 0) {
        PD_ERROR(&d->log, "%s", err);
        fprintf(stderr, "peerd: %s\n", err);
        d->exit_code = 1;
        pd_daemon_shutdown(d, mode == PD_START_INIT ? "swarm init failed" : "join at start failed");
    } else if (mode == PD_START_INIT) {
        pd_daemon_start_cluster(d);
    }
    PD_INFO(&d->log, "peerd ready node_id=%s socket=%s data_dir=%s", d->dd.node_id, d->cfg.socket_path,
            d->cfg.data_dir);
    uv_run(&loop, UV_RUN_DEFAULT);
    unlink(d->cfg.socket_path);
    pd_daemon_dns_free(d);
    pd_vip_alloc_free(d);
    pd_node_records_free(d);
    pd_gkey_free(d);
    pd_raft_node_free(d);
    pd_gossip_io_free(d->gossip);
    d->gossip = NULL;
    pd_keyring_free(&d->keyring);
    rc = uv_loop_close(&loop);
    if (rc)
        PD_WARN(&d->log, "event loop closed with handles open err=%s", uv_err_name(rc));
    if (d->swarm && d->swarm->restart) { /* swarm leave: forget the cluster, then start afresh */
        if (pd_swarm_forget(d, err, sizeof err) != 0) {
            PD_ERROR(&d->log, "swarm leave: %s", err);
            d->exit_code = 1;
        } else {
            d->exit_code = PD_DAEMON_RESTART;
        }
    }
    pd_swarm_free(d);
    PD_INFO(&d->log, "stopped exit_code=%d", d->exit_code);
    return d->exit_code;
}
