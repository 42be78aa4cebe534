/* core/daemon/gossip_keyfetch: the keyring fetch's messages (request, answer, refusal): round
 * trips, every truncation refused, other ops and versions refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gossip_keyfetch.h"
#include "pd_err.h"

static void test_request(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pd_gkf_req_encode(&sb);
    assert_int_equal(pd_gkf_req_decode(sb.data, sb.size), 0);
    for (size_t cut = 0; cut < sb.size; cut++)
        assert_int_not_equal(pd_gkf_req_decode(sb.data, cut), 0);
    msgpack_sbuffer_destroy(&sb);
    const uint8_t other_op[] = {0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa1, 'x'};
    assert_int_equal(pd_gkf_req_decode(other_op, sizeof other_op), -PD_EMALFORMED);
    const uint8_t v2[] = {0x81, 0xa1, 'v', 0x02};
    assert_int_equal(pd_gkf_req_decode(v2, sizeof v2), -PD_EVERSION);
}

static void test_answer(void **state)
{
    uint8_t k1[PD_KEYRING_KEY_LEN], k2[PD_KEYRING_KEY_LEN];
    memset(k1, 1, sizeof k1);
    memset(k2, 2, sizeof k2);
    pd_keyring_t kr;
    pd_keyring_init(&kr);
    pd_keyring_install(&kr, k1);
    pd_keyring_install(&kr, k2);
    pd_keyring_use(&kr, k2);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(pd_gkf_resp_encode(&sb, 0, NULL, 7, 2, &kr), 0);
    pd_gkf_resp_t r;
    assert_int_equal(pd_gkf_resp_decode(sb.data, sb.size, &r), 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.gen, 7);
    assert_int_equal(r.phase, 2);
    assert_true(pd_keyring_same(&r.ring, &kr));
    assert_memory_equal(pd_keyring_primary(&r.ring)->key, k2, sizeof k2);
    pd_keyring_free(&r.ring);
    for (size_t cut = 0; cut < sb.size; cut++)
        assert_int_not_equal(pd_gkf_resp_decode(sb.data, cut, &r), 0);
    msgpack_sbuffer_destroy(&sb);
    /* a refusal carries its code and sentence, and no ring */
    msgpack_sbuffer_init(&sb);
    pd_gkf_resp_encode(&sb, -PD_ESTATE, "this manager is locked", 0, 0, NULL);
    assert_int_equal(pd_gkf_resp_decode(sb.data, sb.size, &r), 0);
    assert_int_equal(r.rc, -PD_ESTATE);
    assert_string_equal(r.err, "this manager is locked");
    assert_int_equal(r.ring.count, 0);
    msgpack_sbuffer_destroy(&sb);
    pd_keyring_free(&kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
