/* Fuzz gossip frame opening: arbitrary bytes through pd_gcrypto_open with a fixed keyring (and a
 * plaintext-mode context). Inputs starting with 0xA5 are instead sealed as plaintext and opened,
 * so the code past the MAC runs too; a flipped byte must then fail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gossip_crypto.h"
#include "gossip_keyring.h"
#include "pd_err.h"

#define SEAL_MARK 0xA5
#define FUZZ_MAX 4096

static void fixed_ring(pd_keyring_t *kr)
{
    uint8_t k[PD_KEYRING_KEY_LEN];
    pd_keyring_init(kr);
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < PD_KEYRING_KEY_LEN; i++)
            k[i] = (uint8_t)(0x11 * (r + 1) + i);
        pd_keyring_install(kr, k);
    }
}

static void seal_and_open(pd_gcrypto_t *c, const uint8_t *data, size_t size)
{
    static uint8_t frame[FUZZ_MAX + PD_GCRYPTO_OVERHEAD], back[FUZZ_MAX];
    uint8_t nonce[PD_GCRYPTO_NONCE_LEN] = {0};
    memcpy(nonce, data, size < sizeof nonce ? size : sizeof nonce);
    size_t n = 0, m = 0;
    if (pd_gcrypto_seal(c, nonce, data, size, frame, sizeof frame, &n) != 0)
        abort();
    if (pd_gcrypto_open(c, frame, n, back, sizeof back, &m) != 0 || m != size ||
        memcmp(back, data, size) != 0)
        abort();
    size_t at = size ? data[0] % n : 0;
    frame[at] ^= 0x40;
    if (pd_gcrypto_open(c, frame, n, back, sizeof back, &m) == 0)
        abort(); /* a forged frame authenticated */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX)
        return 0;
    static uint8_t out[FUZZ_MAX];
    pd_keyring_t kr, none;
    fixed_ring(&kr);
    pd_keyring_init(&none);
    pd_gcrypto_t enc, plain;
    pd_gcrypto_init(&enc, &kr, "fuzz-cluster", 0);
    pd_gcrypto_init(&plain, &none, "fuzz-cluster", PD_GCRYPTO_ALLOW_PLAINTEXT);
    size_t n = 0;
    if (size > 0 && data[0] == SEAL_MARK) {
        seal_and_open(&enc, data + 1, size - 1);
    } else {
        pd_gcrypto_open(&enc, data, size, out, sizeof out, &n);
        pd_gcrypto_open(&plain, data, size, out, sizeof out, &n);
    }
    pd_keyring_free(&kr);
    return 0;
}
