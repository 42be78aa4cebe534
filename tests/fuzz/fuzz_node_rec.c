/* Fuzz the node record codec (store_node.h): whatever decodes re-encodes, and that encoding decodes
 * to the same record and encodes to the same bytes (one encoding per record). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pd_alloc.h"
#include "pd_assert.h"
#include "store_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pd_node_rec_t r, back;
    if (pd_node_rec_decode(data, size, &r) != 0)
        return 0;
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    PD_ASSERT(pd_node_rec_encode(&r, &a, &alen) == 0);
    PD_ASSERT(pd_node_rec_decode(a, alen, &back) == 0);
    PD_ASSERT(pd_node_rec_encode(&back, &b, &blen) == 0);
    PD_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
    PD_ASSERT(strcmp(r.hostname, back.hostname) == 0 && r.role == back.role && r.avail == back.avail &&
              r.removed == back.removed && r.n_labels == back.n_labels);
    pd_free(a);
    pd_free(b);
    return 0;
}
