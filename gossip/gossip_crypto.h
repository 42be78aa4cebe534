/* Encrypted gossip frames (UDP packets and TCP push/pull bodies). Sans-IO: bytes in, bytes out.
 *
 *   encrypted (version 0x01):  ver[1] key_id[4] nonce[24] ciphertext[n] tag[16]
 *       XChaCha20-Poly1305-IETF; associated data = ver || key_id || cluster label, so a frame
 *       from another cluster (label) or with an edited header fails authentication.
 *   plaintext (version 0xF0, debugging only): ver[1] label_len[1] label[label_len] payload[n]
 *       Only produced and accepted with PD_GCRYPTO_ALLOW_PLAINTEXT and an empty keyring; a node
 *       with keys refuses such frames (counted).
 *
 * Open checks the version and minimum size before anything else, then picks the key by id
 * (primary first, then secondaries); an unknown id is tried against every key so a sender whose
 * id scheme differs still works. Every failure is counted in pd_gcrypto_stats_t. */
#ifndef PD_GOSSIP_CRYPTO_H
#define PD_GOSSIP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "gossip_keyring.h"

#define PD_GCRYPTO_VERSION 0x01
#define PD_GCRYPTO_VERSION_PLAIN 0xF0
#define PD_GCRYPTO_NONCE_LEN 24
#define PD_GCRYPTO_TAG_LEN 16
#define PD_GCRYPTO_HEADER_LEN (1 + PD_KEYRING_ID_LEN + PD_GCRYPTO_NONCE_LEN)
#define PD_GCRYPTO_OVERHEAD (PD_GCRYPTO_HEADER_LEN + PD_GCRYPTO_TAG_LEN)
#define PD_GCRYPTO_LABEL_MAX 255
/* Largest plaintext a frame may carry (a TCP push/pull state; UDP packets are far smaller). */
#define PD_GCRYPTO_PAYLOAD_MAX (8u * 1024u * 1024u)
#define PD_GCRYPTO_FRAME_MAX (PD_GCRYPTO_PAYLOAD_MAX + PD_GCRYPTO_OVERHEAD)

enum {
    PD_GCRYPTO_ALLOW_PLAINTEXT = 1 << 0, /* debugging only: never with keys installed */
};

typedef struct {
    uint64_t sealed;
    uint64_t opened;       /* frames that authenticated (or plaintext frames accepted) */
    uint64_t auth_fail;    /* key id known, MAC failed */
    uint64_t unknown_key;  /* key id unknown and no installed key opened it */
    uint64_t malformed;    /* bad version, too big, wrong label in a plaintext frame */
    uint64_t truncated;    /* shorter than the fixed overhead */
    uint64_t plain_refused;/* plaintext frame while encryption is on (or not allowed) */
} pd_gcrypto_stats_t;

/* Borrowed keyring and label: both must outlive the context. The keyring may change between
 * calls (install/use/remove); an empty keyring means "no encryption" and then only plaintext
 * mode (if allowed) works. */
typedef struct {
    const pd_keyring_t *keyring;
    uint8_t label[PD_GCRYPTO_LABEL_MAX];
    size_t label_len;
    unsigned flags;
    pd_gcrypto_stats_t stats;
} pd_gcrypto_t;

/* label may be NULL/"" (no label); -PD_ETOOBIG above PD_GCRYPTO_LABEL_MAX. */
int pd_gcrypto_init(pd_gcrypto_t *c, const pd_keyring_t *kr, const char *label, unsigned flags);
/* True when frames are sealed with a key (keyring non-empty). */
int pd_gcrypto_encrypting(const pd_gcrypto_t *c);
/* Bytes a sealed frame adds to its payload in the current mode. */
size_t pd_gcrypto_overhead(const pd_gcrypto_t *c);

/* Seal `pt` under the primary key into out[0..cap). `nonce` is 24 bytes the caller drew (from
 * pd_gcrypto_nonce in production, from a seeded rng in tests and the simulator); NULL draws one
 * from the OS. In plaintext mode the nonce is unused. -PD_ESTATE if there is no key and plaintext
 * is not allowed; -PD_ETOOBIG if the payload or output buffer is too big/small. */
int pd_gcrypto_seal(pd_gcrypto_t *c, const uint8_t *nonce, const void *pt, size_t pt_len, uint8_t *out,
                    size_t cap, size_t *len_out);
/* Authenticate and decrypt a frame into out[0..cap) (cap >= len - overhead suffices). Errors:
 * -PD_ETRUNCATED, -PD_EVERSION, -PD_ETOOBIG, -PD_EAUTH (bad MAC, unknown key, wrong label),
 * -PD_EMALFORMED (plaintext refused or bad plaintext header). out is garbage on error. */
int pd_gcrypto_open(pd_gcrypto_t *c, const void *frame, size_t len, uint8_t *out, size_t cap,
                    size_t *len_out);

/* A fresh random nonce from the OS CSPRNG (random 192-bit nonces never collide in practice). */
void pd_gcrypto_nonce(uint8_t nonce_out[PD_GCRYPTO_NONCE_LEN]);

#endif
