// Shim for the system libsodium (Debian: libsodium-dev, 1.0.18 or newer).
#ifndef SHEAF_CSODIUM_SHIM_H
#define SHEAF_CSODIUM_SHIM_H
#include <sodium.h>
#endif
