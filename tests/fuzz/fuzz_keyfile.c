/* Fuzz the key file parsers and the unlock key text (keyfile.h) over arbitrary bytes. Properties:
 *   - a DEK file that parses either unwraps under the fixed key or fails authentication, and its
 *     wrap mode is one of the two known;
 *   - a KEK file that parses re-encodes to the very same bytes;
 *   - an unlock key that parses formats back to the input without surrounding whitespace, and
 *     that text parses to the same key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyfile.h"
#include "pd_err.h"

static const uint8_t fz_key[PD_SEAL_KEY_LEN] = {7};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t wrap, key[PD_SEAL_KEY_LEN], again[PD_SEAL_KEY_LEN];
    uint64_t ver;
    if (pd_dek_file_parse(data, size, &wrap, &ver) == 0) {
        int rc = pd_dek_file_unwrap(data, size, fz_key, key);
        if ((wrap != PD_DEK_WRAP_KEK && wrap != PD_DEK_WRAP_UNLOCK) || (rc != 0 && rc != -PD_EAUTH))
            abort();
    }
    if (pd_kek_file_parse(data, size, key) == 0) {
        uint8_t out[PD_KEK_FILE_LEN];
        pd_kek_file_encode(out, key);
        if (size != sizeof out || memcmp(out, data, size) != 0)
            abort();
    }
    if (pd_unlock_key_parse((const char *)data, size, key) == 0) {
        char text[PD_UNLOCK_KEY_TEXT_LEN + 1];
        pd_unlock_key_format(key, text);
        if (!memmem(data, size, text, PD_UNLOCK_KEY_TEXT_LEN) ||
            pd_unlock_key_parse(text, strlen(text), again) != 0 || memcmp(key, again, sizeof key) != 0)
            abort();
    }
    return 0;
}
