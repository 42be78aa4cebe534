/* Node records and role changes: the shell around node_plan (node_records.h). */
#include "node_records.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gossip_io.h"
#include "gossip_setup.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "store_wire.h"
#include "swarm.h"
#include "vip_alloc.h"

#define CREATING_MAX PD_NODE_PLAN_CREATES

struct pd_node_records {
    pd_daemon_t *d;
    uv_timer_t timer;
    int open, stopped;
    int retiring; /* Raft stopped: free it on a later tick (its handles closed, no snapshot writing) */
    int wipe;     /* ... and delete its state (a demotion; not a promotion that failed to start) */
    uint64_t term;
    char creating[CREATING_MAX][PD_NODE_ID_LEN + 1];
    pd_node_member_t members[PD_NODE_PLAN_MEMBERS_MAX];
    pd_node_act_t acts[PD_NODE_PLAN_ACTS_MAX];
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pd_node_records_txn(const char *node_id, const pd_node_rec_t *r, uint64_t version, uint8_t **entry,
                        size_t *len)
{
    uint8_t *spec = NULL;
    size_t slen = 0;
    int rc = pd_node_rec_encode(r, &spec, &slen);
    if (rc)
        return rc;
    uint32_t idlen = (uint32_t)strlen(node_id);
    pd_store_op_t op = {.op = version ? PD_STORE_OP_UPDATE : PD_STORE_OP_CREATE, .kind = PD_STORE_NODE,
                        .version = version, .id = {(const uint8_t *)node_id, idlen},
                        .name = {(const uint8_t *)node_id, idlen}, .spec = {spec, (uint32_t)slen}};
    pd_store_txn_t txn = {.now_ms = wall_ms(), .ops = &op, .n_ops = 1};
    rc = pd_store_wire_encode_txn(&txn, entry, len);
    pd_free(spec);
    return rc;
}

bool pd_node_is_removed(const pd_daemon_t *d, const char *node_id)
{
    return pd_node_rec_is_removed(pd_raft_node_store(d), node_id);
}

int pd_node_ensure(pd_daemon_t *d, const pd_ctl_token_t *tok, const char *node_id, const char *hostname,
                   pd_node_role_t role, pd_rn_done_fn done, const void *arg, size_t arg_len, char *err,
                   size_t errlen)
{
    const pd_store_t *s = pd_raft_node_store(d);
    if (!s) {
        snprintf(err, errlen, "this node runs no manager");
        return -PD_ESTATE;
    }
    if (!pd_node_id_valid(node_id)) {
        snprintf(err, errlen, "invalid node id '%s'", node_id);
        return -PD_EUSAGE;
    }
    if (pd_store_get(s, PD_STORE_NODE, node_id, strlen(node_id))) {
        if (!pd_node_is_removed(d, node_id))
            return 0;
        snprintf(err, errlen, "node %s was removed from the cluster and may not rejoin with that identity", node_id);
        return -PD_ESTATE;
    }
    pd_node_rec_t *r = pd_calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    snprintf(r->hostname, sizeof r->hostname, "%s", hostname);
    r->role = (uint8_t)role;
    uint8_t *entry = NULL;
    size_t len = 0;
    int rc = pd_node_records_txn(node_id, r, 0, &entry, &len);
    pd_free(r);
    if (rc) {
        snprintf(err, errlen, "invalid node record for %s (hostname '%s'): %s", node_id, hostname, pd_strerror(rc));
        return rc;
    }
    rc = pd_raft_node_write(d, tok, entry, len, done, arg, arg_len, err, errlen);
    pd_free(entry);
    return rc;
}

unsigned pd_node_managers(const pd_store_t *s)
{
    unsigned n = 0;
    pd_node_rec_t *r = pd_malloc(sizeof *r);
    for (const pd_store_obj_t *o = pd_store_first(s, PD_STORE_NODE); o && r; o = pd_store_next(o))
        n += pd_node_rec_decode(o->spec, o->spec_len, r) == 0 && !r->removed && r->role == PD_NODE_MANAGER;
    pd_free(r);
    return n;
}

int pd_node_set_role(pd_daemon_t *d, const pd_ctl_token_t *tok, const char *node_id, pd_node_role_t role,
                     pd_rn_done_fn done, const void *arg, size_t arg_len, char *err, size_t errlen)
{
    const pd_store_t *s = pd_raft_node_store(d);
    const pd_store_obj_t *o = s ? pd_store_get(s, PD_STORE_NODE, node_id, strlen(node_id)) : NULL;
    pd_node_rec_t *r = pd_malloc(sizeof *r);
    int rc = !s ? -PD_ESTATE : !o ? -PD_ENOTFOUND : !r ? -ENOMEM : pd_node_rec_decode(o->spec, o->spec_len, r);
    if (rc == 0 && r->removed)
        rc = -PD_ESTATE;
    else if (rc == 0 && r->role == role)
        rc = -PD_EEXISTS;
    else if (rc == 0 && role == PD_NODE_WORKER && pd_node_managers(s) <= 1)
        rc = -PD_ESTATE;
    if (rc) {
        snprintf(err, errlen, "node %s: %s", node_id,
                 !s ? "this node runs no manager" : rc == -PD_ENOTFOUND ? "no such node"
                 : rc == -PD_EEXISTS ? (role == PD_NODE_MANAGER ? "already a manager" : "already a worker")
                 : rc == -PD_ESTATE && r && r->removed ? "removed from the cluster"
                 : rc == -PD_ESTATE ? "the last manager of the cluster cannot be demoted" : pd_strerror(rc));
        pd_free(r);
        return rc;
    }
    r->role = (uint8_t)role;
    uint8_t *entry = NULL;
    size_t len = 0;
    rc = pd_node_records_txn(node_id, r, o->version, &entry, &len);
    pd_free(r);
    if (rc == 0)
        rc = pd_raft_node_write(d, tok, entry, len, done, arg, arg_len, err, errlen);
    pd_free(entry);
    return rc;
}

/* --- the leader's rounds -------------------------------------------------------------------- */

static void creating_set(pd_node_records_t *nr, const char *id, int on)
{
    for (unsigned i = 0; i < CREATING_MAX; i++) {
        if (on && !nr->creating[i][0]) {
            snprintf(nr->creating[i], sizeof nr->creating[i], "%s", id);
            return;
        }
        if (!on && strcmp(nr->creating[i], id) == 0)
            nr->creating[i][0] = '\0';
    }
}

static int create_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                       msgpack_packer *pk, char *err, size_t errlen)
{
    (void)tok, (void)arg_len, (void)pk, (void)errlen;
    if (d->nodes)
        creating_set(d->nodes, arg, 0);
    if (rc == 0)
        PD_INFO(&d->log, "node: record created for %s", (const char *)arg);
    else if (rc != -PD_EEXISTS)
        PD_WARN(&d->log, "node: record for %s not created err=%s %s", (const char *)arg, pd_strerror(rc), err);
    return PD_CTL_LATER; /* nobody waits on a connection */
}

static size_t gather_members(pd_node_records_t *nr)
{
    pd_swim_t *s = pd_gagent_swim(pd_gossip_io_agent(nr->d->gossip));
    uint32_t count = pd_swim_count(s, -1);
    size_t n = 0;
    for (uint32_t i = 0; i < count && n < PD_NODE_PLAN_MEMBERS_MAX; i++) {
        pd_swim_member_info_t m;
        if (pd_swim_member_at(s, i, &m) != 0)
            continue;
        pd_node_member_t *x = &nr->members[n++];
        char role[16];
        snprintf(x->node_id, sizeof x->node_id, "%s", m.node);
        pd_gossip_meta_decode(m.meta, m.meta_len, x->hostname, sizeof x->hostname, role, sizeof role);
        x->role = strcmp(role, "manager") == 0 ? PD_NODE_MANAGER : PD_NODE_WORKER;
        x->alive = m.state == PD_SWIM_ALIVE || m.state == PD_SWIM_SUSPECT;
    }
    return n;
}

static void act(pd_node_records_t *nr, const pd_node_act_t *a)
{
    pd_daemon_t *d = nr->d;
    char err[256] = "";
    int rc = 0;
    switch (a->type) {
    case PD_NODE_ACT_CREATE: {
        pd_ctl_token_t none = {0};
        rc = pd_node_ensure(d, &none, a->node_id, a->hostname, (pd_node_role_t)a->role, create_done, a->node_id,
                            strlen(a->node_id) + 1, err, sizeof err);
        if (rc == PD_CTL_LATER)
            creating_set(nr, a->node_id, 1);
        rc = rc == PD_CTL_LATER ? 0 : rc;
        break;
    }
    case PD_NODE_ACT_PUBLISH: {
        const char *v = pd_node_role_name((pd_node_role_t)a->role);
        pd_gossip_io_t *g = d->gossip;
        rc = pd_gagent_put_cluster(pd_gossip_io_agent(g), pd_gossip_io_now(g), PD_NODE_ROLE_TABLE, a->node_id, v,
                                   strlen(v));
        if (rc == 0)
            PD_INFO(&d->log, "node: %s is to run as a %s", a->node_id, v);
        break;
    }
    case PD_NODE_ACT_ADD_LEARNER:
    case PD_NODE_ACT_REMOVE:
        rc = pd_raft_node_change_conf(d, a->type == PD_NODE_ACT_REMOVE ? PD_RAFT_CC_REMOVE : PD_RAFT_CC_ADD_LEARNER,
                                      a->raft_id);
        if (rc == 0)
            PD_INFO(&d->log, "node: %s %s", a->type == PD_NODE_ACT_REMOVE ? "removing from the managers"
                                                                           : "adding as a Raft learner", a->node_id);
        else if (rc == -PD_ESTATE)
            rc = 0; /* another change is pending: next round */
        break;
    case PD_NODE_ACT_TRANSFER:
        if (pd_raft_node_transfer_away(d))
            PD_INFO(&d->log, "node: this leader is demoted; handing leadership over first");
        break;
    }
    if (rc)
        PD_WARN(&d->log, "node: action %d for %s failed err=%s %s", a->type, a->node_id, pd_strerror(rc), err);
}

static void lead_round(pd_node_records_t *nr, uint64_t term)
{
    pd_daemon_t *d = nr->d;
    if (term != nr->term && term)
        PD_INFO(&d->log, "node: leading (term %llu), reconciling node records", (unsigned long long)term);
    nr->term = term;
    if (!term)
        return;
    const char *creating[CREATING_MAX];
    size_t nc = 0;
    for (unsigned i = 0; i < CREATING_MAX; i++)
        if (nr->creating[i][0])
            creating[nc++] = nr->creating[i];
    pd_node_plan_in_t in = {.store = pd_raft_node_store(d), .members = nr->members,
                            .n_members = gather_members(nr), .conf = pd_raft_node_conf(d),
                            .self_raft_id = pd_raft_node_self(d), .raft_id_of = pd_raft_node_id_from,
                            .gt = pd_gagent_table(pd_gossip_io_agent(d->gossip)), .creating = creating,
                            .n_creating = nc};
    size_t n = pd_node_plan_tick(&in, nr->acts, PD_NODE_PLAN_ACTS_MAX);
    int wrote = 0;
    for (size_t i = 0; i < n; i++) {
        act(nr, &nr->acts[i]);
        wrote |= nr->acts[i].type == PD_NODE_ACT_PUBLISH;
    }
    if (wrote)
        pd_gossip_io_flush(d->gossip);
}

/* --- this node follows its published role --------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void become_manager(pd_node_records_t *nr)
{
    pd_daemon_t *d = nr->d;
    char err[512] = "";
    PD_INFO(&d->log, "node: promoted: starting Raft (joining the managers)");
    d->cfg.worker = 0;
    d->cfg.bootstrap_expect = 0; /* join: never bootstrap a cluster of our own */
    int rc = pd_raft_node_start(d, err, sizeof err);
    if (rc == 0)
        rc = pd_vip_alloc_start(d, err, sizeof err);
    if (rc) {
        PD_ERROR(&d->log, "node: cannot start as a manager: %s %s", pd_strerror(rc), err);
        d->cfg.worker = 1;
        pd_vip_alloc_stop(d);
        pd_raft_node_stop(d);
        nr->retiring = 1;
        nr->wipe = 0;
        return;
    }
    pd_daemon_gossip_republish_meta(d);
}

static void become_worker(pd_node_records_t *nr)
{
    pd_daemon_t *d = nr->d;
    PD_INFO(&d->log, "node: demoted: stopping Raft; gossip, DNS and endpoints stay");
    d->cfg.worker = 1;
    pd_vip_alloc_stop(d);
    pd_raft_node_stop(d);
    nr->retiring = 1;
    nr->wipe = 1;
    pd_daemon_gossip_republish_meta(d);
}

/* After the stopped handles closed (a tick later): free them, and delete the Raft state of a
 * demoted node so that a restart is a worker. */
static void retire(pd_node_records_t *nr)
{
    pd_daemon_t *d = nr->d;
    if (pd_raft_node_busy(d))
        return; /* its snapshot job still uses it */
    nr->retiring = 0;
    pd_vip_alloc_free(d);
    pd_raft_node_free(d);
    if (!nr->wipe)
        return;
    char dir[PD_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/raft", d->cfg.data_dir);
    if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        PD_WARN(&d->log, "node: cannot delete the Raft state in %s: %s", dir, strerror(errno));
}

static void follow_role(pd_node_records_t *nr)
{
    pd_daemon_t *d = nr->d;
    if (nr->retiring) {
        retire(nr);
        return;
    }
    pd_gtable_view_t v;
    if (pd_gtable_get(pd_gagent_table(pd_gossip_io_agent(d->gossip)), PD_NODE_ROLE_TABLE, d->dd.node_id, &v) != 0)
        return;
    int manager = v.value_len == 7 && memcmp(v.value, "manager", 7) == 0;
    int worker = v.value_len == 6 && memcmp(v.value, "worker", 6) == 0;
    if (manager && !d->raft)
        become_manager(nr);
    else if (worker && d->raft && !d->cfg.worker)
        become_worker(nr);
}

static void on_tick(uv_timer_t *t)
{
    pd_node_records_t *nr = t->data;
    if (nr->stopped || !nr->d->gossip || nr->d->stopping)
        return;
    follow_role(nr);
    lead_round(nr, nr->d->raft ? pd_raft_node_leader_term(nr->d) : 0);
}

/* mTLS on 2377 refuses the certificate of a node removed with `node rm` (its tombstone). */
static int removed_peer_check(void *ctx, const pd_pki_node_info_t *peer)
{
    return pd_node_is_removed(ctx, peer->node_id) ? -PD_ESTATE : 0;
}

int pd_node_records_start(pd_daemon_t *d, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    pd_node_records_t *nr = pd_calloc(1, sizeof *nr);
    if (!nr)
        return -ENOMEM;
    nr->d = d;
    d->nodes = nr;
    pd_swarm_set_removed_check(d, removed_peer_check, d);
    uv_timer_init(d->loop, &nr->timer);
    nr->timer.data = nr;
    nr->open = 1;
    uv_timer_start(&nr->timer, on_tick, PD_NODE_TICK_MS, PD_NODE_TICK_MS);
    return 0;
}

void pd_node_records_stop(pd_daemon_t *d)
{
    pd_node_records_t *nr = d->nodes;
    if (!nr || nr->stopped)
        return;
    nr->stopped = 1;
    if (nr->open)
        uv_close((uv_handle_t *)&nr->timer, NULL);
}

void pd_node_records_free(pd_daemon_t *d)
{
    pd_free(d->nodes);
    d->nodes = NULL;
}
