/* Key files and the unlock key's text (keyfile.h). */
#include "keyfile.h"

#include <sodium.h>
#include <string.h>

#include "pd_buf.h"
#include "pd_crc32c.h"
#include "pd_err.h"

static const uint8_t dek_magic[8] = {'p', 'e', 'e', 'r', 'd', 'D', 'E', 'K'};
static const uint8_t kek_magic[8] = {'p', 'e', 'e', 'r', 'd', 'K', 'E', 'K'};

#define KEYFILE_VERSION 1u
#define DEK_AD_LEN 21u

static uint64_t get_u64(const uint8_t *p) { return ((uint64_t)pd_get_u32(p) << 32) | pd_get_u32(p + 4); }

void pd_dek_file_encode(uint8_t out[PD_DEK_FILE_LEN], const uint8_t dek[PD_SEAL_KEY_LEN],
                        const uint8_t wrap_key[PD_SEAL_KEY_LEN], uint8_t wrap, uint64_t setting_version)
{
    memcpy(out, dek_magic, sizeof dek_magic);
    pd_put_u32(out + 8, KEYFILE_VERSION);
    out[12] = wrap;
    pd_put_u32(out + 13, (uint32_t)(setting_version >> 32));
    pd_put_u32(out + 17, (uint32_t)setting_version);
    memcpy(out + DEK_AD_LEN + PD_SEAL_NONCE_LEN, dek, PD_SEAL_KEY_LEN);
    pd_sealer_t s;
    pd_sealer_init(&s, wrap_key);
    pd_seal(&s, out, DEK_AD_LEN, out + DEK_AD_LEN, PD_SEAL_KEY_LEN);
    pd_sealer_wipe(&s);
}

int pd_dek_file_parse(const uint8_t *buf, size_t len, uint8_t *wrap, uint64_t *setting_version)
{
    if (len != PD_DEK_FILE_LEN || memcmp(buf, dek_magic, sizeof dek_magic) != 0)
        return -PD_ECORRUPT;
    if (pd_get_u32(buf + 8) != KEYFILE_VERSION)
        return -PD_EVERSION;
    if (buf[12] != PD_DEK_WRAP_KEK && buf[12] != PD_DEK_WRAP_UNLOCK)
        return -PD_ECORRUPT;
    *wrap = buf[12];
    *setting_version = get_u64(buf + 13);
    return 0;
}

int pd_dek_file_unwrap(const uint8_t *buf, size_t len, const uint8_t wrap_key[PD_SEAL_KEY_LEN],
                       uint8_t dek[PD_SEAL_KEY_LEN])
{
    if (len != PD_DEK_FILE_LEN)
        return -PD_ECORRUPT;
    return pd_seal_open(wrap_key, buf, DEK_AD_LEN, buf + DEK_AD_LEN, PD_SEAL_OVERHEAD + PD_SEAL_KEY_LEN, dek);
}

void pd_kek_file_encode(uint8_t out[PD_KEK_FILE_LEN], const uint8_t kek[PD_SEAL_KEY_LEN])
{
    memcpy(out, kek_magic, sizeof kek_magic);
    pd_put_u32(out + 8, KEYFILE_VERSION);
    memcpy(out + 12, kek, PD_SEAL_KEY_LEN);
    pd_put_u32(out + 44, pd_crc32c(out, 44));
}

int pd_kek_file_parse(const uint8_t *buf, size_t len, uint8_t kek[PD_SEAL_KEY_LEN])
{
    if (len != PD_KEK_FILE_LEN || memcmp(buf, kek_magic, sizeof kek_magic) != 0 ||
        pd_crc32c(buf, 44) != pd_get_u32(buf + 44))
        return -PD_ECORRUPT;
    if (pd_get_u32(buf + 8) != KEYFILE_VERSION)
        return -PD_EVERSION;
    memcpy(kek, buf + 12, PD_SEAL_KEY_LEN);
    return 0;
}

void pd_unlock_key_format(const uint8_t key[PD_SEAL_KEY_LEN], char out[PD_UNLOCK_KEY_TEXT_LEN + 1])
{
    size_t p = strlen(PD_UNLOCK_KEY_PREFIX);
    memcpy(out, PD_UNLOCK_KEY_PREFIX, p);
    sodium_bin2base64(out + p, PD_UNLOCK_KEY_TEXT_LEN + 1 - p, key, PD_SEAL_KEY_LEN,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* URL-safe base64 alphabet only: libsodium's decoder accepts some bytes above 0x7f. */
static int b64url_only(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int pd_unlock_key_parse(const char *text, size_t len, uint8_t key[PD_SEAL_KEY_LEN])
{
    while (len && space(*text))
        text++, len--;
    while (len && space(text[len - 1]))
        len--;
    size_t p = strlen(PD_UNLOCK_KEY_PREFIX), got = 0;
    const char *end = NULL;
    uint8_t k[PD_SEAL_KEY_LEN];
    if (len != PD_UNLOCK_KEY_TEXT_LEN || memcmp(text, PD_UNLOCK_KEY_PREFIX, p) != 0 ||
        !b64url_only(text + p, len - p) ||
        sodium_base642bin(k, sizeof k, text + p, len - p, NULL, &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        got != sizeof k || end != text + len)
        return -PD_EUSAGE;
    memcpy(key, k, sizeof k);
    sodium_memzero(k, sizeof k);
    return 0;
}

void pd_unlock_wrap_key(const uint8_t unlock[PD_SEAL_KEY_LEN], uint8_t out[PD_SEAL_KEY_LEN])
{
    static const char ctx[] = "peerd dek wrap";
    crypto_generichash(out, PD_SEAL_KEY_LEN, (const uint8_t *)ctx, sizeof ctx - 1, unlock, PD_SEAL_KEY_LEN);
}
