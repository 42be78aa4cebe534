/* core/store/store_node: the node record codec (one encoding per record, round trip, bad input
 * refused), label edits, and the tombstone lookup over a real store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "pd_mp.h"
#include "store_node.h"
#include "store_wire.h"
#include "test_node_util.h"

static pd_node_rec_t rec(const char *host, pd_node_role_t role)
{
    pd_node_rec_t r;
    memset(&r, 0, sizeof r);
    strcpy(r.hostname, host);
    r.role = (uint8_t)role;
    return r;
}

static void test_round_trip(void **state)
{
    (void)state;
    pd_node_rec_t r = rec("host-a", PD_NODE_MANAGER), back;
    r.avail = PD_NODE_DRAIN;
    assert_int_equal(pd_node_rec_label_set(&r, "zone", "east"), 0);
    assert_int_equal(pd_node_rec_label_set(&r, "disk", "ssd"), 0);
    assert_int_equal(pd_node_rec_label_set(&r, "zone", "west"), 0); /* replaces */
    assert_int_equal(r.n_labels, 2);
    assert_string_equal(r.labels[0].key, "disk"); /* kept sorted */
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    assert_int_equal(pd_node_rec_encode(&r, &a, &alen), 0);
    assert_int_equal(pd_node_rec_decode(a, alen, &back), 0);
    assert_string_equal(back.hostname, "host-a");
    assert_int_equal(back.role, PD_NODE_MANAGER);
    assert_int_equal(back.avail, PD_NODE_DRAIN);
    assert_false(back.removed);
    assert_string_equal(pd_node_rec_label_get(&back, "zone"), "west");
    assert_int_equal(pd_node_rec_encode(&back, &b, &blen), 0);
    assert_int_equal(alen, blen); /* one encoding per record */
    assert_memory_equal(a, b, alen);
    pd_free(a);
    pd_free(b);
}

static void test_labels(void **state)
{
    (void)state;
    pd_node_rec_t r = rec("h", PD_NODE_WORKER);
    assert_int_equal(pd_node_rec_label_set(&r, "", "x"), -PD_EUSAGE);
    assert_int_equal(pd_node_rec_label_set(&r, "a=b", "x"), -PD_EUSAGE);
    assert_int_equal(pd_node_rec_label_set(&r, "a\n", "x"), -PD_EUSAGE);
    assert_int_equal(pd_node_rec_label_set(&r, "flag", ""), 0); /* a key without value */
    assert_int_equal(pd_node_rec_label_rm(&r, "nope"), -PD_ENOTFOUND);
    assert_int_equal(pd_node_rec_label_rm(&r, "flag"), 0);
    char key[8];
    for (unsigned i = 0; i < PD_NODE_LABELS_MAX; i++) {
        snprintf(key, sizeof key, "k%02u", i);
        assert_int_equal(pd_node_rec_label_set(&r, key, "v"), 0);
    }
    assert_int_equal(pd_node_rec_label_set(&r, "one-more", "v"), -PD_ELIMIT);
    assert_int_equal(r.n_labels, PD_NODE_LABELS_MAX);
}

static void test_names(void **state)
{
    (void)state;
    pd_node_avail_t a;
    pd_node_role_t ro;
    assert_int_equal(pd_node_avail_parse("Drain", &a), 0);
    assert_int_equal(a, PD_NODE_DRAIN);
    assert_int_equal(pd_node_avail_parse("drained", &a), -PD_EUSAGE);
    assert_int_equal(pd_node_role_parse("MANAGER", &ro), 0);
    assert_int_equal(ro, PD_NODE_MANAGER);
    assert_int_equal(pd_node_role_parse("", &ro), -PD_EUSAGE);
    assert_string_equal(pd_node_avail_name(PD_NODE_PAUSE), "pause");
}

/* Pack a spec map by hand: bad shapes are refused. */
static size_t spec(uint8_t *buf, size_t cap, const char *role, const char *avail, int rm_is_bool, int n_keys)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (uint32_t)n_keys);
    pd_mp_pack_kv_str(&pk, "h", "host");
    pd_mp_pack_kv_str(&pk, "r", role);
    pd_mp_pack_kv_str(&pk, "a", avail);
    if (n_keys > 3) {
        pd_mp_pack_cstr(&pk, "l");
        msgpack_pack_map(&pk, 0);
    }
    if (n_keys > 4) {
        if (rm_is_bool)
            pd_mp_pack_kv_bool(&pk, "rm", 1);
        else
            pd_mp_pack_kv_str(&pk, "rm", "yes");
    }
    size_t n = sb.size < cap ? sb.size : cap;
    memcpy(buf, sb.data, n);
    msgpack_sbuffer_destroy(&sb);
    return n;
}

static void test_decode_bad(void **state)
{
    (void)state;
    uint8_t buf[256];
    pd_node_rec_t r;
    memset(&r, 0x5a, sizeof r);
    size_t n = spec(buf, sizeof buf, "manager", "active", 1, 5);
    assert_int_equal(pd_node_rec_decode(buf, n, &r), 0);
    assert_true(r.removed);
    pd_node_rec_t keep = r;
    assert_int_equal(pd_node_rec_decode(buf, n - 1, &r), -PD_EMALFORMED); /* truncated */
    n = spec(buf, sizeof buf, "boss", "active", 1, 5);
    assert_int_equal(pd_node_rec_decode(buf, n, &r), -PD_EMALFORMED);
    n = spec(buf, sizeof buf, "worker", "sleepy", 1, 5);
    assert_int_equal(pd_node_rec_decode(buf, n, &r), -PD_EMALFORMED);
    n = spec(buf, sizeof buf, "worker", "active", 0, 5);
    assert_int_equal(pd_node_rec_decode(buf, n, &r), -PD_EMALFORMED);
    n = spec(buf, sizeof buf, "worker", "active", 1, 3); /* no labels, no rm */
    assert_int_equal(pd_node_rec_decode(buf, n, &r), -PD_EMALFORMED);
    assert_int_equal(pd_node_rec_decode("", 0, &r), -PD_EMALFORMED);
    assert_memory_equal(&r, &keep, sizeof r); /* untouched on error */
    pd_node_rec_t bad = rec("", PD_NODE_WORKER);
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(pd_node_rec_encode(&bad, &out, &len), -PD_EUSAGE); /* no hostname */
}

static void test_tombstone(void **state)
{
    (void)state;
    pd_store_t *s;
    assert_int_equal(pd_store_new(NULL, &s), 0);
    pd_node_rec_t got;
    uint64_t index = 0;
    t_node_put(s, &index, "aaaaaaaaaaaaaaaaaaaaaaaaa", "h1", PD_NODE_WORKER, false);
    assert_false(pd_node_rec_is_removed(s, "aaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_false(pd_node_rec_is_removed(s, "unknown"));
    t_node_put(s, &index, "aaaaaaaaaaaaaaaaaaaaaaaaa", "h1", PD_NODE_WORKER, true);
    assert_true(pd_node_rec_is_removed(s, "aaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_int_equal(pd_node_rec_get(s, "aaaaaaaaaaaaaaaaaaaaaaaaa", &got), 0);
    assert_string_equal(got.hostname, "h1");
    assert_int_equal(pd_node_rec_get(s, "nope", &got), -PD_ENOTFOUND);
    pd_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_labels),    cmocka_unit_test(test_names),
        cmocka_unit_test(test_decode_bad), cmocka_unit_test(test_tombstone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
