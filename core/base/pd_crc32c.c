#include "pd_crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <nmmintrin.h>
#define PD_CRC32C_X86 1
#endif

#define POLY 0x82F63B78u /* CRC-32C, reflected */

static uint32_t table[8][256]; /* table[k][b]: CRC of byte b followed by k zero bytes */
static int hw;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
        table[0][b] = c;
    }
    for (int k = 1; k < 8; k++) {
        for (uint32_t b = 0; b < 256; b++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xffu];
    }
#ifdef PD_CRC32C_X86
    __builtin_cpu_init();
    hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t sw_update(uint32_t c, const uint8_t *p, size_t len)
{
    while (len && ((uintptr_t)p & 7u)) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xffu];
        len--;
    }
    while (len >= 8) {
        uint32_t lo = c ^ load_le32(p), hi = load_le32(p + 4);
        c = table[7][lo & 0xffu] ^ table[6][(lo >> 8) & 0xffu] ^ table[5][(lo >> 16) & 0xffu] ^
            table[4][lo >> 24] ^ table[3][hi & 0xffu] ^ table[2][(hi >> 8) & 0xffu] ^
            table[1][(hi >> 16) & 0xffu] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xffu];
    return c;
}

#ifdef PD_CRC32C_X86
__attribute__((target("sse4.2"))) static uint32_t hw_update(uint32_t c, const uint8_t *p, size_t len)
{
    while (len && ((uintptr_t)p & 7u)) {
        c = _mm_crc32_u8(c, *p++);
        len--;
    }
    uint64_t c64 = c;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, sizeof v); /* aligned here; memcpy keeps UBSan and strict aliasing happy */
        c64 = _mm_crc32_u64(c64, v);
        p += 8;
        len -= 8;
    }
    c = (uint32_t)c64;
    while (len--)
        c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif

uint32_t pd_crc32c_extend_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&once, init_tables);
    return ~sw_update(~crc, data, len);
}

uint32_t pd_crc32c_extend(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&once, init_tables);
#ifdef PD_CRC32C_X86
    if (hw)
        return ~hw_update(~crc, data, len);
#endif
    return ~sw_update(~crc, data, len);
}

uint32_t pd_crc32c(const void *data, size_t len) { return pd_crc32c_extend(0, data, len); }

int pd_crc32c_hw_available(void)
{
    pthread_once(&once, init_tables);
    return hw;
}
