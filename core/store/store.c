/* Store tables and transactions. A txn runs in three steps so that it is all or nothing and an
 * allocation failure never leaves a trace:
 *   1. check: static rules and validation hooks for every op (no state touched);
 *   2. prepare: allocate every new object and the undo log, reserve index room (may fail: -ENOMEM,
 *      nothing changed);
 *   3. run the ops in order against the live tables, recording undo; the first op that fails
 *      (conflict, exists, not found, limit) rolls back the earlier ones in reverse. Nothing in this
 *      step allocates, so rollback cannot fail. On success the watch gets the events and replaced
 *      objects are released. */
#include "store.h"

#include <errno.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "pd_limits.h"
#include "pd_mp.h"
#include "store_int.h"
#include "store_wire.h"

static const struct {
    const char *name;
    uint8_t named;         /* unique name index */
    uint8_t name_required; /* a create/update must carry a name */
} kinds[PD_STORE_KINDS] = {
    [PD_STORE_CLUSTER] = {"cluster", 0, 0}, [PD_STORE_NODE] = {"node", 1, 0},
    [PD_STORE_SERVICE] = {"service", 1, 1}, [PD_STORE_TASK] = {"task", 0, 0},
    [PD_STORE_SECRET] = {"secret", 1, 1},   [PD_STORE_CONFIG] = {"config", 1, 1},
    [PD_STORE_NETWORK] = {"network", 1, 1},
};

const char *pd_store_kind_name(pd_store_kind_t kind)
{
    return (unsigned)kind < PD_STORE_KINDS ? kinds[kind].name : "?";
}

int pd_store_kind_named(pd_store_kind_t kind)
{
    return (unsigned)kind < PD_STORE_KINDS && kinds[kind].named;
}

int pd_store_id_valid(const void *id, size_t len)
{
    const uint8_t *p = id;
    if (len == 0 || len > PD_STORE_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 c == '_' || c == '.' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

void pd_store_id_new(pd_rng_t *rng, char out[26])
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (int i = 0; i < 25; i++)
        out[i] = alphabet[pd_rng_below(rng, 36)];
    out[25] = '\0';
}

static int blob_msgpack_ok(const pd_store_bytes_t *b)
{
    return b->len == 0 || pd_mp_validate(b->ptr, b->len, PD_MP_DEPTH_MAX) == 0;
}

int pd_store__obj_check(uint8_t kind, const pd_store_op_t *op)
{
    if (kind >= PD_STORE_KINDS || !pd_store_id_valid(op->id.ptr, op->id.len))
        return -PD_EMALFORMED;
    if (op->name.len > PD_STORE_NAME_MAX || op->spec.len > PD_STORE_SPEC_MAX ||
        op->status.len > PD_STORE_STATUS_MAX || op->data.len > PD_STORE_DATA_MAX)
        return -PD_ETOOBIG;
    if (op->name.len && memchr(op->name.ptr, 0, op->name.len))
        return -PD_EMALFORMED;
    if (kinds[kind].name_required && op->name.len == 0)
        return -PD_EMALFORMED;
    if (!blob_msgpack_ok(&op->spec) || !blob_msgpack_ok(&op->status))
        return -PD_EMALFORMED;
    return 0;
}

/* ---- objects ---------------------------------------------------------------------------------- */

static uint8_t *put_bytes(uint8_t *p, const pd_store_bytes_t *b, int nul, const uint8_t **field)
{
    *field = p;
    if (b->len)
        memcpy(p, b->ptr, b->len);
    p += b->len;
    if (nul)
        *p++ = 0;
    return p;
}

pd_store_obj_t *pd_store__obj_new(uint8_t kind, const pd_store_op_t *op)
{
    size_t n = sizeof(pd_store_obj_t) + (size_t)op->id.len + 1 + (size_t)op->name.len + 1 +
               op->spec.len + op->status.len + op->data.len;
    pd_store_obj_t *o = pd_malloc(n);
    if (!o)
        return NULL;
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->refs = 1;
    o->id_len = op->id.len;
    o->name_len = op->name.len;
    o->spec_len = op->spec.len;
    o->status_len = op->status.len;
    o->data_len = op->data.len;
    uint8_t *p = (uint8_t *)(o + 1);
    const uint8_t *f;
    p = put_bytes(p, &op->id, 1, &f);
    o->id = (const char *)f;
    p = put_bytes(p, &op->name, 1, &f);
    o->name = (const char *)f;
    p = put_bytes(p, &op->spec, 0, &o->spec);
    p = put_bytes(p, &op->status, 0, &o->status);
    put_bytes(p, &op->data, 0, &o->data);
    return o;
}

void pd_store__obj_put(pd_store_obj_t *o)
{
    if (!o)
        return;
    PD_ASSERT(o->refs > 0);
    if (--o->refs == 0)
        pd_free(o);
}

const pd_store_obj_t *pd_store_obj_ref(const pd_store_obj_t *o)
{
    pd_store_obj_t *m = (pd_store_obj_t *)o;
    PD_ASSERT(m->refs > 0 && m->refs < UINT32_MAX);
    m->refs++;
    return o;
}

void pd_store_obj_unref(const pd_store_obj_t *o) { pd_store__obj_put((pd_store_obj_t *)o); }

/* ---- tables ----------------------------------------------------------------------------------- */

static int has_name_key(const pd_store__table_t *t, const pd_store_obj_t *o)
{
    return t->by_name.by_name && o->name_len > 0;
}

int pd_store__table_reserve(pd_store__table_t *t, size_t extra)
{
    int rc = pd_store__index_reserve(&t->by_id, t->by_id.count + extra);
    if (rc == 0 && t->by_name.by_name)
        rc = pd_store__index_reserve(&t->by_name, t->by_name.count + extra);
    return rc;
}

void pd_store__table_append(pd_store__table_t *t, pd_store_obj_t *o)
{
    o->next = NULL;
    o->prev = t->tail;
    if (t->tail)
        t->tail->next = o;
    else
        t->head = o;
    t->tail = o;
    pd_store__index_insert(&t->by_id, o);
    if (has_name_key(t, o))
        pd_store__index_insert(&t->by_name, o);
    t->count++;
}

/* Take o out of the table; o keeps its prev/next so relink can put it back in the same place. */
static void table_unlink(pd_store__table_t *t, pd_store_obj_t *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        t->head = o->next;
    if (o->next)
        o->next->prev = o->prev;
    else
        t->tail = o->prev;
    pd_store__index_remove(&t->by_id, o);
    if (has_name_key(t, o))
        pd_store__index_remove(&t->by_name, o);
    t->count--;
}

/* Undo of table_unlink, valid when the table is back in the state right after that unlink. */
static void table_relink(pd_store__table_t *t, pd_store_obj_t *o)
{
    if (o->prev)
        o->prev->next = o;
    else
        t->head = o;
    if (o->next)
        o->next->prev = o;
    else
        t->tail = o;
    pd_store__index_insert(&t->by_id, o);
    if (has_name_key(t, o))
        pd_store__index_insert(&t->by_name, o);
    t->count++;
}

/* Put `o` where `old` is (same id, same place in the order). */
static void table_swap(pd_store__table_t *t, pd_store_obj_t *old, pd_store_obj_t *o)
{
    o->prev = old->prev;
    o->next = old->next;
    if (o->prev)
        o->prev->next = o;
    else
        t->head = o;
    if (o->next)
        o->next->prev = o;
    else
        t->tail = o;
    pd_store__index_replace(&t->by_id, old, o);
    if (!t->by_name.by_name)
        return;
    int same = old->name_len == o->name_len && memcmp(old->name, o->name, o->name_len) == 0;
    if (same && o->name_len) {
        pd_store__index_replace(&t->by_name, old, o);
    } else if (!same) {
        if (old->name_len)
            pd_store__index_remove(&t->by_name, old);
        if (o->name_len)
            pd_store__index_insert(&t->by_name, o);
    }
}

void pd_store__table_clear(pd_store__table_t *t)
{
    while (t->tail) {
        pd_store_obj_t *o = t->tail;
        table_unlink(t, o);
        pd_store__obj_put(o);
    }
}

/* ---- store ------------------------------------------------------------------------------------ */

int pd_store_new(const pd_store_opts_t *opts, pd_store_t **out)
{
    pd_store_opts_t o = opts ? *opts : (pd_store_opts_t){0};
    if (o.watch_cap == 0)
        o.watch_cap = PD_STORE_WATCH_DEFAULT;
    if (o.watch_cap > PD_STORE_WATCH_MAX)
        return -PD_EUSAGE;
    pd_store_t *s = pd_calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    for (unsigned k = 0; k < PD_STORE_KINDS; k++) {
        pd_store__index_init(&s->tables[k].by_id, o.hash_seed, 0);
        pd_store__index_init(&s->tables[k].by_name, o.hash_seed ^ 0x6e616d65u, kinds[k].named);
    }
    int rc = pd_store__watch_init(s, o.watch_cap);
    if (rc) {
        pd_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void pd_store_free(pd_store_t *s)
{
    if (!s)
        return;
    pd_store__watch_free(s);
    for (unsigned k = 0; k < PD_STORE_KINDS; k++) {
        pd_store__table_clear(&s->tables[k]);
        pd_store__index_free(&s->tables[k].by_id);
        pd_store__index_free(&s->tables[k].by_name);
    }
    pd_store__vip_clear(s);
    pd_free(s);
}

void pd_store_set_validator(pd_store_t *s, pd_store_kind_t kind, pd_store_validate_fn fn, void *ctx)
{
    PD_ASSERT((unsigned)kind < PD_STORE_KINDS);
    s->tables[kind].validate = fn;
    s->tables[kind].validate_ctx = ctx;
}

uint64_t pd_store_applied_index(const pd_store_t *s) { return s->applied_index; }
uint64_t pd_store_applied_term(const pd_store_t *s) { return s->applied_term; }

size_t pd_store_count(const pd_store_t *s, pd_store_kind_t kind)
{
    return (unsigned)kind < PD_STORE_KINDS ? s->tables[kind].count : 0;
}

const pd_store_obj_t *pd_store_get(const pd_store_t *s, pd_store_kind_t kind, const char *id, size_t len)
{
    if ((unsigned)kind >= PD_STORE_KINDS)
        return NULL;
    return pd_store__index_find(&s->tables[kind].by_id, id, len);
}

const pd_store_obj_t *pd_store_get_by_name(const pd_store_t *s, pd_store_kind_t kind, const char *name,
                                           size_t len)
{
    if (!pd_store_kind_named(kind) || len == 0)
        return NULL;
    return pd_store__index_find(&s->tables[kind].by_name, name, len);
}

const pd_store_obj_t *pd_store_first(const pd_store_t *s, pd_store_kind_t kind)
{
    return (unsigned)kind < PD_STORE_KINDS ? s->tables[kind].head : NULL;
}

const pd_store_obj_t *pd_store_next(const pd_store_obj_t *o) { return o->next; }

/* ---- transactions ----------------------------------------------------------------------------- */

typedef struct {
    pd_store_obj_t *old; /* update/delete: the object replaced or removed */
    pd_store_obj_t *obj; /* create/update: the new object */
} undo_t;

static int check_order(const pd_store_t *s, uint64_t index, uint64_t term)
{
    if (index <= s->applied_index || term < s->applied_term)
        return -PD_ESTATE;
    return 0;
}

/* Step 1: static rules and hooks. 0, or the code that rejects the txn and the op at fault. */
static int txn_check(const pd_store_t *s, const pd_store_txn_t *txn, uint32_t *failed)
{
    if (txn->n_ops > PD_STORE_TXN_OPS_MAX) {
        *failed = 0;
        return -PD_ELIMIT;
    }
    for (uint32_t i = 0; i < txn->n_ops; i++) {
        const pd_store_op_t *op = &txn->ops[i];
        int rc = pd_store_wire_op_check(op);
        const pd_store__table_t *t = rc ? NULL : &s->tables[op->kind];
        if (t && t->validate)
            rc = t->validate(t->validate_ctx, op);
        if (rc) {
            *failed = i;
            return rc < 0 ? rc : -PD_EMALFORMED;
        }
    }
    return 0;
}

static void release_new(undo_t *u, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        pd_store__obj_put(u[i].obj);
    pd_free(u);
}

/* Step 2: every allocation the txn needs. 0 or -ENOMEM (nothing changed but index room). */
static int txn_prepare(pd_store_t *s, const pd_store_txn_t *txn, undo_t **out)
{
    size_t extra[PD_STORE_KINDS] = {0};
    undo_t *u = pd_calloc(txn->n_ops, sizeof *u);
    if (!u)
        return -ENOMEM;
    for (uint32_t i = 0; i < txn->n_ops; i++) {
        const pd_store_op_t *op = &txn->ops[i];
        if (op->op == PD_STORE_OP_DELETE)
            continue;
        extra[op->kind]++;
        u[i].obj = pd_store__obj_new(op->kind, op);
        if (!u[i].obj) {
            release_new(u, i);
            return -ENOMEM;
        }
    }
    for (unsigned k = 0; k < PD_STORE_KINDS; k++) {
        if (extra[k] && pd_store__table_reserve(&s->tables[k], extra[k]) != 0) {
            release_new(u, txn->n_ops);
            return -ENOMEM;
        }
    }
    *out = u;
    return 0;
}

static int exec_create(pd_store__table_t *t, const pd_store_op_t *op, undo_t *u, uint64_t index,
                       int64_t now_ms)
{
    if (pd_store__index_find(&t->by_id, op->id.ptr, op->id.len))
        return -PD_EEXISTS;
    if (t->by_name.by_name && op->name.len &&
        pd_store__index_find(&t->by_name, op->name.ptr, op->name.len))
        return -PD_EEXISTS;
    if (t->count >= PD_STORE_KIND_OBJECTS_MAX)
        return -PD_ELIMIT;
    u->obj->version = index;
    u->obj->created_ms = now_ms;
    u->obj->updated_ms = now_ms;
    pd_store__table_append(t, u->obj);
    return 0;
}

static int exec_update(pd_store__table_t *t, const pd_store_op_t *op, undo_t *u, uint64_t index,
                       int64_t now_ms)
{
    pd_store_obj_t *old = pd_store__index_find(&t->by_id, op->id.ptr, op->id.len);
    if (!old)
        return -PD_ENOTFOUND;
    if (old->version != op->version)
        return -PD_ECONFLICT;
    if (t->by_name.by_name && op->name.len) {
        pd_store_obj_t *other = pd_store__index_find(&t->by_name, op->name.ptr, op->name.len);
        if (other && other != old)
            return -PD_EEXISTS;
    }
    u->obj->version = index;
    u->obj->created_ms = old->created_ms;
    u->obj->updated_ms = now_ms;
    table_swap(t, old, u->obj);
    u->old = old;
    return 0;
}

static int exec_delete(pd_store__table_t *t, const pd_store_op_t *op, undo_t *u)
{
    pd_store_obj_t *old = pd_store__index_find(&t->by_id, op->id.ptr, op->id.len);
    if (!old)
        return -PD_ENOTFOUND;
    if (op->version && old->version != op->version)
        return -PD_ECONFLICT;
    table_unlink(t, old);
    u->old = old;
    return 0;
}

static void undo_op(pd_store__table_t *t, uint8_t op, undo_t *u)
{
    switch (op) {
    case PD_STORE_OP_CREATE: table_unlink(t, u->obj); break;
    case PD_STORE_OP_UPDATE: table_swap(t, u->obj, u->old); break;
    case PD_STORE_OP_DELETE: table_relink(t, u->old); break;
    default: PD_UNREACHABLE();
    }
}

static void txn_commit(pd_store_t *s, const pd_store_txn_t *txn, undo_t *u, uint64_t index)
{
    static const uint8_t ev[4] = {0, PD_STORE_EV_CREATED, PD_STORE_EV_UPDATED, PD_STORE_EV_DELETED};
    for (uint32_t i = 0; i < txn->n_ops; i++) {
        const pd_store_op_t *op = &txn->ops[i];
        pd_store_obj_t *o = op->op == PD_STORE_OP_DELETE ? u[i].old : u[i].obj;
        pd_store__watch_push(s, index, op->kind, ev[op->op], o);
    }
    for (uint32_t i = 0; i < txn->n_ops; i++)
        pd_store__obj_put(u[i].old); /* the table's reference; created ones stay in the table */
    pd_free(u);
}

/* Steps 2 and 3. Returns -ENOMEM (nothing changed) or 0 with *result the txn's outcome. */
static int txn_run(pd_store_t *s, const pd_store_txn_t *txn, uint64_t index, int *result,
                   uint32_t *failed)
{
    undo_t *u = NULL;
    if (txn->n_ops == 0) {
        *result = 0;
        return 0;
    }
    int rc = txn_prepare(s, txn, &u);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < txn->n_ops; i++) {
        const pd_store_op_t *op = &txn->ops[i];
        pd_store__table_t *t = &s->tables[op->kind];
        if (op->op == PD_STORE_OP_CREATE)
            rc = exec_create(t, op, &u[i], index, txn->now_ms);
        else if (op->op == PD_STORE_OP_UPDATE)
            rc = exec_update(t, op, &u[i], index, txn->now_ms);
        else
            rc = exec_delete(t, op, &u[i]);
        if (rc) {
            for (uint32_t j = i; j-- > 0;)
                undo_op(&s->tables[txn->ops[j].kind], txn->ops[j].op, &u[j]);
            release_new(u, txn->n_ops);
            *failed = i;
            *result = rc;
            return 0;
        }
    }
    txn_commit(s, txn, u, index);
    *result = 0;
    return 0;
}

int pd_store_apply_txn(pd_store_t *s, uint64_t index, uint64_t term, const pd_store_txn_t *txn,
                       pd_store_result_t *res)
{
    int rc = check_order(s, index, term);
    if (rc)
        return rc;
    pd_store_result_t r = {.type = PD_STORE_ENTRY_TXN};
    r.rc = txn_check(s, txn, &r.failed_op);
    if (r.rc == 0) {
        rc = txn_run(s, txn, index, &r.rc, &r.failed_op);
        if (rc)
            return rc;
    }
    s->applied_index = index;
    s->applied_term = term;
    if (res)
        *res = r;
    return 0;
}

static int apply_txn_entry(pd_store_t *s, uint64_t index, uint64_t term, const uint8_t *p, size_t len,
                           pd_store_result_t *r)
{
    pd_store_wire_txn_t w;
    int rc = len > PD_STORE_ENTRY_MAX ? -PD_ETOOBIG : pd_store_wire_decode_txn(p + 1, len - 1, &w);
    if (rc == -ENOMEM)
        return rc;
    if (rc) { /* every manager rejects the same bytes the same way: consume the entry */
        r->rc = rc;
        s->applied_index = index;
        s->applied_term = term;
        return 0;
    }
    rc = pd_store_apply_txn(s, index, term, &w.txn, r);
    pd_store_wire_txn_free(&w);
    r->type = p[0];
    return rc;
}

int pd_store_apply(pd_store_t *s, uint64_t index, uint64_t term, const void *data, size_t len,
                   pd_store_result_t *res)
{
    int rc = check_order(s, index, term);
    if (rc)
        return rc;
    const uint8_t *p = data;
    pd_store_result_t r = {0};
    uint8_t type = len ? p[0] : 0;
    r.type = type;
    if (len == 0) {
        r.skipped = 1;
    } else if ((type & PD_STORE_ENTRY_TYPE_MASK) == PD_STORE_ENTRY_NOOP) {
        if (len > 1 && pd_mp_validate(p + 1, len - 1, PD_MP_DEPTH_MAX) != 0)
            r.rc = -PD_EMALFORMED;
    } else if ((type & PD_STORE_ENTRY_TYPE_MASK) == PD_STORE_ENTRY_TXN) {
        rc = apply_txn_entry(s, index, term, p, len, &r);
        if (rc)
            return rc;
    } else if ((type & PD_STORE_ENTRY_TYPE_MASK) == PD_STORE_ENTRY_VIP_ALLOC ||
               (type & PD_STORE_ENTRY_TYPE_MASK) == PD_STORE_ENTRY_VIP_RELEASE) {
        rc = pd_store__vip_apply(s, p, len, &r);
        if (rc)
            return rc;
    } else if (type & PD_STORE_ENTRY_IGNORE) {
        r.skipped = 1;
    } else {
        return -PD_EUNKNOWN_TYPE;
    }
    s->applied_index = index;
    s->applied_term = term;
    if (res)
        *res = r;
    return 0;
}
