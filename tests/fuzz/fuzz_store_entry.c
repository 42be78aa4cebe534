/* Fuzz the store's two untrusted inputs with the same bytes:
 *   1. as a committed log entry applied to a small populated store: an error leaves the store
 *      byte-identical; a consumed-but-rejected entry changes nothing but the applied index; an
 *      applied one leaves a state whose snapshot round-trips, with watch events at this index;
 *      a TXN payload that decodes and passes the static checks re-encodes to an equal txn;
 *   2. as a snapshot restored into a fresh store: on error the store stays empty; on success
 *      encode -> restore -> encode is stable.
 * Never crash, never leak (ASan/LSan). Seeds: tests/fuzz/corpus/fuzz_store_entry (the small
 * store's ids: c1 n1/host1 s1/web t1 x1/pw g1/cfg w1/net; s1 at version 2; the VIP range
 * 10.96.0.0/30 with web at 10.96.0.1, so one more name fits; applied index 3). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "store.h"
#include "store_wire.h"

#define CHECK(c)          \
    do {                  \
        if (!(c))         \
            abort();      \
    } while (0)

static pd_store_bytes_t B(const char *s) { return (pd_store_bytes_t){(const uint8_t *)s, (uint32_t)strlen(s)}; }

static pd_store_t *small_store(void)
{
    pd_store_opts_t o = {.hash_seed = 1, .watch_cap = 16};
    pd_store_t *s = NULL;
    CHECK(pd_store_new(&o, &s) == 0);
    pd_store_op_t ops[7] = {
        {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CLUSTER, .id = B("c1"), .name = B("default")},
        {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_NODE, .id = B("n1"), .name = B("host1")},
        {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_SERVICE, .id = B("s1"), .name = B("web"),
         .spec = B("\x81\xa8replicas\x03")},
        {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_TASK, .id = B("t1"), .status = B("\xa7running")},
        {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_SECRET, .id = B("x1"), .name = B("pw"),
         .data = B("ciphertext")},
        {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_CONFIG, .id = B("g1"), .name = B("cfg")},
        {.op = PD_STORE_OP_CREATE, .kind = PD_STORE_NETWORK, .id = B("w1"), .name = B("net")},
    };
    pd_store_txn_t txn = {.now_ms = 1000, .ops = ops, .n_ops = 7};
    pd_store_result_t res;
    CHECK(pd_store_apply_txn(s, 1, 1, &txn, &res) == 0 && res.rc == 0);
    pd_store_op_t up = {.op = PD_STORE_OP_UPDATE, .kind = PD_STORE_SERVICE, .id = B("s1"),
                        .version = 1, .name = B("web"), .spec = B("\x81\xa8replicas\x05")};
    txn = (pd_store_txn_t){.now_ms = 2000, .ops = &up, .n_ops = 1};
    CHECK(pd_store_apply_txn(s, 2, 1, &txn, &res) == 0 && res.rc == 0);
    pd_store_vip_range_t r = {.net = 0x0a600000u, .prefix = 30};
    uint8_t *e = NULL;
    size_t len = 0;
    CHECK(pd_store_wire_encode_vip_alloc("web", &r, &e, &len) == 0);
    CHECK(pd_store_apply(s, 3, 1, e, len, &res) == 0 && res.rc == 0);
    pd_free(e);
    return s;
}

typedef struct {
    uint8_t *data;
    size_t len;
} blob_t;

static blob_t snap(const pd_store_t *s)
{
    blob_t b = {0};
    CHECK(pd_store_snapshot_encode(s, &b.data, &b.len) == 0);
    return b;
}

static int blob_eq(blob_t a, blob_t b) { return a.len == b.len && memcmp(a.data, b.data, a.len) == 0; }

/* encode(restore(b)) == b, and restore gives the same index. */
static void check_round_trip(blob_t b, uint64_t index)
{
    pd_store_t *t = NULL;
    CHECK(pd_store_new(NULL, &t) == 0);
    CHECK(pd_store_snapshot_restore(t, b.data, b.len) == 0);
    CHECK(pd_store_applied_index(t) == index);
    blob_t c = snap(t);
    CHECK(blob_eq(b, c));
    pd_free(c.data);
    pd_store_free(t);
}

/* A rejected entry: the state must equal `before` plus only the applied index moving. */
static void check_only_index_moved(blob_t before, blob_t after, uint64_t index, uint64_t term)
{
    pd_store_t *ref = NULL;
    CHECK(pd_store_new(NULL, &ref) == 0);
    CHECK(pd_store_snapshot_restore(ref, before.data, before.len) == 0);
    CHECK(pd_store_apply(ref, index, term, NULL, 0, NULL) == 0);
    blob_t want = snap(ref);
    CHECK(blob_eq(want, after));
    pd_free(want.data);
    pd_store_free(ref);
}

static void check_txn_codec(const uint8_t *data, size_t size)
{
    pd_store_wire_txn_t a, b;
    if (pd_store_wire_decode_txn(data + 1, size - 1, &a) != 0)
        return;
    int valid = 1;
    for (uint32_t i = 0; i < a.txn.n_ops; i++)
        valid = valid && pd_store_wire_op_check(&a.txn.ops[i]) == 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = valid ? pd_store_wire_encode_txn(&a.txn, &buf, &len) : -PD_EMALFORMED;
    CHECK(!valid || rc == 0 || rc == -PD_ETOOBIG); /* missing keys are written out in full */
    if (rc == 0) {
        CHECK(pd_store_wire_decode_txn(buf + 1, len - 1, &b) == 0);
        CHECK(pd_store_wire_txn_equal(&a.txn, &b.txn));
        pd_store_wire_txn_free(&b);
        pd_free(buf);
    }
    pd_store_wire_txn_free(&a);
}

static int is_vip(uint8_t type)
{
    type &= PD_STORE_ENTRY_TYPE_MASK;
    return type == PD_STORE_ENTRY_VIP_ALLOC || type == PD_STORE_ENTRY_VIP_RELEASE;
}

static void fuzz_entry(const uint8_t *data, size_t size)
{
    const uint64_t index = 10, term = 2;
    pd_store_t *s = small_store();
    blob_t before = snap(s);
    pd_store_watch_t w;
    pd_store_watch_init(s, &w);
    pd_store_result_t res;
    int rc = pd_store_apply(s, index, term, data, size, &res);
    blob_t after = snap(s);
    pd_store_event_t ev;
    if (rc != 0) {
        CHECK(rc == -PD_EUNKNOWN_TYPE || rc == -ENOMEM);
        CHECK(blob_eq(before, after));
        CHECK(pd_store_watch_next(s, &w, &ev) == 0);
    } else if (res.rc == 0 && !res.skipped && is_vip(data[0])) {
        /* VIPs changed by at most one, never in the watch stream, and the state round-trips. */
        CHECK(pd_store_applied_index(s) == index);
        CHECK(pd_store_watch_next(s, &w, &ev) == 0);
        CHECK(pd_store_vip_count(s) <= 2);
        check_round_trip(after, index);
    } else if (res.rc != 0 || res.skipped || (data[0] & PD_STORE_ENTRY_TYPE_MASK) != PD_STORE_ENTRY_TXN) {
        check_only_index_moved(before, after, index, term);
        CHECK(pd_store_watch_next(s, &w, &ev) == 0);
    } else {
        CHECK(pd_store_applied_index(s) == index);
        while (pd_store_watch_next(s, &w, &ev) == 1)
            CHECK(ev.index == index && (ev.op == PD_STORE_EV_DELETED || ev.obj->version == index));
        check_round_trip(after, index);
    }
    if (size > 0 && (data[0] & PD_STORE_ENTRY_TYPE_MASK) == PD_STORE_ENTRY_TXN)
        check_txn_codec(data, size);
    pd_free(before.data);
    pd_free(after.data);
    pd_store_free(s);
}

static void fuzz_snapshot(const uint8_t *data, size_t size)
{
    pd_store_t *s = NULL;
    CHECK(pd_store_new(NULL, &s) == 0);
    blob_t empty = snap(s);
    int rc = pd_store_snapshot_restore(s, data, size);
    blob_t got = snap(s);
    if (rc != 0) {
        CHECK(blob_eq(empty, got));
        for (int k = 0; k < PD_STORE_KINDS; k++)
            CHECK(pd_store_first(s, (pd_store_kind_t)k) == NULL);
        CHECK(pd_store_vip_count(s) == 0);
    } else {
        check_round_trip(got, pd_store_applied_index(s));
    }
    pd_free(empty.data);
    pd_free(got.data);
    pd_store_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_entry(data, size);
    fuzz_snapshot(data, size);
    return 0;
}
