/* Fuzz the join RPC's two parsers. The first byte picks the message (even: request, odd: response).
 * A message that decodes must encode and decode again to the same fields (nothing lost, nothing
 * invented); a refusal always comes with a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "join_wire.h"
#include "pd_err.h"

static void req_case(const uint8_t *data, size_t size)
{
    static pd_join_req_t a, b;
    const char *why = NULL;
    if (pd_join_req_decode(data, size, &a, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (pd_join_req_encode(&a, &sb) != 0 || pd_join_req_decode(sb.data, sb.size, &b, &why) != 0)
        abort();
    if (strcmp(a.token, b.token) || strcmp(a.node_id, b.node_id) || strcmp(a.hostname, b.hostname) ||
        strcmp(a.addr, b.addr) || memcmp(a.nonce, b.nonce, sizeof a.nonce) || a.csr_len != b.csr_len ||
        memcmp(a.csr, b.csr, a.csr_len))
        abort();
    msgpack_sbuffer_destroy(&sb);
}

static void resp_case(const uint8_t *data, size_t size)
{
    static pd_join_resp_t a, b;
    const char *why = NULL;
    if (pd_join_resp_decode(data, size, &a, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    if (a.rc > 0 || (a.rc < 0 && !a.err[0]))
        abort();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (pd_join_resp_encode(&a, &sb) != 0 || pd_join_resp_decode(sb.data, sb.size, &b, &why) != 0)
        abort();
    if (a.rc != b.rc || strcmp(a.err, b.err) ||
        (a.rc == 0 && (strcmp(a.node_id, b.node_id) || a.role != b.role || a.n_seeds != b.n_seeds ||
                       a.cert_len != b.cert_len || a.ca_len != b.ca_len || a.keyring_len != b.keyring_len)))
        abort();
    msgpack_sbuffer_destroy(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        resp_case(data + 1, size - 1);
    else
        req_case(data + 1, size - 1);
    return 0;
}
