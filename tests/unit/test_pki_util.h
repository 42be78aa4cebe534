/* Test helper: a node identity (fresh P-256 key, certificate of `role` signed by ca now). */
#ifndef PD_TEST_PKI_UTIL_H
#define PD_TEST_PKI_UTIL_H

#include <time.h>

#include "pki.h"

static inline void test_pki_ident(pd_pki_ca_t *ca, pd_pki_rng_t rng, pd_pki_ident_t *id, const char *node,
                                  pd_pki_role_t role)
{
    char csr[PD_PKI_PEM_MAX], crt[PD_PKI_PEM_MAX];
    size_t csr_len, crt_len;
    const char *why;
    int64_t now = (int64_t)time(NULL);
    pd_pki_ident_init(id);
    assert_int_equal(pd_pki_ident_generate(id, rng), 0);
    assert_int_equal(pd_pki_ident_csr(id, node, rng, csr, sizeof csr, &csr_len), 0);
    assert_int_equal(pd_pki_ca_sign_csr(ca, csr, csr_len, node, role, now, 0, rng, crt, sizeof crt, &crt_len, &why),
                     0);
    assert_int_equal(pd_pki_ident_set_cert(id, ca, crt, crt_len, now, &why), 0);
}

#endif
