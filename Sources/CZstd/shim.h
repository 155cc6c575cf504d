// Shim for the system libzstd (Debian: libzstd-dev, 1.5 or newer).
// ZSTD_STATIC_LINKING_ONLY is not defined: only the stable API is used.
#ifndef SHEAF_CZSTD_SHIM_H
#define SHEAF_CZSTD_SHIM_H
#include <zstd.h>
#include <zstd_errors.h>
#endif
