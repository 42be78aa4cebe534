/* Gossip keyring: one primary key (used to seal) plus secondaries (accepted when opening), so a
 * cluster can rotate keys live: install the new key everywhere, use it everywhere, remove the old.
 * Keys are 32 bytes, wiped with sodium_memzero when removed or freed, and never logged; each key is
 * named on the wire and in listings by a 4-byte id (a BLAKE2b digest prefix, not the key). */
#ifndef PD_GOSSIP_KEYRING_H
#define PD_GOSSIP_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#define PD_KEYRING_KEY_LEN 32
#define PD_KEYRING_ID_LEN 4
#define PD_KEYRING_KEYS_MAX 16 /* primary + up to 15 secondaries */
/* Base64 text of one key (standard alphabet, padded) including the NUL. */
#define PD_KEYRING_TEXT_LEN 45
/* A key file: one base64 key per line, the first is the primary; '#' comments and blank lines. */
#define PD_KEYRING_FILE_MAX 4096

typedef struct {
    uint8_t key[PD_KEYRING_KEY_LEN];
    uint8_t id[PD_KEYRING_ID_LEN];
} pd_keyring_key_t;

/* keys[0] is the primary whenever count > 0. Embed by value; init before use, free to wipe. */
typedef struct {
    pd_keyring_key_t keys[PD_KEYRING_KEYS_MAX];
    unsigned count;
} pd_keyring_t;

typedef struct {
    uint8_t id[PD_KEYRING_ID_LEN];
    int primary;
} pd_keyring_info_t;

void pd_keyring_init(pd_keyring_t *kr);
/* Wipe every key. The keyring is empty (and reusable) afterwards. */
void pd_keyring_free(pd_keyring_t *kr);

/* Add a key as a secondary (the first key installed becomes the primary). Installing a key that
 * is already present is a no-op; -PD_ELIMIT when full; -PD_EEXISTS if a different key has the same
 * id (2^-32 odds, refused so an id always names one key). */
int pd_keyring_install(pd_keyring_t *kr, const uint8_t key[PD_KEYRING_KEY_LEN]);
/* Make an installed key the primary; -PD_ENOTFOUND if it is not installed. */
int pd_keyring_use(pd_keyring_t *kr, const uint8_t key[PD_KEYRING_KEY_LEN]);
/* Remove a secondary; -PD_ESTATE for the primary, -PD_ENOTFOUND if absent. */
int pd_keyring_remove(pd_keyring_t *kr, const uint8_t key[PD_KEYRING_KEY_LEN]);
/* Make kr hold exactly want's keys with want's primary: install what is missing, switch the primary,
 * then drop the rest (so kr never lacks a key that both hold). want must not be empty. */
void pd_keyring_converge(pd_keyring_t *kr, const pd_keyring_t *want);
/* Same keys and same primary? */
int pd_keyring_same(const pd_keyring_t *a, const pd_keyring_t *b);
/* Ids of the installed keys, primary first. Writes min(count, cap) rows; *n_out = count. */
int pd_keyring_list(const pd_keyring_t *kr, pd_keyring_info_t *out, size_t cap, size_t *n_out);
unsigned pd_keyring_count(const pd_keyring_t *kr);
/* The key with this id, or NULL. */
const pd_keyring_key_t *pd_keyring_find(const pd_keyring_t *kr, const uint8_t id[PD_KEYRING_ID_LEN]);
const pd_keyring_key_t *pd_keyring_primary(const pd_keyring_t *kr);

/* The 4-byte id of a key (BLAKE2b with a domain tag, first bytes). */
void pd_keyring_key_id(const uint8_t key[PD_KEYRING_KEY_LEN], uint8_t id_out[PD_KEYRING_ID_LEN]);

/* One key as base64 text. Surrounding whitespace is ignored; anything but exactly 32 decoded bytes
 * is -PD_EMALFORMED. out must hold PD_KEYRING_TEXT_LEN bytes. */
int pd_keyring_key_parse(const char *text, size_t len, uint8_t key_out[PD_KEYRING_KEY_LEN]);
int pd_keyring_key_format(const uint8_t key[PD_KEYRING_KEY_LEN], char *out, size_t cap);
/* Replace the keyring's contents with a key file's (see PD_KEYRING_FILE_MAX); on error the
 * keyring is left unchanged. */
int pd_keyring_load_text(pd_keyring_t *kr, const char *text, size_t len);
/* Write the key file text (primary first, one key per line, NUL-terminated); *len_out excludes
 * the NUL. The caller should sodium_memzero the buffer when done. */
int pd_keyring_save_text(const pd_keyring_t *kr, char *out, size_t cap, size_t *len_out);

#endif
