/* Fuzz the Raft message decoder: arbitrary bytes through pd_raft_wire_decode. Whatever decodes
 * must re-encode, decode again and compare equal (the codec is a bijection on what it accepts). */
#include <stdint.h>
#include <stdlib.h>

#include "pd_alloc.h"
#include "raft_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pd_raft_wire_msg_t a;
    if (pd_raft_wire_decode(data, size, &a) != 0)
        return 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (pd_raft_wire_encode(&a.msg, &buf, &len) != 0)
        abort(); /* everything the decoder accepts must encode */
    pd_raft_wire_msg_t b;
    if (pd_raft_wire_decode(buf, len, &b) != 0)
        abort();
    if (!pd_raft_wire_msg_equal(&a.msg, &b.msg))
        abort();
    pd_raft_wire_msg_free(&b);
    pd_raft_wire_msg_free(&a);
    pd_free(buf);
    return 0;
}
