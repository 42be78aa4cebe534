/* peerctl swarm init --force-new-cluster: recover a cluster whose managers lost their quorum from
 * one surviving manager, keeping the state (Docker Swarm's flag of the same name).
 *   1. Raft: this manager becomes the only voter, keeps its whole log and leads at once in a new
 *      term (pd_raft_node_force_new_cluster; refused while a quorum is reachable).
 *   2. A read barrier: every entry the survivor held is now committed and applied.
 *   3. Node records: the former managers are marked removed (tombstones) in one txn, so that
 *      `node ls` stops counting them, the leader publishes "worker" for them (one that comes back
 *      stops its Raft and deletes its stale log) and mTLS on 2377 refuses their certificates. They
 *      come back by `swarm leave --force` and a join with a token (a new identity).
 * The CA, the join tokens, secrets, configs and the gossip keyring are in the store or on disk and
 * are untouched: workers stay, and workers promoted or new managers joined bring the count back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "node_records.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "raft_node.h"
#include "store_wire.h"
#include "swarm.h"

static int removed_id(const uint64_t *ids, size_t n, const char *node_id)
{
    uint64_t rid = pd_raft_node_id_from(node_id);
    for (size_t i = 0; i < n; i++)
        if (ids[i] == rid)
            return 1;
    return 0;
}

/* arg: the removed Raft ids. The reply: like init's, plus the node ids now removed. */
static int force_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                      msgpack_packer *pk, char *err, size_t errlen)
{
    (void)tok;
    if (rc) {
        snprintf(err, errlen, "this manager now leads alone, but the former managers could not be marked removed "
                              "(%s): run 'peerctl node rm --force' for each", pd_strerror(rc));
        return rc;
    }
    const uint64_t *ids = arg;
    size_t n = arg_len / sizeof *ids;
    const pd_store_t *s = pd_raft_node_store(d);
    unsigned count = 0;
    for (const pd_store_obj_t *o = s ? pd_store_first(s, PD_STORE_NODE) : NULL; o; o = pd_store_next(o))
        count += removed_id(ids, n, o->id) && pd_node_rec_is_removed(s, o->id);
    char addr[PD_ADDR_MAX + 8], text[PD_PKI_TOKEN_LEN + 1] = "";
    pd_pki_token_t t;
    if (pd_swarm_token_get(d, PD_PKI_ROLE_WORKER, &t, NULL) == 0) {
        pd_pki_token_format(&t, text, sizeof text);
        pd_pki_token_wipe(&t);
    }
    pd_swarm_manager_addr(d, addr, sizeof addr);
    msgpack_pack_map(pk, 4);
    pd_mp_pack_kv_str(pk, "node_id", d->dd.node_id);
    pd_mp_pack_kv_str(pk, "addr", addr);
    pd_mp_pack_kv_str(pk, "worker_token", text);
    memset(text, 0, sizeof text);
    pd_mp_pack_cstr(pk, "removed");
    msgpack_pack_array(pk, count);
    for (const pd_store_obj_t *o = s ? pd_store_first(s, PD_STORE_NODE) : NULL; o; o = pd_store_next(o))
        if (removed_id(ids, n, o->id) && pd_node_rec_is_removed(s, o->id))
            pd_mp_pack_cstr(pk, o->id);
    return 0;
}

/* One txn that turns every former manager's record into a tombstone (at the versions read now,
 * after the barrier: a concurrent change fails the txn rather than being lost). */
static int tombstones_txn(const pd_store_t *s, const uint64_t *ids, size_t n, uint8_t **entry, size_t *len)
{
    pd_store_op_t ops[PD_RAFT_NODES_MAX];
    uint8_t *specs[PD_RAFT_NODES_MAX];
    uint32_t k = 0;
    int rc = 0;
    pd_node_rec_t *r = pd_malloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    for (const pd_store_obj_t *o = pd_store_first(s, PD_STORE_NODE); o && k < PD_RAFT_NODES_MAX && rc == 0;
         o = pd_store_next(o)) {
        if (!removed_id(ids, n, o->id) || pd_node_rec_decode(o->spec, o->spec_len, r) != 0 || r->removed)
            continue;
        r->removed = true;
        size_t slen = 0;
        rc = pd_node_rec_encode(r, &specs[k], &slen);
        if (rc)
            break;
        ops[k] = (pd_store_op_t){.op = PD_STORE_OP_UPDATE, .kind = PD_STORE_NODE, .version = o->version,
                                 .id = {(const uint8_t *)o->id, o->id_len}, .name = {(const uint8_t *)o->name, o->name_len},
                                 .spec = {specs[k], (uint32_t)slen}};
        k++;
    }
    pd_free(r);
    *entry = NULL;
    *len = 0;
    if (rc == 0 && k > 0) {
        pd_store_txn_t txn = {.now_ms = (int64_t)pd_clock_wall(&pd_clock_real), .ops = ops, .n_ops = k};
        rc = pd_store_wire_encode_txn(&txn, entry, len);
    }
    for (uint32_t i = 0; i < k; i++)
        pd_free(specs[i]);
    return rc;
}

static int barrier_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                        msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc)
        return force_done(d, tok, arg, arg_len, rc, pk, err, errlen);
    const pd_store_t *s = pd_raft_node_store(d);
    uint8_t *entry = NULL;
    size_t len = 0;
    rc = s ? tombstones_txn(s, arg, arg_len / sizeof(uint64_t), &entry, &len) : -PD_ESTATE;
    if (rc || !entry)
        return force_done(d, tok, arg, arg_len, rc, pk, err, errlen); /* nothing to mark (legacy cluster) */
    rc = pd_raft_node_write(d, tok, entry, len, force_done, arg, arg_len, err, errlen);
    pd_free(entry);
    return rc;
}

int pd_ctl_swarm_force_new_cluster(pd_daemon_t *d, char *err, size_t errlen)
{
    if (!pd_swarm_in_cluster(d)) {
        snprintf(err, errlen, "This node is not part of a swarm: --force-new-cluster recovers an existing cluster "
                              "from one of its managers");
        return -PD_ESTATE;
    }
    if (!d->raft) {
        snprintf(err, errlen, "This node is not a swarm manager: run --force-new-cluster on a surviving manager");
        return -PD_ESTATE;
    }
    uint64_t removed[PD_RAFT_NODES_MAX];
    uint32_t n = 0;
    int rc = pd_raft_node_force_new_cluster(d, removed, &n, err, errlen);
    if (rc)
        return rc;
    return pd_raft_node_read(d, &d->ctl_cur, barrier_done, removed, n * sizeof *removed, err, errlen);
}
