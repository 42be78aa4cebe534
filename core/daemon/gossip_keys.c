#include "gossip_keys.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gossip_io.h"
#include "gossip_setup.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "swarm.h"

#define KEYS_TABLE "_gossip"
#define DESIRED_KEY "keyring"
enum { DESIRED_KEYS_MAX = 8 }; /* keeps the entry under the table's value cap */

static pd_keyring_t *live(pd_daemon_t *d) { return pd_gagent_keyring(pd_gossip_io_agent(d->gossip)); }

/* An init/join cluster: the keyring is Raft's (see the header). */
static int raft_owned(const pd_daemon_t *d) { return d->swarm && d->swarm->active; }

/* {"p": primary key, "k": [keys...]} : the whole desired ring. */
static int encode_ring(const pd_keyring_t *kr, uint8_t *out, size_t cap, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, kr->count);
    for (unsigned i = 0; i < kr->count; i++) { /* slot 0 is the primary */
        msgpack_pack_bin(&pk, PD_KEYRING_KEY_LEN);
        msgpack_pack_bin_body(&pk, kr->keys[i].key, PD_KEYRING_KEY_LEN);
    }
    return pd_mp_sbuffer_take(&sb, out, cap, len, 1); /* key material: wiped */
}

static int decode_ring(const uint8_t *data, size_t len, pd_keyring_t *out)
{
    msgpack_unpacked u;
    int rc = pd_mp_unpack(data, len, &u);
    if (rc)
        return rc;
    pd_keyring_t kr;
    pd_keyring_init(&kr);
    const msgpack_object *a = &u.data;
    rc = (a->type == MSGPACK_OBJECT_ARRAY && a->via.array.size >= 1 && a->via.array.size <= DESIRED_KEYS_MAX)
             ? 0 : -PD_EMALFORMED;
    for (uint32_t i = 0; rc == 0 && i < a->via.array.size; i++) {
        const msgpack_object *k = &a->via.array.ptr[i];
        if (k->type != MSGPACK_OBJECT_BIN || k->via.bin.size != PD_KEYRING_KEY_LEN)
            rc = -PD_EMALFORMED;
        else
            rc = pd_keyring_install(&kr, (const uint8_t *)k->via.bin.ptr);
    }
    if (rc == 0)
        rc = pd_keyring_use(&kr, (const uint8_t *)a->via.array.ptr[0].via.bin.ptr);
    msgpack_unpacked_destroy(&u);
    if (rc == 0)
        *out = kr;
    else
        pd_keyring_free(&kr);
    return rc;
}

/* "keys@<node>" = [primary id, other ids...] as 4-byte bins. */
static void publish_ids(pd_daemon_t *d)
{
    const pd_keyring_t *kr = live(d);
    uint8_t buf[256];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, kr->count);
    for (unsigned i = 0; i < kr->count; i++) {
        msgpack_pack_bin(&pk, PD_KEYRING_ID_LEN);
        msgpack_pack_bin_body(&pk, kr->keys[i].id, PD_KEYRING_ID_LEN);
    }
    char key[96];
    snprintf(key, sizeof key, "keys@%s", d->dd.node_id);
    if (sb.size <= sizeof buf)
        pd_gagent_put(pd_gossip_io_agent(d->gossip), pd_gossip_io_now(d->gossip), KEYS_TABLE, key, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void republish_cb(uv_timer_t *t)
{
    pd_daemon_t *d = t->data;
    if (!d->gossip || d->stopping)
        return;
    if (pd_gossip_keyring_save(d->cfg.data_dir, live(d)) != 0)
        PD_ERROR(&d->log, "cannot persist the gossip keyring in %s", d->cfg.data_dir);
    publish_ids(d);
    pd_gossip_io_flush(d->gossip);
}

/* Runs inside a table merge: only touch the keyring here; publishing waits for the timer. */
static void on_keys_event(void *ctx, const pd_gtable_view_t *ev)
{
    pd_daemon_t *d = ctx;
    if (ev->deleted || strcmp(ev->key, DESIRED_KEY) != 0 || strcmp(ev->table, KEYS_TABLE) != 0)
        return;
    if (raft_owned(d)) {
        static pd_ratelimit_t rl;
        uint64_t hidden = 0;
        if (pd_ratelimit_ok(&rl, pd_gossip_io_now(d->gossip), PD_LOG_RATE_INTERVAL_MS, &hidden))
            PD_WARN(&d->log, "ignoring a gossiped keyring from %s: this cluster's keyring changes through Raft "
                    "only suppressed=%llu", ev->owner, (unsigned long long)hidden);
        return;
    }
    pd_keyring_t want;
    if (decode_ring(ev->value, ev->value_len, &want) != 0) {
        PD_WARN(&d->log, "ignoring a malformed desired gossip keyring from %s", ev->owner);
        return;
    }
    pd_keyring_converge(live(d), &want); /* frames seal with the new primary from the next one on */
    pd_keyring_free(&want);
    PD_INFO(&d->log, "gossip keyring updated from=%s keys=%u", ev->owner, live(d)->count);
    uv_timer_start(&d->keys_timer, republish_cb, 0, 0);
}

int pd_gossip_keys_start(pd_daemon_t *d)
{
    uv_timer_init(d->loop, &d->keys_timer);
    d->keys_timer.data = d;
    int id;
    int rc = pd_gtable_watch(pd_gagent_table(pd_gossip_io_agent(d->gossip)), KEYS_TABLE, on_keys_event, d, &id);
    if (rc == 0)
        uv_timer_start(&d->keys_timer, republish_cb, 0, 0);
    return rc;
}

void pd_gossip_keys_changed(pd_daemon_t *d)
{
    if (d->keys_timer.loop && !uv_is_closing((uv_handle_t *)&d->keys_timer))
        uv_timer_start(&d->keys_timer, republish_cb, 0, 0);
}

void pd_gossip_keys_stop(pd_daemon_t *d)
{
    if (!uv_is_closing((uv_handle_t *)&d->keys_timer))
        uv_close((uv_handle_t *)&d->keys_timer, NULL);
}

/* ---- control operations ---- */
static int arg_key(pd_daemon_t *d, const pd_ctl_request_t *req, uint8_t key[PD_KEYRING_KEY_LEN], char *err,
                   size_t errlen)
{
    const char *p;
    size_t n;
    if (!d->gossip) {
        snprintf(err, errlen, "gossip is not running on this node");
        return -PD_ESTATE;
    }
    if (raft_owned(d)) {
        snprintf(err, errlen, "this cluster's gossip keyring is committed through Raft: rotate it with "
                              "'peerctl swarm gossip-key --rotate' (on a manager)");
        return -PD_ESTATE;
    }
    if (pd_mp_get_str(req->args, "key", &p, &n) != 0 || pd_keyring_key_parse(p, n, key) != 0) {
        snprintf(err, errlen, "a key is 32 random bytes in base64 (make one with 'peerctl gossip key generate')");
        return -PD_EUSAGE;
    }
    return 0;
}

/* Publish the live ring (after a local change) as the cluster's desired ring. */
static int publish_desired(pd_daemon_t *d, char *err, size_t errlen)
{
    uint8_t buf[PD_GTABLE_VALUE_MAX];
    size_t len = 0;
    if (live(d)->count > DESIRED_KEYS_MAX) {
        snprintf(err, errlen, "at most %d gossip keys at once: remove an old key first", DESIRED_KEYS_MAX);
        return -PD_ELIMIT;
    }
    int rc = encode_ring(live(d), buf, sizeof buf, &len);
    if (rc == 0)
        rc = pd_gagent_put(pd_gossip_io_agent(d->gossip), pd_gossip_io_now(d->gossip), KEYS_TABLE, DESIRED_KEY,
                           buf, len);
    sodium_memzero(buf, sizeof buf);
    if (rc) {
        snprintf(err, errlen, "cannot publish the keyring: %s", pd_strerror(rc));
        return rc;
    }
    uv_timer_start(&d->keys_timer, republish_cb, 0, 0);
    return 0;
}

static void pack_done(msgpack_packer *pk, const uint8_t key[PD_KEYRING_KEY_LEN])
{
    uint8_t id[PD_KEYRING_ID_LEN];
    char hex[2 * PD_KEYRING_ID_LEN + 1];
    pd_keyring_key_id(key, id);
    sodium_bin2hex(hex, sizeof hex, id, sizeof id);
    msgpack_pack_map(pk, 1);
    pd_mp_pack_kv_str(pk, "key_id", hex);
}

int pd_ctl_gossip_key_install(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    uint8_t key[PD_KEYRING_KEY_LEN];
    int rc = arg_key(d, req, key, err, errlen);
    if (rc == 0 && (rc = pd_keyring_install(live(d), key)) != 0)
        snprintf(err, errlen, "cannot install the key: %s", pd_strerror(rc));
    if (rc == 0 && (rc = publish_desired(d, err, errlen)) == 0)
        pack_done(pk, key);
    sodium_memzero(key, sizeof key);
    return rc;
}

int pd_ctl_gossip_key_use(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    uint8_t key[PD_KEYRING_KEY_LEN];
    int rc = arg_key(d, req, key, err, errlen);
    if (rc == 0 && (rc = pd_keyring_use(live(d), key)) != 0)
        snprintf(err, errlen, "that key is not installed: run 'peerctl gossip key install' first");
    if (rc == 0 && (rc = publish_desired(d, err, errlen)) == 0)
        pack_done(pk, key);
    sodium_memzero(key, sizeof key);
    return rc;
}

int pd_ctl_gossip_key_remove(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    uint8_t key[PD_KEYRING_KEY_LEN];
    int rc = arg_key(d, req, key, err, errlen);
    if (rc == 0 && (rc = pd_keyring_remove(live(d), key)) != 0)
        snprintf(err, errlen, rc == -PD_ESTATE ? "cannot remove the primary key: 'use' another key first"
                                               : "that key is not installed");
    if (rc == 0 && (rc = publish_desired(d, err, errlen)) == 0)
        pack_done(pk, key);
    sodium_memzero(key, sizeof key);
    return rc;
}

typedef struct {
    uint8_t id[PD_KEYRING_ID_LEN];
    unsigned installed, primary;
} key_count_t;

typedef struct {
    key_count_t rows[PD_KEYRING_KEYS_MAX * 4];
    size_t n;
    unsigned reporting;
} key_tally_t;

static void tally_one(key_tally_t *t, const uint8_t *id, int primary)
{
    size_t i = 0;
    while (i < t->n && memcmp(t->rows[i].id, id, PD_KEYRING_ID_LEN) != 0)
        i++;
    if (i == t->n) {
        if (t->n == sizeof t->rows / sizeof t->rows[0])
            return;
        memcpy(t->rows[t->n++].id, id, PD_KEYRING_ID_LEN);
    }
    t->rows[i].installed++;
    t->rows[i].primary += primary != 0;
}

static int tally_entry(void *ctx, const pd_gtable_view_t *e)
{
    key_tally_t *t = ctx;
    if (strncmp(e->key, "keys@", 5) != 0)
        return 0;
    msgpack_unpacked u;
    if (pd_mp_unpack(e->value, e->value_len, &u) != 0)
        return 0;
    if (u.data.type == MSGPACK_OBJECT_ARRAY) {
        t->reporting++;
        for (uint32_t i = 0; i < u.data.via.array.size; i++) {
            const msgpack_object *o = &u.data.via.array.ptr[i];
            if (o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == PD_KEYRING_ID_LEN)
                tally_one(t, (const uint8_t *)o->via.bin.ptr, i == 0);
        }
    }
    msgpack_unpacked_destroy(&u);
    return 0;
}

int pd_ctl_gossip_key_list(pd_daemon_t *d, const pd_ctl_request_t *req, msgpack_packer *pk, char *err, size_t errlen)
{
    if (!d->gossip) {
        snprintf(err, errlen, "gossip is not running on this node");
        return -PD_ESTATE;
    }
    static key_tally_t t;
    memset(&t, 0, sizeof t);
    pd_gtable_foreach(pd_gagent_table(pd_gossip_io_agent(d->gossip)), KEYS_TABLE, tally_entry, &t);
    unsigned alive = pd_swim_count(pd_gagent_swim(pd_gossip_io_agent(d->gossip)), PD_SWIM_ALIVE);
    msgpack_pack_array(pk, t.n);
    for (size_t i = 0; i < t.n; i++) {
        char hex[2 * PD_KEYRING_ID_LEN + 1];
        sodium_bin2hex(hex, sizeof hex, t.rows[i].id, PD_KEYRING_ID_LEN);
        msgpack_pack_map(pk, 5);
        pd_mp_pack_kv_str(pk, "key_id", hex);
        pd_mp_pack_kv_u64(pk, "primary_on", t.rows[i].primary);
        pd_mp_pack_kv_u64(pk, "installed_on", t.rows[i].installed);
        pd_mp_pack_kv_u64(pk, "nodes_reporting", t.reporting);
        pd_mp_pack_kv_u64(pk, "members_alive", alive);
    }
    return 0;
}
