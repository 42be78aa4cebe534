/* Join tokens: "PDTKN-1-<CA digest, 50 base36>-<secret, 25 base36>". The digest pins the CA for
 * the joiner; the secret proves to the manager which role the joiner may take. */
#include <sodium.h>
#include <string.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pki_internal.h"

static const char prefix[] = "PDTKN-";
static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";

/* Fixed-width base36 of a big-endian number: `chars` digits, leading zeros kept. */
static void b36_encode(const uint8_t *in, size_t n, char *out, size_t chars)
{
    uint8_t work[PD_PKI_DIGEST_LEN];
    PD_ASSERT(n <= sizeof work);
    memcpy(work, in, n);
    for (size_t i = chars; i-- > 0;) {
        unsigned rem = 0;
        for (size_t j = 0; j < n; j++) {
            unsigned cur = rem * 256u + work[j];
            work[j] = (uint8_t)(cur / 36u);
            rem = cur % 36u;
        }
        out[i] = alphabet[rem];
    }
    sodium_memzero(work, sizeof work);
}

static int b36_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    return -1;
}

/* Exactly `chars` digits into an n-byte big-endian number; a value that does not fit is refused, so
 * every number has one spelling. */
static int b36_decode(const char *s, size_t chars, uint8_t *out, size_t n)
{
    uint8_t work[PD_PKI_DIGEST_LEN] = {0};
    PD_ASSERT(n <= sizeof work);
    int rc = 0;
    for (size_t i = 0; i < chars && rc == 0; i++) {
        int d = b36_digit(s[i]);
        unsigned carry = d < 0 ? 0 : (unsigned)d;
        for (size_t j = n; j-- > 0;) {
            unsigned cur = work[j] * 36u + carry;
            work[j] = (uint8_t)cur;
            carry = cur >> 8;
        }
        if (d < 0 || carry != 0)
            rc = -PD_EMALFORMED;
    }
    if (rc == 0)
        memcpy(out, work, n);
    sodium_memzero(work, sizeof work);
    return rc;
}

int pd_pki_token_generate(pd_pki_token_t *t, const uint8_t ca_digest[PD_PKI_DIGEST_LEN], pd_pki_rng_t rng)
{
    PD_ASSERT(t && ca_digest && rng.fn);
    memcpy(t->ca_digest, ca_digest, PD_PKI_DIGEST_LEN);
    return rng.fn(rng.ctx, t->secret, sizeof t->secret) == 0 ? 0 : -PD_EINTERNAL;
}

int pd_pki_token_format(const pd_pki_token_t *t, char *out, size_t cap)
{
    PD_ASSERT(t && out);
    if (cap < PD_PKI_TOKEN_LEN + 1)
        return -PD_ETOOBIG;
    char *p = out;
    memcpy(p, prefix, sizeof prefix - 1);
    p += sizeof prefix - 1;
    *p++ = '1';
    *p++ = '-';
    b36_encode(t->ca_digest, PD_PKI_DIGEST_LEN, p, PD_PKI_TOKEN_DIGEST_CHARS);
    p += PD_PKI_TOKEN_DIGEST_CHARS;
    *p++ = '-';
    b36_encode(t->secret, PD_PKI_TOKEN_SECRET_LEN, p, PD_PKI_TOKEN_SECRET_CHARS);
    p += PD_PKI_TOKEN_SECRET_CHARS;
    *p = '\0';
    return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* The version field: decimal digits up to the next '-'. */
static int parse_version(const char **s, const char *end, const char **why)
{
    const char *p = *s;
    unsigned v = 0;
    size_t n = 0;
    for (; p < end && *p >= '0' && *p <= '9' && n < 6; p++, n++)
        v = v * 10u + (unsigned)(*p - '0');
    /* one spelling per version: no leading zeros, so a parsed token formats back to its input */
    if (n == 0 || n == 6 || p == end || *p != '-' || (n > 1 && **s == '0')) {
        *why = "malformed join token version field";
        return -PD_EMALFORMED;
    }
    if (v != 1) {
        *why = "unsupported join token version (this peerd understands version 1)";
        return -PD_EVERSION;
    }
    *s = p + 1;
    return 0;
}

int pd_pki_token_parse(pd_pki_token_t *t, const char *s, size_t len, const char **why)
{
    PD_ASSERT(t && why);
    if (!s || len > PD_PKI_TOKEN_INPUT_MAX) {
        *why = "join token too long";
        return -PD_EMALFORMED;
    }
    const char *end = s + len;
    while (s < end && is_space(*s))
        s++;
    while (end > s && is_space(end[-1]))
        end--;
    if ((size_t)(end - s) < sizeof prefix - 1 || memcmp(s, prefix, sizeof prefix - 1) != 0) {
        *why = "not a peerd join token (expected PDTKN-1-...)";
        return -PD_EMALFORMED;
    }
    s += sizeof prefix - 1;
    int rc = parse_version(&s, end, why);
    if (rc != 0)
        return rc;
    pd_pki_token_t tok;
    const char *dash = memchr(s, '-', (size_t)(end - s));
    if (!dash || dash - s != PD_PKI_TOKEN_DIGEST_CHARS ||
        b36_decode(s, PD_PKI_TOKEN_DIGEST_CHARS, tok.ca_digest, PD_PKI_DIGEST_LEN) != 0) {
        *why = "bad CA digest in join token (expected 50 characters of [0-9a-z])";
        return -PD_EMALFORMED;
    }
    s = dash + 1;
    if (end - s != PD_PKI_TOKEN_SECRET_CHARS ||
        b36_decode(s, PD_PKI_TOKEN_SECRET_CHARS, tok.secret, PD_PKI_TOKEN_SECRET_LEN) != 0) {
        *why = "bad secret in join token (expected 25 characters of [0-9a-z])";
        sodium_memzero(&tok, sizeof tok);
        return -PD_EMALFORMED;
    }
    *t = tok;
    sodium_memzero(&tok, sizeof tok);
    return 0;
}

int pd_pki_token_pins_ca(const pd_pki_token_t *t, const pd_pki_ca_t *ca, const char **why)
{
    PD_ASSERT(t && ca && why);
    if (ca->crt.raw.len == 0 || sodium_memcmp(t->ca_digest, ca->digest, PD_PKI_DIGEST_LEN) != 0) {
        *why = "the manager's CA does not match the join token: a token of another cluster, or an "
               "impostor manager";
        return -PD_EAUTH;
    }
    return 0;
}

static int secret_is(const pd_pki_token_t *presented, const pd_pki_token_t *current)
{
    return current && sodium_memcmp(presented->secret, current->secret, PD_PKI_TOKEN_SECRET_LEN) == 0;
}

int pd_pki_token_check(const pd_pki_token_t *presented, const uint8_t ca_digest[PD_PKI_DIGEST_LEN],
                       const pd_pki_token_t *worker, const pd_pki_token_t *manager, pd_pki_role_t *role,
                       const char **why)
{
    PD_ASSERT(presented && ca_digest && role && why);
    if (sodium_memcmp(presented->ca_digest, ca_digest, PD_PKI_DIGEST_LEN) != 0) {
        *why = "join token is for another cluster (CA digest mismatch)";
        return -PD_EAUTH;
    }
    /* Both compared every time, so the timing does not say which role a guess came close to. */
    int is_worker = secret_is(presented, worker);
    int is_manager = secret_is(presented, manager);
    if (is_worker) {
        *role = PD_PKI_ROLE_WORKER; /* least privilege if both ever matched */
        return 0;
    }
    if (is_manager) {
        *role = PD_PKI_ROLE_MANAGER;
        return 0;
    }
    *why = "invalid join token (wrong, or rotated since it was issued)";
    return -PD_EAUTH;
}

void pd_pki_token_wipe(pd_pki_token_t *t)
{
    if (t)
        sodium_memzero(t, sizeof *t);
}
