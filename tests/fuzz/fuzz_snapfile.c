/* Fuzz the snapshot file parser (snapfile.h, pd_snapfile_parse and pd_snapfile_unseal) over
 * arbitrary bytes. Properties: what parses points inside the input (header, membership, data and,
 * when sealed, the nonce and tag all fit exactly); a sealed image opens under the fixed key or fails
 * authentication, never anything else; a plain image is refused by unseal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "seal.h"
#include "snapfile.h"

static const uint8_t fz_key[PD_SEAL_KEY_LEN] = {7};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pd_snapfile_t s;
    const char *why = NULL;
    if (pd_snapfile_parse(data, size, &s, &why) != 0) {
        if (!why)
            abort();
        return 0;
    }
    size_t over = s.sealed ? PD_SEAL_OVERHEAD : 0;
    if (PD_SNAPFILE_HEADER_LEN + over + s.membership_len + s.data_len + PD_SNAPFILE_TRAILER_LEN != size ||
        s.membership < data || s.data + s.data_len > data + size - PD_SNAPFILE_TRAILER_LEN)
        abort();
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    int rc = pd_snapfile_unseal(copy, size, &s, fz_key);
    if (s.sealed ? (rc != 0 && rc != -PD_EAUTH) : rc != -PD_EUSAGE)
        abort();
    free(copy);
    return 0;
}
