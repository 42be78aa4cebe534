/* The key files of a manager's Raft data and the unlock key's text form. Pure codecs (no IO).
 *
 * Key hierarchy: the data key (DEK, random, one per manager) seals the WAL records and snapshot
 * files. It is stored wrapped (sealed, seal.h) under either
 *   - the key-encryption key (KEK, random, its own file), or
 *   - the cluster's unlock key when autolock is on (the unlock key itself is never stored by the
 *     manager; peerctl swarm unlock supplies it after a restart).
 *
 * raft/dek  (PD_DEK_FILE_LEN bytes, 0600)
 *   "peerdDEK" | u32 version (1) | u8 wrap (1 KEK, 2 unlock key) | u64 setting version
 *   | nonce 24 | DEK 32 encrypted | tag 16          (the first 21 bytes are associated data)
 *   The setting version is the store version of the autolock setting the file follows.
 * raft/kek  (PD_KEK_FILE_LEN bytes, 0600): "peerdKEK" | u32 version (1) | KEK 32 | u32 crc32c
 * Unlock key text: "PDUNLK-1-" + the 32 bytes in unpadded URL-safe base64 (52 characters). The
 * wrapping key is BLAKE2b(key = unlock key, "peerd dek wrap"), not the unlock key itself. */
#ifndef PD_KEYFILE_H
#define PD_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "seal.h"

#define PD_DEK_FILE_LEN (21u + PD_SEAL_OVERHEAD + PD_SEAL_KEY_LEN)
#define PD_KEK_FILE_LEN 48u
#define PD_UNLOCK_KEY_PREFIX "PDUNLK-1-"
#define PD_UNLOCK_KEY_TEXT_LEN 52u

typedef enum {
    PD_DEK_WRAP_KEK = 1,
    PD_DEK_WRAP_UNLOCK = 2,
} pd_dek_wrap_t;

/* Wrap dek under wrap_key (a KEK, or pd_unlock_wrap_key's output). */
void pd_dek_file_encode(uint8_t out[PD_DEK_FILE_LEN], const uint8_t dek[PD_SEAL_KEY_LEN],
                        const uint8_t wrap_key[PD_SEAL_KEY_LEN], uint8_t wrap, uint64_t setting_version);
/* Check the file's shape: 0 and how it is wrapped, or -PD_ECORRUPT / -PD_EVERSION. */
int pd_dek_file_parse(const uint8_t *buf, size_t len, uint8_t *wrap, uint64_t *setting_version);
/* Unwrap the DEK (after parse): 0, or -PD_EAUTH for a wrong wrapping key or an altered file. */
int pd_dek_file_unwrap(const uint8_t *buf, size_t len, const uint8_t wrap_key[PD_SEAL_KEY_LEN],
                       uint8_t dek[PD_SEAL_KEY_LEN]);

void pd_kek_file_encode(uint8_t out[PD_KEK_FILE_LEN], const uint8_t kek[PD_SEAL_KEY_LEN]);
/* 0, or -PD_ECORRUPT / -PD_EVERSION. */
int pd_kek_file_parse(const uint8_t *buf, size_t len, uint8_t kek[PD_SEAL_KEY_LEN]);

/* out gets PD_UNLOCK_KEY_TEXT_LEN characters and a NUL. */
void pd_unlock_key_format(const uint8_t key[PD_SEAL_KEY_LEN], char out[PD_UNLOCK_KEY_TEXT_LEN + 1]);
/* Surrounding whitespace is ignored. 0, or -PD_EUSAGE (not an unlock key). */
int pd_unlock_key_parse(const char *text, size_t len, uint8_t key[PD_SEAL_KEY_LEN]);
void pd_unlock_wrap_key(const uint8_t unlock[PD_SEAL_KEY_LEN], uint8_t out[PD_SEAL_KEY_LEN]);

#endif
