/* Fuzz the gossip keyring's decoders: the Raft record (pd_gkr_record_decode), the keyring fetch's
 * request and answer (pd_gkf_req_decode, pd_gkf_resp_decode). Whatever decodes must encode back
 * and decode to the same thing; a decoded ring is never empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gossip_keyfetch.h"
#include "gossip_rotation.h"

static void record(const uint8_t *data, size_t size)
{
    pd_gkr_record_t r, back;
    if (pd_gkr_record_decode(data, size, &r) != 0)
        return;
    uint8_t buf[PD_GKR_RECORD_MAX];
    size_t len = 0;
    if (pd_gkr_record_encode(&r, buf, sizeof buf, &len) != 0 || pd_gkr_record_decode(buf, len, &back) != 0)
        abort();
    if (back.gen != r.gen || back.phase != r.phase || memcmp(back.cur, r.cur, sizeof r.cur) != 0 ||
        (r.phase && memcmp(back.next, r.next, sizeof r.next) != 0))
        abort();
    pd_keyring_t kr;
    if (pd_gkr_ring(&r, &kr) == 0) {
        if (kr.count == 0)
            abort();
        pd_keyring_free(&kr);
    }
}

static void answer(const uint8_t *data, size_t size)
{
    pd_gkf_resp_t r, back;
    if (pd_gkf_resp_decode(data, size, &r) != 0)
        return;
    if (r.rc == 0 && r.ring.count == 0)
        abort();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pd_gkf_resp_encode(&sb, r.rc, r.err, r.gen, r.phase, r.rc ? NULL : &r.ring);
    if (pd_gkf_resp_decode(sb.data, sb.size, &back) != 0 || back.rc != r.rc || back.gen != r.gen ||
        (r.rc == 0 && !pd_keyring_same(&back.ring, &r.ring)))
        abort();
    msgpack_sbuffer_destroy(&sb);
    pd_keyring_free(&r.ring);
    pd_keyring_free(&back.ring);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    record(data, size);
    answer(data, size);
    pd_gkf_req_decode(data, size);
    return 0;
}
