/* The gossip key rotation's record and phase machine (gossip_rotation.h). */
#include "gossip_rotation.h"

#include <msgpack.h>
#include <sodium.h>
#include <string.h>

#include "pd_err.h"
#include "pd_mp.h"

const char *pd_gkr_phase_name(uint8_t phase)
{
    switch (phase) {
    case PD_GKR_IDLE: return "idle";
    case PD_GKR_INSTALL: return "install";
    case PD_GKR_USE: return "use";
    case PD_GKR_REMOVE: return "remove";
    default: return "?";
    }
}

void pd_gkr_record_init(pd_gkr_record_t *r, const uint8_t cur[PD_KEYRING_KEY_LEN], int64_t now_ms)
{
    memset(r, 0, sizeof *r);
    r->gen = 1;
    r->phase = PD_GKR_IDLE;
    memcpy(r->cur, cur, PD_KEYRING_KEY_LEN);
    r->phase_ms = now_ms;
}

int pd_gkr_begin(const pd_gkr_record_t *r, const uint8_t next[PD_KEYRING_KEY_LEN], int64_t now_ms,
                 pd_gkr_record_t *out)
{
    if (r->phase != PD_GKR_IDLE)
        return -PD_ESTATE;
    uint8_t a[PD_KEYRING_ID_LEN], b[PD_KEYRING_ID_LEN];
    pd_keyring_key_id(r->cur, a);
    pd_keyring_key_id(next, b);
    if (memcmp(a, b, sizeof a) == 0)
        return -PD_EEXISTS;
    *out = *r;
    out->gen = r->gen + 1;
    out->phase = PD_GKR_INSTALL;
    memcpy(out->next, next, PD_KEYRING_KEY_LEN);
    out->started_ms = out->phase_ms = now_ms;
    return 0;
}

void pd_gkr_advance(const pd_gkr_record_t *r, int64_t now_ms, pd_gkr_record_t *out)
{
    pd_gkr_record_t n = *r;
    n.gen = r->gen + 1;
    n.phase_ms = now_ms;
    if (r->phase == PD_GKR_INSTALL || r->phase == PD_GKR_USE) {
        n.phase = (uint8_t)(r->phase + 1);
    } else if (r->phase == PD_GKR_REMOVE) {
        n.phase = PD_GKR_IDLE;
        memcpy(n.cur, r->next, PD_KEYRING_KEY_LEN);
        sodium_memzero(n.next, sizeof n.next);
        n.rotations = r->rotations + 1;
    } else {
        n.gen = r->gen; /* idle: nothing to advance */
        n.phase_ms = r->phase_ms;
    }
    *out = n;
    sodium_memzero(&n, sizeof n);
}

/* The keys of the phase's ring, primary first. */
static unsigned ring_keys(const pd_gkr_record_t *r, const uint8_t *keys[2])
{
    switch (r->phase) {
    case PD_GKR_INSTALL: keys[0] = r->cur, keys[1] = r->next; return 2;
    case PD_GKR_USE: keys[0] = r->next, keys[1] = r->cur; return 2;
    case PD_GKR_REMOVE: keys[0] = r->next; return 1;
    default: keys[0] = r->cur; return 1;
    }
}

int pd_gkr_ring(const pd_gkr_record_t *r, pd_keyring_t *out)
{
    const uint8_t *keys[2];
    unsigned n = ring_keys(r, keys);
    pd_keyring_t kr;
    pd_keyring_init(&kr);
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = pd_keyring_install(&kr, keys[i]);
    if (rc == 0)
        rc = pd_keyring_use(&kr, keys[0]);
    if (rc == 0)
        *out = kr;
    else
        pd_keyring_free(&kr);
    return rc;
}

unsigned pd_gkr_ring_ids(const pd_gkr_record_t *r, uint8_t ids[2][PD_KEYRING_ID_LEN])
{
    const uint8_t *keys[2];
    unsigned n = ring_keys(r, keys);
    for (unsigned i = 0; i < n; i++)
        pd_keyring_key_id(keys[i], ids[i]);
    return n;
}

static int holds(const uint8_t (*ids)[PD_KEYRING_ID_LEN], unsigned n, const uint8_t id[PD_KEYRING_ID_LEN])
{
    for (unsigned i = 0; i < n; i++)
        if (memcmp(ids[i], id, PD_KEYRING_ID_LEN) == 0)
            return 1;
    return 0;
}

int pd_gkr_acks(const pd_gkr_record_t *r, const uint8_t (*ids)[PD_KEYRING_ID_LEN], unsigned n_ids)
{
    uint8_t next[PD_KEYRING_ID_LEN];
    pd_keyring_key_id(r->next, next);
    switch (r->phase) {
    case PD_GKR_INSTALL: return holds(ids, n_ids, next);
    case PD_GKR_USE: return n_ids > 0 && memcmp(ids[0], next, PD_KEYRING_ID_LEN) == 0;
    case PD_GKR_REMOVE: return n_ids == 1 && memcmp(ids[0], next, PD_KEYRING_ID_LEN) == 0;
    default: return 1;
    }
}

int pd_gkr_ahead(const pd_gkr_record_t *r, const uint8_t (*ids)[PD_KEYRING_ID_LEN], unsigned n_ids)
{
    if (r->phase == PD_GKR_IDLE) { /* a later rotation from cur has begun: {cur, X} or {X, cur} */
        uint8_t cur[PD_KEYRING_ID_LEN];
        pd_keyring_key_id(r->cur, cur);
        return n_ids == 2 && holds(ids, n_ids, cur);
    }
    if (r->phase == PD_GKR_REMOVE)
        return 0; /* only a later rotation's {X, next}, the idle case of the next record */
    pd_gkr_record_t later;
    pd_gkr_advance(r, r->phase_ms, &later);
    int ahead = 0;
    while (!ahead && later.phase != PD_GKR_IDLE) { /* use, then remove */
        uint8_t want[2][PD_KEYRING_ID_LEN];
        unsigned n = pd_gkr_ring_ids(&later, want);
        ahead = n == n_ids && memcmp(want[0], ids[0], PD_KEYRING_ID_LEN) == 0 &&
                (n == 1 || memcmp(want[1], ids[1], PD_KEYRING_ID_LEN) == 0);
        pd_gkr_advance(&later, later.phase_ms, &later);
    }
    pd_gkr_record_wipe(&later);
    return ahead;
}

void pd_gkr_step(const pd_gkr_record_t *r, const pd_gkr_member_t *m, size_t n, int64_t now_ms, uint32_t stall_ms,
                 pd_gkr_step_t *out)
{
    memset(out, 0, sizeof *out);
    out->members = (unsigned)n;
    if (r->phase == PD_GKR_IDLE) {
        out->action = PD_GKR_NOTHING;
        out->acked = (unsigned)n;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (m[i].reported && pd_gkr_acks(r, (const uint8_t (*)[PD_KEYRING_ID_LEN])m[i].ids, m[i].n_ids)) {
            out->acked++;
            continue;
        }
        if (out->n_waiting < sizeof out->waiting / sizeof out->waiting[0])
            out->waiting[out->n_waiting] = m[i].node_id;
        out->n_waiting++;
    }
    out->waiting_ms = now_ms > r->phase_ms ? (uint64_t)(now_ms - r->phase_ms) : 0;
    out->action = out->n_waiting == 0 ? PD_GKR_ADVANCE : PD_GKR_WAIT;
    out->stalled = out->action == PD_GKR_WAIT && out->waiting_ms >= stall_ms;
}

/* --- codec --- */

static void pack_bin(msgpack_packer *pk, const char *k, const uint8_t *v, size_t n)
{
    pd_mp_pack_cstr(pk, k);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, v, n);
}

int pd_gkr_record_encode(const pd_gkr_record_t *r, uint8_t *out, size_t cap, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rotating = r->phase != PD_GKR_IDLE;
    msgpack_pack_map(&pk, rotating ? 8 : 7);
    pd_mp_pack_kv_u64(&pk, "v", PD_GKR_VERSION);
    pd_mp_pack_kv_u64(&pk, "gen", r->gen);
    pd_mp_pack_kv_u64(&pk, "phase", r->phase);
    pack_bin(&pk, "cur", r->cur, PD_KEYRING_KEY_LEN);
    if (rotating)
        pack_bin(&pk, "next", r->next, PD_KEYRING_KEY_LEN);
    pd_mp_pack_kv_i64(&pk, "started_ms", r->started_ms);
    pd_mp_pack_kv_i64(&pk, "phase_ms", r->phase_ms);
    pd_mp_pack_kv_u64(&pk, "rotations", r->rotations);
    return pd_mp_sbuffer_take(&sb, out, cap, len, 1); /* key material: wiped */
}

static int get_key(const msgpack_object *map, const char *k, uint8_t out[PD_KEYRING_KEY_LEN])
{
    const msgpack_object *o = pd_mp_get(map, k);
    if (!o || o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != PD_KEYRING_KEY_LEN)
        return -PD_EMALFORMED;
    memcpy(out, o->via.bin.ptr, PD_KEYRING_KEY_LEN);
    return 0;
}

int pd_gkr_record_decode(const void *data, size_t len, pd_gkr_record_t *out)
{
    msgpack_unpacked u;
    if (len > PD_GKR_RECORD_MAX || pd_mp_unpack(data, len, &u) != 0)
        return -PD_EMALFORMED;
    pd_gkr_record_t r;
    memset(&r, 0, sizeof r);
    uint64_t v = 0, phase = 0;
    int rc = u.data.type == MSGPACK_OBJECT_MAP && pd_mp_get_u64(&u.data, "v", &v) == 0 ? 0 : -PD_EMALFORMED;
    if (rc == 0 && v != PD_GKR_VERSION)
        rc = -PD_EVERSION;
    if (rc == 0 && (pd_mp_get_u64(&u.data, "gen", &r.gen) != 0 || pd_mp_get_u64(&u.data, "phase", &phase) != 0 ||
                    phase > PD_GKR_REMOVE || r.gen == 0 || get_key(&u.data, "cur", r.cur) != 0))
        rc = -PD_EMALFORMED;
    r.phase = (uint8_t)phase;
    if (rc == 0 && r.phase != PD_GKR_IDLE && get_key(&u.data, "next", r.next) != 0)
        rc = -PD_EMALFORMED;
    if (rc == 0) { /* optional bookkeeping */
        pd_mp_get_i64(&u.data, "started_ms", &r.started_ms);
        pd_mp_get_i64(&u.data, "phase_ms", &r.phase_ms);
        pd_mp_get_u64(&u.data, "rotations", &r.rotations);
        *out = r;
    }
    sodium_memzero(&r, sizeof r);
    msgpack_unpacked_destroy(&u);
    return rc;
}

void pd_gkr_record_wipe(pd_gkr_record_t *r) { sodium_memzero(r, sizeof *r); }
