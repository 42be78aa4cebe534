/* core/store: tables and indexes per kind, versions, atomic txns, entry types (ignore bit), wire
 * codec, deterministic apply, snapshot round trip, watch order and overflow, OOM sweeps over apply
 * and restore, and a property test against a reference model (seeded pd_rng). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_rng.h"
#include "store.h"
#include "store_wire.h"

/* ---- helpers ---------------------------------------------------------------------------------- */

static pd_store_bytes_t B(const char *s)
{
    return (pd_store_bytes_t){.ptr = (const uint8_t *)s, .len = s ? (uint32_t)strlen(s) : 0};
}

/* A msgpack fixstr spec: "\xa3abc". Keep strings short (< 32). */
static const char *SPEC_A = "\xa5spec1";
static const char *SPEC_B = "\xa5spec2";

static pd_store_op_t op_create(uint8_t kind, const char *id, const char *name, const char *spec)
{
    return (pd_store_op_t){.op = PD_STORE_OP_CREATE, .kind = kind, .id = B(id), .name = B(name),
                           .spec = B(spec)};
}

static pd_store_op_t op_update(uint8_t kind, const char *id, uint64_t ver, const char *name,
                               const char *spec)
{
    return (pd_store_op_t){.op = PD_STORE_OP_UPDATE, .kind = kind, .id = B(id), .version = ver,
                           .name = B(name), .spec = B(spec)};
}

static pd_store_op_t op_delete(uint8_t kind, const char *id, uint64_t ver)
{
    return (pd_store_op_t){.op = PD_STORE_OP_DELETE, .kind = kind, .id = B(id), .version = ver};
}

static pd_store_t *new_store(uint64_t seed, uint32_t watch_cap)
{
    pd_store_opts_t o = {.hash_seed = seed, .watch_cap = watch_cap};
    pd_store_t *s = NULL;
    assert_int_equal(pd_store_new(&o, &s), 0);
    return s;
}

/* Encode ops as a TXN entry and apply it at the next index; returns the txn outcome (res.rc). */
static int run_ops(pd_store_t *s, const pd_store_op_t *ops, uint32_t n, pd_store_result_t *res_out)
{
    pd_store_txn_t txn = {.now_ms = 1000 + (int64_t)pd_store_applied_index(s), .ops = ops, .n_ops = n};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(pd_store_wire_encode_txn(&txn, &buf, &len), 0);
    pd_store_result_t res;
    uint64_t idx = pd_store_applied_index(s) + 1;
    assert_int_equal(pd_store_apply(s, idx, 1, buf, len, &res), 0);
    assert_int_equal(pd_store_applied_index(s), idx);
    pd_free(buf);
    if (res_out)
        *res_out = res;
    return res.rc;
}

static int run1(pd_store_t *s, pd_store_op_t op) { return run_ops(s, &op, 1, NULL); }

static void snap(const pd_store_t *s, uint8_t **buf, size_t *len)
{
    assert_int_equal(pd_store_snapshot_encode(s, buf, len), 0);
}

static void assert_snap_eq(const pd_store_t *s, const uint8_t *want, size_t want_len)
{
    uint8_t *b;
    size_t n;
    snap(s, &b, &n);
    assert_int_equal(n, want_len);
    assert_memory_equal(b, want, n);
    pd_free(b);
}

static const char *named_of(int k) { return pd_store_kind_named((pd_store_kind_t)k) ? "alpha" : ""; }

/* ---- tables ----------------------------------------------------------------------------------- */

static void test_crud_every_kind(void **state)
{
    (void)state;
    pd_store_t *s = new_store(1, 0);
    for (int k = 0; k < PD_STORE_KINDS; k++) {
        const char *name = named_of(k);
        assert_int_equal(run1(s, op_create((uint8_t)k, "obj1", name, SPEC_A)), 0);
        uint64_t v1 = pd_store_applied_index(s);
        const pd_store_obj_t *o = pd_store_get(s, (pd_store_kind_t)k, "obj1", 4);
        assert_non_null(o);
        assert_int_equal(o->kind, k);
        assert_string_equal(o->id, "obj1");
        assert_int_equal(o->version, v1);
        assert_int_equal(o->created_ms, o->updated_ms);
        assert_int_equal(o->spec_len, 6);
        assert_memory_equal(o->spec, SPEC_A, 6);
        if (*name)
            assert_ptr_equal(pd_store_get_by_name(s, (pd_store_kind_t)k, name, strlen(name)), o);
        assert_int_equal(run1(s, op_create((uint8_t)k, "obj1", "other", NULL)), -PD_EEXISTS);
        assert_int_equal(run1(s, op_update((uint8_t)k, "obj1", v1, name, SPEC_B)), 0);
        o = pd_store_get(s, (pd_store_kind_t)k, "obj1", 4);
        assert_int_equal(o->version, pd_store_applied_index(s));
        assert_true(o->updated_ms > o->created_ms);
        assert_memory_equal(o->spec, SPEC_B, 6);
        assert_int_equal(pd_store_count(s, (pd_store_kind_t)k), 1);
        assert_int_equal(run1(s, op_update((uint8_t)k, "nope", 1, name, NULL)), -PD_ENOTFOUND);
        assert_int_equal(run1(s, op_delete((uint8_t)k, "nope", 0)), -PD_ENOTFOUND);
        assert_int_equal(run1(s, op_delete((uint8_t)k, "obj1", 0)), 0);
        assert_null(pd_store_get(s, (pd_store_kind_t)k, "obj1", 4));
        assert_null(pd_store_get_by_name(s, (pd_store_kind_t)k, "alpha", 5));
        assert_int_equal(pd_store_count(s, (pd_store_kind_t)k), 0);
    }
    /* A secret's data is opaque bytes (ciphertext), kept exactly. */
    const uint8_t ct[5] = {0, 1, 0xff, 0, 7};
    pd_store_op_t op = op_create(PD_STORE_SECRET, "sec1", "db-pass", NULL);
    op.data = (pd_store_bytes_t){ct, sizeof ct};
    assert_int_equal(run1(s, op), 0);
    const pd_store_obj_t *o = pd_store_get_by_name(s, PD_STORE_SECRET, "db-pass", 7);
    assert_int_equal(o->data_len, 5);
    assert_memory_equal(o->data, ct, 5);
    pd_store_free(s);
}

static void test_names_and_ids(void **state)
{
    (void)state;
    pd_store_t *s = new_store(2, 0);
    /* Kinds that require a name; tasks and clusters may share names; nodes may have none. */
    pd_store_result_t res;
    pd_store_op_t bad = op_create(PD_STORE_SERVICE, "s1", "", NULL);
    pd_store_txn_t txn = {.ops = &bad, .n_ops = 1};
    uint8_t *buf;
    size_t len;
    assert_int_equal(pd_store_wire_encode_txn(&txn, &buf, &len), -PD_EMALFORMED); /* not encodable */
    assert_int_equal(pd_store_apply_txn(s, 1, 1, &txn, &res), 0); /* nor applicable */
    assert_int_equal(res.rc, -PD_EMALFORMED);
    assert_int_equal(run1(s, op_create(PD_STORE_TASK, "t1", "same", NULL)), 0);
    assert_int_equal(run1(s, op_create(PD_STORE_TASK, "t2", "same", NULL)), 0);
    assert_null(pd_store_get_by_name(s, PD_STORE_TASK, "same", 4));
    assert_int_equal(run1(s, op_create(PD_STORE_NODE, "n1", "", NULL)), 0);
    assert_int_equal(run1(s, op_create(PD_STORE_NODE, "n2", "", NULL)), 0);
    assert_int_equal(run1(s, op_create(PD_STORE_NODE, "n3", "host-a", NULL)), 0);
    assert_int_equal(run1(s, op_create(PD_STORE_NODE, "n4", "host-a", NULL)), -PD_EEXISTS);
    /* Rename: the old name is free again, the new one is taken. */
    assert_int_equal(run1(s, op_create(PD_STORE_SERVICE, "s1", "web", NULL)), 0);
    uint64_t v = pd_store_get(s, PD_STORE_SERVICE, "s1", 2)->version;
    assert_int_equal(run1(s, op_create(PD_STORE_SERVICE, "s2", "db", NULL)), 0);
    assert_int_equal(run1(s, op_update(PD_STORE_SERVICE, "s1", v, "db", NULL)), -PD_EEXISTS);
    assert_int_equal(run1(s, op_update(PD_STORE_SERVICE, "s1", v, "www", NULL)), 0);
    assert_null(pd_store_get_by_name(s, PD_STORE_SERVICE, "web", 3));
    assert_string_equal(pd_store_get_by_name(s, PD_STORE_SERVICE, "www", 3)->id, "s1");
    assert_int_equal(run1(s, op_create(PD_STORE_SERVICE, "s3", "web", NULL)), 0);
    /* Same id in different kinds is fine; bad ids are rejected before anything changes. */
    assert_int_equal(run1(s, op_create(PD_STORE_NETWORK, "s1", "net", NULL)), 0);
    bad = op_create(PD_STORE_NETWORK, "has space", "n", NULL);
    assert_int_equal(pd_store_apply_txn(s, 100, 1, &txn, &res), 0);
    assert_int_equal(res.rc, -PD_EMALFORMED);
    bad = op_create(PD_STORE_NETWORK, "x", "n", "\xc1"); /* spec is not msgpack */
    assert_int_equal(pd_store_apply_txn(s, 101, 1, &txn, &res), 0);
    assert_int_equal(res.rc, -PD_EMALFORMED);
    /* Iteration is creation order. */
    const char *want[] = {"n1", "n2", "n3"};
    int i = 0;
    for (const pd_store_obj_t *o = pd_store_first(s, PD_STORE_NODE); o; o = pd_store_next(o))
        assert_string_equal(o->id, want[i++]);
    assert_int_equal(i, 3);
    char id[26];
    pd_rng_t rng;
    pd_rng_seed(&rng, 7);
    pd_store_id_new(&rng, id);
    assert_int_equal(strlen(id), 25);
    assert_true(pd_store_id_valid(id, 25));
    assert_false(pd_store_id_valid("", 0));
    assert_false(pd_store_id_valid("a/b", 3));
    pd_store_free(s);
}

static void test_many_objects(void **state)
{
    (void)state; /* grows the indexes through many sizes; every lookup still works */
    pd_store_t *s = new_store(3, 64);
    char ids[2000][8], names[2000][8];
    for (int i = 0; i < 2000; i += 100) {
        pd_store_op_t ops[100];
        for (int j = 0; j < 100; j++) {
            snprintf(ids[i + j], sizeof ids[0], "t%d", i + j);
            snprintf(names[i + j], sizeof names[0], "n%d", i + j);
            ops[j] = op_create(PD_STORE_SERVICE, ids[i + j], names[i + j], NULL);
        }
        assert_int_equal(run_ops(s, ops, 100, NULL), 0);
    }
    for (int i = 0; i < 2000; i += 3)
        assert_int_equal(run1(s, op_delete(PD_STORE_SERVICE, ids[i], 0)), 0);
    for (int i = 0; i < 2000; i++) {
        const pd_store_obj_t *o = pd_store_get(s, PD_STORE_SERVICE, ids[i], strlen(ids[i]));
        const pd_store_obj_t *n = pd_store_get_by_name(s, PD_STORE_SERVICE, names[i], strlen(names[i]));
        assert_true(i % 3 == 0 ? o == NULL : o != NULL);
        assert_ptr_equal(o, n);
    }
    assert_int_equal(pd_store_count(s, PD_STORE_SERVICE), 2000 - 667);
    pd_store_free(s);
}

/* ---- versions and atomicity ------------------------------------------------------------------- */

static void test_version_conflict(void **state)
{
    (void)state;
    pd_store_t *s = new_store(4, 0);
    assert_int_equal(run1(s, op_create(PD_STORE_SERVICE, "s1", "web", SPEC_A)), 0);
    uint64_t v1 = pd_store_applied_index(s);
    assert_int_equal(run1(s, op_update(PD_STORE_SERVICE, "s1", v1, "web", SPEC_B)), 0);
    /* A writer that read v1 is now stale. */
    assert_int_equal(run1(s, op_update(PD_STORE_SERVICE, "s1", v1, "web", SPEC_A)), -PD_ECONFLICT);
    assert_int_equal(run1(s, op_delete(PD_STORE_SERVICE, "s1", v1)), -PD_ECONFLICT);
    assert_memory_equal(pd_store_get(s, PD_STORE_SERVICE, "s1", 2)->spec, SPEC_B, 6);
    uint64_t v2 = pd_store_get(s, PD_STORE_SERVICE, "s1", 2)->version;
    assert_int_equal(run1(s, op_delete(PD_STORE_SERVICE, "s1", v2)), 0);
    /* Ops see the earlier ops of their txn: create then update at this index's version. */
    uint64_t next = pd_store_applied_index(s) + 1;
    pd_store_op_t ops[3] = {op_create(PD_STORE_CONFIG, "c1", "cfg", NULL),
                            op_update(PD_STORE_CONFIG, "c1", next, "cfg2", SPEC_A),
                            op_update(PD_STORE_CONFIG, "c1", next, "cfg3", SPEC_B)};
    assert_int_equal(run_ops(s, ops, 3, NULL), 0);
    const pd_store_obj_t *o = pd_store_get(s, PD_STORE_CONFIG, "c1", 2);
    assert_string_equal(o->name, "cfg3");
    assert_null(pd_store_get_by_name(s, PD_STORE_CONFIG, "cfg", 3));
    pd_store_free(s);
}

static void test_atomicity(void **state)
{
    (void)state;
    pd_store_t *s = new_store(5, 0);
    assert_int_equal(run1(s, op_create(PD_STORE_SERVICE, "s1", "web", SPEC_A)), 0);
    assert_int_equal(run1(s, op_create(PD_STORE_TASK, "t1", "", SPEC_A)), 0);
    uint64_t vs = pd_store_get(s, PD_STORE_SERVICE, "s1", 2)->version;
    uint64_t vt = pd_store_get(s, PD_STORE_TASK, "t1", 2)->version;
    uint8_t *before;
    size_t before_len;
    snap(s, &before, &before_len);
    pd_store_watch_t w;
    pd_store_watch_init(s, &w);
    /* The 3rd op conflicts: the create, update and delete before it must all be undone. */
    pd_store_op_t ops[4] = {op_create(PD_STORE_SERVICE, "s2", "api", NULL),
                            op_update(PD_STORE_SERVICE, "s1", vs, "web2", SPEC_B),
                            op_update(PD_STORE_TASK, "t1", vt + 7, "", SPEC_B),
                            op_delete(PD_STORE_SERVICE, "s1", 0)};
    pd_store_op_t ops2[4] = {ops[0], ops[1], op_delete(PD_STORE_TASK, "t1", 0), ops[2]};
    pd_store_result_t res;
    assert_int_equal(run_ops(s, ops2, 4, &res), -PD_ENOTFOUND); /* t1 deleted by op 2, then updated */
    assert_int_equal(res.failed_op, 3);
    assert_int_equal(run_ops(s, ops, 4, &res), -PD_ECONFLICT);
    assert_int_equal(res.failed_op, 2);
    assert_int_equal(res.type, PD_STORE_ENTRY_TXN);
    /* Objects exactly as before (only the applied index moved), no events. */
    pd_store_t *ref = new_store(99, 0);
    assert_int_equal(pd_store_snapshot_restore(ref, before, before_len), 0);
    assert_int_equal(pd_store_apply(ref, pd_store_applied_index(s), 1, NULL, 0, NULL), 0);
    uint8_t *want;
    size_t want_len;
    snap(ref, &want, &want_len);
    assert_snap_eq(s, want, want_len);
    assert_int_equal(pd_store_watch_pending(s, &w), 0);
    assert_null(pd_store_get_by_name(s, PD_STORE_SERVICE, "web2", 4));
    assert_non_null(pd_store_get_by_name(s, PD_STORE_SERVICE, "web", 3));
    const pd_store_obj_t *first = pd_store_first(s, PD_STORE_SERVICE);
    assert_string_equal(first->id, "s1");
    assert_null(pd_store_next(first));
    pd_free(want);
    pd_free(before);
    pd_store_free(ref);
    pd_store_free(s);
}

static int reject_big_tasks(void *ctx, const pd_store_op_t *op)
{
    (*(int *)ctx)++;
    return op->spec.len > 4 ? -PD_ETOOBIG : 0;
}

static void test_validator_and_caps(void **state)
{
    (void)state;
    pd_store_t *s = new_store(6, 0);
    int calls = 0;
    pd_store_set_validator(s, PD_STORE_TASK, reject_big_tasks, &calls);
    pd_store_result_t res;
    pd_store_op_t ops[2] = {op_create(PD_STORE_SERVICE, "s1", "web", NULL),
                            op_create(PD_STORE_TASK, "t1", "", SPEC_A)};
    assert_int_equal(run_ops(s, ops, 2, &res), -PD_ETOOBIG);
    assert_int_equal(res.failed_op, 1);
    assert_int_equal(calls, 1);
    assert_int_equal(pd_store_count(s, PD_STORE_SERVICE), 0);
    ops[1].spec = B("\xa1x");
    assert_int_equal(run_ops(s, ops, 2, &res), 0);
    /* Caps: too many ops, oversize name. */
    static pd_store_op_t many[PD_STORE_TXN_OPS_MAX + 1];
    for (size_t i = 0; i < PD_STORE_TXN_OPS_MAX + 1; i++)
        many[i] = op_delete(PD_STORE_TASK, "t1", 0);
    pd_store_txn_t txn = {.ops = many, .n_ops = PD_STORE_TXN_OPS_MAX + 1};
    uint8_t *buf;
    size_t len;
    assert_int_equal(pd_store_wire_encode_txn(&txn, &buf, &len), -PD_ELIMIT);
    assert_int_equal(pd_store_apply_txn(s, 50, 1, &txn, &res), 0);
    assert_int_equal(res.rc, -PD_ELIMIT);
    char longname[PD_STORE_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    pd_store_op_t op = op_create(PD_STORE_SERVICE, "s9", longname, NULL);
    txn = (pd_store_txn_t){.ops = &op, .n_ops = 1};
    assert_int_equal(pd_store_wire_encode_txn(&txn, &buf, &len), -PD_ETOOBIG);
    pd_store_free(s);
}

/* ---- entries ---------------------------------------------------------------------------------- */

static void test_entry_types(void **state)
{
    (void)state;
    pd_store_t *s = new_store(7, 0);
    assert_int_equal(run1(s, op_create(PD_STORE_SERVICE, "s1", "web", NULL)), 0);
    uint8_t *b0;
    size_t n0;
    snap(s, &b0, &n0);
    uint64_t idx = pd_store_applied_index(s);
    pd_store_result_t res;
    /* Unknown without the ignore bit: fatal, nothing changes (not even the index). */
    const uint8_t unknown[] = {0x7e, 0x80};
    assert_int_equal(pd_store_apply(s, idx + 1, 1, unknown, sizeof unknown, &res), -PD_EUNKNOWN_TYPE);
    const uint8_t zero[] = {0x00};
    assert_int_equal(pd_store_apply(s, idx + 1, 1, zero, 1, &res), -PD_EUNKNOWN_TYPE);
    assert_snap_eq(s, b0, n0);
    /* Index order. */
    assert_int_equal(pd_store_apply(s, idx, 1, NULL, 0, &res), -PD_ESTATE);
    assert_int_equal(pd_store_apply(s, idx + 1, 0, NULL, 0, &res), -PD_ESTATE);
    assert_snap_eq(s, b0, n0);
    /* With the ignore bit (even with garbage after it): skipped, index advances. */
    const uint8_t optional[] = {0xfe, 0xc1, 0xc1};
    assert_int_equal(pd_store_apply(s, idx + 1, 1, optional, sizeof optional, &res), 0);
    assert_int_equal(res.skipped, 1);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.type, 0xfe);
    /* Empty entry (leader's no-op, conf change), NOOP, NOOP with the ignore bit. */
    assert_int_equal(pd_store_apply(s, idx + 2, 2, NULL, 0, &res), 0);
    assert_int_equal(res.skipped, 1);
    uint8_t *noop;
    size_t noop_len;
    assert_int_equal(pd_store_wire_encode_noop(&noop, &noop_len), 0);
    assert_int_equal(pd_store_apply(s, idx + 3, 2, noop, noop_len, &res), 0);
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.skipped, 0);
    noop[0] |= PD_STORE_ENTRY_IGNORE;
    assert_int_equal(pd_store_apply(s, idx + 5, 3, noop, noop_len, &res), 0);
    assert_int_equal(pd_store_applied_index(s), idx + 5);
    assert_int_equal(pd_store_applied_term(s), 3);
    /* A TXN whose payload is broken: every manager rejects it alike, so it is consumed. */
    const uint8_t broken[] = {PD_STORE_ENTRY_TXN, 0x81, 0xa1, 't'};
    assert_int_equal(pd_store_apply(s, idx + 6, 3, broken, sizeof broken, &res), 0);
    assert_int_equal(res.rc, -PD_ETRUNCATED);
    const uint8_t notmap[] = {PD_STORE_ENTRY_TXN, 0x90};
    assert_int_equal(pd_store_apply(s, idx + 7, 3, notmap, sizeof notmap, &res), 0);
    assert_int_equal(res.rc, -PD_EMALFORMED);
    assert_int_equal(pd_store_count(s, PD_STORE_SERVICE), 1);
    pd_free(noop);
    pd_free(b0);
    pd_store_free(s);
}

static void test_wire_round_trip(void **state)
{
    (void)state;
    const uint8_t ct[3] = {9, 0, 9};
    pd_store_op_t ops[3] = {op_create(PD_STORE_SECRET, "abc", "key", SPEC_A),
                            op_update(PD_STORE_NODE, "n1", 77, "host", SPEC_B),
                            op_delete(PD_STORE_TASK, "t9", 5)};
    ops[0].data = (pd_store_bytes_t){ct, 3};
    ops[1].status = B("\x81\xa1s\x01");
    pd_store_txn_t txn = {.now_ms = -5, .ops = ops, .n_ops = 3};
    uint8_t *buf;
    size_t len;
    assert_int_equal(pd_store_wire_encode_txn(&txn, &buf, &len), 0);
    assert_int_equal(buf[0], PD_STORE_ENTRY_TXN);
    pd_store_wire_txn_t w;
    assert_int_equal(pd_store_wire_decode_txn(buf + 1, len - 1, &w), 0);
    assert_true(pd_store_wire_txn_equal(&txn, &w.txn));
    pd_store_wire_txn_free(&w);
    /* Every truncation and every single-byte flip: no crash, no leak; decode or clean error. */
    for (size_t cut = 0; cut < len - 1; cut++)
        assert_int_not_equal(pd_store_wire_decode_txn(buf + 1, cut, &w), 0);
    for (size_t i = 1; i < len; i++) {
        uint8_t saved = buf[i];
        buf[i] ^= 0x5a;
        if (pd_store_wire_decode_txn(buf + 1, len - 1, &w) == 0)
            pd_store_wire_txn_free(&w);
        buf[i] = saved;
    }
    pd_free(buf);
    /* OOM on encode and decode. */
    for (long n = 0;; n++) {
        pd_alloc_fail_after(n);
        int rc = pd_store_wire_encode_txn(&txn, &buf, &len);
        pd_alloc_fail_after(-1);
        if (rc == 0)
            break;
        assert_int_equal(rc, -ENOMEM);
    }
    pd_alloc_fail_after(0);
    assert_int_equal(pd_store_wire_decode_txn(buf + 1, len - 1, &w), -ENOMEM);
    pd_alloc_fail_after(-1);
    pd_free(buf);
}

/* ---- determinism and snapshots ---------------------------------------------------------------- */

/* Random but valid-looking ops over a small id/name space, so conflicts are common. */
static pd_store_op_t random_op(pd_rng_t *r, const pd_store_t *s, char idbuf[8], char namebuf[8],
                               uint8_t spec[8])
{
    uint8_t kind = (uint8_t)pd_rng_below(r, PD_STORE_KINDS);
    snprintf(idbuf, 8, "i%u", (unsigned)pd_rng_below(r, 12));
    snprintf(namebuf, 8, "n%u", (unsigned)pd_rng_below(r, 8));
    if (!pd_store_kind_named((pd_store_kind_t)kind) && pd_rng_chance(r, 0.5))
        namebuf[0] = 0;
    spec[0] = 0xa3; /* fixstr of 3 */
    pd_rng_fill(r, spec + 1, 3);
    for (int i = 1; i < 4; i++)
        spec[i] = (uint8_t)('a' + spec[i] % 26);
    pd_store_op_t op = {.kind = kind, .id = B(idbuf), .name = B(namebuf),
                        .spec = {spec, pd_rng_chance(r, 0.8) ? 4u : 0u}};
    const pd_store_obj_t *cur = pd_store_get(s, (pd_store_kind_t)kind, idbuf, strlen(idbuf));
    uint64_t roll = pd_rng_below(r, 10);
    op.op = roll < 4 ? PD_STORE_OP_CREATE : roll < 8 ? PD_STORE_OP_UPDATE : PD_STORE_OP_DELETE;
    op.version = cur && pd_rng_chance(r, 0.85) ? cur->version : pd_rng_below(r, 4);
    if (op.op != PD_STORE_OP_DELETE && pd_store_kind_named((pd_store_kind_t)kind) &&
        kind != PD_STORE_NODE && pd_rng_chance(r, 0.03))
        op.name.len = 0; /* breaks a static rule: the whole txn is rejected up front */
    return op;
}

typedef struct {
    char id[PD_STORE_TXN_OPS_MAX][8], name[PD_STORE_TXN_OPS_MAX][8];
    uint8_t spec[PD_STORE_TXN_OPS_MAX][8];
    pd_store_op_t ops[PD_STORE_TXN_OPS_MAX];
    pd_store_txn_t txn;
} rtxn_t;

static void random_txn(pd_rng_t *r, const pd_store_t *s, rtxn_t *t, int64_t now_ms)
{
    uint32_t n = (uint32_t)pd_rng_range(r, 0, 5);
    for (uint32_t i = 0; i < n; i++)
        t->ops[i] = random_op(r, s, t->id[i], t->name[i], t->spec[i]);
    t->txn = (pd_store_txn_t){.now_ms = now_ms, .ops = t->ops, .n_ops = n};
}

static void test_deterministic_apply(void **state)
{
    (void)state;
    pd_store_t *a = new_store(11, 8), *b = new_store(0xdeadbeef, 4096);
    pd_rng_t r;
    pd_rng_seed(&r, 12345);
    static rtxn_t t;
    int applied = 0;
    for (uint64_t idx = 1; idx <= 600; idx++) {
        random_txn(&r, a, &t, (int64_t)(idx * 10));
        uint8_t *buf;
        size_t len;
        if (pd_store_wire_encode_txn(&t.txn, &buf, &len) != 0) {
            assert_int_equal(pd_store_apply(a, idx, 1 + idx / 100, NULL, 0, NULL), 0);
            assert_int_equal(pd_store_apply(b, idx, 1 + idx / 100, NULL, 0, NULL), 0);
            continue;
        }
        pd_store_result_t ra, rb;
        assert_int_equal(pd_store_apply(a, idx, 1 + idx / 100, buf, len, &ra), 0);
        assert_int_equal(pd_store_apply(b, idx, 1 + idx / 100, buf, len, &rb), 0);
        assert_int_equal(ra.rc, rb.rc);
        assert_int_equal(ra.failed_op, rb.failed_op);
        applied += ra.rc == 0;
        pd_free(buf);
    }
    assert_true(applied > 100);
    uint8_t *sa, *sb;
    size_t na, nb;
    snap(a, &sa, &na);
    snap(b, &sb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(sa, sb, na);
    pd_free(sa);
    pd_free(sb);
    pd_store_free(a);
    pd_store_free(b);
}

static pd_store_t *populated_store(uint64_t seed, int txns)
{
    pd_store_t *s = new_store(seed, 0);
    pd_rng_t r;
    pd_rng_seed(&r, seed);
    static rtxn_t t;
    for (int i = 0; i < txns; i++) {
        random_txn(&r, s, &t, 5000 + i);
        pd_store_result_t res;
        assert_int_equal(pd_store_apply_txn(s, pd_store_applied_index(s) + 1, 3, &t.txn, &res), 0);
    }
    return s;
}

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    pd_store_t *s = populated_store(21, 300);
    uint8_t *b1, *b2;
    size_t n1, n2;
    snap(s, &b1, &n1);
    pd_store_t *t = new_store(777, 0);
    assert_int_equal(pd_store_snapshot_restore(t, b1, n1), 0);
    snap(t, &b2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    assert_int_equal(pd_store_applied_index(t), pd_store_applied_index(s));
    assert_int_equal(pd_store_applied_term(t), 3);
    for (int k = 0; k < PD_STORE_KINDS; k++)
        assert_int_equal(pd_store_count(t, (pd_store_kind_t)k), pd_store_count(s, (pd_store_kind_t)k));
    /* Only into an empty store. */
    assert_int_equal(pd_store_snapshot_restore(t, b1, n1), -PD_ESTATE);
    /* Both continue identically. */
    pd_rng_t r;
    pd_rng_seed(&r, 5);
    static rtxn_t tx;
    for (int i = 0; i < 50; i++) {
        random_txn(&r, s, &tx, 9000 + i);
        uint64_t idx = pd_store_applied_index(s) + 1;
        assert_int_equal(pd_store_apply_txn(s, idx, 4, &tx.txn, NULL), 0);
        assert_int_equal(pd_store_apply_txn(t, idx, 4, &tx.txn, NULL), 0);
    }
    pd_free(b2);
    snap(s, &b2, &n2);
    assert_snap_eq(t, b2, n2);
    pd_free(b2);
    pd_free(b1);
    pd_store_free(t);
    pd_store_free(s);
}

static void test_snapshot_rejects(void **state)
{
    (void)state; /* every truncation, wrong version, duplicate object, version past the index */
    pd_store_t *s = populated_store(22, 100), *e = new_store(1, 0);
    uint8_t *b1, *b2, *empty;
    size_t n1, n2, empty_len;
    snap(s, &b1, &n1);
    snap(e, &empty, &empty_len);
    for (size_t cut = 0; cut < n1; cut += 1 + cut / 8) {
        assert_int_not_equal(pd_store_snapshot_restore(e, b1, cut), 0);
        assert_snap_eq(e, empty, empty_len);
    }
    const uint8_t badver[] = {0x84, 0xa1, 'v', 0x03, 0xa1, 'i', 0x00, 0xa1, 't', 0x00, 0xa1, 'o', 0x90};
    assert_int_equal(pd_store_snapshot_restore(e, badver, sizeof badver), -PD_EVERSION);
    pd_store_t *one = new_store(1, 0);
    assert_int_equal(run1(one, op_create(PD_STORE_SERVICE, "s1", "web", NULL)), 0);
    snap(one, &b2, &n2);
    uint8_t *dup = malloc(n2 * 2);
    memcpy(dup, b2, n2);
    size_t at = 0;
    while (memcmp(dup + at, "\xa1o\x91", 3) != 0)
        at++;
    at += 3; /* the object's map: append a second copy, count 1 -> 2 */
    size_t end = at; /* the object ends where the VIP keys begin */
    while (memcmp(b2 + end, "\xa2vr", 3) != 0)
        end++;
    size_t objlen = end - at;
    memcpy(dup + at + objlen, b2 + at, n2 - at); /* object, object, VIP keys */
    dup[at - 1] = 0x92;
    assert_int_equal(pd_store_snapshot_restore(e, dup, n2 + objlen), -PD_EMALFORMED);
    assert_snap_eq(e, empty, empty_len);
    memcpy(dup, b2, n2);
    assert_int_equal(dup[5], 'i');
    dup[6] = 0x00; /* "i": 1 -> 0, below the object's version */
    assert_int_equal(pd_store_snapshot_restore(e, dup, n2), -PD_EMALFORMED);
    assert_snap_eq(e, empty, empty_len);
    free(dup);
    pd_free(b2);
    pd_free(empty);
    pd_free(b1);
    pd_store_free(one);
    pd_store_free(e);
    pd_store_free(s);
}

/* ---- watch ------------------------------------------------------------------------------------ */

static void test_watch(void **state)
{
    (void)state;
    pd_store_t *s = new_store(8, 4);
    pd_store_watch_t w;
    pd_store_watch_init(s, &w);
    pd_store_event_t ev;
    assert_int_equal(pd_store_watch_next(s, &w, &ev), 0);
    pd_store_op_t ops[2] = {op_create(PD_STORE_SERVICE, "s1", "web", SPEC_A),
                            op_create(PD_STORE_TASK, "t1", "", NULL)};
    assert_int_equal(run_ops(s, ops, 2, NULL), 0);
    uint64_t v1 = pd_store_applied_index(s);
    assert_int_equal(run1(s, op_update(PD_STORE_SERVICE, "s1", v1, "web", SPEC_B)), 0);
    assert_int_equal(run1(s, op_delete(PD_STORE_TASK, "t1", 0)), 0);
    assert_int_equal(pd_store_watch_pending(s, &w), 4);
    static const uint8_t want_op[4] = {PD_STORE_EV_CREATED, PD_STORE_EV_CREATED, PD_STORE_EV_UPDATED,
                                       PD_STORE_EV_DELETED};
    static const char *want_id[4] = {"s1", "t1", "s1", "t1"};
    const pd_store_obj_t *kept = NULL;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pd_store_watch_next(s, &w, &ev), 1);
        assert_int_equal(ev.op, want_op[i]);
        assert_string_equal(ev.obj->id, want_id[i]);
        assert_int_equal(ev.index, v1 + (uint64_t)(i < 2 ? 0 : i - 1));
        if (i == 0)
            kept = pd_store_obj_ref(ev.obj); /* the v1 object, kept past later changes */
    }
    assert_int_equal(pd_store_watch_next(s, &w, &ev), 0);
    /* Overflow: a reader 5 events behind a ring of 4 must resync; a fresh one is fine. */
    pd_store_watch_t slow = w;
    for (int i = 0; i < 5; i++) {
        uint64_t v = pd_store_get(s, PD_STORE_SERVICE, "s1", 2)->version;
        assert_int_equal(run1(s, op_update(PD_STORE_SERVICE, "s1", v, "web", i % 2 ? SPEC_A : SPEC_B)), 0);
    }
    assert_int_equal(pd_store_watch_next(s, &slow, &ev), -PD_ELIMIT);
    assert_int_equal(pd_store_watch_pending(s, &slow), 0);
    pd_store_watch_init(s, &w);
    assert_int_equal(pd_store_watch_next(s, &w, &ev), 0);
    assert_memory_equal(kept->spec, SPEC_A, 6);
    assert_int_equal(kept->version, v1);
    pd_store_obj_unref(kept);
    /* Restore moves the stream past every old cursor. */
    uint8_t *b;
    size_t n;
    snap(s, &b, &n);
    pd_store_t *t = new_store(9, 4);
    pd_store_watch_t tw;
    pd_store_watch_init(t, &tw);
    assert_int_equal(pd_store_snapshot_restore(t, b, n), 0);
    assert_int_equal(pd_store_watch_next(t, &tw, &ev), -PD_ELIMIT);
    pd_store_watch_init(t, &tw);
    assert_int_equal(pd_store_watch_next(t, &tw, &ev), 0);
    pd_free(b);
    pd_store_free(t);
    pd_store_free(s);
}

/* ---- OOM -------------------------------------------------------------------------------------- */

static void test_oom_apply(void **state)
{
    (void)state;
    pd_store_t *s = populated_store(31, 60);
    /* A txn that creates enough objects to grow the indexes, updates, deletes. */
    static char ids[40][8], names[40][8];
    pd_store_op_t ops[42];
    for (int i = 0; i < 40; i++) {
        snprintf(ids[i], 8, "z%d", i);
        snprintf(names[i], 8, "zz%d", i);
        ops[i] = op_create(i % 2 ? PD_STORE_SERVICE : PD_STORE_NODE, ids[i], names[i], SPEC_A);
    }
    ops[40] = op_update(PD_STORE_SERVICE, "z1", pd_store_applied_index(s) + 1, "renamed", SPEC_B);
    ops[41] = op_delete(PD_STORE_NODE, "z0", 0);
    pd_store_txn_t txn = {.now_ms = 1, .ops = ops, .n_ops = 42};
    uint8_t *entry, *before;
    size_t entry_len, before_len;
    assert_int_equal(pd_store_wire_encode_txn(&txn, &entry, &entry_len), 0);
    snap(s, &before, &before_len);
    pd_store_watch_t w;
    pd_store_watch_init(s, &w);
    uint64_t idx = pd_store_applied_index(s) + 1;
    long n;
    for (n = 0;; n++) {
        pd_store_result_t res;
        pd_alloc_fail_after(n);
        int rc = pd_store_apply(s, idx, 9, entry, entry_len, &res);
        pd_alloc_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(res.rc, 0);
            break;
        }
        assert_int_equal(rc, -ENOMEM);
        assert_snap_eq(s, before, before_len);
        assert_int_equal(pd_store_watch_pending(s, &w), 0);
    }
    assert_true(n > 40);
    assert_int_equal(pd_store_watch_pending(s, &w), 42);
    assert_non_null(pd_store_get_by_name(s, PD_STORE_SERVICE, "renamed", 7));
    pd_free(before);
    pd_free(entry);
    pd_store_free(s);
}

static void test_oom_restore_and_new(void **state)
{
    (void)state;
    pd_store_t *src = populated_store(41, 200);
    uint8_t *b, *empty;
    size_t n, empty_len;
    snap(src, &b, &n);
    pd_store_t *t = NULL;
    for (long k = 0;; k++) {
        pd_alloc_fail_after(k);
        int rc = pd_store_new(NULL, &t);
        pd_alloc_fail_after(-1);
        if (rc == 0)
            break;
        assert_int_equal(rc, -ENOMEM);
    }
    snap(t, &empty, &empty_len);
    long k;
    for (k = 0;; k++) {
        pd_alloc_fail_after(k);
        int rc = pd_store_snapshot_restore(t, b, n);
        pd_alloc_fail_after(-1);
        if (rc == 0)
            break;
        assert_int_equal(rc, -ENOMEM);
        assert_snap_eq(t, empty, empty_len);
    }
    assert_true(k > 10);
    assert_snap_eq(t, b, n);
    pd_free(empty);
    pd_free(b);
    pd_store_free(t);
    pd_store_free(src);
}

/* ---- property test: the store against a reference model --------------------------------------- */

#define MODEL_MAX 64

typedef struct {
    char id[8], name[8];
    uint8_t spec[8];
    uint32_t spec_len;
    uint64_t version;
    int64_t created_ms, updated_ms;
} mobj_t;

typedef struct {
    mobj_t o[PD_STORE_KINDS][MODEL_MAX];
    uint32_t n[PD_STORE_KINDS];
} model_t;

static int model_find(const model_t *m, uint8_t k, const pd_store_bytes_t *id)
{
    for (uint32_t i = 0; i < m->n[k]; i++) {
        if (strlen(m->o[k][i].id) == id->len && memcmp(m->o[k][i].id, id->ptr, id->len) == 0)
            return (int)i;
    }
    return -1;
}

static int model_name_taken(const model_t *m, uint8_t k, const pd_store_bytes_t *name, int self)
{
    if (!pd_store_kind_named((pd_store_kind_t)k) || name->len == 0)
        return 0;
    for (uint32_t i = 0; i < m->n[k]; i++) {
        if ((int)i != self && strlen(m->o[k][i].name) == name->len &&
            memcmp(m->o[k][i].name, name->ptr, name->len) == 0)
            return 1;
    }
    return 0;
}

static void model_fill(mobj_t *o, const pd_store_op_t *op)
{
    memcpy(o->name, op->name.ptr, op->name.len);
    o->name[op->name.len] = 0;
    memcpy(o->spec, op->spec.ptr, op->spec.len);
    o->spec_len = op->spec.len;
}

static int model_op(model_t *m, const pd_store_op_t *op, uint64_t index, int64_t now)
{
    uint8_t k = op->kind;
    int at = model_find(m, k, &op->id);
    if (op->op == PD_STORE_OP_CREATE) {
        if (at >= 0 || model_name_taken(m, k, &op->name, -1))
            return -PD_EEXISTS;
        assert_true(m->n[k] < MODEL_MAX);
        mobj_t *o = &m->o[k][m->n[k]++];
        memset(o, 0, sizeof *o);
        memcpy(o->id, op->id.ptr, op->id.len);
        model_fill(o, op);
        o->version = index;
        o->created_ms = o->updated_ms = now;
        return 0;
    }
    if (at < 0)
        return -PD_ENOTFOUND;
    mobj_t *o = &m->o[k][at];
    if (op->op == PD_STORE_OP_DELETE) {
        if (op->version && op->version != o->version)
            return -PD_ECONFLICT;
        memmove(o, o + 1, (m->n[k] - (uint32_t)at - 1) * sizeof *o);
        m->n[k]--;
        return 0;
    }
    if (op->version != o->version)
        return -PD_ECONFLICT;
    if (model_name_taken(m, k, &op->name, at))
        return -PD_EEXISTS;
    model_fill(o, op);
    o->version = index;
    o->updated_ms = now;
    return 0;
}

/* The model's txn: static check of every op first, then ops in order on a copy. */
static int model_txn(model_t *m, const pd_store_txn_t *txn, uint64_t index, uint32_t *failed)
{
    for (uint32_t i = 0; i < txn->n_ops; i++) {
        const pd_store_op_t *op = &txn->ops[i];
        int needs = op->kind != PD_STORE_NODE && pd_store_kind_named((pd_store_kind_t)op->kind);
        if (op->op != PD_STORE_OP_DELETE && needs && op->name.len == 0) {
            *failed = i;
            return -PD_EMALFORMED;
        }
    }
    static model_t work;
    work = *m;
    for (uint32_t i = 0; i < txn->n_ops; i++) {
        int rc = model_op(&work, &txn->ops[i], index, txn->now_ms);
        if (rc) {
            *failed = i;
            return rc;
        }
    }
    *m = work;
    return 0;
}

static void model_compare(const model_t *m, const pd_store_t *s)
{
    for (int k = 0; k < PD_STORE_KINDS; k++) {
        assert_int_equal(pd_store_count(s, (pd_store_kind_t)k), m->n[k]);
        const pd_store_obj_t *o = pd_store_first(s, (pd_store_kind_t)k);
        for (uint32_t i = 0; i < m->n[k]; i++, o = pd_store_next(o)) {
            const mobj_t *x = &m->o[k][i];
            assert_non_null(o);
            assert_string_equal(o->id, x->id);
            assert_string_equal(o->name, x->name);
            assert_int_equal(o->version, x->version);
            assert_int_equal(o->created_ms, x->created_ms);
            assert_int_equal(o->updated_ms, x->updated_ms);
            assert_int_equal(o->spec_len, x->spec_len);
            assert_memory_equal(o->spec, x->spec, x->spec_len);
            assert_ptr_equal(pd_store_get(s, (pd_store_kind_t)k, x->id, strlen(x->id)), o);
            if (pd_store_kind_named((pd_store_kind_t)k) && x->name[0])
                assert_ptr_equal(pd_store_get_by_name(s, (pd_store_kind_t)k, x->name, strlen(x->name)), o);
        }
        assert_null(o);
    }
}

static void test_property_model(void **state)
{
    (void)state;
    static model_t m;
    static rtxn_t t;
    int seen_ok = 0, seen_exists = 0, seen_notfound = 0, seen_conflict = 0, seen_malformed = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        memset(&m, 0, sizeof m);
        pd_store_t *s = new_store(seed * 31, 16);
        pd_rng_t r;
        pd_rng_seed(&r, seed);
        for (uint64_t idx = 1; idx <= 400; idx++) {
            random_txn(&r, s, &t, (int64_t)idx * 3);
            uint32_t mfailed = 0;
            int mrc = model_txn(&m, &t.txn, idx, &mfailed);
            pd_store_result_t res;
            assert_int_equal(pd_store_apply_txn(s, idx, 1, &t.txn, &res), 0);
            if (res.rc != mrc || (mrc && res.failed_op != mfailed))
                fail_msg("seed %llu index %llu: store %d@%u model %d@%u", (unsigned long long)seed,
                         (unsigned long long)idx, res.rc, res.failed_op, mrc, mfailed);
            model_compare(&m, s);
            seen_ok += res.rc == 0;
            seen_exists += res.rc == -PD_EEXISTS;
            seen_notfound += res.rc == -PD_ENOTFOUND;
            seen_conflict += res.rc == -PD_ECONFLICT;
            seen_malformed += res.rc == -PD_EMALFORMED;
        }
        pd_store_free(s);
    }
    /* The workload reaches every outcome often. */
    assert_true(seen_ok > 300 && seen_exists > 100 && seen_notfound > 100 && seen_conflict > 50 &&
                seen_malformed > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crud_every_kind),
        cmocka_unit_test(test_names_and_ids),
        cmocka_unit_test(test_many_objects),
        cmocka_unit_test(test_version_conflict),
        cmocka_unit_test(test_atomicity),
        cmocka_unit_test(test_validator_and_caps),
        cmocka_unit_test(test_entry_types),
        cmocka_unit_test(test_wire_round_trip),
        cmocka_unit_test(test_deterministic_apply),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_rejects),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_oom_apply),
        cmocka_unit_test(test_oom_restore_and_new),
        cmocka_unit_test(test_property_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
