/* Manager Raft glue: recovery, formation, the tick timer, the ready loop (persist → send →
 * apply → advance), requests (local, forwarded, ReadIndex) and snapshots. */
#include "raft_node.h"
#include "ctl_events.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gossip_io.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "raft_keys.h"
#include "raft_transport.h"
#include "swarm.h"
#include "raft_wire.h"
#include "snapfile.h"
#include "store_wire.h"
#include "wal.h"

typedef enum {
    OP_ROUTE = 1,   /* waiting for a leader */
    OP_FORWARDED,   /* sent to the leader, waiting for its answer */
    OP_PROPOSED,    /* leader: in the log at index/term, waiting to be applied */
    OP_READ_PENDING,/* leader: ReadIndex asked, waiting for the read state */
    OP_READ_WAIT,   /* read index known: waiting until applied >= index */
} op_stage_t;

typedef struct {
    int used;
    uint64_t id;
    uint8_t kind; /* PD_RT_FWD_WRITE / PD_RT_FWD_READ */
    uint8_t stage;
    int remote;   /* on behalf of follower `origin` (its request origin_req) */
    uint64_t origin, origin_req;
    uint64_t index, term;
    uint64_t fwd_to, fwd_term; /* OP_FORWARDED: the leader asked, and its term then */
    uint64_t deadline_ms;
    uint8_t *entry;
    size_t entry_len;
    pd_ctl_token_t tok;
    pd_rn_done_fn done;
    uint8_t arg[PD_RN_ARG_MAX];
    size_t arg_len;
} rn_op_t;

typedef struct {
    char node_id[PD_NODE_ID_LEN + 1];
    uint64_t raft_id;
    char addr[PD_ADDR_MAX];
    int alive;            /* gossip */
    uint64_t heard_ms;    /* last frame from it (transport) */
} rn_member_t;

struct pd_raft_node {
    pd_daemon_t *d;
    uint64_t id;
    char wal_dir[PD_PATH_MAX + 16], snap_dir[PD_PATH_MAX + 16];
    pd_wal_t *wal;
    pd_raft_t *r; /* NULL until formed */
    pd_store_t *store;
    pd_rt_t *rt;
    pd_rng_t rng;
    uv_timer_t tick;
    uv_check_t turn_end; /* runs process() once per loop turn, after all IO callbacks */
    uv_idle_t turn_soon; /* keeps that turn's poll from blocking when scheduled outside IO */
    int tick_open, turn_open, scheduled, watching, stopped;
    uint64_t synced_term, synced_vote; /* of the last hard state made durable */
    int draining; /* between ready and advance: no propose/read_index/step */
    uint64_t last_snap_index;
    rn_member_t members[PD_RN_MEMBERS_MAX];
    unsigned n_members;
    rn_op_t ops[PD_RN_OPS_MAX];
    uint64_t next_id;
    uint64_t last_leader;
    int snap_writing; /* a snapshot file is being written on the thread pool */
    uint64_t bytes_since_snap; /* entry bytes applied since the last snapshot */
    pd_rn_handoff_fn handoff_done; /* set while a clean shutdown hands leadership over */
    uint64_t handoff_deadline_ms;
    pd_raft_keys_t keys; /* the data key sealing the WAL and snapshots; not ready: locked */
    uint64_t started_ms; /* reachability is unknown for PD_RN_HEARD_MS after this */
};

static void process(pd_raft_node_t *n);
static void schedule(pd_raft_node_t *n);
static void handoff_check(pd_raft_node_t *n);
static int start_unlocked(pd_raft_node_t *n, char *err, size_t errlen);

/* --- pure helpers --------------------------------------------------------------------------- */

uint64_t pd_raft_node_id_from(const char *node_id)
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, (const uint8_t *)node_id, strlen(node_id), NULL, 0);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return v ? v : 1;
}

/* --- members (from gossip) ------------------------------------------------------------------ */

static rn_member_t *member_by_raft(pd_raft_node_t *n, uint64_t id)
{
    for (unsigned i = 0; i < n->n_members; i++)
        if (n->members[i].raft_id == id)
            return &n->members[i];
    return NULL;
}

static void member_upsert(pd_raft_node_t *n, const char *node_id, const char *addr, int alive)
{
    uint64_t rid = pd_raft_node_id_from(node_id);
    rn_member_t *m = member_by_raft(n, rid);
    if (!m) {
        if (n->n_members == PD_RN_MEMBERS_MAX)
            return;
        m = &n->members[n->n_members++];
        memset(m, 0, sizeof *m);
        snprintf(m->node_id, sizeof m->node_id, "%s", node_id);
        m->raft_id = rid;
    }
    m->alive = alive;
    if (addr && addr[0]) {
        snprintf(m->addr, sizeof m->addr, "%s", addr);
        if (rid != n->id && n->rt)
            pd_rt_set_peer(n->rt, rid, addr);
    }
}

static void on_member(void *ctx, const pd_swim_event_t *ev)
{
    pd_raft_node_t *n = ctx;
    if (n->stopped || !pd_node_id_valid(ev->node))
        return;
    if (ev->type == PD_SWIM_EV_DEAD || ev->type == PD_SWIM_EV_LEFT) {
        rn_member_t *m = member_by_raft(n, pd_raft_node_id_from(ev->node));
        if (m)
            m->alive = 0;
        return;
    }
    if (!ev->meta || ev->meta_len == 0)
        return;
    msgpack_unpacked u;
    if (pd_mp_unpack(ev->meta, ev->meta_len, &u) != 0)
        return;
    char role[32] = "", ra[PD_ADDR_MAX] = "";
    pd_mp_get_strbuf(&u.data, "r", role, sizeof role);
    pd_mp_get_strbuf(&u.data, "ra", ra, sizeof ra);
    msgpack_unpacked_destroy(&u);
    if (strcmp(role, "manager") == 0 && ra[0])
        member_upsert(n, ev->node, ra, 1);
}

/* Reachable: alive by gossip and either connected or heard from recently (gossip takes seconds to
 * notice a dead node; the transport notices a reset connection at once). */
static int member_reachable(pd_raft_node_t *n, const rn_member_t *m)
{
    if (m->raft_id == n->id)
        return 1;
    uint64_t now = uv_now(n->d->loop);
    return m->alive && ((n->rt && pd_rt_peer_connected(n->rt, m->raft_id)) ||
                        (m->heard_ms && now - m->heard_ms < PD_RN_HEARD_MS));
}

/* Managers of the configuration that are reachable (this node included). */
static void reachable(pd_raft_node_t *n, unsigned *up, unsigned *total)
{
    *up = *total = 0;
    if (!n->r) {
        for (unsigned i = 0; i < n->n_members; i++)
            *up += n->members[i].alive;
        *total = n->d->cfg.bootstrap_expect;
        return;
    }
    const pd_raft_conf_t *c = pd_raft_conf(n->r);
    for (uint32_t i = 0; i < c->n_voters; i++) {
        rn_member_t *m = member_by_raft(n, c->voters[i]);
        *up += c->voters[i] == n->id || (m && member_reachable(n, m));
    }
    *total = c->n_voters;
}

/* --- requests ------------------------------------------------------------------------------- */

static rn_op_t *op_new(pd_raft_node_t *n)
{
    for (unsigned i = 0; i < PD_RN_OPS_MAX; i++) {
        if (!n->ops[i].used) {
            rn_op_t *op = &n->ops[i];
            memset(op, 0, sizeof *op);
            op->used = 1;
            op->id = ++n->next_id;
            op->stage = OP_ROUTE;
            op->deadline_ms = uv_now(n->d->loop) + PD_RN_OP_TIMEOUT_MS;
            return op;
        }
    }
    return NULL;
}

static rn_op_t *op_find(pd_raft_node_t *n, uint64_t id, int remote)
{
    for (unsigned i = 0; i < PD_RN_OPS_MAX; i++)
        if (n->ops[i].used && n->ops[i].id == id && n->ops[i].remote == remote)
            return &n->ops[i];
    return NULL;
}

static void fwd_resp(pd_raft_node_t *n, uint64_t to, uint64_t req_id, int rc, uint64_t index, const char *text)
{
    uint8_t hdr[PD_RT_FWD_RESP_FIXED];
    pd_rt_fwd_resp_hdr(hdr, req_id, rc, index);
    size_t tl = text ? strlen(text) : 0;
    pd_rt_send(n->rt, to, PD_RT_FWD_RESP, hdr, sizeof hdr, text, tl > PD_RT_ERRTEXT_MAX ? PD_RT_ERRTEXT_MAX : tl);
}

/* Finish a request: answer the follower, or run the handler's completion and answer the client. */
static void op_complete(pd_raft_node_t *n, rn_op_t *op, int rc, uint64_t index, const char *text)
{
    /* The slot is free from here on: a completion may start a new request that reuses it. */
    rn_op_t o = *op;
    op->used = 0;
    op->entry = NULL;
    pd_free(o.entry);
    if (o.remote) {
        fwd_resp(n, o.origin, o.origin_req, rc, index, text);
        return;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    char err[PD_CTL_ERRMSG_MAX] = "";
    if (text)
        snprintf(err, sizeof err, "%s", text);
    int frc = rc;
    if (!n->stopped)
        frc = o.done(n->d, &o.tok, o.arg, o.arg_len, rc, &pk, err, sizeof err);
    if (frc != PD_CTL_LATER)
        pd_daemon_ctl_answer(n->d, &o.tok, frc, err, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* A formed manager that sees no quorum (not in its first PD_RN_HEARD_MS: a manager just started
 * has heard from nobody yet). Requests then fail at once instead of at their deadline. */
static int quorum_lost(pd_raft_node_t *n)
{
    unsigned up, total;
    reachable(n, &up, &total);
    return n->r && up * 2 <= total && uv_now(n->d->loop) - n->started_ms >= PD_RN_HEARD_MS;
}

static void quorum_message(pd_raft_node_t *n, char *out, size_t cap)
{
    unsigned up, total;
    reachable(n, &up, &total);
    if (!n->r)
        snprintf(out, cap, "no manager quorum: the cluster is not formed yet (%u of %u expected managers seen)",
                 up, total);
    else
        snprintf(out, cap, "no manager quorum: %u of %u managers reachable", up, total);
}

/* Why a request ran out of time: no quorum, no leader yet, or a quorum and a leader that did not
 * answer in time (busy, e.g. writing a snapshot). Returns the error code. */
static int timeout_message(pd_raft_node_t *n, const rn_op_t *op, char *out, size_t cap)
{
    unsigned up, total;
    reachable(n, &up, &total);
    if (!n->r || up * 2 <= total) {
        quorum_message(n, out, cap);
        return -PD_ENOQUORUM;
    }
    if (pd_raft_leader(n->r) == PD_RAFT_NONE)
        snprintf(out, cap, "timed out after %u ms: no leader elected yet (%u of %u managers reachable); retry",
                 PD_RN_OP_TIMEOUT_MS, up, total);
    else if (op->kind == PD_RT_FWD_WRITE && op->stage != OP_ROUTE)
        snprintf(out, cap, "timed out after %u ms waiting for the leader to commit the write (%u of %u managers "
                 "reachable); it may or may not have been applied", PD_RN_OP_TIMEOUT_MS, up, total);
    else
        snprintf(out, cap, "timed out after %u ms waiting for the leader (%u of %u managers reachable); retry",
                 PD_RN_OP_TIMEOUT_MS, up, total);
    return -PD_ETIMEOUT;
}

/* Move one request forward if a leader is known. */
static void op_route(pd_raft_node_t *n, rn_op_t *op)
{
    if (!n->r || op->stage != OP_ROUTE)
        return;
    uint64_t leader = pd_raft_leader(n->r);
    if (leader == n->id) {
        int rc;
        if (op->kind == PD_RT_FWD_WRITE) {
            uint64_t idx = 0;
            rc = pd_raft_propose(n->r, op->entry, op->entry_len, &idx);
            if (rc == 0) {
                op->stage = OP_PROPOSED;
                op->index = idx;
                op->term = pd_raft_term(n->r);
            }
        } else {
            rc = pd_raft_read_index(n->r, op->id);
            if (rc == 0)
                op->stage = OP_READ_PENDING;
        }
        if (rc == -PD_ENOTLEADER || rc == -PD_ESTATE)
            return; /* retried on the next tick */
        if (rc)
            op_complete(n, op, rc, 0, NULL);
        return;
    }
    if (leader == PD_RAFT_NONE || op->remote)
        return; /* a forwarded request is never forwarded again */
    uint8_t hdr[PD_RT_FWD_REQ_FIXED];
    pd_rt_fwd_req_hdr(hdr, op->id, op->kind);
    if (pd_rt_send(n->rt, leader, PD_RT_FWD_REQ, hdr, sizeof hdr, op->entry, op->entry_len) == 0) {
        op->stage = OP_FORWARDED;
        op->fwd_to = leader;
        op->fwd_term = pd_raft_term(n->r);
    }
}

/* A running, unlocked manager, or -PD_ESTATE with the reason in err. */
static int serving(const pd_raft_node_t *n, char *err, size_t errlen)
{
    if (!n || n->stopped) {
        snprintf(err, errlen, "this node runs no manager");
        return -PD_ESTATE;
    }
    if (!n->keys.ready) {
        snprintf(err, errlen, PD_RN_LOCKED_MSG);
        return -PD_ESTATE;
    }
    return 0;
}

static int op_submit(pd_daemon_t *d, const pd_ctl_token_t *tok, uint8_t kind, const void *entry, size_t len,
                     pd_rn_done_fn done, const void *arg, size_t arg_len, char *err, size_t errlen)
{
    pd_raft_node_t *n = d->raft;
    int src = serving(n, err, errlen);
    if (src)
        return src;
    if (arg_len > PD_RN_ARG_MAX) {
        snprintf(err, errlen, "argument too long");
        return -PD_ETOOBIG;
    }
    if (quorum_lost(n)) { /* fail now rather than at the deadline */
        quorum_message(n, err, errlen);
        return -PD_ENOQUORUM;
    }
    rn_op_t *op = op_new(n);
    if (!op) {
        snprintf(err, errlen, "too many requests in flight");
        return -PD_ELIMIT;
    }
    if (len) {
        op->entry = pd_malloc(len);
        if (!op->entry) {
            op->used = 0;
            return -ENOMEM;
        }
        memcpy(op->entry, entry, len);
        op->entry_len = len;
    }
    op->kind = kind;
    op->tok = *tok;
    op->done = done;
    if (arg_len)
        memcpy(op->arg, arg, arg_len);
    op->arg_len = arg_len;
    if (!n->draining)
        op_route(n, op); /* proposed now; persisted with the others of this loop turn */
    schedule(n);
    return PD_CTL_LATER;
}

int pd_raft_node_write(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *entry, size_t len,
                       pd_rn_done_fn done, const void *arg, size_t arg_len, char *err, size_t errlen)
{
    if (len == 0 || len > PD_STORE_ENTRY_MAX) {
        snprintf(err, errlen, "entry of %zu bytes is over the %u-byte limit", len, PD_STORE_ENTRY_MAX);
        return -PD_ETOOBIG;
    }
    return op_submit(d, tok, PD_RT_FWD_WRITE, entry, len, done, arg, arg_len, err, errlen);
}

int pd_raft_node_read(pd_daemon_t *d, const pd_ctl_token_t *tok, pd_rn_done_fn done, const void *arg,
                      size_t arg_len, char *err, size_t errlen)
{
    return op_submit(d, tok, PD_RT_FWD_READ, NULL, 0, done, arg, arg_len, err, errlen);
}

/* A follower's request arrived at (what it thinks is) the leader. */
static void on_fwd_req(pd_raft_node_t *n, uint64_t from, const pd_rt_fwd_req_t *q)
{
    if (!n->r || pd_raft_leader(n->r) != n->id) {
        fwd_resp(n, from, q->req_id, -PD_ENOTLEADER, 0, NULL);
        return;
    }
    rn_op_t *op = op_new(n);
    if (!op) {
        fwd_resp(n, from, q->req_id, -PD_ELIMIT, 0, "too many requests in flight on the leader");
        return;
    }
    op->remote = 1;
    op->origin = from;
    op->origin_req = q->req_id;
    op->kind = q->kind;
    if (q->len) {
        op->entry = pd_malloc(q->len);
        if (!op->entry) {
            op->used = 0;
            return;
        }
        memcpy(op->entry, q->data, q->len);
        op->entry_len = q->len;
    }
    op_route(n, op);
}

static void on_fwd_resp(pd_raft_node_t *n, const pd_rt_fwd_resp_t *a)
{
    rn_op_t *op = op_find(n, a->req_id, 0);
    if (!op || op->stage != OP_FORWARDED)
        return;
    if (a->rc == -PD_ENOTLEADER) {
        op->stage = OP_ROUTE; /* leadership moved: ask again */
        return;
    }
    if (op->kind == PD_RT_FWD_READ && a->rc == 0) {
        op->stage = OP_READ_WAIT;
        op->index = a->index;
        return;
    }
    char text[PD_RT_ERRTEXT_MAX + 1];
    size_t tl = a->text_len < PD_RT_ERRTEXT_MAX ? a->text_len : PD_RT_ERRTEXT_MAX;
    memcpy(text, a->text, tl);
    text[tl] = '\0';
    op_complete(n, op, a->rc, a->index, tl ? text : NULL);
}

/* The leader a request was forwarded to is gone when raft names another leader or term, gossip
 * marks it dead, or its connection is down and it has been silent for PD_RN_FWD_SILENT_MS
 * (heartbeats come every tick). */
static int fwd_leader_gone(pd_raft_node_t *n, const rn_op_t *op)
{
    if (pd_raft_leader(n->r) != op->fwd_to || pd_raft_term(n->r) != op->fwd_term)
        return 1;
    rn_member_t *m = member_by_raft(n, op->fwd_to);
    if (!m)
        return 0;
    uint64_t now = uv_now(n->d->loop);
    int silent = !m->heard_ms || now - m->heard_ms >= PD_RN_FWD_SILENT_MS;
    return !m->alive || (silent && !(n->rt && pd_rt_peer_connected(n->rt, op->fwd_to)));
}

/* Forwarded requests whose leader is gone: a read is routed again (it has no effect); a write is
 * failed at once, never re-sent, since the old leader may have committed it already. */
static void fwd_check(pd_raft_node_t *n)
{
    for (unsigned i = 0; n->r && i < PD_RN_OPS_MAX; i++) {
        rn_op_t *op = &n->ops[i];
        if (!op->used || op->remote || op->stage != OP_FORWARDED || !fwd_leader_gone(n, op))
            continue;
        if (op->kind == PD_RT_FWD_READ) {
            op->stage = OP_ROUTE;
            continue;
        }
        op_complete(n, op, -PD_ENOTLEADER,
                    0, "leader changed while the write was in flight; it may or may not have been applied "
                       "(check, then retry)");
    }
}

/* --- the ready loop ------------------------------------------------------------------------- */

static void fatal(pd_raft_node_t *n, const char *what, int rc, const char *detail)
{
    PD_ERROR(&n->d->log, "raft fatal: %s err=%s %s", what, pd_strerror(rc), detail ? detail : "");
    fprintf(stderr, "peerd: fatal: %s: %s %s\n", what, pd_strerror(rc), detail ? detail : "");
    _exit(1); /* what reached the disk is unknown: stop now, recover at restart */
}

static void install_snapshot(pd_raft_node_t *n, const pd_raft_snapshot_t *s)
{
    char err[256] = "";
    uint8_t conf[PD_SNAPFILE_CONF_MAX];
    size_t clen = pd_snapfile_conf_encode(&s->meta.conf, conf);
    int rc = pd_snapfile_write(n->snap_dir, s->meta.index, s->meta.term, conf, clen, s->data, s->len,
                               n->keys.dek, err, sizeof err);
    if (rc)
        fatal(n, "snapshot file write", rc, err);
    pd_store_t *fresh = NULL;
    rc = pd_store_new(NULL, &fresh);
    if (rc == 0)
        rc = pd_store_snapshot_restore(fresh, s->data, s->len);
    if (rc)
        fatal(n, "snapshot restore", rc, NULL);
    pd_store_free(n->store);
    n->store = fresh;
    n->last_snap_index = s->meta.index;
    PD_INFO(&n->d->log, "raft snapshot installed index=%llu term=%llu bytes=%zu",
            (unsigned long long)s->meta.index, (unsigned long long)s->meta.term, s->len);
}

static void apply_entry(pd_raft_node_t *n, const pd_raft_entry_t *e)
{
    pd_store_result_t res = {0};
    int conf = e->type == PD_RAFT_ENTRY_CONF;
    n->bytes_since_snap += e->len;
    int rc = pd_store_apply(n->store, e->index, e->term, conf ? NULL : e->data, conf ? 0 : e->len, &res);
    if (rc == -PD_ESTATE)
        return; /* already in the store (a snapshot covered it) */
    if (rc)
        fatal(n, "apply", rc, rc == -PD_EUNKNOWN_TYPE ? "(a command this build does not know: upgrade)" : NULL);
    for (unsigned i = 0; i < PD_RN_OPS_MAX; i++) {
        rn_op_t *op = &n->ops[i];
        if (!op->used || op->stage != OP_PROPOSED || op->index != e->index)
            continue;
        if (op->term == e->term)
            op_complete(n, op, res.rc, e->index, NULL);
        else
            op_complete(n, op, -PD_ENOTLEADER, 0, "leadership changed before the write committed; retry");
    }
}

enum { SEND_ALL, SEND_APPENDS, SEND_OTHERS };

static void send_msgs(pd_raft_node_t *n, const pd_raft_msg_t *msgs, size_t count, int which)
{
    for (size_t i = 0; i < count; i++) {
        int app = msgs[i].type == PD_RAFT_MSG_APP;
        if ((which == SEND_APPENDS && !app) || (which == SEND_OTHERS && app))
            continue;
        uint8_t *buf = NULL;
        size_t len = 0;
        if (pd_raft_wire_encode(&msgs[i], &buf, &len) != 0)
            continue;
        pd_rt_send(n->rt, msgs[i].to, PD_RT_RAFT, buf, len, NULL, 0);
        pd_free(buf);
    }
}

static void serve_reads(pd_raft_node_t *n)
{
    uint64_t applied = pd_store_applied_index(n->store);
    for (unsigned i = 0; i < PD_RN_OPS_MAX; i++) {
        rn_op_t *op = &n->ops[i];
        if (op->used && op->stage == OP_READ_WAIT && op->index <= applied)
            op_complete(n, op, 0, op->index, NULL);
    }
}

/* A snapshot file is written and fsynced on libuv's thread pool: tens of MB took the loop (and so
 * every request and heartbeat) away for over a second. The store is encoded and the log compacted
 * on the loop (one consistent state); only the file IO moves. The WAL keeps every entry until the
 * file is durable and its marker is in the WAL, so a crash in between recovers from the WAL. */
typedef struct {
    uv_work_t req;
    pd_raft_node_t *n;
    uint64_t idx, term;
    uint8_t conf[PD_SNAPFILE_CONF_MAX];
    size_t clen;
    uint8_t *data;
    size_t len;
    int rc;
    char err[256];
} snap_job_t;

static void snap_job_write(uv_work_t *req) /* thread pool: no loop state, no logging */
{
    snap_job_t *j = req->data;
    j->rc = pd_snapfile_write(j->n->snap_dir, j->idx, j->term, j->conf, j->clen, j->data, j->len,
                              j->n->keys.dek, j->err, sizeof j->err);
}

static void snap_job_done(uv_work_t *req, int status)
{
    snap_job_t *j = req->data;
    pd_raft_node_t *n = j->n;
    n->snap_writing = 0;
    if (status == 0 && j->rc)
        fatal(n, "snapshot file write", j->rc, j->err);
    if (status == 0 && !n->stopped) {
        int rc = pd_wal_append_snapshot(n->wal, j->idx, j->term, 0);
        if (rc == 0)
            rc = pd_wal_sync(n->wal);
        if (rc)
            fatal(n, "WAL sync", rc, NULL);
        unsigned removed = 0, pruned = 0;
        pd_wal_release(n->wal, pd_raft_first_index(n->r), &removed);
        pd_snapfile_prune(n->snap_dir, PD_SNAPFILE_KEEP_DEFAULT, &pruned);
        PD_INFO(&n->d->log, "raft snapshot index=%llu term=%llu bytes=%zu segments_released=%u",
                (unsigned long long)j->idx, (unsigned long long)j->term, j->len, removed);
    }
    pd_free(j->data);
    pd_free(j);
}

static void maybe_snapshot(pd_raft_node_t *n)
{
    uint64_t idx = pd_store_applied_index(n->store);
    int due = idx >= n->last_snap_index + n->d->cfg.snapshot_every ||
              n->bytes_since_snap >= (uint64_t)n->d->cfg.snapshot_mb << 20; /* entries or bytes */
    if (n->snap_writing || idx == 0 || idx <= n->last_snap_index || !due || idx > pd_raft_applied(n->r))
        return;
    snap_job_t *j = pd_calloc(1, sizeof *j);
    int rc = j ? pd_store_snapshot_encode(n->store, &j->data, &j->len) : -ENOMEM;
    uint64_t keep = n->d->cfg.snapshot_every / 4;
    if (rc == 0)
        rc = pd_raft_compact(n->r, idx, j->data, j->len, keep > 5000 ? 5000 : keep);
    n->last_snap_index = idx; /* on failure: try again after another interval */
    n->bytes_since_snap = 0;
    if (rc) {
        PD_WARN(&n->d->log, "raft snapshot skipped index=%llu err=%s", (unsigned long long)idx, pd_strerror(rc));
        if (j)
            pd_free(j->data);
        pd_free(j);
        return;
    }
    j->n = n;
    j->idx = idx;
    j->term = pd_raft_term_at(n->r, idx);
    j->clen = pd_snapfile_conf_encode(pd_raft_conf(n->r), j->conf);
    j->req.data = j;
    n->snap_writing = 1;
    if (uv_queue_work(n->d->loop, &j->req, snap_job_write, snap_job_done) != 0) {
        snap_job_write(&j->req); /* no thread pool: write here */
        snap_job_done(&j->req, 0);
    }
}

static void drain(pd_raft_node_t *n)
{
    while (n->r && pd_raft_has_ready(n->r)) {
        pd_raft_ready_t rd;
        pd_raft_ready(n->r, &rd);
        n->draining = 1;
        if (rd.snapshot)
            install_snapshot(n, rd.snapshot);
        int rc = pd_wal_append_ready(n->wal, &rd);
        if (rc == -PD_ELIMIT) { /* the batch is full: make room */
            rc = pd_wal_sync(n->wal);
            if (rc == 0)
                rc = pd_wal_append_ready(n->wal, &rd);
        }
        /* A hard state that only moves the commit index needs no fdatasync of its own (a lost
         * commit index is learnt again from the leader): it rides along with the next batch.
         * Entries, a snapshot, a new term or vote are made durable before anything is sent,
         * except a leader's appends: they go out first so the followers' disk writes overlap the
         * leader's (Raft thesis 10.2.1). That is safe here because the leader's entries count
         * toward a commit only when a follower's answer is stepped, in a later loop turn, after
         * the fdatasync below has returned; and nothing is applied or answered before it. */
        int hs_new = rd.has_hs && (rd.hs.term != n->synced_term || rd.hs.vote != n->synced_vote);
        int must_sync = rd.snapshot || rd.n_entries || hs_new;
        int early = rc == 0 && must_sync && !rd.snapshot && !hs_new && pd_raft_role(n->r) == PD_RAFT_LEADER;
        if (early)
            send_msgs(n, rd.msgs, rd.n_msgs, SEND_APPENDS);
        if (rc == 0 && must_sync)
            rc = pd_wal_sync(n->wal); /* one fdatasync per batch */
        if (rc)
            fatal(n, "WAL sync", rc, NULL);
        if (must_sync && rd.has_hs) {
            n->synced_term = rd.hs.term;
            n->synced_vote = rd.hs.vote;
        }
        send_msgs(n, rd.msgs, rd.n_msgs, early ? SEND_OTHERS : SEND_ALL);
        for (size_t i = 0; i < rd.n_committed; i++)
            apply_entry(n, &rd.committed[i]);
        if (rd.n_committed)
            pd_ctl_events_pump(n->d);
        if (rd.n_committed || rd.snapshot)
            pd_raft_keys_follow(&n->keys, n->store, &n->d->log); /* autolock on/off/rotated */
        for (size_t i = 0; i < rd.n_reads; i++) {
            rn_op_t *op = NULL;
            for (unsigned k = 0; k < PD_RN_OPS_MAX && !op; k++)
                if (n->ops[k].used && n->ops[k].stage == OP_READ_PENDING && n->ops[k].id == rd.reads[i].ctx)
                    op = &n->ops[k];
            if (op && op->remote)
                op_complete(n, op, 0, rd.reads[i].index, NULL);
            else if (op) {
                op->stage = OP_READ_WAIT;
                op->index = rd.reads[i].index;
            }
        }
        pd_raft_advance(n->r);
        n->draining = 0;
        serve_reads(n);
    }
    if (n->r) {
        uint64_t leader = pd_raft_leader(n->r);
        if (leader != n->last_leader) {
            rn_member_t *m = member_by_raft(n, leader);
            PD_INFO(&n->d->log, "raft leader=%016llx node=%s term=%llu role=%s", (unsigned long long)leader,
                    m ? m->node_id : "-", (unsigned long long)pd_raft_term(n->r),
                    pd_raft_role_name(pd_raft_role(n->r)));
            n->last_leader = leader;
            if (n->handoff_done)
                schedule(n); /* handoff_check runs from the turn's end, outside the ready loop */
        }
        maybe_snapshot(n);
    }
}

static void on_turn_end(uv_check_t *h)
{
    pd_raft_node_t *n = h->data;
    uv_check_stop(&n->turn_end);
    uv_idle_stop(&n->turn_soon);
    n->scheduled = 0;
    process(n);
    handoff_check(n);
}

static void on_turn_soon(uv_idle_t *h) { (void)h; }

/* Group commit: requests and frames of one loop turn are stepped into raft at once, and their
 * entries are persisted by a single drain (one fdatasync) when the turn's IO callbacks are done. */
static void schedule(pd_raft_node_t *n)
{
    if (n->stopped || n->scheduled || !n->turn_open)
        return;
    n->scheduled = 1;
    uv_check_start(&n->turn_end, on_turn_end);
    uv_idle_start(&n->turn_soon, on_turn_soon);
}

static void process(pd_raft_node_t *n)
{
    if (n->stopped || n->draining)
        return;
    drain(n);
    fwd_check(n);
    for (unsigned i = 0; n->r && i < PD_RN_OPS_MAX; i++)
        if (n->ops[i].used && n->ops[i].stage == OP_ROUTE)
            op_route(n, &n->ops[i]);
    drain(n);
}

/* --- formation ------------------------------------------------------------------------------ */

static int raft_create(pd_raft_node_t *n, const uint64_t *peers, uint32_t n_peers, const pd_wal_state_t *st,
                       const pd_raft_snapshot_t *snap)
{
    pd_raft_config_t cfg;
    pd_raft_config_default(&cfg, n->id, &n->rng);
    cfg.election_ticks = PD_RN_ELECTION_TICKS;
    cfg.heartbeat_ticks = PD_RN_HEARTBEAT_TICKS;
    cfg.max_msg_bytes = PD_RN_MAX_MSG_BYTES;
    cfg.log = &n->d->log;
    cfg.peers = peers;
    cfg.n_peers = n_peers;
    if (st)
        pd_wal_state_to_raft(st, &cfg);
    if (snap)
        cfg.snapshot = snap;
    int rc = pd_raft_new(&cfg, &n->r);
    if (rc == 0 && peers && n_peers == 1 && peers[0] == n->id)
        pd_raft_campaign(n->r); /* a one-node cluster elects itself at once */
    return rc;
}

/* A node that is not formed (a manager that joined by token, or a promoted worker) joins when a
 * leader replicates to it, which it does once it added the node as a learner: an empty Raft learns
 * the membership from the log (the first entries) or a snapshot. */
static void join_on_leader_msg(pd_raft_node_t *n, const pd_raft_msg_t *m)
{
    if (m->type != PD_RAFT_MSG_APP && m->type != PD_RAFT_MSG_SNAP && m->type != PD_RAFT_MSG_HEARTBEAT)
        return;
    int rc = raft_create(n, NULL, 0, NULL, NULL);
    if (rc)
        PD_ERROR(&n->d->log, "raft join failed err=%s", pd_strerror(rc));
    else
        PD_INFO(&n->d->log, "raft joining: leader %016llx replicates to us (term %llu)", (unsigned long long)m->from,
                (unsigned long long)m->term);
}

/* --- IO callbacks --------------------------------------------------------------------------- */

/* Our connection to a peer was closed by it: if it was our leader, its process is most likely
 * gone (kill -9, crash, restart), so elect a new one now rather than after a full election
 * timeout. A false alarm costs nothing: the other followers still hold the leader's lease. */
static void on_peer_lost(void *ctx, uint64_t peer)
{
    pd_raft_node_t *n = ctx;
    if (!n->r || n->stopped || pd_raft_leader(n->r) != peer || n->draining)
        return;
    if (pd_raft_leader_lost(n->r, peer)) {
        rn_member_t *m = member_by_raft(n, peer);
        PD_INFO(&n->d->log, "raft leader %016llx (node=%s) closed its connection: campaigning early",
                (unsigned long long)peer, m ? m->node_id : "-");
        process(n);
    }
}

static void on_frame(void *ctx, const pd_rt_frame_t *f)
{
    pd_raft_node_t *n = ctx;
    if (n->stopped)
        return;
    rn_member_t *from = member_by_raft(n, f->from);
    if (from)
        from->heard_ms = uv_now(n->d->loop);
    if (f->type == PD_RT_RAFT) {
        pd_raft_wire_msg_t w;
        if (pd_raft_wire_decode(f->payload, f->len, &w) != 0)
            return;
        if (!n->r)
            join_on_leader_msg(n, &w.msg);
        if (!n->r) {
            pd_raft_wire_msg_free(&w);
            return;
        }
        if (w.msg.from == f->from && w.msg.to == n->id)
            pd_raft_step(n->r, &w.msg);
        pd_raft_wire_msg_free(&w);
    } else if (f->type == PD_RT_FWD_REQ) {
        pd_rt_fwd_req_t q;
        if (pd_rt_fwd_req_parse(f->payload, f->len, &q) == 0)
            on_fwd_req(n, f->from, &q);
    } else {
        pd_rt_fwd_resp_t a;
        if (pd_rt_fwd_resp_parse(f->payload, f->len, &a) == 0)
            on_fwd_resp(n, &a);
    }
    schedule(n);
}

/* A handoff ends when another node leads, or at its deadline (the transfer failed: stop anyway). */
static void handoff_check(pd_raft_node_t *n)
{
    if (!n->handoff_done || !n->r)
        return;
    uint64_t leader = pd_raft_leader(n->r);
    int moved = leader != n->id && leader != PD_RAFT_NONE;
    if (!moved && uv_now(n->d->loop) < n->handoff_deadline_ms)
        return;
    pd_rn_handoff_fn done = n->handoff_done;
    n->handoff_done = NULL;
    if (moved)
        PD_INFO(&n->d->log, "raft leadership handed to %016llx before shutdown", (unsigned long long)leader);
    else
        PD_WARN(&n->d->log, "raft leadership transfer did not finish in %u ms; stopping as leader",
                PD_RN_HANDOFF_MS);
    done(n->d);
}

int pd_raft_node_handoff(pd_daemon_t *d, pd_rn_handoff_fn done)
{
    pd_raft_node_t *n = d->raft;
    if (!n || n->stopped || !n->r || pd_raft_role(n->r) != PD_RAFT_LEADER)
        return 0;
    /* the voter that holds most of our log takes over with the least catch-up */
    const pd_raft_conf_t *c = pd_raft_conf(n->r);
    uint64_t best = PD_RAFT_NONE, best_match = 0;
    for (uint32_t i = 0; i < c->n_voters; i++) {
        uint64_t m = 0;
        if (c->voters[i] == n->id || pd_raft_progress_match(n->r, c->voters[i], &m) != 0)
            continue;
        rn_member_t *mb = member_by_raft(n, c->voters[i]);
        if (mb && !member_reachable(n, mb))
            continue;
        if (best == PD_RAFT_NONE || m > best_match)
            best = c->voters[i], best_match = m;
    }
    if (best == PD_RAFT_NONE || n->draining || pd_raft_transfer_leader(n->r, best) != 0)
        return 0;
    PD_INFO(&d->log, "raft handing leadership to %016llx (match %llu) before shutdown", (unsigned long long)best,
            (unsigned long long)best_match);
    n->handoff_done = done;
    n->handoff_deadline_ms = uv_now(d->loop) + PD_RN_HANDOFF_MS;
    process(n);
    return 1;
}

static void on_tick(uv_timer_t *t)
{
    pd_raft_node_t *n = t->data;
    if (n->stopped)
        return;
    handoff_check(n);
    if (n->stopped)
        return; /* the handoff ended and the shutdown went on */
    if (n->r)
        pd_raft_tick(n->r);
    uint64_t now = uv_now(n->d->loop);
    int no_quorum = quorum_lost(n);
    for (unsigned i = 0; i < PD_RN_OPS_MAX; i++) {
        rn_op_t *op = &n->ops[i];
        /* Quorum lost while waiting: a read, or a write not yet handed to a leader, fails now
         * (a write in a leader's hands may still commit: it waits for its answer or deadline). */
        int doomed = no_quorum && !op->remote &&
                     ((op->kind == PD_RT_FWD_READ && op->stage != OP_READ_WAIT) || op->stage == OP_ROUTE);
        if (!op->used || (now < op->deadline_ms && !doomed))
            continue;
        if (op->remote) {
            op->used = 0; /* the follower times out on its own */
            pd_free(op->entry);
            continue;
        }
        char msg[PD_CTL_ERRMSG_MAX];
        op_complete(n, op, timeout_message(n, op, msg, sizeof msg), 0, msg);
    }
    process(n);
}

/* --- lifecycle ------------------------------------------------------------------------------ */

static int recover(pd_raft_node_t *n, char *err, size_t errlen)
{
    pd_snapfile_t sf;
    pd_raft_snapshot_t snap;
    int have_snap = 0;
    int rc = pd_snapfile_load(n->snap_dir, 0, n->keys.dek, &n->d->log, &sf, err, errlen);
    if (rc == 0) {
        have_snap = 1;
        rc = pd_snapfile_to_raft(&sf, &snap);
        if (rc == 0)
            rc = pd_store_snapshot_restore(n->store, snap.data, snap.len);
        if (rc) {
            snprintf(err, errlen, "snapshot %s/%s cannot be restored: %s", n->snap_dir, sf.name, pd_strerror(rc));
            pd_snapfile_free(&sf);
            return rc;
        }
        n->last_snap_index = snap.meta.index;
    } else if (rc != -PD_ENOTFOUND) {
        return rc;
    }
    pd_wal_opts_t wo = {.dir = n->wal_dir, .log = &n->d->log, .key = n->keys.dek};
    pd_wal_state_t st;
    rc = pd_wal_open(&wo, &n->wal, &st, err, errlen);
    if (rc) {
        if (have_snap)
            pd_snapfile_free(&sf);
        return rc;
    }
    if (st.has_hs || st.n_entries || have_snap) {
        rc = raft_create(n, NULL, 0, &st, have_snap ? &snap : NULL);
        if (rc)
            snprintf(err, errlen, "cannot recover Raft state from %s: %s", n->wal_dir, pd_strerror(rc));
        else
            PD_INFO(&n->d->log, "raft recovered entries=%zu last_index=%llu snapshot=%llu term=%llu",
                    st.n_entries, (unsigned long long)st.last_index,
                    (unsigned long long)(have_snap ? snap.meta.index : 0), (unsigned long long)pd_raft_term(n->r));
    } else if (n->d->cfg.bootstrap_expect == 1) {
        uint64_t self = n->id;
        rc = raft_create(n, &self, 1, NULL, NULL);
        if (rc)
            snprintf(err, errlen, "cannot start Raft: %s", pd_strerror(rc));
        else
            PD_INFO(&n->d->log, "raft bootstrapped a one-manager cluster id=%016llx", (unsigned long long)self);
    } else {
        PD_INFO(&n->d->log, "raft: no state yet: waiting for the leader to add this manager");
    }
    pd_wal_state_free(&st);
    if (have_snap)
        pd_snapfile_free(&sf);
    return rc;
}

static void seed_members(pd_raft_node_t *n)
{
    pd_swim_t *s = n->d->gossip ? pd_gagent_swim(pd_gossip_io_agent(n->d->gossip)) : NULL;
    uint32_t count = s ? pd_swim_count(s, -1) : 0;
    for (uint32_t i = 0; i < count; i++) {
        pd_swim_member_info_t m;
        if (pd_swim_member_at(s, i, &m) != 0 || strcmp(m.node, n->d->dd.node_id) == 0 ||
            (m.state != PD_SWIM_ALIVE && m.state != PD_SWIM_SUSPECT))
            continue;
        pd_swim_event_t ev = {.type = PD_SWIM_EV_JOIN, .meta = m.meta, .meta_len = m.meta_len};
        snprintf(ev.node, sizeof ev.node, "%s", m.node);
        on_member(n, &ev);
    }
}

int pd_raft_node_start(pd_daemon_t *d, char *err, size_t errlen)
{
    pd_raft_node_t *n = pd_calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    d->raft = n;
    n->d = d;
    n->id = pd_raft_node_id_from(d->dd.node_id);
    pd_rng_seed(&n->rng, pd_rng_os_seed());
    char dir[PD_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/raft", d->cfg.data_dir);
    snprintf(n->wal_dir, sizeof n->wal_dir, "%s/raft/wal", d->cfg.data_dir);
    snprintf(n->snap_dir, sizeof n->snap_dir, "%s/raft/snap", d->cfg.data_dir);
    int rc = pd_datadir_mkdirs(dir, err, errlen);
    if (rc == 0)
        rc = pd_store_new(NULL, &n->store);
    if (rc == 0)
        rc = pd_raft_keys_load(&n->keys, dir, err, errlen);
    if (rc)
        return rc;
    if (d->gossip && pd_gossip_io_watch_members(d->gossip, on_member, n) == 0)
        n->watching = 1; /* also while locked: the managers' addresses are needed once unlocked */
    if (!n->keys.ready) {
        PD_WARN(&d->log, "raft: this manager is autolocked: Raft stays stopped until peerctl swarm unlock "
                         "gives the unlock key");
        return 0;
    }
    return start_unlocked(n, err, errlen);
}

int pd_raft_node_unlock(pd_daemon_t *d, const char *key, size_t len, char *err, size_t errlen)
{
    pd_raft_node_t *n = d->raft;
    if (!n || n->stopped) {
        snprintf(err, errlen, "this node runs no manager");
        return -PD_ESTATE;
    }
    int rc = pd_raft_keys_unlock(&n->keys, key, len, err, errlen);
    if (rc)
        return rc;
    PD_INFO(&d->log, "raft: unlocked; recovering and starting Raft");
    rc = start_unlocked(n, err, errlen);
    if (rc)
        fatal(n, "start after unlock", rc, err); /* the same as failing at start */
    return 0;
}

/* Recover the log and snapshot (the data key is known) and start serving. */
static int start_unlocked(pd_raft_node_t *n, char *err, size_t errlen)
{
    pd_daemon_t *d = n->d;
    pd_rt_tls_t tls;
    int rc = pd_swarm_transport_tls(d, &tls, err, errlen); /* mutual TLS, always: no certificate, no Raft */
    if (rc == 0)
        rc = recover(n, err, errlen);
    if (rc)
        return rc;
    char lerr[256] = "";
    rc = pd_rt_start(d->loop, d->cfg.listen_addr, n->id, on_frame, n, &tls, &d->log, &n->rt, lerr, sizeof lerr);
    if (n->rt) {
        pd_rt_set_lost_cb(n->rt, on_peer_lost);
        pd_swarm_attach_transport(d, n->rt); /* renewal and keyring-fetch RPCs */
    }
    if (rc && (!n->rt || d->cfg.bootstrap_expect != 1)) {
        snprintf(err, errlen, "%s", lerr);
        return rc;
    }
    if (rc) /* the node that made a one-manager cluster works without the listener */
        PD_WARN(&d->log, "%s; running as a single manager without a Raft listener", lerr);
    char self_addr[PD_ADDR_MAX + 8], host[PD_ADDR_MAX];
    uint16_t port = 0;
    pd_config_parse_hostport(d->cfg.listen_addr, host, sizeof host, &port);
    snprintf(self_addr, sizeof self_addr, "%s:%u", d->advertise_host, port ? port : PD_RN_RAFT_PORT);
    member_upsert(n, d->dd.node_id, self_addr, 1);
    for (unsigned i = 0; n->rt && i < n->n_members; i++) /* learnt while locked */
        if (n->members[i].raft_id != n->id && n->members[i].addr[0])
            pd_rt_set_peer(n->rt, n->members[i].raft_id, n->members[i].addr);
    seed_members(n); /* started at runtime (promotion): gossip already knows the managers */
    uv_timer_init(d->loop, &n->tick);
    n->tick.data = n;
    n->tick_open = 1;
    uv_check_init(d->loop, &n->turn_end);
    uv_idle_init(d->loop, &n->turn_soon);
    n->turn_end.data = n->turn_soon.data = n;
    n->turn_open = 1;
    uv_timer_start(&n->tick, on_tick, PD_RN_TICK_MS, PD_RN_TICK_MS);
    n->started_ms = uv_now(d->loop);
    PD_INFO(&d->log, "raft manager id=%016llx listen=%s bootstrap_expect=%u (mutual TLS transport)",
            (unsigned long long)n->id, d->cfg.listen_addr, d->cfg.bootstrap_expect);
    process(n);
    return 0;
}

void pd_raft_node_stop(pd_daemon_t *d)
{
    pd_raft_node_t *n = d->raft;
    if (!n || n->stopped)
        return;
    drain(n);
    n->stopped = 1;
    for (unsigned i = 0; i < PD_RN_OPS_MAX; i++)
        if (n->ops[i].used)
            op_complete(n, &n->ops[i], -PD_ECLOSED, 0, "peerd is shutting down");
    if (n->watching && d->gossip)
        pd_gossip_io_unwatch_members(d->gossip, on_member, n);
    if (n->tick_open)
        uv_close((uv_handle_t *)&n->tick, NULL);
    if (n->turn_open) {
        uv_close((uv_handle_t *)&n->turn_end, NULL);
        uv_close((uv_handle_t *)&n->turn_soon, NULL);
    }
    pd_rt_stop(n->rt);
}

void pd_raft_node_free(pd_daemon_t *d)
{
    pd_raft_node_t *n = d->raft;
    if (!n)
        return;
    pd_rt_free(n->rt);
    pd_raft_free(n->r);
    pd_wal_close(n->wal);
    pd_store_free(n->store);
    for (unsigned i = 0; i < PD_RN_OPS_MAX; i++)
        if (n->ops[i].used)
            pd_free(n->ops[i].entry);
    pd_raft_keys_wipe(&n->keys);
    pd_free(n);
    d->raft = NULL;
}

/* --- introspection -------------------------------------------------------------------------- */

const pd_store_t *pd_raft_node_store(const pd_daemon_t *d)
{
    return d->raft && d->raft->keys.ready ? d->raft->store : NULL;
}

int pd_raft_node_locked(const pd_daemon_t *d) { return d->raft && !d->raft->keys.ready; }

pd_rt_t *pd_raft_node_transport(pd_daemon_t *d) { return d->raft ? d->raft->rt : NULL; }

pd_rng_t *pd_raft_node_rng(pd_daemon_t *d) { return &d->raft->rng; }

uint64_t pd_raft_node_leader_term(const pd_daemon_t *d)
{
    const pd_raft_node_t *n = d->raft;
    if (!n || n->stopped || !n->r || pd_raft_leader(n->r) != n->id)
        return 0;
    return pd_raft_term(n->r);
}

static void pack_hex(msgpack_packer *pk, const char *key, uint64_t v)
{
    char buf[17];
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
    pd_mp_pack_kv_str(pk, key, buf);
}

static void pack_member(pd_raft_node_t *n, msgpack_packer *pk, uint64_t id, const char *suffrage)
{
    rn_member_t *m = member_by_raft(n, id);
    uint64_t match = 0;
    int has_match = pd_raft_role(n->r) == PD_RAFT_LEADER && pd_raft_progress_match(n->r, id, &match) == 0;
    if (id == n->id)
        match = pd_raft_last_index(n->r), has_match = pd_raft_role(n->r) == PD_RAFT_LEADER;
    msgpack_pack_map(pk, 7);
    pack_hex(pk, "raft_id", id);
    pd_mp_pack_kv_str(pk, "node_id", m ? m->node_id : "");
    pd_mp_pack_kv_str(pk, "addr", m ? m->addr : "");
    pd_mp_pack_kv_str(pk, "suffrage", suffrage);
    pd_mp_pack_kv_bool(pk, "reachable", id == n->id || (m && member_reachable(n, m)));
    pd_mp_pack_kv_bool(pk, "leader", id == pd_raft_leader(n->r));
    pd_mp_pack_cstr(pk, "match");
    if (has_match)
        msgpack_pack_uint64(pk, match);
    else
        msgpack_pack_nil(pk);
}

int pd_raft_node_status(pd_daemon_t *d, msgpack_packer *pk, char *err, size_t errlen)
{
    pd_raft_node_t *n = d->raft;
    if (!n) {
        snprintf(err, errlen, "this node runs no manager");
        return -PD_ESTATE;
    }
    if (!n->keys.ready) {
        snprintf(err, errlen, PD_RN_LOCKED_MSG);
        return -PD_ESTATE;
    }
    unsigned up, total;
    reachable(n, &up, &total);
    msgpack_pack_map(pk, 14);
    pd_mp_pack_kv_str(pk, "node_id", d->dd.node_id);
    pack_hex(pk, "raft_id", n->id);
    pd_mp_pack_kv_str(pk, "role", n->r ? pd_raft_role_name(pd_raft_role(n->r)) : "forming");
    pd_mp_pack_kv_u64(pk, "term", n->r ? pd_raft_term(n->r) : 0);
    uint64_t leader = n->r ? pd_raft_leader(n->r) : 0;
    rn_member_t *lm = leader ? member_by_raft(n, leader) : NULL;
    pd_mp_pack_kv_str(pk, "leader", lm ? lm->node_id : "");
    pack_hex(pk, "leader_raft_id", leader);
    pd_mp_pack_kv_u64(pk, "commit", n->r ? pd_raft_commit(n->r) : 0);
    pd_mp_pack_kv_u64(pk, "applied", pd_store_applied_index(n->store));
    pd_mp_pack_kv_u64(pk, "last_index", n->r ? pd_raft_last_index(n->r) : 0);
    pd_mp_pack_kv_u64(pk, "snapshot_index", n->last_snap_index);
    pd_mp_pack_kv_u64(pk, "reachable", up);
    pd_mp_pack_kv_u64(pk, "bootstrap_expect", d->cfg.bootstrap_expect);
    /* Disk cost of the log (benchmarks divide these by committed writes). */
    pd_wal_stats_t ws;
    pd_wal_stats(n->wal, &ws);
    pd_mp_pack_cstr(pk, "wal");
    msgpack_pack_map(pk, 5);
    pd_mp_pack_kv_u64(pk, "bytes_written", ws.bytes_written);
    pd_mp_pack_kv_u64(pk, "entries", ws.entries);
    pd_mp_pack_kv_u64(pk, "syncs", ws.syncs);
    pd_mp_pack_kv_u64(pk, "fdatasyncs", ws.fdatasyncs);
    pd_mp_pack_kv_u64(pk, "dir_fsyncs", ws.dir_fsyncs);
    pd_mp_pack_cstr(pk, "members");
    if (!n->r) {
        msgpack_pack_array(pk, 0);
        return 0;
    }
    const pd_raft_conf_t *c = pd_raft_conf(n->r);
    msgpack_pack_array(pk, c->n_voters + c->n_learners);
    for (uint32_t i = 0; i < c->n_voters; i++)
        pack_member(n, pk, c->voters[i], "voter");
    for (uint32_t i = 0; i < c->n_learners; i++)
        pack_member(n, pk, c->learners[i], "learner");
    return 0;
}

/* --- membership (node promote/demote, node_records.c) --------------------------------------- */

const pd_raft_conf_t *pd_raft_node_conf(const pd_daemon_t *d)
{
    const pd_raft_node_t *n = d->raft;
    return n && !n->stopped && n->r ? pd_raft_conf(n->r) : NULL;
}

uint64_t pd_raft_node_self(const pd_daemon_t *d) { return d->raft ? d->raft->id : 0; }

int pd_raft_node_change_conf(pd_daemon_t *d, pd_raft_cc_type_t type, uint64_t raft_id)
{
    pd_raft_node_t *n = d->raft;
    if (!n || n->stopped || !n->r || n->draining)
        return -PD_ESTATE;
    int rc = pd_raft_propose_conf(n->r, type, raft_id);
    if (rc == 0)
        schedule(n);
    return rc;
}

int pd_raft_node_force_new_cluster(pd_daemon_t *d, uint64_t *removed, uint32_t *n_removed, char *err,
                                   size_t errlen)
{
    pd_raft_node_t *n = d->raft;
    int src = serving(n, err, errlen);
    if (src)
        return src;
    if (!n->r || n->draining || !pd_raft_conf_has_voter(pd_raft_conf(n->r), n->id)) {
        snprintf(err, errlen, "this manager is not a Raft voter yet (still joining): nothing to recover from here");
        return -PD_ESTATE;
    }
    unsigned up, total;
    reachable(n, &up, &total);
    if (up * 2 > total) { /* even without a leader yet: one is being elected */
        rn_member_t *m = member_by_raft(n, pd_raft_leader(n->r));
        snprintf(err, errlen, "the managers have a quorum (%u of %u reachable, leader %s): --force-new-cluster is only "
                 "for a cluster that lost it; change the managers with 'peerctl node demote/promote/rm'",
                 up, total, m ? m->node_id : "being elected");
        return -PD_ESTATE;
    }
    int rc = pd_raft_force_new_cluster(n->r, removed, n_removed);
    if (rc) {
        snprintf(err, errlen, "cannot force a new cluster: %s", pd_strerror(rc));
        return rc;
    }
    PD_WARN(&d->log, "raft: forced a new cluster from this manager (%u of %u managers were reachable): "
                     "%u former members removed, term %llu", up, total, *n_removed,
            (unsigned long long)pd_raft_term(n->r));
    schedule(n); /* the FORCE entry is persisted by this turn's drain */
    return 0;
}

static void transfer_done(pd_daemon_t *d) { (void)d; }

int pd_raft_node_transfer_away(pd_daemon_t *d)
{
    pd_raft_node_t *n = d->raft;
    if (!n || n->handoff_done)
        return 0; /* one at a time (a shutdown's handoff included) */
    return pd_raft_node_handoff(d, transfer_done);
}

int pd_raft_node_manager_state(pd_daemon_t *d, uint64_t raft_id, int *leader, int *reach)
{
    pd_raft_node_t *n = d->raft;
    const pd_raft_conf_t *c = pd_raft_node_conf(d);
    if (!c || (!pd_raft_conf_has_voter(c, raft_id) && !pd_raft_conf_has_learner(c, raft_id)))
        return -PD_ENOTFOUND;
    rn_member_t *m = member_by_raft(n, raft_id);
    *leader = pd_raft_leader(n->r) == raft_id;
    *reach = raft_id == n->id || (m && member_reachable(n, m));
    return pd_raft_conf_has_voter(c, raft_id) ? 1 : 2;
}

int pd_raft_node_busy(const pd_daemon_t *d) { return d->raft && d->raft->snap_writing; }
