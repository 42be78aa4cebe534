/* Store entry codec: [type byte][msgpack payload]. Layout in store_wire.h. */
#include "store_wire.h"

#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "store_int.h"

/* ---- checks ----------------------------------------------------------------------------------- */

int pd_store_wire_op_check(const pd_store_op_t *op)
{
    if (op->op < PD_STORE_OP_CREATE || op->op > PD_STORE_OP_DELETE || op->kind >= PD_STORE_KINDS)
        return -PD_EMALFORMED;
    if (op->op == PD_STORE_OP_DELETE)
        return pd_store_id_valid(op->id.ptr, op->id.len) ? 0 : -PD_EMALFORMED;
    return pd_store__obj_check(op->kind, op);
}

static int bytes_eq(const pd_store_bytes_t *a, const pd_store_bytes_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

int pd_store_wire_txn_equal(const pd_store_txn_t *a, const pd_store_txn_t *b)
{
    if (a->now_ms != b->now_ms || a->n_ops != b->n_ops)
        return 0;
    for (uint32_t i = 0; i < a->n_ops; i++) {
        const pd_store_op_t *x = &a->ops[i], *y = &b->ops[i];
        if (x->op != y->op || x->kind != y->kind || x->version != y->version)
            return 0;
        if (!bytes_eq(&x->id, &y->id) || !bytes_eq(&x->name, &y->name) ||
            !bytes_eq(&x->spec, &y->spec) || !bytes_eq(&x->status, &y->status) ||
            !bytes_eq(&x->data, &y->data))
            return 0;
    }
    return 1;
}

/* ---- encode ----------------------------------------------------------------------------------- */

static void pack_str(msgpack_packer *pk, const char *key, const pd_store_bytes_t *b)
{
    pd_mp_pack_cstr(pk, key);
    msgpack_pack_str(pk, b->len);
    msgpack_pack_str_body(pk, b->ptr, b->len);
}

static void pack_bin(msgpack_packer *pk, const char *key, const pd_store_bytes_t *b)
{
    pd_mp_pack_cstr(pk, key);
    msgpack_pack_bin(pk, b->len);
    msgpack_pack_bin_body(pk, b->ptr, b->len);
}

static void pack_op(msgpack_packer *pk, const pd_store_op_t *op)
{
    msgpack_pack_map(pk, 8);
    pd_mp_pack_kv_u64(pk, "o", op->op);
    pd_mp_pack_kv_u64(pk, "k", op->kind);
    pack_str(pk, "id", &op->id);
    pd_mp_pack_kv_u64(pk, "ver", op->version);
    pack_str(pk, "n", &op->name);
    pack_bin(pk, "sp", &op->spec);
    pack_bin(pk, "st", &op->status);
    pack_bin(pk, "d", &op->data);
}

int pd_store_wire_encode_txn(const pd_store_txn_t *txn, uint8_t **out, size_t *len_out)
{
    if (txn->n_ops > PD_STORE_TXN_OPS_MAX)
        return -PD_ELIMIT;
    for (uint32_t i = 0; i < txn->n_ops; i++) {
        int rc = pd_store_wire_op_check(&txn->ops[i]);
        if (rc)
            return rc;
    }
    pd_mp_out_t o = {.max = PD_STORE_ENTRY_MAX};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &o, pd_mp_out_write);
    const uint8_t type = PD_STORE_ENTRY_TXN;
    pd_mp_out_write(&o, (const char *)&type, 1);
    msgpack_pack_map(&pk, 2);
    pd_mp_pack_kv_i64(&pk, "t", txn->now_ms);
    pd_mp_pack_cstr(&pk, "ops");
    msgpack_pack_array(&pk, txn->n_ops);
    for (uint32_t i = 0; i < txn->n_ops; i++)
        pack_op(&pk, &txn->ops[i]);
    if (o.err) {
        pd_free(o.data);
        return o.err;
    }
    *out = o.data;
    *len_out = o.len;
    return 0;
}

int pd_store_wire_encode_noop(uint8_t **out, size_t *len_out)
{
    uint8_t *b = pd_malloc(2);
    if (!b)
        return -ENOMEM;
    b[0] = PD_STORE_ENTRY_NOOP;
    b[1] = 0x80; /* {} */
    *out = b;
    *len_out = 2;
    return 0;
}

/* ---- decode ----------------------------------------------------------------------------------- */

static int get_small(const msgpack_object *map, const char *key, uint8_t *out)
{
    uint64_t v = 0;
    int rc = pd_mp_get_u64(map, key, &v);
    if (rc == -PD_ENOTFOUND)
        return 0;
    if (rc || v > UINT8_MAX)
        return -PD_EMALFORMED;
    *out = (uint8_t)v;
    return 0;
}

/* A str (want_str) or bin value under key, capped; absent = empty. */
static int get_bytes(const msgpack_object *map, const char *key, int want_str, uint32_t max,
                     pd_store_bytes_t *out)
{
    const msgpack_object *v = pd_mp_get(map, key);
    if (!v)
        return 0;
    if (want_str ? v->type != MSGPACK_OBJECT_STR : v->type != MSGPACK_OBJECT_BIN)
        return -PD_EMALFORMED;
    uint32_t n = want_str ? v->via.str.size : v->via.bin.size;
    if (n > max)
        return -PD_ETOOBIG;
    out->ptr = (const uint8_t *)(want_str ? v->via.str.ptr : v->via.bin.ptr);
    out->len = n;
    return 0;
}

static int decode_op(const msgpack_object *m, pd_store_op_t *op)
{
    if (m->type != MSGPACK_OBJECT_MAP)
        return -PD_EMALFORMED;
    memset(op, 0, sizeof *op);
    int rc = get_small(m, "o", &op->op);
    if (rc == 0)
        rc = get_small(m, "k", &op->kind);
    if (rc == 0) {
        rc = pd_mp_get_u64(m, "ver", &op->version);
        rc = rc == -PD_ENOTFOUND ? 0 : rc;
    }
    if (rc == 0)
        rc = get_bytes(m, "id", 1, PD_STORE_ID_MAX, &op->id);
    if (rc == 0)
        rc = get_bytes(m, "n", 1, PD_STORE_NAME_MAX, &op->name);
    if (rc == 0)
        rc = get_bytes(m, "sp", 0, PD_STORE_SPEC_MAX, &op->spec);
    if (rc == 0)
        rc = get_bytes(m, "st", 0, PD_STORE_STATUS_MAX, &op->status);
    if (rc == 0)
        rc = get_bytes(m, "d", 0, PD_STORE_DATA_MAX, &op->data);
    return rc;
}

static int decode_body(const msgpack_object *root, pd_store_wire_txn_t *t)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return -PD_EMALFORMED;
    int64_t now_ms = 0;
    int rc = pd_mp_get_i64(root, "t", &now_ms);
    if (rc)
        return rc == -PD_ENOTFOUND ? -PD_EMALFORMED : rc;
    const msgpack_object *ops = pd_mp_get(root, "ops");
    if (!ops || ops->type != MSGPACK_OBJECT_ARRAY)
        return -PD_EMALFORMED;
    uint32_t n = ops->via.array.size;
    if (n > PD_STORE_TXN_OPS_MAX)
        return -PD_ELIMIT;
    t->ops = pd_calloc(n, sizeof *t->ops);
    if (!t->ops)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        rc = decode_op(&ops->via.array.ptr[i], &t->ops[i]);
        if (rc) {
            pd_free(t->ops);
            t->ops = NULL;
            return rc;
        }
    }
    t->txn = (pd_store_txn_t){.now_ms = now_ms, .ops = t->ops, .n_ops = n};
    return 0;
}

int pd_store_wire_decode_txn(const void *payload, size_t len, pd_store_wire_txn_t *out)
{
    if (len > PD_STORE_ENTRY_MAX)
        return -PD_ETOOBIG;
    pd_store_wire_txn_t t = {0};
    int rc = pd_mp_unpack(payload, len, &t.up);
    if (rc)
        return rc;
    rc = decode_body(&t.up.data, &t);
    if (rc) {
        msgpack_unpacked_destroy(&t.up);
        return rc;
    }
    *out = t;
    return 0;
}

void pd_store_wire_txn_free(pd_store_wire_txn_t *t)
{
    pd_free(t->ops);
    t->ops = NULL;
    msgpack_unpacked_destroy(&t->up);
}
