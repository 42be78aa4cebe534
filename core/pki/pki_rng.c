/* The DRBG every pki function draws from: CTR-DRBG (AES-256) with its entropy from libsodium's
 * randombytes in production, or from a seeded pd_rng_t in tests and simulation. */
#include <sodium.h>
#include <string.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pki.h"

static const char personalization[] = "peerd pki drbg v1";

static int entropy_os(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    randombytes_buf(out, len);
    return 0;
}

static int entropy_seeded(void *ctx, unsigned char *out, size_t len)
{
    pd_pki_drbg_t *d = ctx;
    pd_rng_fill(&d->seed_rng, out, len);
    return 0;
}

static int seed(pd_pki_drbg_t *d, int (*entropy)(void *, unsigned char *, size_t))
{
    mbedtls_ctr_drbg_init(&d->drbg);
    /* d is the entropy context: the drbg must not move after this. */
    int rc = mbedtls_ctr_drbg_seed(&d->drbg, entropy, d, (const unsigned char *)personalization,
                                   sizeof personalization - 1);
    if (rc != 0) {
        mbedtls_ctr_drbg_free(&d->drbg);
        return -PD_EINTERNAL;
    }
    return 0;
}

int pd_pki_drbg_init(pd_pki_drbg_t *d)
{
    PD_ASSERT(d);
    PD_ASSERT(sodium_init() >= 0);
    memset(d, 0, sizeof *d);
    d->seeded_from_os = 1;
    return seed(d, entropy_os);
}

int pd_pki_drbg_init_seeded(pd_pki_drbg_t *d, uint64_t s)
{
    PD_ASSERT(d);
    PD_ASSERT(sodium_init() >= 0);
    memset(d, 0, sizeof *d);
    pd_rng_seed(&d->seed_rng, s);
    return seed(d, entropy_seeded);
}

pd_pki_rng_t pd_pki_drbg_rng(pd_pki_drbg_t *d)
{
    pd_pki_rng_t r = {mbedtls_ctr_drbg_random, &d->drbg};
    return r;
}

void pd_pki_drbg_free(pd_pki_drbg_t *d)
{
    if (!d)
        return;
    mbedtls_ctr_drbg_free(&d->drbg); /* zeroizes its state */
    sodium_memzero(&d->seed_rng, sizeof d->seed_rng);
}
