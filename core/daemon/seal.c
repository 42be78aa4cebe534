/* Sealing at rest (seal.h). */
#include "seal.h"

#include <sodium.h>
#include <string.h>

#include "pd_assert.h"
#include "pd_buf.h"
#include "pd_err.h"

void pd_sealer_init(pd_sealer_t *s, const uint8_t key[PD_SEAL_KEY_LEN])
{
    PD_ASSERT(sodium_init() >= 0); /* idempotent; picks the fastest implementation */
    memcpy(s->key, key, PD_SEAL_KEY_LEN);
    randombytes_buf(s->prefix, sizeof s->prefix);
    s->counter = 0;
}

void pd_sealer_wipe(pd_sealer_t *s) { sodium_memzero(s, sizeof *s); }

void pd_seal(pd_sealer_t *s, const uint8_t *ad, size_t ad_len, uint8_t *buf, size_t len)
{
    uint64_t c = s->counter++;
    memcpy(buf, s->prefix, sizeof s->prefix);
    pd_put_u32(buf + 16, (uint32_t)(c >> 32));
    pd_put_u32(buf + 20, (uint32_t)c);
    uint8_t *m = buf + PD_SEAL_NONCE_LEN;
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(m, m + len, NULL, m, len, ad, ad_len, NULL, buf,
                                                        s->key);
}

int pd_seal_verify(const uint8_t key[PD_SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                   const uint8_t *sealed, size_t sealed_len)
{
    return pd_seal_open(key, ad, ad_len, sealed, sealed_len, NULL);
}

/* libsodium checks the tag before it writes anything, and with out == NULL only checks it. */
int pd_seal_open(const uint8_t key[PD_SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                 const uint8_t *sealed, size_t sealed_len, uint8_t *out)
{
    if (sealed_len < PD_SEAL_OVERHEAD)
        return -PD_EAUTH;
    size_t len = sealed_len - PD_SEAL_OVERHEAD;
    const uint8_t *c = sealed + PD_SEAL_NONCE_LEN;
    return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out, NULL, c, len, c + len, ad, ad_len, sealed,
                                                               key) == 0 ? 0 : -PD_EAUTH;
}
