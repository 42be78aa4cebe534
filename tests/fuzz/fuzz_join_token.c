/* Fuzz the join token parser: arbitrary text through pd_pki_token_parse. A token that parses must
 * format back to exactly its input (less surrounding whitespace): one spelling per token. Inputs
 * starting with 0xA5 are instead taken as a raw token (digest + secret) that must survive
 * format → parse unchanged; then the role check runs on it against fixed current tokens. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pki.h"

#define RAW_MARK 0xA5

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void check_roles(const pd_pki_token_t *t)
{
    pd_pki_token_t worker, manager;
    memset(&worker, 0x11, sizeof worker);
    memset(&manager, 0x22, sizeof manager);
    memcpy(worker.ca_digest, t->ca_digest, PD_PKI_DIGEST_LEN);
    memcpy(manager.ca_digest, t->ca_digest, PD_PKI_DIGEST_LEN);
    pd_pki_role_t role = PD_PKI_ROLE_NONE;
    const char *why = NULL;
    int rc = pd_pki_token_check(t, t->ca_digest, &worker, &manager, &role, &why);
    int expect_worker = memcmp(t->secret, worker.secret, PD_PKI_TOKEN_SECRET_LEN) == 0;
    int expect_manager = memcmp(t->secret, manager.secret, PD_PKI_TOKEN_SECRET_LEN) == 0;
    if ((rc == 0) != (expect_worker || expect_manager))
        abort();
    if (rc != 0 && !why)
        abort();
}

static void raw_round_trip(const uint8_t *data, size_t size)
{
    pd_pki_token_t t, back;
    memset(&t, 0, sizeof t);
    memcpy(&t, data, size < sizeof t ? size : sizeof t);
    char s[PD_PKI_TOKEN_LEN + 1];
    const char *why = NULL;
    if (pd_pki_token_format(&t, s, sizeof s) != 0 || strlen(s) != PD_PKI_TOKEN_LEN)
        abort();
    if (pd_pki_token_parse(&back, s, strlen(s), &why) != 0 || memcmp(&back, &t, sizeof t) != 0)
        abort();
    check_roles(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == RAW_MARK) {
        raw_round_trip(data + 1, size - 1);
        return 0;
    }
    pd_pki_token_t t;
    const char *why = NULL;
    int rc = pd_pki_token_parse(&t, (const char *)data, size, &why);
    if (rc != 0) {
        if (!why || (rc != -PD_EMALFORMED && rc != -PD_EVERSION))
            abort();
        return 0;
    }
    size_t lo = 0, hi = size;
    while (lo < hi && is_space(data[lo]))
        lo++;
    while (hi > lo && is_space(data[hi - 1]))
        hi--;
    char s[PD_PKI_TOKEN_LEN + 1];
    if (pd_pki_token_format(&t, s, sizeof s) != 0 || hi - lo != PD_PKI_TOKEN_LEN ||
        memcmp(s, data + lo, PD_PKI_TOKEN_LEN) != 0)
        abort();
    check_roles(&t);
    return 0;
}
