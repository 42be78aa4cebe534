/* Autolock: peerctl swarm update --autolock, swarm unlock-key [--rotate], swarm unlock.
 *
 * The setting is the store's CLUSTER object PD_AUTOLOCK_ID (raft_keys.h): its data is the unlock
 * key while autolock is on. Turning it on or rotating makes a fresh random key on the manager that
 * takes the request and writes it through Raft with the version it read (a concurrent change gets
 * a conflict, not a lost update); every manager then re-wraps its data key (pd_raft_keys_follow).
 * The unlock key reaches disk only inside sealed WAL records and snapshots, and leaves a manager
 * only in Raft traffic and in the replies of these operations; it is never logged. */
#include "ctl_lock.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keyfile.h"
#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "raft_keys.h"
#include "raft_node.h"
#include "store_wire.h"

enum { WANT_OFF = 0, WANT_ON = 1, WANT_SHOW = 2, WANT_ROTATE = 3 };

/* A write's completion argument: the new key's text (empty when turning autolock off). */
typedef struct {
    char text[PD_UNLOCK_KEY_TEXT_LEN + 1];
} lock_arg_t;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pack_result(msgpack_packer *pk, int changed, const char *key_text)
{
    msgpack_pack_map(pk, key_text ? 2 : 1);
    pd_mp_pack_kv_bool(pk, "changed", changed);
    if (key_text)
        pd_mp_pack_kv_str(pk, "unlock_key", key_text);
}

static int write_done(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                      msgpack_packer *pk, char *err, size_t errlen)
{
    const lock_arg_t *a = arg;
    if (rc == -PD_ECONFLICT || rc == -PD_EEXISTS)
        snprintf(err, errlen, "the autolock setting changed at the same time; retry");
    if (!rc)
        pack_result(pk, 1, a->text[0] ? a->text : NULL);
    sodium_memzero((void *)a->text, sizeof a->text); /* the request slot's copy */
    return rc;
}

/* Write the setting: a new random unlock key, or none (off). */
static int write_setting(pd_daemon_t *d, const pd_ctl_token_t *tok, const pd_store_obj_t *cur, int on, char *err,
                         size_t errlen)
{
    uint8_t key[PD_SEAL_KEY_LEN];
    lock_arg_t a = {{0}};
    if (on) {
        randombytes_buf(key, sizeof key);
        pd_unlock_key_format(key, a.text);
    }
    pd_store_op_t op = {.op = cur ? PD_STORE_OP_UPDATE : PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER,
                        .version = cur ? cur->version : 0,
                        .id = {(const uint8_t *)PD_AUTOLOCK_ID, (uint32_t)strlen(PD_AUTOLOCK_ID)},
                        .data = {key, on ? PD_SEAL_KEY_LEN : 0}};
    pd_store_txn_t txn = {.now_ms = wall_ms(), .ops = &op, .n_ops = 1};
    uint8_t *entry = NULL;
    size_t elen = 0;
    int rc = pd_store_wire_encode_txn(&txn, &entry, &elen);
    sodium_memzero(key, sizeof key);
    if (!rc)
        rc = pd_raft_node_write(d, tok, entry, elen, write_done, &a, sizeof a, err, errlen);
    if (entry)
        sodium_memzero(entry, elen);
    pd_free(entry);
    sodium_memzero(&a, sizeof a);
    return rc;
}

/* After the read barrier: compare with the wanted state and write only a change. */
static int setting_read(pd_daemon_t *d, const pd_ctl_token_t *tok, const void *arg, size_t arg_len, int rc,
                        msgpack_packer *pk, char *err, size_t errlen)
{
    if (rc)
        return rc;
    int want = *(const uint8_t *)arg;
    const pd_store_t *s = pd_raft_node_store(d);
    const uint8_t *key;
    uint64_t version;
    int on = pd_autolock_setting(s, &key, &version);
    const pd_store_obj_t *cur = pd_store_get(s, PD_STORE_CLUSTER, PD_AUTOLOCK_ID, strlen(PD_AUTOLOCK_ID));
    if ((want == WANT_SHOW || want == WANT_ROTATE) && !on) {
        snprintf(err, errlen, "autolock is not enabled: there is no unlock key (peerctl swarm update "
                              "--autolock=true turns it on)");
        return -PD_ESTATE;
    }
    if (want == WANT_SHOW) {
        char text[PD_UNLOCK_KEY_TEXT_LEN + 1];
        pd_unlock_key_format(key, text);
        pack_result(pk, 0, text);
        sodium_memzero(text, sizeof text);
        return 0;
    }
    if ((want == WANT_ON && on) || (want == WANT_OFF && !on)) {
        pack_result(pk, 0, NULL); /* already so: the key stays (rotate it explicitly) */
        return 0;
    }
    return write_setting(d, tok, cur, want != WANT_OFF, err, errlen);
}

static int read_then(pd_daemon_t *d, uint8_t want, char *err, size_t errlen)
{
    return pd_raft_node_read(d, &d->ctl_cur, setting_read, &want, 1, err, errlen);
}

int pd_ctl_swarm_update(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    int on;
    if (!req->args || pd_mp_get_bool(req->args, "autolock", &on) != 0) {
        snprintf(err, errlen, "swarm.update needs autolock (true or false)");
        return -PD_EUSAGE;
    }
    return read_then(d, on ? WANT_ON : WANT_OFF, err, errlen);
}

int pd_ctl_swarm_unlock_key(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err,
                            size_t errlen)
{
    int rotate = 0;
    if (req->args)
        pd_mp_get_bool(req->args, "rotate", &rotate);
    return read_then(d, rotate ? WANT_ROTATE : WANT_SHOW, err, errlen);
}

int pd_ctl_swarm_unlock(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    const char *key;
    size_t len;
    if (!req->args || pd_mp_get_str(req->args, "key", &key, &len) != 0) {
        snprintf(err, errlen, "swarm.unlock needs key");
        return -PD_EUSAGE;
    }
    int rc = pd_raft_node_unlock(d, key, len, err, errlen);
    if (rc == 0)
        msgpack_pack_map(pk, 0);
    return rc;
}
