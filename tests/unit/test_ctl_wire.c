/* core/api control protocol: framing across arbitrary splits, caps, request/reply codecs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "ctl_wire.h"
#include "pd_alloc.h"
#include "pd_buf.h"
#include "pd_err.h"
#include "pd_mp.h"

static size_t make_request(uint8_t *out, size_t cap, uint64_t id, const char *op)
{
    pd_ctl_msg_t m;
    pd_ctl_msg_init(&m);
    pd_ctl_msg_request(&m, id, op, 1);
    pd_mp_pack_kv_str(&m.pk, "name", "web");
    const uint8_t *frame;
    size_t len;
    assert_int_equal(pd_ctl_msg_finish(&m, &frame, &len), 0);
    assert_true(len <= cap);
    memcpy(out, frame, len);
    pd_ctl_msg_destroy(&m);
    return len;
}

static void test_request_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = make_request(buf, sizeof buf, 77, "service.create");
    assert_int_equal(pd_get_u32(buf), len - 4);
    msgpack_unpacked u;
    pd_ctl_request_t req;
    uint64_t id;
    assert_int_equal(pd_ctl_decode_request(buf + 4, len - 4, &u, &req, &id), 0);
    assert_int_equal(req.id, 77);
    assert_string_equal(req.op, "service.create");
    char name[16];
    assert_int_equal(pd_mp_get_strbuf(req.args, "name", name, sizeof name), 0);
    assert_string_equal(name, "web");
    msgpack_unpacked_destroy(&u);
}

static void test_framer_splits(void **state)
{
    (void)state;
    uint8_t stream[1024];
    size_t a = make_request(stream, sizeof stream, 1, "info");
    size_t b = make_request(stream + a, sizeof stream - a, 2, "version");
    size_t total = a + b;
    /* Every split point of two back-to-back frames yields exactly those two frames. */
    for (size_t cut = 0; cut <= total; cut++) {
        pd_ctl_framer_t f;
        pd_ctl_framer_init(&f, PD_CTL_FRAME_MAX);
        const uint8_t *body;
        size_t blen;
        int got = 0;
        assert_int_equal(pd_ctl_framer_feed(&f, stream, cut), 0);
        while (pd_ctl_framer_next(&f, &body, &blen) == 1)
            got++;
        assert_int_equal(pd_ctl_framer_feed(&f, stream + cut, total - cut), 0);
        while (pd_ctl_framer_next(&f, &body, &blen) == 1) {
            got++;
            msgpack_unpacked u;
            pd_ctl_request_t req;
            uint64_t id;
            assert_int_equal(pd_ctl_decode_request(body, blen, &u, &req, &id), 0);
            assert_int_equal(req.id, (uint64_t)got);
            msgpack_unpacked_destroy(&u);
        }
        assert_int_equal(got, 2);
        assert_int_equal(pd_ctl_framer_pending(&f), 0);
        pd_ctl_framer_free(&f);
    }
}

static void test_framer_caps(void **state)
{
    (void)state;
    pd_ctl_framer_t f;
    pd_ctl_framer_init(&f, 100);
    const uint8_t big[4] = {0, 0, 0, 101};
    assert_int_equal(pd_ctl_framer_feed(&f, big, 4), -PD_ETOOBIG);
    const uint8_t *body;
    size_t blen;
    assert_int_equal(pd_ctl_framer_next(&f, &body, &blen), -PD_ETOOBIG); /* sticky */
    pd_ctl_framer_free(&f);

    pd_ctl_framer_init(&f, 100);
    const uint8_t zero[4] = {0, 0, 0, 0};
    assert_int_equal(pd_ctl_framer_feed(&f, zero, 4), -PD_EMALFORMED);
    pd_ctl_framer_free(&f);

    /* Header split one byte at a time is still checked as soon as it is complete. */
    pd_ctl_framer_init(&f, 100);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pd_ctl_framer_feed(&f, &big[i], 1), 0);
    assert_int_equal(pd_ctl_framer_feed(&f, &big[3], 1), -PD_ETOOBIG);
    pd_ctl_framer_free(&f);

    /* A truncated frame just waits; pending reports what a closing peer left behind. */
    pd_ctl_framer_init(&f, 100);
    const uint8_t part[6] = {0, 0, 0, 10, 0x81, 0xa1};
    assert_int_equal(pd_ctl_framer_feed(&f, part, sizeof part), 0);
    assert_int_equal(pd_ctl_framer_next(&f, &body, &blen), 0);
    assert_int_equal(pd_ctl_framer_pending(&f), 6);
    pd_ctl_framer_free(&f);
}

static void test_decode_rejects(void **state)
{
    (void)state;
    msgpack_unpacked u;
    pd_ctl_request_t req;
    uint64_t id = 99;
    /* not a map */
    const uint8_t arr[] = {0x91, 0x01};
    assert_int_equal(pd_ctl_decode_request(arr, sizeof arr, &u, &req, &id), -PD_EMALFORMED);
    assert_int_equal(id, 0);
    /* {"v":2,"id":5,"op":"x"} : version refused */
    const uint8_t v2[] = {0x83, 0xa1, 'v', 0x02, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa1, 'x'};
    assert_int_equal(pd_ctl_decode_request(v2, sizeof v2, &u, &req, &id), -PD_EVERSION);
    /* {"v":1,"id":5} : op missing, but the id is reported for the error reply */
    const uint8_t noop[] = {0x82, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x05};
    assert_int_equal(pd_ctl_decode_request(noop, sizeof noop, &u, &req, &id), -PD_EMALFORMED);
    assert_int_equal(id, 5);
    /* {"v":1,"id":5,"op":"x","args":1} : args must be a map */
    const uint8_t badargs[] = {0x84, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa1, 'x',
                               0xa4, 'a', 'r', 'g', 's', 0x01};
    assert_int_equal(pd_ctl_decode_request(badargs, sizeof badargs, &u, &req, &id), -PD_EMALFORMED);
    /* unknown keys are ignored */
    const uint8_t extra[] = {0x84, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa1, 'x',
                             0xa3, 'z', 'z', 'z', 0xc0};
    assert_int_equal(pd_ctl_decode_request(extra, sizeof extra, &u, &req, &id), 0);
    assert_string_equal(req.op, "x");
    assert_null(req.args);
    msgpack_unpacked_destroy(&u);
}

static void test_reply_roundtrip(void **state)
{
    (void)state;
    pd_ctl_msg_t m;
    pd_ctl_msg_init(&m);
    pd_ctl_msg_reply_err(&m, 9, -PD_ENOQUORUM, "no manager quorum: 1 of 3 managers reachable");
    const uint8_t *frame;
    size_t len;
    assert_int_equal(pd_ctl_msg_finish(&m, &frame, &len), 0);
    msgpack_unpacked u;
    pd_ctl_reply_t rep;
    assert_int_equal(pd_ctl_decode_reply(frame + 4, len - 4, &u, &rep), 0);
    assert_int_equal(rep.id, 9);
    assert_false(rep.ok);
    assert_int_equal(rep.code, -PD_ENOQUORUM);
    assert_string_equal(rep.error, "no manager quorum: 1 of 3 managers reachable");
    msgpack_unpacked_destroy(&u);
    pd_ctl_msg_destroy(&m);

    pd_ctl_msg_init(&m);
    pd_ctl_msg_reply_ok(&m, 10);
    msgpack_pack_map(&m.pk, 1);
    pd_mp_pack_kv_u64(&m.pk, "n", 3);
    assert_int_equal(pd_ctl_msg_finish(&m, &frame, &len), 0);
    assert_int_equal(pd_ctl_decode_reply(frame + 4, len - 4, &u, &rep), 0);
    assert_true(rep.ok);
    uint64_t n;
    assert_int_equal(pd_mp_get_u64(rep.data, "n", &n), 0);
    assert_int_equal(n, 3);
    msgpack_unpacked_destroy(&u);
    pd_ctl_msg_destroy(&m);
}

static void test_framer_oom(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = make_request(buf, sizeof buf, 1, "info");
    pd_ctl_framer_t f;
    pd_ctl_framer_init(&f, PD_CTL_FRAME_MAX);
    pd_alloc_fail_after(0);
    assert_int_equal(pd_ctl_framer_feed(&f, buf, len), -ENOMEM);
    pd_alloc_fail_after(-1);
    assert_int_equal(pd_ctl_framer_feed(&f, buf, len), 0); /* nothing lost: retry works */
    const uint8_t *body;
    size_t blen;
    assert_int_equal(pd_ctl_framer_next(&f, &body, &blen), 1);
    pd_ctl_framer_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_roundtrip), cmocka_unit_test(test_framer_splits),
        cmocka_unit_test(test_framer_caps),       cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_reply_roundtrip),   cmocka_unit_test(test_framer_oom),
    };
    return cmocka_run_group_tests_name("ctl_wire", tests, NULL, NULL);
}
