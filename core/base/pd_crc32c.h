/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI, ext4 and most WALs.
 * Portable slicing-by-8 in software; on x86-64 the SSE4.2 crc32 instruction is used when the CPU
 * has it (checked once at runtime). Both paths give identical results.
 *
 * The running value is the finished CRC, so CRCs compose:
 *   pd_crc32c_extend(pd_crc32c(a, na), b, nb) == pd_crc32c(a ++ b, na + nb). */
#ifndef PD_CRC32C_H
#define PD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of a buffer; pd_crc32c("123456789", 9) == 0xE3069283, pd_crc32c(x, 0) == 0. */
uint32_t pd_crc32c(const void *data, size_t len);
/* Continue a CRC over more bytes (start from 0). */
uint32_t pd_crc32c_extend(uint32_t crc, const void *data, size_t len);
/* The software path alone (tests compare it with the hardware path). */
uint32_t pd_crc32c_extend_sw(uint32_t crc, const void *data, size_t len);
/* 1 when pd_crc32c uses the CPU's crc32 instruction. */
int pd_crc32c_hw_available(void);

#endif
