/* Snapshot encode/restore: the whole store (every object, applied index and term) as one msgpack
 * map, layout in store_wire.h. Encoding walks the tables kind by kind in creation order and writes
 * every key of every object in a fixed order, so equal states give equal bytes, and restore keeps
 * the order, so encode(restore(b)) == b for any b that encode produced. */
#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "store_int.h"
#include "store_wire.h"

/* ---- encode ----------------------------------------------------------------------------------- */

static void pack_raw(msgpack_packer *pk, const char *key, const void *p, uint32_t n, int str)
{
    pd_mp_pack_cstr(pk, key);
    if (str) {
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, p, n);
    } else {
        msgpack_pack_bin(pk, n);
        msgpack_pack_bin_body(pk, p, n);
    }
}

static void pack_obj(msgpack_packer *pk, const pd_store_obj_t *o)
{
    msgpack_pack_map(pk, 9);
    pd_mp_pack_kv_u64(pk, "k", o->kind);
    pack_raw(pk, "id", o->id, o->id_len, 1);
    pack_raw(pk, "n", o->name, o->name_len, 1);
    pd_mp_pack_kv_u64(pk, "ver", o->version);
    pd_mp_pack_kv_i64(pk, "c", o->created_ms);
    pd_mp_pack_kv_i64(pk, "u", o->updated_ms);
    pack_raw(pk, "sp", o->spec, o->spec_len, 0);
    pack_raw(pk, "st", o->status, o->status_len, 0);
    pack_raw(pk, "d", o->data, o->data_len, 0);
}

int pd_store_snapshot_encode(const pd_store_t *s, uint8_t **out, size_t *len_out)
{
    size_t total = 0;
    for (unsigned k = 0; k < PD_STORE_KINDS; k++)
        total += s->tables[k].count;
    pd_mp_out_t o = {.max = PD_STORE_SNAP_MAX};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &o, pd_mp_out_write);
    msgpack_pack_map(&pk, 6);
    pd_mp_pack_kv_u64(&pk, "v", PD_STORE_SNAP_VERSION);
    pd_mp_pack_kv_u64(&pk, "i", s->applied_index);
    pd_mp_pack_kv_u64(&pk, "t", s->applied_term);
    pd_mp_pack_cstr(&pk, "o");
    msgpack_pack_array(&pk, (uint32_t)total);
    for (unsigned k = 0; k < PD_STORE_KINDS && !o.err; k++) {
        for (const pd_store_obj_t *ob = s->tables[k].head; ob && !o.err; ob = ob->next)
            pack_obj(&pk, ob);
    }
    pd_mp_pack_cstr(&pk, "vr");
    if (s->has_vip_range) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_uint32(&pk, s->vip_range.net);
        msgpack_pack_uint8(&pk, s->vip_range.prefix);
    } else {
        msgpack_pack_nil(&pk);
    }
    pd_mp_pack_cstr(&pk, "va");
    msgpack_pack_array(&pk, s->n_vips);
    for (uint32_t i = 0; i < s->n_vips && !o.err; i++) {
        msgpack_pack_array(&pk, 2);
        pd_mp_pack_cstr(&pk, s->vips[i].name);
        msgpack_pack_uint32(&pk, s->vips[i].addr);
    }
    if (o.err) {
        pd_free(o.data);
        return o.err;
    }
    *out = o.data;
    *len_out = o.len;
    return 0;
}

/* ---- restore ---------------------------------------------------------------------------------- */

typedef struct {
    uint8_t kind;
    pd_store_op_t fields; /* id, name, spec, status, data */
    uint64_t version;
    int64_t created_ms, updated_ms;
} snap_obj_t;

static int get_str_or_bin(const msgpack_object *m, const char *key, int str, pd_store_bytes_t *out)
{
    const msgpack_object *v = pd_mp_get(m, key);
    if (!v || v->type != (str ? MSGPACK_OBJECT_STR : MSGPACK_OBJECT_BIN))
        return -PD_EMALFORMED;
    out->ptr = (const uint8_t *)(str ? v->via.str.ptr : v->via.bin.ptr);
    out->len = str ? v->via.str.size : v->via.bin.size;
    return 0;
}

static int obj_kind(const msgpack_object *m, uint8_t *kind)
{
    uint64_t k;
    if (m->type != MSGPACK_OBJECT_MAP || pd_mp_get_u64(m, "k", &k) != 0 || k >= PD_STORE_KINDS)
        return -PD_EMALFORMED;
    *kind = (uint8_t)k;
    return 0;
}

static int decode_obj(const msgpack_object *m, uint64_t index, snap_obj_t *o)
{
    memset(o, 0, sizeof *o);
    int rc = obj_kind(m, &o->kind);
    if (rc == 0 && (pd_mp_get_u64(m, "ver", &o->version) || pd_mp_get_i64(m, "c", &o->created_ms) ||
                    pd_mp_get_i64(m, "u", &o->updated_ms)))
        rc = -PD_EMALFORMED;
    if (rc == 0 && (get_str_or_bin(m, "id", 1, &o->fields.id) || get_str_or_bin(m, "n", 1, &o->fields.name) ||
                    get_str_or_bin(m, "sp", 0, &o->fields.spec) ||
                    get_str_or_bin(m, "st", 0, &o->fields.status) ||
                    get_str_or_bin(m, "d", 0, &o->fields.data)))
        rc = -PD_EMALFORMED;
    if (rc == 0)
        rc = pd_store__obj_check(o->kind, &o->fields);
    if (rc == 0 && (o->version == 0 || o->version > index))
        rc = -PD_EMALFORMED;
    return rc;
}

/* Count objects per kind and reserve index room for them. */
static int reserve_all(pd_store_t *s, const msgpack_object *objs)
{
    size_t count[PD_STORE_KINDS] = {0};
    for (uint32_t i = 0; i < objs->via.array.size; i++) {
        uint8_t k;
        int rc = obj_kind(&objs->via.array.ptr[i], &k);
        if (rc)
            return rc;
        if (++count[k] > PD_STORE_KIND_OBJECTS_MAX)
            return -PD_ELIMIT;
    }
    for (unsigned k = 0; k < PD_STORE_KINDS; k++) {
        if (count[k] && pd_store__table_reserve(&s->tables[k], count[k]) != 0)
            return -ENOMEM;
    }
    return 0;
}

static int restore_obj(pd_store_t *s, const msgpack_object *m, uint64_t index)
{
    snap_obj_t so;
    int rc = decode_obj(m, index, &so);
    if (rc)
        return rc;
    pd_store__table_t *t = &s->tables[so.kind];
    const pd_store_bytes_t *id = &so.fields.id, *name = &so.fields.name;
    if (pd_store__index_find(&t->by_id, id->ptr, id->len))
        return -PD_EMALFORMED;
    if (t->by_name.by_name && name->len && pd_store__index_find(&t->by_name, name->ptr, name->len))
        return -PD_EMALFORMED;
    pd_store_obj_t *o = pd_store__obj_new(so.kind, &so.fields);
    if (!o)
        return -ENOMEM;
    o->version = so.version;
    o->created_ms = so.created_ms;
    o->updated_ms = so.updated_ms;
    pd_store__table_append(t, o);
    return 0;
}

/* "vr" and "va" (v2): the range, then the VIPs in strictly increasing name order, each address
 * unique and inside the range. */
static int restore_vips(pd_store_t *s, const msgpack_object *root)
{
    const msgpack_object *vr = pd_mp_get(root, "vr"), *va = pd_mp_get(root, "va");
    if (!vr || !va || va->type != MSGPACK_OBJECT_ARRAY)
        return -PD_EMALFORMED;
    if (vr->type == MSGPACK_OBJECT_ARRAY) {
        const msgpack_object *e = vr->via.array.ptr;
        if (vr->via.array.size != 2 || e[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            e[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || e[0].via.u64 > UINT32_MAX ||
            !pd_store__vip_range_ok((uint32_t)e[0].via.u64, e[1].via.u64))
            return -PD_EMALFORMED;
        s->vip_range.net = (uint32_t)e[0].via.u64;
        s->vip_range.prefix = (uint8_t)e[1].via.u64;
        s->has_vip_range = 1;
    } else if (vr->type != MSGPACK_OBJECT_NIL || va->via.array.size) {
        return -PD_EMALFORMED;
    }
    if (va->via.array.size > PD_STORE_VIPS_MAX)
        return -PD_ELIMIT;
    uint32_t first = 0, last = 0;
    if (s->has_vip_range)
        pd_store__vip_bounds(&s->vip_range, &first, &last);
    for (uint32_t i = 0; i < va->via.array.size; i++) {
        const msgpack_object *e = &va->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
            e->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
            e->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return -PD_EMALFORMED;
        const char *nm = e->via.array.ptr[0].via.str.ptr;
        size_t nl = e->via.array.ptr[0].via.str.size;
        uint64_t addr = e->via.array.ptr[1].via.u64;
        if (!pd_store_vip_name_valid(nm, nl) || addr < first || addr > last)
            return -PD_EMALFORMED;
        if (s->n_vips) { /* strictly increasing names: one encoding per state */
            const char *prev = s->vips[s->n_vips - 1].name;
            size_t pl = strlen(prev);
            int c = memcmp(prev, nm, pl < nl ? pl : nl);
            if (c > 0 || (c == 0 && pl >= nl))
                return -PD_EMALFORMED;
        }
        for (uint32_t k = 0; k < s->n_vips; k++) /* unique addresses */
            if (s->vips[k].addr == addr)
                return -PD_EMALFORMED;
        if (pd_store__vip_insert(s, nm, nl, (uint32_t)addr) != 0)
            return -ENOMEM;
    }
    return 0;
}

static int restore_root(pd_store_t *s, const msgpack_object *root, uint64_t *index, uint64_t *term)
{
    uint64_t v;
    if (root->type != MSGPACK_OBJECT_MAP || pd_mp_get_u64(root, "v", &v) != 0)
        return -PD_EMALFORMED;
    if (v != 1 && v != PD_STORE_SNAP_VERSION)
        return -PD_EVERSION;
    const msgpack_object *objs = pd_mp_get(root, "o");
    if (pd_mp_get_u64(root, "i", index) || pd_mp_get_u64(root, "t", term) || !objs ||
        objs->type != MSGPACK_OBJECT_ARRAY)
        return -PD_EMALFORMED;
    int rc = reserve_all(s, objs);
    for (uint32_t i = 0; rc == 0 && i < objs->via.array.size; i++)
        rc = restore_obj(s, &objs->via.array.ptr[i], *index);
    if (rc == 0 && v >= 2)
        rc = restore_vips(s, root);
    return rc;
}

int pd_store_snapshot_restore(pd_store_t *s, const void *data, size_t len)
{
    for (unsigned k = 0; k < PD_STORE_KINDS; k++) {
        if (s->tables[k].count)
            return -PD_ESTATE;
    }
    if (s->applied_index != 0 || s->n_vips || s->has_vip_range)
        return -PD_ESTATE;
    if (len > PD_STORE_SNAP_MAX)
        return -PD_ETOOBIG;
    msgpack_unpacked up;
    int rc = pd_mp_unpack(data, len, &up);
    if (rc)
        return rc;
    uint64_t index = 0, term = 0;
    rc = restore_root(s, &up.data, &index, &term);
    msgpack_unpacked_destroy(&up);
    if (rc) {
        for (unsigned k = 0; k < PD_STORE_KINDS; k++)
            pd_store__table_clear(&s->tables[k]);
        pd_store__vip_clear(s);
        return rc;
    }
    s->applied_index = index;
    s->applied_term = term;
    pd_store__watch_reset(s);
    return 0;
}
