/* Raft message codec (msgpack). See raft_wire.h for the layout. */
#include "raft_wire.h"

#include <errno.h>
#include <stdbool.h>
#include <msgpack.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"

/* ---- encode ----------------------------------------------------------------------------------- */

static void pack_key(msgpack_packer *pk, const char *k)
{
    pd_mp_pack_cstr(pk, k);
}

static void pack_ids(msgpack_packer *pk, const uint64_t *ids, uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_uint64(pk, ids[i]);
}

static void pack_entries(msgpack_packer *pk, const pd_raft_msg_t *m)
{
    pack_key(pk, "e");
    msgpack_pack_array(pk, m->n_entries);
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const pd_raft_entry_t *e = &m->entries[i];
        msgpack_pack_array(pk, 4);
        msgpack_pack_uint64(pk, e->term);
        msgpack_pack_uint64(pk, e->index);
        msgpack_pack_uint8(pk, e->type);
        msgpack_pack_bin(pk, e->len);
        msgpack_pack_bin_body(pk, e->data, e->len);
    }
}

static void pack_snap(msgpack_packer *pk, const pd_raft_msg_t *m)
{
    pack_key(pk, "s");
    msgpack_pack_map(pk, 4);
    pd_mp_pack_kv_u64(pk, "i", m->snap.index);
    pd_mp_pack_kv_u64(pk, "t", m->snap.term);
    pack_key(pk, "cv");
    pack_ids(pk, m->snap.conf.voters, m->snap.conf.n_voters);
    pack_key(pk, "cl");
    pack_ids(pk, m->snap.conf.learners, m->snap.conf.n_learners);
    pack_key(pk, "sd");
    msgpack_pack_bin(pk, m->snap_len);
    msgpack_pack_bin_body(pk, m->snap_data, m->snap_len);
    pd_mp_pack_kv_bool(pk, "sf", m->snap_done);
}

static int encode_check(const pd_raft_msg_t *m)
{
    if (m->type < PD_RAFT_MSG_APP || m->type > PD_RAFT_MSG_TYPE_MAX)
        return -PD_EMALFORMED;
    if (m->type == PD_RAFT_MSG_APP && m->n_entries > PD_RAFT_WIRE_ENTRIES_MAX)
        return -PD_EMALFORMED;
    if (m->snap.conf.n_voters > PD_RAFT_NODES_MAX || m->snap.conf.n_learners > PD_RAFT_NODES_MAX)
        return -PD_EMALFORMED;
    return 0;
}

int pd_raft_wire_encode(const pd_raft_msg_t *m, uint8_t **out, size_t *len_out)
{
    int rc = encode_check(m);
    if (rc)
        return rc;
    pd_mp_out_t o = {.max = PD_RAFT_WIRE_MSG_MAX};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &o, pd_mp_out_write);
    bool app = m->type == PD_RAFT_MSG_APP, snap = m->type == PD_RAFT_MSG_SNAP;
    msgpack_pack_map(&pk, 13 + (app ? 1 : 0) + (snap ? 3 : 0));
    pd_mp_pack_kv_u64(&pk, "v", PD_RAFT_WIRE_VERSION);
    pd_mp_pack_kv_u64(&pk, "t", m->type);
    pd_mp_pack_kv_u64(&pk, "f", m->from);
    pd_mp_pack_kv_u64(&pk, "to", m->to);
    pd_mp_pack_kv_u64(&pk, "tm", m->term);
    pd_mp_pack_kv_u64(&pk, "i", m->index);
    pd_mp_pack_kv_u64(&pk, "lt", m->log_term);
    pd_mp_pack_kv_u64(&pk, "c", m->commit);
    pd_mp_pack_kv_bool(&pk, "r", m->reject);
    pd_mp_pack_kv_u64(&pk, "h", m->reject_hint);
    pd_mp_pack_kv_u64(&pk, "x", m->ctx);
    pd_mp_pack_kv_u64(&pk, "fl", m->flags);
    pd_mp_pack_kv_u64(&pk, "so", m->snap_offset);
    if (app)
        pack_entries(&pk, m);
    if (snap)
        pack_snap(&pk, m);
    if (o.err) {
        pd_free(o.data);
        return o.err;
    }
    *out = o.data;
    *len_out = o.len;
    return 0;
}

/* ---- decode ----------------------------------------------------------------------------------- */

/* Missing keys read as 0; a wrong type is malformed. */
static int opt_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
    int rc = pd_mp_get_u64(map, key, out);
    if (rc == -PD_ENOTFOUND) {
        *out = 0;
        return 0;
    }
    return rc;
}

static int opt_bool(const msgpack_object *map, const char *key, uint8_t *out)
{
    int v = 0;
    int rc = pd_mp_get_bool(map, key, &v);
    if (rc == -PD_ENOTFOUND)
        rc = 0;
    *out = (uint8_t)(v != 0);
    return rc;
}

static int decode_header(const msgpack_object *o, pd_raft_msg_t *m)
{
    uint64_t v, t, fl;
    if (o->type != MSGPACK_OBJECT_MAP)
        return -PD_EMALFORMED;
    if (pd_mp_get_u64(o, "v", &v) || pd_mp_get_u64(o, "t", &t))
        return -PD_EMALFORMED;
    if (v != PD_RAFT_WIRE_VERSION)
        return -PD_EVERSION;
    if (t < PD_RAFT_MSG_APP || t > PD_RAFT_MSG_TYPE_MAX)
        return -PD_EUNKNOWN_TYPE;
    m->type = (uint8_t)t;
    if (pd_mp_get_u64(o, "f", &m->from) || pd_mp_get_u64(o, "tm", &m->term))
        return -PD_EMALFORMED;
    if (opt_u64(o, "to", &m->to) || opt_u64(o, "i", &m->index) ||
        opt_u64(o, "lt", &m->log_term) || opt_u64(o, "c", &m->commit) ||
        opt_u64(o, "h", &m->reject_hint) || opt_u64(o, "x", &m->ctx) || opt_u64(o, "fl", &fl) ||
        opt_u64(o, "so", &m->snap_offset) || opt_bool(o, "r", &m->reject))
        return -PD_EMALFORMED;
    if (fl > UINT8_MAX || m->snap_offset > PD_RAFT_WIRE_SNAP_MAX)
        return -PD_EMALFORMED;
    m->flags = (uint8_t)fl;
    return 0;
}

static int u64_at(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -PD_EMALFORMED;
    *out = o->via.u64;
    return 0;
}

/* Check the entries and sum their payload bytes. */
static int entries_check(const pd_raft_msg_t *m, const msgpack_object *arr, size_t *bytes)
{
    if (arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size > PD_RAFT_WIRE_ENTRIES_MAX)
        return -PD_EMALFORMED;
    *bytes = 0;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *e = &arr->via.array.ptr[i];
        uint64_t term, index, type;
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 4)
            return -PD_EMALFORMED;
        const msgpack_object *f = e->via.array.ptr;
        if (u64_at(&f[0], &term) || u64_at(&f[1], &index) || u64_at(&f[2], &type) ||
            f[3].type != MSGPACK_OBJECT_BIN)
            return -PD_EMALFORMED;
        if (term == 0 || term > m->term || index != m->index + 1 + i || index == 0 ||
            type > PD_RAFT_ENTRY_CONF)
            return -PD_EMALFORMED;
        *bytes += f[3].via.bin.size;
    }
    return 0;
}

static void entries_fill(const msgpack_object *arr, pd_raft_entry_t *ents, uint8_t *data)
{
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *f = arr->via.array.ptr[i].via.array.ptr;
        pd_raft_entry_t *e = &ents[i];
        e->term = f[0].via.u64;
        e->index = f[1].via.u64;
        e->type = (uint8_t)f[2].via.u64;
        e->len = f[3].via.bin.size;
        e->data = e->len ? data : NULL;
        if (e->len)
            memcpy(data, f[3].via.bin.ptr, e->len);
        data += e->len;
    }
}

static int ids_decode(const msgpack_object *arr, uint64_t *ids, uint32_t *n)
{
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size > PD_RAFT_NODES_MAX)
        return -PD_EMALFORMED;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        if (u64_at(&arr->via.array.ptr[i], &ids[i]) || ids[i] == PD_RAFT_NONE)
            return -PD_EMALFORMED;
    }
    *n = arr->via.array.size;
    return 0;
}

static int snap_decode(const msgpack_object *o, pd_raft_msg_t *m, const msgpack_object **data)
{
    const msgpack_object *s = pd_mp_get(o, "s");
    if (!s || s->type != MSGPACK_OBJECT_MAP)
        return -PD_EMALFORMED;
    if (pd_mp_get_u64(s, "i", &m->snap.index) || pd_mp_get_u64(s, "t", &m->snap.term) ||
        ids_decode(pd_mp_get(s, "cv"), m->snap.conf.voters, &m->snap.conf.n_voters) ||
        ids_decode(pd_mp_get(s, "cl"), m->snap.conf.learners, &m->snap.conf.n_learners))
        return -PD_EMALFORMED;
    if (m->snap.index == 0 || m->snap.conf.n_voters + m->snap.conf.n_learners > PD_RAFT_NODES_MAX)
        return -PD_EMALFORMED;
    if (opt_bool(o, "sf", &m->snap_done))
        return -PD_EMALFORMED;
    *data = pd_mp_get(o, "sd");
    if (!*data || (*data)->type != MSGPACK_OBJECT_BIN)
        return -PD_EMALFORMED;
    m->snap_len = (*data)->via.bin.size;
    return 0;
}

static int decode_body(const msgpack_object *o, pd_raft_wire_msg_t *w)
{
    pd_raft_msg_t *m = &w->msg;
    int rc = decode_header(o, m);
    if (rc)
        return rc;
    const msgpack_object *ents = NULL, *sd = NULL;
    size_t bytes = 0;
    if (m->type == PD_RAFT_MSG_APP && (ents = pd_mp_get(o, "e")) != NULL) {
        if ((rc = entries_check(m, ents, &bytes)) != 0)
            return rc;
        m->n_entries = ents->via.array.size;
    }
    if (m->type == PD_RAFT_MSG_SNAP && (rc = snap_decode(o, m, &sd)) != 0)
        return rc;
    size_t total = m->n_entries * sizeof(pd_raft_entry_t) + bytes + m->snap_len;
    if (total == 0)
        return 0;
    w->mem = pd_malloc(total);
    if (!w->mem)
        return -ENOMEM;
    uint8_t *p = w->mem;
    if (m->n_entries) {
        m->entries = (pd_raft_entry_t *)(void *)p;
        entries_fill(ents, (pd_raft_entry_t *)(void *)p, p + m->n_entries * sizeof(pd_raft_entry_t));
        p += m->n_entries * sizeof(pd_raft_entry_t) + bytes;
    }
    if (m->snap_len) {
        memcpy(p, sd->via.bin.ptr, m->snap_len);
        m->snap_data = p;
    }
    return 0;
}

int pd_raft_wire_decode(const uint8_t *data, size_t len, pd_raft_wire_msg_t *out)
{
    if (len > PD_RAFT_WIRE_MSG_MAX)
        return -PD_ETOOBIG;
    msgpack_unpacked up;
    int rc = pd_mp_unpack(data, len, &up);
    if (rc)
        return rc;
    pd_raft_wire_msg_t w;
    memset(&w, 0, sizeof w);
    rc = decode_body(&up.data, &w);
    msgpack_unpacked_destroy(&up);
    if (rc) {
        pd_free(w.mem);
        return rc;
    }
    *out = w;
    return 0;
}

void pd_raft_wire_msg_free(pd_raft_wire_msg_t *w)
{
    pd_free(w->mem);
    w->mem = NULL;
}

/* ---- equality --------------------------------------------------------------------------------- */

static int ids_equal(const uint64_t *a, uint32_t na, const uint64_t *b, uint32_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static int bytes_equal(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

static int entries_equal(const pd_raft_msg_t *a, const pd_raft_msg_t *b)
{
    if (a->n_entries != b->n_entries)
        return 0;
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const pd_raft_entry_t *x = &a->entries[i], *y = &b->entries[i];
        if (x->term != y->term || x->index != y->index || x->type != y->type ||
            !bytes_equal(x->data, x->len, y->data, y->len))
            return 0;
    }
    return 1;
}

static int snap_equal(const pd_raft_msg_t *a, const pd_raft_msg_t *b)
{
    const pd_raft_snap_meta_t *x = &a->snap, *y = &b->snap;
    return x->index == y->index && x->term == y->term &&
           ids_equal(x->conf.voters, x->conf.n_voters, y->conf.voters, y->conf.n_voters) &&
           ids_equal(x->conf.learners, x->conf.n_learners, y->conf.learners, y->conf.n_learners) &&
           a->snap_done == b->snap_done &&
           bytes_equal(a->snap_data, a->snap_len, b->snap_data, b->snap_len);
}

int pd_raft_wire_msg_equal(const pd_raft_msg_t *a, const pd_raft_msg_t *b)
{
    if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term ||
        a->index != b->index || a->log_term != b->log_term || a->commit != b->commit ||
        (a->reject != 0) != (b->reject != 0) || a->reject_hint != b->reject_hint ||
        a->ctx != b->ctx || a->flags != b->flags || a->snap_offset != b->snap_offset)
        return 0;
    if (a->type == PD_RAFT_MSG_APP && !entries_equal(a, b))
        return 0;
    if (a->type == PD_RAFT_MSG_SNAP && !snap_equal(a, b))
        return 0;
    return 1;
}
