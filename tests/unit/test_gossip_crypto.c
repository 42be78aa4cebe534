/* gossip/gossip_crypto + gossip_keyring: frames, tampering, labels, rotation, key text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gossip_crypto.h"
#include "gossip_keyring.h"
#include "pd_err.h"
#include "pd_rng.h"

#define BUF 2048

static void key_of(uint8_t k[PD_KEYRING_KEY_LEN], uint8_t fill)
{
    for (int i = 0; i < PD_KEYRING_KEY_LEN; i++)
        k[i] = (uint8_t)(fill + i);
}

static void ring_with(pd_keyring_t *kr, uint8_t fill)
{
    uint8_t k[PD_KEYRING_KEY_LEN];
    key_of(k, fill);
    pd_keyring_init(kr);
    assert_int_equal(pd_keyring_install(kr, k), 0);
}

static size_t seal(pd_gcrypto_t *c, pd_rng_t *rng, const char *msg, uint8_t *out)
{
    uint8_t nonce[PD_GCRYPTO_NONCE_LEN];
    pd_rng_fill(rng, nonce, sizeof nonce);
    size_t n = 0;
    assert_int_equal(pd_gcrypto_seal(c, nonce, msg, strlen(msg), out, BUF, &n), 0);
    assert_int_equal(n, strlen(msg) + PD_GCRYPTO_OVERHEAD);
    return n;
}

static int opens(pd_gcrypto_t *c, const uint8_t *frame, size_t n, const char *expect)
{
    uint8_t pt[BUF];
    size_t m = 0;
    int rc = pd_gcrypto_open(c, frame, n, pt, sizeof pt, &m);
    if (rc == 0 && expect) {
        assert_int_equal(m, strlen(expect));
        assert_memory_equal(pt, expect, m);
    }
    return rc;
}

static void test_round_trip(void **state)
{
    (void)state;
    pd_keyring_t kr;
    ring_with(&kr, 1);
    pd_gcrypto_t c;
    assert_int_equal(pd_gcrypto_init(&c, &kr, "prod", 0), 0);
    pd_rng_t rng;
    pd_rng_seed(&rng, 7);
    uint8_t f[BUF];
    size_t n = seal(&c, &rng, "hello gossip", f);
    assert_int_equal(f[0], PD_GCRYPTO_VERSION);
    assert_memory_equal(f + 1, kr.keys[0].id, PD_KEYRING_ID_LEN);
    assert_int_equal(opens(&c, f, n, "hello gossip"), 0);
    /* Empty payload too. */
    size_t m = 0;
    assert_int_equal(pd_gcrypto_seal(&c, NULL, "", 0, f, BUF, &m), 0);
    assert_int_equal(m, PD_GCRYPTO_OVERHEAD);
    assert_int_equal(opens(&c, f, m, ""), 0);
    assert_int_equal(c.stats.opened, 2);
    assert_int_equal(c.stats.sealed, 2);
    pd_keyring_free(&kr);
}

static void test_tamper_every_byte(void **state)
{
    (void)state;
    pd_keyring_t kr;
    ring_with(&kr, 1);
    pd_gcrypto_t c;
    pd_gcrypto_init(&c, &kr, "prod", 0);
    pd_rng_t rng;
    pd_rng_seed(&rng, 8);
    uint8_t f[BUF];
    size_t n = seal(&c, &rng, "payload under test", f);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            f[i] ^= (uint8_t)(1u << bit);
            int rc = opens(&c, f, n, NULL);
            if (i == 0)
                assert_int_equal(rc, -PD_EVERSION);
            else
                assert_int_equal(rc, -PD_EAUTH);
            f[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(opens(&c, f, n, "payload under test"), 0);
    /* Tampered key id bytes fall back to trying every key, and fail as unknown. */
    assert_true(c.stats.unknown_key > 0);
    assert_true(c.stats.auth_fail > 0);
    pd_keyring_free(&kr);
}

static void test_wrong_label_and_key(void **state)
{
    (void)state;
    pd_keyring_t a, b;
    ring_with(&a, 1);
    ring_with(&b, 2);
    pd_gcrypto_t ca, ca_other_label, cb;
    pd_gcrypto_init(&ca, &a, "prod", 0);
    pd_gcrypto_init(&ca_other_label, &a, "staging", 0);
    pd_gcrypto_init(&cb, &b, "prod", 0);
    pd_rng_t rng;
    pd_rng_seed(&rng, 9);
    uint8_t f[BUF];
    size_t n = seal(&ca, &rng, "secret", f);
    assert_int_equal(opens(&ca_other_label, f, n, NULL), -PD_EAUTH);
    assert_int_equal(opens(&cb, f, n, NULL), -PD_EAUTH);
    assert_int_equal(cb.stats.unknown_key, 1);
    assert_int_equal(opens(&ca, f, n, "secret"), 0);
    /* No label vs a label. */
    pd_gcrypto_t nolabel;
    pd_gcrypto_init(&nolabel, &a, NULL, 0);
    assert_int_equal(opens(&nolabel, f, n, NULL), -PD_EAUTH);
    pd_keyring_free(&a);
    pd_keyring_free(&b);
}

static void test_truncated_and_oversized(void **state)
{
    (void)state;
    pd_keyring_t kr;
    ring_with(&kr, 3);
    pd_gcrypto_t c;
    pd_gcrypto_init(&c, &kr, "prod", 0);
    pd_rng_t rng;
    pd_rng_seed(&rng, 10);
    uint8_t f[BUF];
    size_t n = seal(&c, &rng, "abcdef", f);
    for (size_t len = 0; len < PD_GCRYPTO_OVERHEAD; len++)
        assert_int_equal(opens(&c, f, len, NULL), -PD_ETRUNCATED);
    for (size_t len = PD_GCRYPTO_OVERHEAD; len < n; len++)
        assert_int_equal(opens(&c, f, len, NULL), -PD_EAUTH);
    /* Bad version byte is refused before anything else. */
    f[0] = 0x7f;
    assert_int_equal(opens(&c, f, n, NULL), -PD_EVERSION);
    f[0] = PD_GCRYPTO_VERSION;
    /* Output buffer too small for the plaintext. */
    uint8_t small[4];
    size_t m;
    assert_int_equal(pd_gcrypto_open(&c, f, n, small, sizeof small, &m), -PD_ETOOBIG);
    assert_int_equal(pd_gcrypto_seal(&c, NULL, "abcdef", 6, f, 6 + PD_GCRYPTO_OVERHEAD - 1, &m),
                     -PD_ETOOBIG);
    /* A frame longer than the cap is refused by length alone. */
    assert_int_equal(pd_gcrypto_open(&c, f, PD_GCRYPTO_FRAME_MAX + 1, small, sizeof small, &m),
                     -PD_ETOOBIG);
    assert_int_equal(pd_gcrypto_seal(&c, NULL, f, PD_GCRYPTO_PAYLOAD_MAX + 1, f, BUF, &m),
                     -PD_ETOOBIG);
    assert_true(c.stats.truncated >= PD_GCRYPTO_OVERHEAD);
    pd_keyring_free(&kr);
}

/* Two nodes rotate from key A to key B, exchanging frames at each step. */
static void exchange(pd_gcrypto_t *x, pd_gcrypto_t *y, pd_rng_t *rng, int expect_x_to_y,
                     int expect_y_to_x)
{
    uint8_t f[BUF];
    size_t n = seal(x, rng, "x->y", f);
    assert_int_equal(opens(y, f, n, "x->y"), expect_x_to_y);
    n = seal(y, rng, "y->x", f);
    assert_int_equal(opens(x, f, n, "y->x"), expect_y_to_x);
}

static void test_rotation(void **state)
{
    (void)state;
    uint8_t ka[PD_KEYRING_KEY_LEN], kb[PD_KEYRING_KEY_LEN];
    key_of(ka, 10);
    key_of(kb, 20);
    pd_keyring_t r1, r2;
    ring_with(&r1, 10);
    ring_with(&r2, 10);
    pd_gcrypto_t n1, n2;
    pd_gcrypto_init(&n1, &r1, "c", 0);
    pd_gcrypto_init(&n2, &r2, "c", 0);
    pd_rng_t rng;
    pd_rng_seed(&rng, 11);
    exchange(&n1, &n2, &rng, 0, 0);
    /* Install B on both (still sealing with A). */
    assert_int_equal(pd_keyring_install(&r1, kb), 0);
    exchange(&n1, &n2, &rng, 0, 0);
    assert_int_equal(pd_keyring_install(&r2, kb), 0);
    /* Node 1 switches first: node 2 still seals with A, both keep talking. */
    assert_int_equal(pd_keyring_use(&r1, kb), 0);
    exchange(&n1, &n2, &rng, 0, 0);
    assert_int_equal(pd_keyring_use(&r2, kb), 0);
    exchange(&n1, &n2, &rng, 0, 0);
    /* Old key removed on node 1 only: both seal with B, still fine. */
    assert_int_equal(pd_keyring_remove(&r1, kb), -PD_ESTATE);
    assert_int_equal(pd_keyring_remove(&r1, ka), 0);
    exchange(&n1, &n2, &rng, 0, 0);
    assert_int_equal(pd_keyring_remove(&r2, ka), 0);
    exchange(&n1, &n2, &rng, 0, 0);
    /* A straggler still sealing with A is now refused. */
    pd_keyring_t old;
    ring_with(&old, 10);
    pd_gcrypto_t n3;
    pd_gcrypto_init(&n3, &old, "c", 0);
    exchange(&n3, &n1, &rng, -PD_EAUTH, -PD_EAUTH);
    pd_keyring_free(&r1);
    pd_keyring_free(&r2);
    pd_keyring_free(&old);
}

static void test_keyring_ops(void **state)
{
    (void)state;
    pd_keyring_t kr;
    pd_keyring_init(&kr);
    uint8_t k[PD_KEYRING_KEY_LEN];
    key_of(k, 0);
    assert_int_equal(pd_keyring_use(&kr, k), -PD_ENOTFOUND);
    for (int i = 0; i < PD_KEYRING_KEYS_MAX; i++) {
        key_of(k, (uint8_t)(i * 3));
        assert_int_equal(pd_keyring_install(&kr, k), 0);
        assert_int_equal(pd_keyring_install(&kr, k), 0); /* idempotent */
    }
    key_of(k, 200);
    assert_int_equal(pd_keyring_install(&kr, k), -PD_ELIMIT);
    pd_keyring_info_t info[PD_KEYRING_KEYS_MAX];
    size_t n = 0;
    assert_int_equal(pd_keyring_list(&kr, info, PD_KEYRING_KEYS_MAX, &n), 0);
    assert_int_equal(n, PD_KEYRING_KEYS_MAX);
    assert_true(info[0].primary);
    assert_false(info[1].primary);
    key_of(k, 0);
    uint8_t id[PD_KEYRING_ID_LEN];
    pd_keyring_key_id(k, id);
    assert_memory_equal(info[0].id, id, PD_KEYRING_ID_LEN);
    key_of(k, 9);
    assert_int_equal(pd_keyring_use(&kr, k), 0);
    assert_int_equal(pd_keyring_remove(&kr, k), -PD_ESTATE);
    key_of(k, 0);
    assert_int_equal(pd_keyring_remove(&kr, k), 0);
    assert_int_equal(pd_keyring_remove(&kr, k), -PD_ENOTFOUND);
    assert_int_equal(pd_keyring_count(&kr), PD_KEYRING_KEYS_MAX - 1);
    pd_keyring_free(&kr);
    assert_int_equal(pd_keyring_count(&kr), 0);
    static const uint8_t zero[sizeof kr.keys] = {0};
    assert_memory_equal(kr.keys, zero, sizeof zero); /* wiped */
}

static void test_key_text(void **state)
{
    (void)state;
    uint8_t k[PD_KEYRING_KEY_LEN], back[PD_KEYRING_KEY_LEN];
    key_of(k, 42);
    char txt[PD_KEYRING_TEXT_LEN];
    assert_int_equal(pd_keyring_key_format(k, txt, sizeof txt), 0);
    assert_int_equal(strlen(txt), PD_KEYRING_TEXT_LEN - 1);
    assert_int_equal(pd_keyring_key_parse(txt, strlen(txt), back), 0);
    assert_memory_equal(k, back, sizeof k);
    char padded[80];
    snprintf(padded, sizeof padded, "  %s\n", txt);
    assert_int_equal(pd_keyring_key_parse(padded, strlen(padded), back), 0);
    assert_int_equal(pd_keyring_key_parse(txt, strlen(txt) - 1, back), -PD_EMALFORMED);
    assert_int_equal(pd_keyring_key_parse("not base64 at all!!", 19, back), -PD_EMALFORMED);
    char bad[PD_KEYRING_TEXT_LEN];
    memcpy(bad, txt, sizeof bad);
    bad[3] = '*';
    assert_int_equal(pd_keyring_key_parse(bad, strlen(bad), back), -PD_EMALFORMED);
    assert_int_equal(pd_keyring_key_format(k, txt, 10), -PD_ETOOBIG);
}

static void test_key_file(void **state)
{
    (void)state;
    pd_keyring_t kr;
    pd_keyring_init(&kr);
    uint8_t k1[PD_KEYRING_KEY_LEN], k2[PD_KEYRING_KEY_LEN];
    key_of(k1, 1);
    key_of(k2, 2);
    pd_keyring_install(&kr, k1);
    pd_keyring_install(&kr, k2);
    pd_keyring_use(&kr, k2);
    char text[PD_KEYRING_FILE_MAX];
    size_t n = 0;
    assert_int_equal(pd_keyring_save_text(&kr, text, sizeof text, &n), 0);
    assert_int_equal(n, 2 * (PD_KEYRING_TEXT_LEN - 1 + 1));
    char with_comments[PD_KEYRING_FILE_MAX];
    snprintf(with_comments, sizeof with_comments, "# gossip keys\n\n%s", text);
    pd_keyring_t back;
    pd_keyring_init(&back);
    assert_int_equal(pd_keyring_load_text(&back, with_comments, strlen(with_comments)), 0);
    assert_int_equal(pd_keyring_count(&back), 2);
    assert_memory_equal(pd_keyring_primary(&back)->key, k2, sizeof k2);
    /* A bad line leaves the keyring untouched. */
    assert_int_equal(pd_keyring_load_text(&back, "garbage\n", 8), -PD_EMALFORMED);
    assert_int_equal(pd_keyring_count(&back), 2);
    assert_int_equal(pd_keyring_load_text(&back, "# nothing\n", 10), -PD_EMALFORMED);
    assert_int_equal(pd_keyring_save_text(&kr, text, 10, &n), -PD_ETOOBIG);
    pd_keyring_free(&kr);
    pd_keyring_free(&back);
}

static void test_plaintext_mode(void **state)
{
    (void)state;
    pd_keyring_t empty, keyed;
    pd_keyring_init(&empty);
    ring_with(&keyed, 5);
    pd_gcrypto_t off, dbg, enc;
    pd_gcrypto_init(&off, &empty, "prod", 0);
    pd_gcrypto_init(&dbg, &empty, "prod", PD_GCRYPTO_ALLOW_PLAINTEXT);
    pd_gcrypto_init(&enc, &keyed, "prod", PD_GCRYPTO_ALLOW_PLAINTEXT);
    uint8_t f[BUF];
    size_t n = 0;
    assert_int_equal(pd_gcrypto_seal(&off, NULL, "hi", 2, f, BUF, &n), -PD_ESTATE);
    assert_int_equal(pd_gcrypto_seal(&dbg, NULL, "hi", 2, f, BUF, &n), 0);
    assert_int_equal(f[0], PD_GCRYPTO_VERSION_PLAIN);
    assert_int_equal(n, 2 + 4 + 2);
    assert_int_equal(opens(&dbg, f, n, "hi"), 0);
    assert_int_equal(opens(&off, f, n, NULL), -PD_EMALFORMED);
    assert_int_equal(opens(&enc, f, n, NULL), -PD_EMALFORMED); /* encryption on: refused */
    assert_int_equal(enc.stats.plain_refused, 1);
    pd_gcrypto_t other;
    pd_gcrypto_init(&other, &empty, "staging", PD_GCRYPTO_ALLOW_PLAINTEXT);
    assert_int_equal(opens(&other, f, n, NULL), -PD_EAUTH);
    assert_int_equal(opens(&dbg, f, 3, NULL), -PD_ETRUNCATED);
    /* An encrypted node's frame cannot be opened by a keyless one. */
    size_t m = seal(&enc, &(pd_rng_t){{1, 2, 3, 4}}, "x", f);
    assert_int_equal(opens(&dbg, f, m, NULL), -PD_EAUTH);
    pd_keyring_free(&keyed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_tamper_every_byte),
        cmocka_unit_test(test_wrong_label_and_key), cmocka_unit_test(test_truncated_and_oversized),
        cmocka_unit_test(test_rotation),        cmocka_unit_test(test_keyring_ops),
        cmocka_unit_test(test_key_text),        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_plaintext_mode),
    };
    return cmocka_run_group_tests_name("gossip_crypto", tests, NULL, NULL);
}
