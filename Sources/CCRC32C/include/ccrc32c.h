#ifndef SHEAF_CCRC32C_H
#define SHEAF_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether the CPU computes CRC-32C in hardware (x86-64 SSE4.2).
int sheaf_crc32c_hardware(void);

/// CRC-32C register update over `count` bytes, without the initial and final
/// inversions (the caller applies them). Only when `sheaf_crc32c_hardware()`.
uint32_t sheaf_crc32c_update(uint32_t crc, const void *bytes, size_t count);

#endif
