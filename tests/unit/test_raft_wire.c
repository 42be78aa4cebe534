/* core/raft/raft_wire: round trip of every message type, malformed input rejected (truncation at
 * every length, bit flips, wrong version, unknown type, broken entries, caps), and the corpus
 * generator for fuzz_raft_wire: PD_RAFT_WIRE_CORPUS=dir writes the seeds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_err.h"
#include "raft.h"
#include "raft_wire.h"

static uint8_t payload[3][40] = {"set a=1", "", "a conf change payload of some length"};
static uint8_t snapdata[300];

static pd_raft_entry_t ents[3] = {
    {.term = 4, .index = 11, .type = PD_RAFT_ENTRY_NORMAL, .len = 7, .data = payload[0]},
    {.term = 5, .index = 12, .type = PD_RAFT_ENTRY_NORMAL, .len = 0, .data = NULL},
    {.term = 5, .index = 13, .type = PD_RAFT_ENTRY_CONF, .len = 36, .data = payload[2]},
};

/* One sample message of every type. */
static size_t samples(pd_raft_msg_t *out)
{
    size_t n = 0;
    for (int t = PD_RAFT_MSG_APP; t <= PD_RAFT_MSG_TYPE_MAX; t++) {
        pd_raft_msg_t m = {.type = (uint8_t)t, .from = 1, .to = 2, .term = 5, .index = 10,
                           .log_term = 4, .commit = 9};
        switch (t) {
        case PD_RAFT_MSG_APP: m.entries = ents; m.n_entries = 3; break;
        case PD_RAFT_MSG_APP_RESP: m.reject = 1; m.reject_hint = 7; m.log_term = 3; break;
        case PD_RAFT_MSG_VOTE: m.flags = PD_RAFT_FLAG_TRANSFER; break;
        case PD_RAFT_MSG_HEARTBEAT:
        case PD_RAFT_MSG_HEARTBEAT_RESP: m.ctx = 123456789; break;
        case PD_RAFT_MSG_SNAP:
            m.snap = (pd_raft_snap_meta_t){.index = 100, .term = 4,
                                           .conf = {.voters = {1, 2, 3}, .n_voters = 3,
                                                    .learners = {9}, .n_learners = 1}};
            m.snap_offset = 200;
            m.snap_data = snapdata;
            m.snap_len = 100;
            m.snap_done = 1;
            break;
        case PD_RAFT_MSG_SNAP_RESP: m.index = 100; m.snap_offset = 300; break;
        default: break;
        }
        out[n++] = m;
    }
    return n;
}

static void test_round_trip(void **state)
{
    (void)state;
    pd_raft_msg_t ms[16];
    size_t n = samples(ms);
    assert_int_equal(n, PD_RAFT_MSG_TYPE_MAX);
    for (size_t i = 0; i < n; i++) {
        uint8_t *buf;
        size_t len;
        assert_int_equal(pd_raft_wire_encode(&ms[i], &buf, &len), 0);
        pd_raft_wire_msg_t w;
        assert_int_equal(pd_raft_wire_decode(buf, len, &w), 0);
        assert_true(pd_raft_wire_msg_equal(&ms[i], &w.msg));
        pd_raft_wire_msg_free(&w);
        pd_free(buf);
    }
}

static void test_truncated_and_flipped(void **state)
{
    (void)state;
    pd_raft_msg_t ms[16];
    size_t n = samples(ms);
    for (size_t i = 0; i < n; i++) {
        uint8_t *buf;
        size_t len;
        assert_int_equal(pd_raft_wire_encode(&ms[i], &buf, &len), 0);
        for (size_t cut = 0; cut < len; cut++) {
            pd_raft_wire_msg_t w;
            assert_true(pd_raft_wire_decode(buf, cut, &w) < 0);
        }
        for (size_t at = 0; at < len; at++) { /* a flip may still decode: then it must be sane */
            buf[at] ^= 0x21;
            pd_raft_wire_msg_t w;
            if (pd_raft_wire_decode(buf, len, &w) == 0) {
                assert_true(w.msg.type >= PD_RAFT_MSG_APP && w.msg.type <= PD_RAFT_MSG_TYPE_MAX);
                pd_raft_wire_msg_free(&w);
            }
            buf[at] ^= 0x21;
        }
        pd_free(buf);
    }
}

/* Build a map by hand to hit specific checks. */
static size_t pack_custom(uint8_t *out, size_t cap, uint64_t version, uint64_t type, int bad_entries)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, bad_entries ? 6 : 5);
    pd_raft_msg_t dummy = {0};
    (void)dummy;
    const char *keys[] = {"v", "t", "f", "tm", "i"};
    uint64_t vals[] = {version, type, 1, 5, 10};
    for (int i = 0; i < 5; i++) {
        msgpack_pack_str(&pk, strlen(keys[i]));
        msgpack_pack_str_body(&pk, keys[i], strlen(keys[i]));
        msgpack_pack_uint64(&pk, vals[i]);
    }
    if (bad_entries) {
        msgpack_pack_str(&pk, 1);
        msgpack_pack_str_body(&pk, "e", 1);
        msgpack_pack_array(&pk, 1);
        msgpack_pack_array(&pk, 4);
        msgpack_pack_uint64(&pk, bad_entries == 1 ? 5 : 9); /* term; 9 > message term */
        msgpack_pack_uint64(&pk, bad_entries == 1 ? 12 : 11); /* index; 12 is not prev + 1 */
        msgpack_pack_uint8(&pk, 0);
        msgpack_pack_bin(&pk, 0);
    }
    assert_true(sb.size <= cap);
    memcpy(out, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

static void test_malformed(void **state)
{
    (void)state;
    uint8_t buf[256];
    pd_raft_wire_msg_t w;
    size_t n = pack_custom(buf, sizeof buf, 1, PD_RAFT_MSG_HEARTBEAT, 0);
    assert_int_equal(pd_raft_wire_decode(buf, n, &w), 0);
    pd_raft_wire_msg_free(&w);
    n = pack_custom(buf, sizeof buf, 2, PD_RAFT_MSG_HEARTBEAT, 0);
    assert_int_equal(pd_raft_wire_decode(buf, n, &w), -PD_EVERSION);
    n = pack_custom(buf, sizeof buf, 1, 99, 0);
    assert_int_equal(pd_raft_wire_decode(buf, n, &w), -PD_EUNKNOWN_TYPE);
    n = pack_custom(buf, sizeof buf, 1, 0, 0);
    assert_int_equal(pd_raft_wire_decode(buf, n, &w), -PD_EUNKNOWN_TYPE);
    n = pack_custom(buf, sizeof buf, 1, PD_RAFT_MSG_APP, 1);
    assert_int_equal(pd_raft_wire_decode(buf, n, &w), -PD_EMALFORMED);
    n = pack_custom(buf, sizeof buf, 1, PD_RAFT_MSG_APP, 2);
    assert_int_equal(pd_raft_wire_decode(buf, n, &w), -PD_EMALFORMED);
    /* a snapshot chunk without its meta */
    n = pack_custom(buf, sizeof buf, 1, PD_RAFT_MSG_SNAP, 0);
    assert_int_equal(pd_raft_wire_decode(buf, n, &w), -PD_EMALFORMED);
    const uint8_t not_map[] = {0x93, 0x01, 0x02, 0x03};
    assert_int_equal(pd_raft_wire_decode(not_map, sizeof not_map, &w), -PD_EMALFORMED);
    const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    assert_true(pd_raft_wire_decode(huge_array, sizeof huge_array, &w) < 0);
    assert_true(pd_raft_wire_decode(NULL, 0, &w) < 0);
    /* encoder caps */
    pd_raft_msg_t m = {.type = PD_RAFT_MSG_APP, .from = 1, .to = 2, .term = 1,
                       .n_entries = PD_RAFT_WIRE_ENTRIES_MAX + 1};
    uint8_t *out;
    size_t len;
    assert_int_equal(pd_raft_wire_encode(&m, &out, &len), -PD_EMALFORMED);
    m.type = 0;
    assert_int_equal(pd_raft_wire_encode(&m, &out, &len), -PD_EMALFORMED);
}

static void test_oom(void **state)
{
    (void)state;
    pd_raft_msg_t ms[16];
    samples(ms);
    uint8_t *buf;
    size_t len;
    assert_int_equal(pd_raft_wire_encode(&ms[0], &buf, &len), 0);
    for (long k = 0; k < 8; k++) {
        pd_alloc_fail_after(k);
        pd_raft_wire_msg_t w;
        int rc = pd_raft_wire_decode(buf, len, &w);
        pd_alloc_fail_after(-1);
        if (rc == 0)
            pd_raft_wire_msg_free(&w);
        else
            assert_int_equal(rc, -ENOMEM);
    }
    pd_free(buf);
}

/* Write the fuzz seeds: every sample plus a few variants. */
static void write_corpus(const char *dir)
{
    pd_raft_msg_t ms[16];
    size_t n = samples(ms);
    pd_raft_msg_t extra[4] = {ms[0], ms[0], ms[8], ms[2]};
    extra[0].n_entries = 1;
    extra[1].n_entries = 0;
    extra[2].snap_done = 0;
    extra[2].snap_offset = 0;
    extra[3].type = PD_RAFT_MSG_PREVOTE;
    extra[3].flags = 0;
    for (size_t i = 0; i < n + 4; i++) {
        const pd_raft_msg_t *m = i < n ? &ms[i] : &extra[i - n];
        uint8_t *buf;
        size_t len;
        if (pd_raft_wire_encode(m, &buf, &len) != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/seed-%02zu", dir, i);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(buf, 1, len, f);
            fclose(f);
        }
        pd_free(buf);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof snapdata; i++)
        snapdata[i] = (uint8_t)(i * 31 + 7);
    const char *dir = getenv("PD_RAFT_WIRE_CORPUS");
    if (dir) {
        write_corpus(dir);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_flipped),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
