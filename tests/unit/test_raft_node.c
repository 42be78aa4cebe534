/* core/daemon raft glue, pure parts: the Raft transport framing (frame header, forward
 * request/response payloads) and the bootstrap-expect set computation; also config names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ctl_config.h"
#include "pd_err.h"
#include "raft_node.h"
#include "raft_transport.h"

static void test_frame_round_trip(void **st)
{
    uint8_t buf[PD_RT_LEN_PREFIX + PD_RT_HDR_LEN + 5];
    size_t off = pd_rt_frame_hdr_encode(buf, PD_RT_RAFT, 0x1122334455667788ull, 42, 5);
    assert_int_equal(off, PD_RT_LEN_PREFIX + PD_RT_HDR_LEN);
    memcpy(buf + off, "hello", 5);
    assert_int_equal(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3], PD_RT_HDR_LEN + 5);
    pd_rt_frame_t f;
    assert_int_equal(pd_rt_frame_parse(buf + 4, sizeof buf - 4, &f), 0);
    assert_int_equal(f.type, PD_RT_RAFT);
    assert_true(f.from == 0x1122334455667788ull);
    assert_int_equal(f.to, 42);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "hello", 5);
}

static void test_frame_rejects(void **st)
{
    uint8_t buf[PD_RT_LEN_PREFIX + PD_RT_HDR_LEN];
    pd_rt_frame_t f;
    memset(&f, 0xab, sizeof f);
    pd_rt_frame_t keep = f;
    pd_rt_frame_hdr_encode(buf, PD_RT_FWD_REQ, 1, 2, 0);
    assert_int_equal(pd_rt_frame_parse(buf + 4, PD_RT_HDR_LEN - 1, &f), -PD_ETRUNCATED);
    assert_int_equal(pd_rt_frame_parse(buf + 4, PD_RT_FRAME_MAX + 1, &f), -PD_ETOOBIG);
    buf[4] = 2;
    assert_int_equal(pd_rt_frame_parse(buf + 4, PD_RT_HDR_LEN, &f), -PD_EVERSION);
    buf[4] = PD_RT_VERSION;
    buf[5] = 0;
    assert_int_equal(pd_rt_frame_parse(buf + 4, PD_RT_HDR_LEN, &f), -PD_EUNKNOWN_TYPE);
    buf[5] = PD_RT_MEMBER + 1;
    assert_int_equal(pd_rt_frame_parse(buf + 4, PD_RT_HDR_LEN, &f), -PD_EUNKNOWN_TYPE);
    pd_rt_frame_hdr_encode(buf, PD_RT_RAFT, 0, 2, 0);
    assert_int_equal(pd_rt_frame_parse(buf + 4, PD_RT_HDR_LEN, &f), -PD_EMALFORMED);
    pd_rt_frame_hdr_encode(buf, PD_RT_RAFT, 1, 0, 0);
    assert_int_equal(pd_rt_frame_parse(buf + 4, PD_RT_HDR_LEN, &f), -PD_EMALFORMED);
    assert_memory_equal(&f, &keep, sizeof f); /* untouched on error */
}

static void test_fwd_payloads(void **st)
{
    uint8_t req[PD_RT_FWD_REQ_FIXED + 3];
    pd_rt_fwd_req_hdr(req, 7, PD_RT_FWD_WRITE);
    memcpy(req + PD_RT_FWD_REQ_FIXED, "abc", 3);
    pd_rt_fwd_req_t q;
    assert_int_equal(pd_rt_fwd_req_parse(req, sizeof req, &q), 0);
    assert_int_equal(q.req_id, 7);
    assert_int_equal(q.kind, PD_RT_FWD_WRITE);
    assert_int_equal(q.len, 3);
    /* a write without an entry, a read with one, an unknown kind, a short payload */
    assert_int_equal(pd_rt_fwd_req_parse(req, PD_RT_FWD_REQ_FIXED, &q), -PD_EMALFORMED);
    pd_rt_fwd_req_hdr(req, 7, PD_RT_FWD_READ);
    assert_int_equal(pd_rt_fwd_req_parse(req, sizeof req, &q), -PD_EMALFORMED);
    assert_int_equal(pd_rt_fwd_req_parse(req, PD_RT_FWD_REQ_FIXED, &q), 0);
    assert_int_equal(q.kind, PD_RT_FWD_READ);
    pd_rt_fwd_req_hdr(req, 7, 9);
    assert_int_equal(pd_rt_fwd_req_parse(req, PD_RT_FWD_REQ_FIXED, &q), -PD_EUNKNOWN_TYPE);
    assert_int_equal(pd_rt_fwd_req_parse(req, PD_RT_FWD_REQ_FIXED - 1, &q), -PD_ETRUNCATED);

    uint8_t resp[PD_RT_FWD_RESP_FIXED + 4];
    pd_rt_fwd_resp_hdr(resp, 9, -PD_EEXISTS, 123);
    memcpy(resp + PD_RT_FWD_RESP_FIXED, "oops", 4);
    pd_rt_fwd_resp_t a;
    assert_int_equal(pd_rt_fwd_resp_parse(resp, sizeof resp, &a), 0);
    assert_int_equal(a.req_id, 9);
    assert_int_equal(a.rc, -PD_EEXISTS);
    assert_int_equal(a.index, 123);
    assert_int_equal(a.text_len, 4);
    pd_rt_fwd_resp_hdr(resp, 9, 5, 0); /* positive codes are not errors */
    assert_int_equal(pd_rt_fwd_resp_parse(resp, sizeof resp, &a), -PD_EMALFORMED);
    uint8_t big[PD_RT_FWD_RESP_FIXED + PD_RT_ERRTEXT_MAX + 1] = {0};
    assert_int_equal(pd_rt_fwd_resp_parse(big, sizeof big, &a), -PD_ETOOBIG);
    assert_int_equal(pd_rt_fwd_resp_parse(big, PD_RT_FWD_RESP_FIXED - 1, &a), -PD_ETRUNCATED);
}

static void test_raft_id_stable(void **st)
{
    uint64_t a = pd_raft_node_id_from("abcdefghijklmnopqrstuvwxy");
    assert_true(a != 0);
    assert_true(a == pd_raft_node_id_from("abcdefghijklmnopqrstuvwxy"));
    assert_true(a != pd_raft_node_id_from("abcdefghijklmnopqrstuvwxz"));
}

static void test_config_names(void **st)
{
    char err[256];
    const char *ok[] = {"a", "app.conf", "my-config_1", "A9"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(pd_ctl_object_name_check("config", ok[i], strlen(ok[i]), err, sizeof err), 0);
    const char *bad[] = {"", "-a", "a-", ".x", "a b", "a/b", "é"};
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(pd_ctl_object_name_check("config", bad[i], strlen(bad[i]), err, sizeof err), -PD_EUSAGE);
    char longname[66];
    memset(longname, 'a', 65);
    longname[65] = '\0';
    assert_int_equal(pd_ctl_object_name_check("config", longname, 64, err, sizeof err), 0);
    assert_int_equal(pd_ctl_object_name_check("config", longname, 65, err, sizeof err), -PD_EUSAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_round_trip), cmocka_unit_test(test_frame_rejects),
        cmocka_unit_test(test_fwd_payloads),     cmocka_unit_test(test_raft_id_stable),
        cmocka_unit_test(test_config_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
