/* peerctl swarm gossip-key [--rotate]: the Raft-committed gossip keyring's status (key ids, the
 * rotation's phase and who has not acked it; never a key), and starting a rotation. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gossip_io.h"
#include "gossip_rotation_int.h"
#include "gossip_rotation_run.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "swarm.h"

static void id_hex(const uint8_t *key, char out[2 * PD_KEYRING_ID_LEN + 1])
{
    uint8_t id[PD_KEYRING_ID_LEN];
    pd_keyring_key_id(key, id);
    sodium_bin2hex(out, 2 * PD_KEYRING_ID_LEN + 1, id, sizeof id);
}

/* {gen, phase, primary, old?, new?, keys:[ids of the phase's ring], rotations, started_ms, phase_ms,
 *  phase_age_s, members, acked, stalled, waiting:[node ids]} */
static int pack_status(pd_daemon_t *d, msgpack_packer *pk, char *err, size_t errlen)
{
    pd_gkr_record_t r;
    int rc = pd_gkey_record_get(pd_raft_node_store(d), &r, NULL);
    if (rc == -PD_ENOTFOUND) {
        snprintf(err, errlen, "the gossip keyring is not committed to Raft yet (the leader does it at start); "
                              "try again in a moment");
        return rc;
    }
    if (rc) {
        snprintf(err, errlen, "the gossip keyring record is unreadable: %s", pd_strerror(rc));
        return rc;
    }
    pd_gkey_survey_t sv;
    memset(&sv, 0, sizeof sv);
    if (d->gossip)
        pd_gkey_survey(d, &r, &sv);
    int rotating = r.phase != PD_GKR_IDLE;
    char cur[2 * PD_KEYRING_ID_LEN + 1], next[2 * PD_KEYRING_ID_LEN + 1];
    id_hex(r.cur, cur);
    id_hex(r.next, next);
    uint8_t ids[2][PD_KEYRING_ID_LEN];
    unsigned n = pd_gkr_ring_ids(&r, ids);
    int64_t now = (int64_t)pd_clock_wall(&pd_clock_real);
    msgpack_pack_map(pk, rotating ? 14 : 12);
    pd_mp_pack_kv_u64(pk, "gen", r.gen);
    pd_mp_pack_kv_str(pk, "phase", pd_gkr_phase_name(r.phase));
    pd_mp_pack_kv_str(pk, "primary", r.phase == PD_GKR_USE || r.phase == PD_GKR_REMOVE ? next : cur);
    if (rotating) { /* the rotation's keys: the one being replaced, the one replacing it */
        pd_mp_pack_kv_str(pk, "old", cur);
        pd_mp_pack_kv_str(pk, "new", next);
    }
    pd_mp_pack_cstr(pk, "keys");
    msgpack_pack_array(pk, n);
    for (unsigned i = 0; i < n; i++) {
        char hex[2 * PD_KEYRING_ID_LEN + 1];
        sodium_bin2hex(hex, sizeof hex, ids[i], PD_KEYRING_ID_LEN);
        pd_mp_pack_cstr(pk, hex);
    }
    pd_mp_pack_kv_u64(pk, "rotations", r.rotations);
    pd_mp_pack_kv_i64(pk, "started_ms", r.started_ms);
    pd_mp_pack_kv_i64(pk, "phase_ms", r.phase_ms);
    pd_mp_pack_kv_u64(pk, "phase_age_s", now > r.phase_ms ? (uint64_t)(now - r.phase_ms) / 1000 : 0);
    pd_mp_pack_kv_u64(pk, "members", sv.step.members);
    pd_mp_pack_kv_u64(pk, "acked", sv.step.acked);
    pd_mp_pack_kv_bool(pk, "stalled", sv.step.stalled);
    unsigned w = sv.step.n_waiting < PD_GKEY_WAITING_MAX ? sv.step.n_waiting : PD_GKEY_WAITING_MAX;
    pd_mp_pack_cstr(pk, "waiting");
    msgpack_pack_array(pk, w);
    for (unsigned i = 0; i < w; i++)
        pd_mp_pack_cstr(pk, sv.waiting[i]);
    pd_gkr_record_wipe(&r);
    return 0;
}

static int status_after_read(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                             msgpack_packer *pk, char *err, size_t errlen)
{
    return rc ? rc : pack_status(d, pk, err, errlen);
}

/* arg: the new key's id (hex, NUL-terminated). */
static int rotate_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                       msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc == -PD_ECONFLICT)
        snprintf(err, errlen, "the gossip keyring changed while the rotation was being committed; try again");
    if (rc)
        return rc;
    PD_INFO(&d->log, "gossip key rotation started: new key %s", (const char *)arg);
    msgpack_pack_map(pk, 2);
    pd_mp_pack_kv_str(pk, "next", (const char *)arg);
    pd_mp_pack_kv_str(pk, "phase", pd_gkr_phase_name(PD_GKR_INSTALL));
    return 0;
}

/* A rotation reads first (linearizable) so it starts from the latest record, and updates that
 * version: a concurrent start or phase change fails it instead of being lost. */
static int rotate_after_read(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                             msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc)
        return rc;
    pd_gkr_record_t r, next;
    uint64_t version = 0;
    rc = pd_gkey_record_get(pd_raft_node_store(d), &r, &version);
    if (rc) {
        snprintf(err, errlen, rc == -PD_ENOTFOUND ? "the gossip keyring is not committed to Raft yet (the leader "
                                                    "does it at start); try again in a moment"
                                                  : "the gossip keyring record is unreadable");
        return rc;
    }
    if (r.phase != PD_GKR_IDLE) {
        int64_t now = (int64_t)pd_clock_wall(&pd_clock_real);
        snprintf(err, errlen, "a gossip key rotation is already in progress (phase %s for %lld s); see "
                              "'peerctl swarm gossip-key'", pd_gkr_phase_name(r.phase),
                 (long long)(now > r.phase_ms ? (now - r.phase_ms) / 1000 : 0));
        pd_gkr_record_wipe(&r);
        return -PD_ESTATE;
    }
    uint8_t key[PD_KEYRING_KEY_LEN];
    randombytes_buf(key, sizeof key);
    rc = pd_gkr_begin(&r, key, (int64_t)pd_clock_wall(&pd_clock_real), &next);
    char hex[2 * PD_KEYRING_ID_LEN + 1];
    id_hex(key, hex);
    sodium_memzero(key, sizeof key);
    if (rc == 0)
        rc = pd_gkey_propose(d, tok, &next, version, rotate_done, hex, sizeof hex, err, errlen);
    else
        snprintf(err, errlen, "cannot start the rotation: %s", pd_strerror(rc));
    pd_gkr_record_wipe(&r);
    pd_gkr_record_wipe(&next);
    return rc;
}

int pd_ctl_swarm_gossip_key(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                            size_t errlen)
{
    if (!d->swarm || !d->swarm->active || !d->raft) {
        snprintf(err, errlen, "This node is not a swarm manager. Use 'peerctl swarm init' or 'peerctl swarm join' "
                              "to connect this node to swarm and try again.");
        return -PD_ESTATE;
    }
    int rotate = 0;
    if (req->args && pd_mp_get(req->args, "rotate"))
        pd_mp_get_bool(req->args, "rotate", &rotate);
    return pd_raft_node_read(d, &d->ctl_cur, rotate ? rotate_after_read : status_after_read, NULL, 0, err, errlen);
}
