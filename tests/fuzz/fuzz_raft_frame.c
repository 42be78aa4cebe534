/* Fuzz the Raft transport input path as the daemon runs it: stream bytes through the length-prefix
 * framer, each body through the frame parser, then the payload by type (raft_wire message, forward
 * request, forward response). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ctl_wire.h"
#include "pd_assert.h"
#include "raft_transport.h"
#include "raft_wire.h"

static void body(const uint8_t *b, size_t len)
{
    pd_rt_frame_t f;
    if (pd_rt_frame_parse(b, len, &f) != 0)
        return;
    PD_ASSERT(f.from != 0 && f.to != 0 && f.len == len - PD_RT_HDR_LEN);
    if (f.type == PD_RT_RAFT) {
        pd_raft_wire_msg_t w;
        if (pd_raft_wire_decode(f.payload, f.len, &w) == 0)
            pd_raft_wire_msg_free(&w);
    } else if (f.type == PD_RT_FWD_REQ) {
        pd_rt_fwd_req_t q;
        if (pd_rt_fwd_req_parse(f.payload, f.len, &q) == 0)
            PD_ASSERT(q.len + PD_RT_FWD_REQ_FIXED == f.len);
    } else {
        pd_rt_fwd_resp_t a;
        if (pd_rt_fwd_resp_parse(f.payload, f.len, &a) == 0)
            PD_ASSERT(a.rc <= 0 && a.text_len <= PD_RT_ERRTEXT_MAX);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] % (size + 1); /* feed in two pieces, like two reads */
    pd_ctl_framer_t fr;
    pd_ctl_framer_init(&fr, 1u << 20);
    const uint8_t *b;
    size_t len;
    int rc = pd_ctl_framer_feed(&fr, data + 1, split > size - 1 ? size - 1 : split);
    while (rc == 0 && pd_ctl_framer_next(&fr, &b, &len) == 1)
        body(b, len);
    if (rc == 0 && split < size - 1)
        rc = pd_ctl_framer_feed(&fr, data + 1 + split, size - 1 - split);
    while (rc == 0 && pd_ctl_framer_next(&fr, &b, &len) == 1)
        body(b, len);
    pd_ctl_framer_free(&fr);
    return 0;
}
