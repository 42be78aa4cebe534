#include "gossip_keyring.h"

#include <sodium.h>
#include <string.h>

#include "pd_assert.h"
#include "pd_err.h"

/* Domain tag so a key id can never collide with a digest of the same key used elsewhere. */
static const char key_id_tag[] = "peerd gossip key id v1";

void pd_keyring_init(pd_keyring_t *kr)
{
    PD_ASSERT(kr);
    memset(kr, 0, sizeof *kr);
    PD_ASSERT(sodium_init() >= 0);
}

void pd_keyring_free(pd_keyring_t *kr)
{
    if (!kr)
        return;
    sodium_memzero(kr, sizeof *kr);
}

void pd_keyring_key_id(const uint8_t key[PD_KEYRING_KEY_LEN], uint8_t id_out[PD_KEYRING_ID_LEN])
{
    uint8_t digest[crypto_generichash_BYTES_MIN];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof digest);
    crypto_generichash_update(&st, (const uint8_t *)key_id_tag, sizeof key_id_tag - 1);
    crypto_generichash_update(&st, key, PD_KEYRING_KEY_LEN);
    crypto_generichash_final(&st, digest, sizeof digest);
    memcpy(id_out, digest, PD_KEYRING_ID_LEN);
    sodium_memzero(&st, sizeof st);
}

static int find_index(const pd_keyring_t *kr, const uint8_t key[PD_KEYRING_KEY_LEN])
{
    for (unsigned i = 0; i < kr->count; i++) {
        if (sodium_memcmp(kr->keys[i].key, key, PD_KEYRING_KEY_LEN) == 0)
            return (int)i;
    }
    return -1;
}

int pd_keyring_install(pd_keyring_t *kr, const uint8_t key[PD_KEYRING_KEY_LEN])
{
    PD_ASSERT(kr && key);
    if (find_index(kr, key) >= 0)
        return 0;
    uint8_t id[PD_KEYRING_ID_LEN];
    pd_keyring_key_id(key, id);
    if (pd_keyring_find(kr, id))
        return -PD_EEXISTS;
    if (kr->count >= PD_KEYRING_KEYS_MAX)
        return -PD_ELIMIT;
    pd_keyring_key_t *slot = &kr->keys[kr->count];
    memcpy(slot->key, key, PD_KEYRING_KEY_LEN);
    memcpy(slot->id, id, PD_KEYRING_ID_LEN);
    kr->count++;
    return 0;
}

int pd_keyring_use(pd_keyring_t *kr, const uint8_t key[PD_KEYRING_KEY_LEN])
{
    PD_ASSERT(kr && key);
    int i = find_index(kr, key);
    if (i < 0)
        return -PD_ENOTFOUND;
    if (i == 0)
        return 0;
    /* Swap into slot 0; the old primary stays installed as a secondary. */
    pd_keyring_key_t tmp = kr->keys[0];
    kr->keys[0] = kr->keys[i];
    kr->keys[i] = tmp;
    sodium_memzero(&tmp, sizeof tmp);
    return 0;
}

int pd_keyring_remove(pd_keyring_t *kr, const uint8_t key[PD_KEYRING_KEY_LEN])
{
    PD_ASSERT(kr && key);
    int i = find_index(kr, key);
    if (i < 0)
        return -PD_ENOTFOUND;
    if (i == 0)
        return -PD_ESTATE;
    unsigned last = kr->count - 1;
    if ((unsigned)i != last)
        kr->keys[i] = kr->keys[last];
    sodium_memzero(&kr->keys[last], sizeof kr->keys[last]);
    kr->count--;
    return 0;
}

void pd_keyring_converge(pd_keyring_t *kr, const pd_keyring_t *want)
{
    PD_ASSERT(kr && want && want->count > 0);
    for (unsigned i = 0; i < want->count; i++)
        pd_keyring_install(kr, want->keys[i].key);
    pd_keyring_use(kr, want->keys[0].key);
    for (unsigned i = kr->count; i-- > 0;)
        if (!pd_keyring_find(want, kr->keys[i].id))
            pd_keyring_remove(kr, kr->keys[i].key);
}

int pd_keyring_same(const pd_keyring_t *a, const pd_keyring_t *b)
{
    if (a->count != b->count || a->count == 0 || memcmp(a->keys[0].id, b->keys[0].id, PD_KEYRING_ID_LEN) != 0)
        return 0;
    for (unsigned i = 1; i < a->count; i++)
        if (!pd_keyring_find(b, a->keys[i].id))
            return 0;
    return 1;
}

int pd_keyring_list(const pd_keyring_t *kr, pd_keyring_info_t *out, size_t cap, size_t *n_out)
{
    PD_ASSERT(kr && n_out && (out || cap == 0));
    for (unsigned i = 0; i < kr->count && i < cap; i++) {
        memcpy(out[i].id, kr->keys[i].id, PD_KEYRING_ID_LEN);
        out[i].primary = (i == 0);
    }
    *n_out = kr->count;
    return 0;
}

unsigned pd_keyring_count(const pd_keyring_t *kr) { return kr->count; }

const pd_keyring_key_t *pd_keyring_find(const pd_keyring_t *kr, const uint8_t id[PD_KEYRING_ID_LEN])
{
    for (unsigned i = 0; i < kr->count; i++) {
        if (memcmp(kr->keys[i].id, id, PD_KEYRING_ID_LEN) == 0)
            return &kr->keys[i];
    }
    return NULL;
}

const pd_keyring_key_t *pd_keyring_primary(const pd_keyring_t *kr)
{
    return kr->count ? &kr->keys[0] : NULL;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int pd_keyring_key_parse(const char *text, size_t len, uint8_t key_out[PD_KEYRING_KEY_LEN])
{
    PD_ASSERT(text && key_out);
    while (len && is_space(text[0])) {
        text++;
        len--;
    }
    while (len && is_space(text[len - 1]))
        len--;
    if (len != PD_KEYRING_TEXT_LEN - 1)
        return -PD_EMALFORMED;
    uint8_t key[PD_KEYRING_KEY_LEN];
    size_t bin_len = 0;
    const char *end = NULL;
    int rc = sodium_base642bin(key, sizeof key, text, len, NULL, &bin_len, &end,
                               sodium_base64_VARIANT_ORIGINAL);
    if (rc != 0 || bin_len != PD_KEYRING_KEY_LEN || end != text + len) {
        sodium_memzero(key, sizeof key);
        return -PD_EMALFORMED;
    }
    memcpy(key_out, key, sizeof key);
    sodium_memzero(key, sizeof key);
    return 0;
}

int pd_keyring_key_format(const uint8_t key[PD_KEYRING_KEY_LEN], char *out, size_t cap)
{
    PD_ASSERT(key && out);
    if (cap < PD_KEYRING_TEXT_LEN)
        return -PD_ETOOBIG;
    sodium_bin2base64(out, PD_KEYRING_TEXT_LEN, key, PD_KEYRING_KEY_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

/* Parse one line of a key file into `tmp`; blank and comment lines are skipped. */
static int load_line(pd_keyring_t *tmp, const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && is_space(line[i]))
        i++;
    if (i == len || line[i] == '#')
        return 0;
    uint8_t key[PD_KEYRING_KEY_LEN];
    int rc = pd_keyring_key_parse(line + i, len - i, key);
    if (rc == 0)
        rc = pd_keyring_install(tmp, key);
    sodium_memzero(key, sizeof key);
    return rc;
}

int pd_keyring_load_text(pd_keyring_t *kr, const char *text, size_t len)
{
    PD_ASSERT(kr && (text || len == 0));
    if (len > PD_KEYRING_FILE_MAX)
        return -PD_ETOOBIG;
    pd_keyring_t tmp;
    pd_keyring_init(&tmp);
    int rc = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len && rc == 0; i++) {
        if (i == len || text[i] == '\n') {
            rc = load_line(&tmp, text + start, i - start);
            start = i + 1;
        }
    }
    if (rc == 0 && tmp.count == 0)
        rc = -PD_EMALFORMED;
    if (rc == 0)
        *kr = tmp;
    pd_keyring_free(&tmp);
    return rc;
}

int pd_keyring_save_text(const pd_keyring_t *kr, char *out, size_t cap, size_t *len_out)
{
    PD_ASSERT(kr && out && len_out);
    size_t need = (size_t)kr->count * PD_KEYRING_TEXT_LEN + 1; /* each line: 44 chars + '\n' */
    if (cap < need)
        return -PD_ETOOBIG;
    size_t pos = 0;
    for (unsigned i = 0; i < kr->count; i++) {
        pd_keyring_key_format(kr->keys[i].key, out + pos, cap - pos);
        pos += PD_KEYRING_TEXT_LEN - 1;
        out[pos++] = '\n';
    }
    out[pos] = '\0';
    *len_out = pos;
    return 0;
}
