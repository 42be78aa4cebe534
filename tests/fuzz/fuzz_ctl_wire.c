/* Fuzz the control-protocol input path as the daemon runs it: stream bytes split at fuzzed points
 * into the framer, every frame decoded as a request and as a reply. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ctl_wire.h"
#include "pd_assert.h"

static void decode_both(const uint8_t *body, size_t len)
{
    msgpack_unpacked u;
    pd_ctl_request_t req;
    uint64_t id;
    if (pd_ctl_decode_request(body, len, &u, &req, &id) == 0) {
        PD_ASSERT(req.op[0] != '\0' && strlen(req.op) <= PD_CTL_OP_MAX);
        PD_ASSERT(req.args == NULL || req.args->type == MSGPACK_OBJECT_MAP);
        msgpack_unpacked_destroy(&u);
    }
    pd_ctl_reply_t rep;
    if (pd_ctl_decode_reply(body, len, &u, &rep) == 0) {
        PD_ASSERT(rep.ok || rep.code < 0);
        msgpack_unpacked_destroy(&u);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1; /* split the stream like short socket reads */
    data++;
    size--;
    pd_ctl_framer_t f;
    pd_ctl_framer_init(&f, 64 * 1024);
    for (size_t off = 0; off < size;) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (pd_ctl_framer_feed(&f, data + off, n) != 0)
            break;
        off += n;
        const uint8_t *body;
        size_t blen;
        int rc;
        while ((rc = pd_ctl_framer_next(&f, &body, &blen)) == 1)
            decode_both(body, blen);
        if (rc < 0)
            break;
    }
    pd_ctl_framer_free(&f);
    /* The whole input as one body too, to reach the decoders without valid framing. */
    decode_both(data, size);
    return 0;
}
