/* Endpoint table wire codec (msgpack): one-entry updates for the broadcast queue and full states
 * for push/pull. Packing writes straight into a bounded pd_wbuf (no allocation, overflow sticks);
 * decoding goes through pd_mp_unpack, which validates untrusted bytes before msgpack-c sizes
 * anything, and every field is type- and cap-checked before the table is touched. */
#include <errno.h>
#include <msgpack.h>
#include <string.h>

#include "gossip_table_int.h"
#include "pd_assert.h"
#include "pd_buf.h"
#include "pd_err.h"
#include "pd_mp.h"

#define TYPE_UPDATE "gt.upd"
#define TYPE_STATE "gt.state"
#define ENTRY_FIELDS 6

static int wbuf_write(void *data, const char *buf, size_t len)
{
    pd_wbuf_t *w = data;
    pd_wbuf_put(w, buf, len);
    return w->err ? -1 : 0;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_entry(msgpack_packer *pk, const gt_ent_t *e)
{
    msgpack_pack_array(pk, ENTRY_FIELDS);
    pack_str(pk, e->tab->name, e->tab->len);
    pack_str(pk, e->key, e->key_len);
    if (e->deleted) {
        msgpack_pack_nil(pk);
    } else {
        msgpack_pack_bin(pk, e->value_len);
        msgpack_pack_bin_body(pk, e->value, e->value_len);
    }
    msgpack_pack_uint64(pk, e->lamport);
    pack_str(pk, e->owner->id, e->owner->len);
    if (e->deleted)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static void pack_header(msgpack_packer *pk, size_t nfields, const char *type)
{
    msgpack_pack_map(pk, nfields);
    pd_mp_pack_kv_u64(pk, "v", PD_GTABLE_WIRE_VERSION);
    pd_mp_pack_kv_str(pk, "type", type);
}

int gt_encode_update(const gt_ent_t *e, pd_gtable_msg_t *out)
{
    pd_wbuf_t w;
    pd_wbuf_init(&w, out->data, sizeof out->data);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, wbuf_write);
    pack_header(&pk, 3, TYPE_UPDATE);
    pd_mp_pack_cstr(&pk, "e");
    pack_entry(&pk, e);
    if (w.err)
        return -PD_ETOOBIG;
    out->len = w.len;
    gt_skey(e, out->skey);
    return 0;
}

int pd_gtable_encode_update(const pd_gtable_t *t, const char *table, const char *key,
                            pd_gtable_msg_t *out)
{
    PD_ASSERT(t && table && key && out);
    const gt_ent_t *e = gt_find(t, table, strlen(table), key, strlen(key));
    if (!e)
        return -PD_ENOTFOUND;
    return gt_encode_update(e, out);
}

/* Entries of down owners stay home: the receiver would have to hide them anyway. */
static int in_state(const gt_ent_t *e) { return !e->owner->down; }

int pd_gtable_encode_state(const pd_gtable_t *t, void *out, size_t cap, size_t *len_out)
{
    PD_ASSERT(t && out && len_out);
    size_t n = 0;
    for (const gt_tab_t *b = t->tables_head; b; b = b->next) {
        for (const gt_ent_t *e = b->head; e; e = e->next)
            n += (size_t)in_state(e);
    }
    pd_wbuf_t w;
    pd_wbuf_init(&w, out, PD_MIN(cap, (size_t)PD_GTABLE_STATE_MAX));
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, wbuf_write);
    pack_header(&pk, 4, TYPE_STATE);
    pd_mp_pack_kv_u64(&pk, "clock", t->clock);
    pd_mp_pack_cstr(&pk, "e");
    msgpack_pack_array(&pk, n);
    for (const gt_tab_t *b = t->tables_head; b && !w.err; b = b->next) {
        for (const gt_ent_t *e = b->head; e && !w.err; e = e->next) {
            if (in_state(e))
                pack_entry(&pk, e);
        }
    }
    if (w.err)
        return -PD_ETOOBIG;
    *len_out = w.len;
    return 0;
}

/* FNV-1a with a final mix: every node must hash alike (the table's own hash key is per process). */
static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t entry_digest(const gt_ent_t *e)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv(h, e->tab->name, e->tab->len + 1);
    h = fnv(h, e->key, e->key_len + 1);
    h = fnv(h, e->owner->id, e->owner->len + 1);
    for (int i = 0; i < 8; i++)
        h = fnv(h, &(uint8_t){(uint8_t)(e->lamport >> (8 * i))}, 1);
    h = fnv(h, &e->deleted, 1);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

uint64_t pd_gtable_state_digest(const pd_gtable_t *t)
{
    uint64_t d = 0;
    for (const gt_tab_t *b = t->tables_head; b; b = b->next) {
        for (const gt_ent_t *e = b->head; e; e = e->next) {
            if (in_state(e))
                d += entry_digest(e);
        }
    }
    return d;
}

/* --- decoding ------------------------------------------------------------------------------- */

static int rec_from_obj(const msgpack_object *o, gt_rec_t *r)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < ENTRY_FIELDS)
        return -PD_EMALFORMED;
    const msgpack_object *a = o->via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_STR || a[1].type != MSGPACK_OBJECT_STR ||
        a[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[4].type != MSGPACK_OBJECT_STR ||
        a[5].type != MSGPACK_OBJECT_BOOLEAN)
        return -PD_EMALFORMED;
    int deleted = a[5].via.boolean;
    if (deleted ? a[2].type != MSGPACK_OBJECT_NIL : a[2].type != MSGPACK_OBJECT_BIN)
        return -PD_EMALFORMED;
    gt_rec_t v = {
        .table = a[0].via.str.ptr, .table_len = a[0].via.str.size,
        .key = a[1].via.str.ptr,   .key_len = a[1].via.str.size,
        .owner = a[4].via.str.ptr, .owner_len = a[4].via.str.size,
        .lamport = a[3].via.u64,   .deleted = deleted,
    };
    if (!deleted) {
        v.value = (const uint8_t *)a[2].via.bin.ptr;
        v.value_len = a[2].via.bin.size;
    }
    if (gt_rec_check(&v) != 0)
        return -PD_EMALFORMED; /* a peer built with the same caps never sends this */
    *r = v;
    return 0;
}

static int check_header(const msgpack_object *root, const char *type)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return -PD_EMALFORMED;
    uint64_t v = 0;
    if (pd_mp_get_u64(root, "v", &v) != 0)
        return -PD_EMALFORMED;
    if (v != PD_GTABLE_WIRE_VERSION)
        return -PD_EVERSION;
    const msgpack_object *ty = pd_mp_get(root, "type");
    if (!ty || ty->type != MSGPACK_OBJECT_STR)
        return -PD_EMALFORMED;
    return pd_mp_str_eq(ty, type) ? 0 : -PD_EUNKNOWN_TYPE;
}

static int apply_remote(pd_gtable_t *t, const gt_rec_t *r, uint64_t now_ms, int *changed_out)
{
    int rc = gt_apply(t, r, now_ms, changed_out);
    if (rc == 0)
        gt_witness(t, r->lamport);
    return rc;
}

static int count_bad(pd_gtable_t *t, int rc)
{
    if (rc != 0 && rc != -ENOMEM && rc != -PD_ELIMIT)
        t->stats.malformed++;
    return rc;
}

int pd_gtable_merge_update_fwd(pd_gtable_t *t, const void *data, size_t len, uint64_t now_ms,
                               int *changed_out, pd_gtable_msg_t *fwd_out)
{
    PD_ASSERT(t && (data || len == 0) && changed_out);
    if (len > PD_GTABLE_UPDATE_MAX)
        return count_bad(t, -PD_ETOOBIG);
    msgpack_unpacked u;
    int rc = pd_mp_unpack(data, len, &u);
    if (rc)
        return count_bad(t, rc == -ENOMEM ? rc : rc == -PD_ETRUNCATED ? rc : -PD_EMALFORMED);
    gt_rec_t r;
    rc = check_header(&u.data, TYPE_UPDATE);
    const msgpack_object *e = pd_mp_get(&u.data, "e");
    if (rc == 0)
        rc = e ? rec_from_obj(e, &r) : -PD_EMALFORMED;
    int changed = 0;
    if (rc == 0)
        rc = apply_remote(t, &r, now_ms, &changed);
    if (rc == 0 && changed && fwd_out) {
        /* Re-encode what we stored: the forwarded copy is canonical whatever the sender packed. */
        const gt_ent_t *stored = gt_find(t, r.table, r.table_len, r.key, r.key_len);
        PD_ASSERT(stored && gt_encode_update(stored, fwd_out) == 0);
    }
    msgpack_unpacked_destroy(&u);
    if (rc == 0)
        *changed_out = changed;
    return count_bad(t, rc);
}

int pd_gtable_merge_update(pd_gtable_t *t, const void *data, size_t len, uint64_t now_ms,
                           int *changed_out)
{
    return pd_gtable_merge_update_fwd(t, data, len, now_ms, changed_out, NULL);
}

/* Validate every entry first so a malformed state changes nothing. */
static int state_entries(const msgpack_object *root, const msgpack_object **arr_out)
{
    uint64_t clock = 0;
    int rc = pd_mp_get_u64(root, "clock", &clock);
    if (rc == -PD_EMALFORMED || clock > PD_GTABLE_LAMPORT_MAX)
        return -PD_EMALFORMED;
    const msgpack_object *arr = pd_mp_get(root, "e");
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY)
        return -PD_EMALFORMED;
    if (arr->via.array.size > PD_GTABLE_ENTRIES_MAX)
        return -PD_ETOOBIG;
    gt_rec_t r;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        if ((rc = rec_from_obj(&arr->via.array.ptr[i], &r)) != 0)
            return rc;
    }
    *arr_out = arr;
    return 0;
}

int pd_gtable_merge_state(pd_gtable_t *t, const void *data, size_t len, uint64_t now_ms,
                          size_t *changed_out)
{
    PD_ASSERT(t && (data || len == 0) && changed_out);
    if (len > PD_GTABLE_STATE_MAX)
        return count_bad(t, -PD_ETOOBIG);
    msgpack_unpacked u;
    int rc = pd_mp_unpack(data, len, &u);
    if (rc)
        return count_bad(t, rc == -ENOMEM ? rc : rc == -PD_ETRUNCATED ? rc : -PD_EMALFORMED);
    const msgpack_object *arr = NULL;
    rc = check_header(&u.data, TYPE_STATE);
    if (rc == 0)
        rc = state_entries(&u.data, &arr);
    size_t changed = 0;
    for (uint32_t i = 0; rc == 0 && i < arr->via.array.size; i++) {
        gt_rec_t r;
        int one = 0;
        PD_ASSERT(rec_from_obj(&arr->via.array.ptr[i], &r) == 0);
        rc = apply_remote(t, &r, now_ms, &one);
        changed += (size_t)one;
    }
    msgpack_unpacked_destroy(&u);
    if (rc == 0)
        *changed_out = changed;
    return count_bad(t, rc);
}
