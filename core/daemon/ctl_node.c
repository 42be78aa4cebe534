/* Node control operations (ctl_node.h). Each runs after a read barrier on the local store; the
 * changing ones then write the record back as an update of the version they read (a concurrent
 * change makes them fail with a conflict rather than lose it). */
#include "ctl_node.h"

#include <stdio.h>
#include <string.h>

#include "gossip_io.h"
#include "gossip_setup.h"
#include "node_records.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "store_wire.h"
#include "swarm.h"

enum { OP_LS = 1, OP_INSPECT, OP_UPDATE, OP_PROMOTE, OP_DEMOTE, OP_RM };

/* --- what gossip and Raft say about a node -------------------------------------------------- */

typedef struct {
    int ready;          /* alive (or suspect) in gossip */
    char version[32];
    int in_conf;        /* 1 voter, 2 learner, 0 not a Raft member */
    int leader, reach;
} node_view_t;

static void view_of(pd_daemon_t *d, const char *id, node_view_t *v)
{
    memset(v, 0, sizeof *v);
    pd_swim_member_info_t m;
    if (d->gossip && pd_swim_member(pd_gagent_swim(pd_gossip_io_agent(d->gossip)), id, &m) == 0) {
        v->ready = m.state == PD_SWIM_ALIVE || m.state == PD_SWIM_SUSPECT;
        msgpack_unpacked u;
        if (m.meta_len && pd_mp_unpack(m.meta, m.meta_len, &u) == 0) {
            pd_mp_get_strbuf(&u.data, "v", v->version, sizeof v->version);
            msgpack_unpacked_destroy(&u);
        }
    }
    int rc = pd_raft_node_manager_state(d, pd_raft_node_id_from(id), &v->leader, &v->reach);
    v->in_conf = rc > 0 ? rc : 0;
}

static const char *manager_status(const pd_node_rec_t *r, const node_view_t *v)
{
    if (v->in_conf == 1)
        return v->leader ? "Leader" : v->reach ? "Reachable" : "Unreachable";
    if (v->in_conf == 2)
        return "Joining"; /* a learner catching up before it votes */
    return r->role == PD_NODE_MANAGER && !r->removed ? "Pending" : "";
}

/* --- resolving NODE ------------------------------------------------------------------------- */

/* A removed node is found only by its full id, and only when with_removed (inspect). */
static const pd_store_obj_t *resolve(const pd_store_t *s, const char *ref, int with_removed, char *err, size_t errlen)
{
    size_t len = strlen(ref);
    const pd_store_obj_t *o = pd_store_get(s, PD_STORE_NODE, ref, len), *hit = NULL;
    if (o && (with_removed || !pd_node_rec_is_removed(s, o->id)))
        return o;
    int n = 0;
    pd_node_rec_t *r = pd_malloc(sizeof *r);
    for (o = pd_store_first(s, PD_STORE_NODE); o && r; o = pd_store_next(o)) {
        if (pd_node_rec_decode(o->spec, o->spec_len, r) != 0 || r->removed)
            continue;
        if ((len && strncmp(o->id, ref, len) == 0) || strcmp(r->hostname, ref) == 0) {
            n += hit != o;
            hit = o;
        }
    }
    pd_free(r);
    if (n == 1)
        return hit;
    if (n > 1)
        snprintf(err, errlen, "node %s is ambiguous (%d matches): use a longer id", ref, n);
    else
        snprintf(err, errlen, "node %s not found", ref);
    return NULL;
}

/* --- packing -------------------------------------------------------------------------------- */

static void pack_labels(msgpack_packer *pk, const pd_node_rec_t *r)
{
    msgpack_pack_map(pk, r->n_labels);
    for (uint32_t i = 0; i < r->n_labels; i++) {
        pd_mp_pack_cstr(pk, r->labels[i].key);
        pd_mp_pack_cstr(pk, r->labels[i].value);
    }
}

static void pack_row(pd_daemon_t *d, msgpack_packer *pk, const pd_store_obj_t *o, const pd_node_rec_t *r)
{
    node_view_t v;
    view_of(d, o->id, &v);
    msgpack_pack_map(pk, 9);
    pd_mp_pack_kv_str(pk, "id", o->id);
    pd_mp_pack_kv_bool(pk, "self", strcmp(o->id, d->dd.node_id) == 0);
    pd_mp_pack_kv_str(pk, "hostname", r->hostname);
    pd_mp_pack_kv_str(pk, "status", v.ready ? "Ready" : "Down");
    pd_mp_pack_kv_str(pk, "availability", r->avail == PD_NODE_DRAIN ? "Drain" : r->avail == PD_NODE_PAUSE ? "Pause"
                                                                                                           : "Active");
    pd_mp_pack_kv_str(pk, "manager_status", manager_status(r, &v));
    pd_mp_pack_kv_str(pk, "version", v.version);
    pd_mp_pack_kv_str(pk, "role", pd_node_role_name(r->role));
    pd_mp_pack_cstr(pk, "labels");
    pack_labels(pk, r);
}

static void pack_full(pd_daemon_t *d, msgpack_packer *pk, const pd_store_obj_t *o, const pd_node_rec_t *r)
{
    node_view_t v;
    view_of(d, o->id, &v);
    msgpack_pack_map(pk, 8);
    pd_mp_pack_kv_str(pk, "ID", o->id);
    pd_mp_pack_kv_u64(pk, "Version", o->version);
    pd_mp_pack_kv_i64(pk, "CreatedAt", o->created_ms);
    pd_mp_pack_kv_i64(pk, "UpdatedAt", o->updated_ms);
    pd_mp_pack_cstr(pk, "Spec");
    msgpack_pack_map(pk, 3);
    pd_mp_pack_kv_str(pk, "Role", pd_node_role_name(r->role));
    pd_mp_pack_kv_str(pk, "Availability", pd_node_avail_name(r->avail));
    pd_mp_pack_cstr(pk, "Labels");
    pack_labels(pk, r);
    pd_mp_pack_cstr(pk, "Description");
    msgpack_pack_map(pk, 2);
    pd_mp_pack_kv_str(pk, "Hostname", r->hostname);
    pd_mp_pack_kv_str(pk, "Version", v.version);
    pd_mp_pack_cstr(pk, "Status");
    msgpack_pack_map(pk, 2);
    pd_mp_pack_kv_str(pk, "State", r->removed ? "removed" : v.ready ? "ready" : "down");
    pd_mp_pack_kv_bool(pk, "Removed", r->removed);
    pd_mp_pack_cstr(pk, "ManagerStatus");
    if (!v.in_conf) {
        msgpack_pack_nil(pk);
        return;
    }
    char rid[17];
    snprintf(rid, sizeof rid, "%016llx", (unsigned long long)pd_raft_node_id_from(o->id));
    msgpack_pack_map(pk, 4);
    pd_mp_pack_kv_str(pk, "RaftID", rid);
    pd_mp_pack_kv_bool(pk, "Leader", v.leader);
    pd_mp_pack_kv_str(pk, "Reachability", v.reach ? "reachable" : "unreachable");
    pd_mp_pack_kv_str(pk, "Suffrage", v.in_conf == 1 ? "voter" : "learner");
}

/* --- the operations ------------------------------------------------------------------------- */

static int do_ls(pd_daemon_t *d, msgpack_packer *pk)
{
    const pd_store_t *s = pd_raft_node_store(d);
    pd_node_rec_t *r = pd_malloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    uint32_t n = 0;
    for (const pd_store_obj_t *o = pd_store_first(s, PD_STORE_NODE); o; o = pd_store_next(o))
        n += pd_node_rec_decode(o->spec, o->spec_len, r) == 0 && !r->removed;
    msgpack_pack_array(pk, n);
    for (const pd_store_obj_t *o = pd_store_first(s, PD_STORE_NODE); o; o = pd_store_next(o))
        if (pd_node_rec_decode(o->spec, o->spec_len, r) == 0 && !r->removed)
            pack_row(d, pk, o, r);
    pd_free(r);
    return 0;
}

/* Can node_id be promoted? It needs a certificate of this cluster, recorded as "joined.<node id>"
 * (by the join, or by init for the init node); a worker-token node's certificate is re-issued with
 * the manager role by its next renewal, which a role change triggers (ca_renew.c). A gossip-only
 * member (no certificate, no record) cannot. 0, or an error with err. */
static int promotable(const pd_store_t *s, const char *node_id, char *err, size_t errlen)
{
    char id[64];
    int n = snprintf(id, sizeof id, PD_SWARM_JOINED_PREFIX "%s", node_id);
    if (pd_store_get(s, PD_STORE_CLUSTER, id, (size_t)n))
        return 0;
    snprintf(err, errlen, "node %s has no certificate of this cluster (a gossip-only member, started with "
                          "--join): join it with the manager token instead", node_id);
    return -PD_ESTATE;
}

/* Apply an update/promote/demote/rm to the record; returns 0, or an error with err (nothing
 * changes). *msg gets what to print on success. */
static int change(pd_daemon_t *d, int op, const msgpack_object *args, const pd_store_obj_t *o, pd_node_rec_t *r,
                  char *msg, size_t msglen, char *err, size_t errlen)
{
    const pd_store_t *s = pd_raft_node_store(d);
    if (op == OP_PROMOTE && r->role != PD_NODE_MANAGER && promotable(s, o->id, err, errlen) != 0)
        return -PD_ESTATE;
    if (op == OP_PROMOTE || op == OP_DEMOTE) { /* checked and written by pd_node_set_role */
        r->role = op == OP_PROMOTE ? PD_NODE_MANAGER : PD_NODE_WORKER;
        snprintf(msg, msglen, "Node %s %s", o->id, op == OP_PROMOTE ? "promoted to a manager in the cluster."
                                                                     : "demoted in the cluster.");
        return 0;
    }
    if (op == OP_RM) {
        int force = 0;
        pd_mp_get_bool(args, "force", &force);
        node_view_t v;
        view_of(d, o->id, &v);
        if (r->role == PD_NODE_MANAGER && pd_node_managers(s) <= 1) {
            snprintf(err, errlen, "node %s is the last manager of the cluster and cannot be removed", o->id);
            return -PD_ESTATE;
        }
        if (v.ready && !force) {
            snprintf(err, errlen, "node %s is not down and can't be removed (use --force)", o->id);
            return -PD_ESTATE;
        }
        if (r->role == PD_NODE_MANAGER && !force) {
            snprintf(err, errlen, "node %s is a manager: demote it first (or use --force)", o->id);
            return -PD_ESTATE;
        }
        r->removed = true;
        snprintf(msg, msglen, "%s", o->id);
        return 0;
    }
    char avail[16];
    if (pd_mp_get_strbuf(args, "availability", avail, sizeof avail) == 0) {
        pd_node_avail_t a;
        if (pd_node_avail_parse(avail, &a) != 0) {
            snprintf(err, errlen, "invalid availability '%s': active, pause or drain", avail);
            return -PD_EUSAGE;
        }
        r->avail = (uint8_t)a;
    }
    const msgpack_object *add = pd_mp_get(args, "label_add"), *rm = pd_mp_get(args, "label_rm");
    for (uint32_t i = 0; add && add->type == MSGPACK_OBJECT_ARRAY && i < add->via.array.size; i++) {
        const msgpack_object *e = &add->via.array.ptr[i];
        char kv[PD_NODE_LABEL_KEY_MAX + PD_NODE_LABEL_VAL_MAX + 2] = "";
        if (e->type == MSGPACK_OBJECT_STR && e->via.str.size < sizeof kv)
            memcpy(kv, e->via.str.ptr, e->via.str.size);
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        int rc = pd_node_rec_label_set(r, kv, eq ? eq + 1 : "");
        if (rc) {
            snprintf(err, errlen, rc == -PD_ELIMIT ? "too many labels (at most %u)" : "invalid label '%.*s'",
                     rc == -PD_ELIMIT ? PD_NODE_LABELS_MAX : (unsigned)e->via.str.size,
                     e->type == MSGPACK_OBJECT_STR ? e->via.str.ptr : "");
            return rc;
        }
    }
    for (uint32_t i = 0; rm && rm->type == MSGPACK_OBJECT_ARRAY && i < rm->via.array.size; i++) {
        const msgpack_object *e = &rm->via.array.ptr[i];
        char key[PD_NODE_LABEL_KEY_MAX + 1] = "";
        if (e->type == MSGPACK_OBJECT_STR && e->via.str.size < sizeof key)
            memcpy(key, e->via.str.ptr, e->via.str.size);
        if (pd_node_rec_label_rm(r, key) != 0) {
            snprintf(err, errlen, "label '%s' is not set on node %s", key, o->id);
            return -PD_ENOTFOUND;
        }
    }
    snprintf(msg, msglen, "%s", o->id);
    return 0;
}

/* arg of a write: "message\0warning" */
static int write_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                      msgpack_packer *pk, char *err, size_t errlen)
{
    (void)tok, (void)arg_len;
    if (rc) {
        if (rc == -PD_ECONFLICT)
            snprintf(err, errlen, "the node changed while this update was in flight; retry");
        return rc;
    }
    const char *msg = arg, *warn = msg + strlen(msg) + 1;
    if (warn[0])
        PD_WARN(&d->log, "%s", warn);
    msgpack_pack_map(pk, warn[0] ? 2 : 1);
    pd_mp_pack_kv_str(pk, "message", msg);
    if (warn[0])
        pd_mp_pack_kv_str(pk, "warning", warn);
    return 0;
}

static int do_write(pd_daemon_t *d, const pd_ctl_token_t *tok, int op, const msgpack_object *args,
                    const pd_store_obj_t *o, char *err, size_t errlen)
{
    pd_node_rec_t *r = pd_malloc(sizeof *r);
    char arg[PD_RN_ARG_MAX] = "";
    int rc = r ? pd_node_rec_decode(o->spec, o->spec_len, r) : -ENOMEM;
    int was_manager = r && r->role == PD_NODE_MANAGER && !r->removed;
    if (rc == 0)
        rc = change(d, op, args, o, r, arg, 160, err, errlen);
    uint8_t *entry = NULL;
    size_t len = 0;
    int role_change = op == OP_PROMOTE || op == OP_DEMOTE;
    if (rc == 0 && !role_change)
        rc = pd_node_records_txn(o->id, r, o->version, &entry, &len);
    if (rc == 0) {
        size_t ml = strlen(arg) + 1;
        unsigned managers = pd_node_managers(pd_raft_node_store(d));
        int is_manager = r->role == PD_NODE_MANAGER && !r->removed;
        managers = managers - (unsigned)was_manager + (unsigned)is_manager;
        if (was_manager != is_manager && managers % 2 == 0)
            snprintf(arg + ml, sizeof arg - ml, "the cluster will have %u managers, an even number: it tolerates "
                     "no more failures than with %u; add or remove one", managers, managers - 1);
        size_t alen = ml + strlen(arg + ml) + 1;
        rc = role_change ? pd_node_set_role(d, tok, o->id, (pd_node_role_t)r->role, write_done, arg, alen, err, errlen)
                         : pd_raft_node_write(d, tok, entry, len, write_done, arg, alen, err, errlen);
    }
    pd_free(entry);
    pd_free(r);
    return rc;
}

/* After the read barrier. arg: [op byte][the request's args, msgpack] */
static int barrier_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                        msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc)
        return rc;
    const uint8_t *a = arg;
    int op = a[0];
    if (op == OP_LS)
        return do_ls(d, pk);
    msgpack_unpacked u;
    if (pd_mp_unpack(a + 1, arg_len - 1, &u) != 0)
        return -PD_EMALFORMED;
    char ref[PD_STORE_NAME_MAX + 1] = "";
    pd_mp_get_strbuf(&u.data, "ref", ref, sizeof ref);
    const pd_store_t *s = pd_raft_node_store(d);
    const pd_store_obj_t *o = resolve(s, ref, op == OP_INSPECT, err, errlen);
    if (!o)
        rc = -PD_ENOTFOUND;
    else if (op == OP_INSPECT) {
        pd_node_rec_t *r = pd_malloc(sizeof *r);
        rc = r ? pd_node_rec_decode(o->spec, o->spec_len, r) : -ENOMEM;
        if (rc == 0)
            pack_full(d, pk, o, r);
        pd_free(r);
    } else {
        rc = do_write(d, tok, op, &u.data, o, err, errlen);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

static int start(pd_daemon_t *d, const pd_ctl_request_t *req, int op, char *err, size_t errlen)
{
    uint8_t arg[PD_RN_ARG_MAX];
    size_t len = 1;
    arg[0] = (uint8_t)op;
    if (op != OP_LS) {
        const char *ref;
        size_t rlen;
        if (!req->args || pd_mp_get_str(req->args, "ref", &ref, &rlen) != 0 || rlen == 0 || rlen > PD_STORE_NAME_MAX) {
            snprintf(err, errlen, "a NODE (id, id prefix or hostname) is required");
            return -PD_EUSAGE;
        }
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_object(&pk, *req->args);
        int fits = sb.size + 1 <= sizeof arg;
        if (fits)
            memcpy(arg + 1, sb.data, sb.size);
        len += sb.size;
        msgpack_sbuffer_destroy(&sb);
        if (!fits) {
            snprintf(err, errlen, "too many changes in one request (at most %u bytes of arguments)", PD_RN_ARG_MAX - 1);
            return -PD_ETOOBIG;
        }
    }
    return pd_raft_node_read(d, &d->ctl_cur, barrier_done, arg, len, err, errlen);
}

int pd_ctl_node_ls(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return start(d, req, OP_LS, err, errlen);
}

int pd_ctl_node_inspect(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return start(d, req, OP_INSPECT, err, errlen);
}

int pd_ctl_node_update(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return start(d, req, OP_UPDATE, err, errlen);
}

int pd_ctl_node_promote(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return start(d, req, OP_PROMOTE, err, errlen);
}

int pd_ctl_node_demote(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return start(d, req, OP_DEMOTE, err, errlen);
}

int pd_ctl_node_rm(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    return start(d, req, OP_RM, err, errlen);
}
