/* core/base/pd_crc32c: known answers (RFC 3720 iSCSI vectors), hardware vs software, chaining. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pd_crc32c.h"
#include "pd_rng.h"

static void test_known_answers(void **state)
{
    (void)state;
    uint8_t buf[32];
    assert_int_equal(pd_crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(pd_crc32c_extend_sw(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(pd_crc32c("", 0), 0);
    assert_int_equal(pd_crc32c(NULL, 0), 0);
    assert_int_equal(pd_crc32c("a", 1), 0xC1D04330u);
    memset(buf, 0, sizeof buf);
    assert_int_equal(pd_crc32c(buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(pd_crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(pd_crc32c(buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(pd_crc32c(buf, 32), 0x113FDB5Cu);
    assert_int_equal(pd_crc32c_extend_sw(0, buf, 32), 0x113FDB5Cu);
}

/* Every length and alignment up to a few words, hardware and software agree, and chaining at any
 * split point gives the one-shot CRC. */
static void test_paths_agree_and_chain(void **state)
{
    (void)state;
    pd_rng_t rng;
    pd_rng_seed(&rng, 42);
    uint8_t buf[300];
    pd_rng_fill(&rng, buf, sizeof buf);
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len + off <= sizeof buf; len += 7) {
            uint32_t one = pd_crc32c(buf + off, len);
            assert_int_equal(one, pd_crc32c_extend_sw(0, buf + off, len));
            size_t split = len / 3;
            uint32_t a = pd_crc32c(buf + off, split);
            assert_int_equal(pd_crc32c_extend(a, buf + off + split, len - split), one);
            assert_int_equal(pd_crc32c_extend_sw(a, buf + off + split, len - split), one);
        }
    }
    static uint8_t big[1 << 16];
    pd_rng_fill(&rng, big, sizeof big);
    assert_int_equal(pd_crc32c(big, sizeof big), pd_crc32c_extend_sw(0, big, sizeof big));
    assert_true(pd_crc32c_hw_available() == 0 || pd_crc32c_hw_available() == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_paths_agree_and_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
