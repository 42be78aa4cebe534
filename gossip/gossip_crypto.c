#include "gossip_crypto.h"

#include <sodium.h>
#include <string.h>

#include "pd_assert.h"
#include "pd_err.h"

#define AD_MAX (1 + PD_KEYRING_ID_LEN + PD_GCRYPTO_LABEL_MAX)

int pd_gcrypto_init(pd_gcrypto_t *c, const pd_keyring_t *kr, const char *label, unsigned flags)
{
    PD_ASSERT(c && kr);
    size_t n = label ? strlen(label) : 0;
    if (n > PD_GCRYPTO_LABEL_MAX)
        return -PD_ETOOBIG;
    PD_ASSERT(sodium_init() >= 0);
    memset(c, 0, sizeof *c);
    c->keyring = kr;
    if (n)
        memcpy(c->label, label, n);
    c->label_len = n;
    c->flags = flags;
    return 0;
}

int pd_gcrypto_encrypting(const pd_gcrypto_t *c) { return pd_keyring_count(c->keyring) > 0; }

size_t pd_gcrypto_overhead(const pd_gcrypto_t *c)
{
    return pd_gcrypto_encrypting(c) ? PD_GCRYPTO_OVERHEAD : 2 + c->label_len;
}

void pd_gcrypto_nonce(uint8_t nonce_out[PD_GCRYPTO_NONCE_LEN])
{
    randombytes_buf(nonce_out, PD_GCRYPTO_NONCE_LEN);
}

/* Associated data: the header's version and key id, then the label. */
static size_t build_ad(const pd_gcrypto_t *c, const uint8_t *hdr, uint8_t ad[AD_MAX])
{
    memcpy(ad, hdr, 1 + PD_KEYRING_ID_LEN);
    memcpy(ad + 1 + PD_KEYRING_ID_LEN, c->label, c->label_len);
    return 1 + PD_KEYRING_ID_LEN + c->label_len;
}

static int seal_plain(pd_gcrypto_t *c, const void *pt, size_t pt_len, uint8_t *out, size_t cap,
                      size_t *len_out)
{
    size_t total = 2 + c->label_len + pt_len;
    if (cap < total)
        return -PD_ETOOBIG;
    out[0] = PD_GCRYPTO_VERSION_PLAIN;
    out[1] = (uint8_t)c->label_len;
    memcpy(out + 2, c->label, c->label_len);
    memmove(out + 2 + c->label_len, pt, pt_len);
    c->stats.sealed++;
    *len_out = total;
    return 0;
}

int pd_gcrypto_seal(pd_gcrypto_t *c, const uint8_t *nonce, const void *pt, size_t pt_len, uint8_t *out,
                    size_t cap, size_t *len_out)
{
    PD_ASSERT(c && (pt || pt_len == 0) && out && len_out);
    if (pt_len > PD_GCRYPTO_PAYLOAD_MAX)
        return -PD_ETOOBIG;
    const pd_keyring_key_t *k = pd_keyring_primary(c->keyring);
    if (!k) {
        if (!(c->flags & PD_GCRYPTO_ALLOW_PLAINTEXT))
            return -PD_ESTATE;
        return seal_plain(c, pt, pt_len, out, cap, len_out);
    }
    if (cap < pt_len + PD_GCRYPTO_OVERHEAD)
        return -PD_ETOOBIG;
    out[0] = PD_GCRYPTO_VERSION;
    memcpy(out + 1, k->id, PD_KEYRING_ID_LEN);
    uint8_t *n = out + 1 + PD_KEYRING_ID_LEN;
    if (nonce)
        memcpy(n, nonce, PD_GCRYPTO_NONCE_LEN);
    else
        pd_gcrypto_nonce(n);
    uint8_t ad[AD_MAX];
    size_t ad_len = build_ad(c, out, ad);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + PD_GCRYPTO_HEADER_LEN, &clen, pt, pt_len, ad,
                                               ad_len, NULL, n, k->key);
    c->stats.sealed++;
    *len_out = PD_GCRYPTO_HEADER_LEN + (size_t)clen;
    return 0;
}

static int try_key(const pd_gcrypto_t *c, const pd_keyring_key_t *k, const uint8_t *frame, size_t len,
                   uint8_t *out, size_t *len_out)
{
    uint8_t ad[AD_MAX];
    size_t ad_len = build_ad(c, frame, ad);
    const uint8_t *nonce = frame + 1 + PD_KEYRING_ID_LEN;
    unsigned long long mlen = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, frame + PD_GCRYPTO_HEADER_LEN,
                                                        len - PD_GCRYPTO_HEADER_LEN, ad, ad_len,
                                                        nonce, k->key);
    if (rc != 0)
        return -PD_EAUTH;
    *len_out = (size_t)mlen;
    return 0;
}

/* Key by id first; an unknown id falls back to every key (primary first). */
static int open_sealed(pd_gcrypto_t *c, const uint8_t *frame, size_t len, uint8_t *out,
                       size_t *len_out)
{
    const pd_keyring_key_t *k = pd_keyring_find(c->keyring, frame + 1);
    if (k) {
        if (try_key(c, k, frame, len, out, len_out) == 0)
            return 0;
        c->stats.auth_fail++;
        return -PD_EAUTH;
    }
    unsigned n = pd_keyring_count(c->keyring);
    for (unsigned i = 0; i < n; i++) {
        if (try_key(c, &c->keyring->keys[i], frame, len, out, len_out) == 0)
            return 0;
    }
    c->stats.unknown_key++;
    return -PD_EAUTH;
}

static int open_plain(pd_gcrypto_t *c, const uint8_t *frame, size_t len, uint8_t *out, size_t cap,
                      size_t *len_out)
{
    if (pd_gcrypto_encrypting(c) || !(c->flags & PD_GCRYPTO_ALLOW_PLAINTEXT)) {
        c->stats.plain_refused++;
        return -PD_EMALFORMED;
    }
    if (len < 2 || len < 2u + frame[1]) {
        c->stats.truncated++;
        return -PD_ETRUNCATED;
    }
    if (frame[1] != c->label_len || memcmp(frame + 2, c->label, c->label_len) != 0) {
        c->stats.malformed++;
        return -PD_EAUTH; /* another cluster's traffic */
    }
    size_t n = len - 2 - c->label_len;
    if (cap < n)
        return -PD_ETOOBIG;
    memmove(out, frame + 2 + c->label_len, n);
    *len_out = n;
    return 0;
}

int pd_gcrypto_open(pd_gcrypto_t *c, const void *frame_v, size_t len, uint8_t *out, size_t cap,
                    size_t *len_out)
{
    PD_ASSERT(c && (frame_v || len == 0) && (out || cap == 0) && len_out);
    const uint8_t *frame = frame_v;
    if (len < 1) {
        c->stats.truncated++;
        return -PD_ETRUNCATED;
    }
    if (frame[0] == PD_GCRYPTO_VERSION_PLAIN) {
        int rc = open_plain(c, frame, len, out, cap, len_out);
        if (rc == 0)
            c->stats.opened++;
        return rc;
    }
    if (frame[0] != PD_GCRYPTO_VERSION) {
        c->stats.malformed++;
        return -PD_EVERSION;
    }
    if (len < PD_GCRYPTO_OVERHEAD) {
        c->stats.truncated++;
        return -PD_ETRUNCATED;
    }
    if (len > PD_GCRYPTO_FRAME_MAX) {
        c->stats.malformed++;
        return -PD_ETOOBIG;
    }
    if (cap < len - PD_GCRYPTO_OVERHEAD)
        return -PD_ETOOBIG;
    int rc = open_sealed(c, frame, len, out, len_out);
    if (rc == 0)
        c->stats.opened++;
    return rc;
}
