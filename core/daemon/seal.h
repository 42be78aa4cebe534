/* Sealing at rest: XChaCha20-Poly1305 (libsodium) over a byte range, in place, with the nonce in
 * front and the tag behind it. Pure (no IO); the nonce comes from a sealer:
 *
 *   nonce = 16 random bytes drawn when the sealer is made | u64 counter (big-endian), +1 per seal
 *
 * so a sealer never repeats a nonce, and two sealers (two opens of a WAL, two snapshots) differ in
 * their random prefix (a collision needs ~2^64 sealers). No per-seal randomness or allocation.
 *
 *   sealed = nonce (24) | ciphertext (len) | tag (16)            PD_SEAL_OVERHEAD = 40 bytes
 *
 * The associated data (ad) binds the sealed bytes to their context (a record's type, a file's
 * header); opening with other ad fails like tampering. */
#ifndef PD_SEAL_H
#define PD_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define PD_SEAL_KEY_LEN 32u
#define PD_SEAL_NONCE_LEN 24u
#define PD_SEAL_TAG_LEN 16u
#define PD_SEAL_OVERHEAD (PD_SEAL_NONCE_LEN + PD_SEAL_TAG_LEN)

typedef struct {
    uint8_t key[PD_SEAL_KEY_LEN];
    uint8_t prefix[16];
    uint64_t counter;
} pd_sealer_t;

/* A sealer for key with a fresh random prefix. */
void pd_sealer_init(pd_sealer_t *s, const uint8_t key[PD_SEAL_KEY_LEN]);
/* Zero the key. */
void pd_sealer_wipe(pd_sealer_t *s);
/* buf holds len + PD_SEAL_OVERHEAD bytes with the plaintext at buf + PD_SEAL_NONCE_LEN: writes the
 * nonce at buf, encrypts the plaintext in place and writes the tag after it. */
void pd_seal(pd_sealer_t *s, const uint8_t *ad, size_t ad_len, uint8_t *buf, size_t len);
/* Check sealed[sealed_len] (nonce | ciphertext | tag) without decrypting. 0 or -PD_EAUTH (also for
 * sealed_len < PD_SEAL_OVERHEAD). */
int pd_seal_verify(const uint8_t key[PD_SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                   const uint8_t *sealed, size_t sealed_len);
/* Check and decrypt into out (sealed_len - PD_SEAL_OVERHEAD bytes; out may be sealed +
 * PD_SEAL_NONCE_LEN to open in place). 0, or -PD_EAUTH and out holds no plaintext (libsodium
 * zeroes it). */
int pd_seal_open(const uint8_t key[PD_SEAL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                 const uint8_t *sealed, size_t sealed_len, uint8_t *out);

#endif
