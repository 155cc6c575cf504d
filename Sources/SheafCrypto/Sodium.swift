import CSodium

/// libsodium is initialised exactly once per process, on first use of any
/// primitive. A Swift global is initialised lazily and thread-safely.
private let sodiumInitResult: Int32 = sodium_init()

@inline(__always)
func ensureSodium() {
    // 0: initialised now; 1: already initialised. -1 means libsodium could not
    // start (no entropy source); nothing in Sheaf can work without it.
    precondition(sodiumInitResult >= 0, "libsodium failed to initialise")
}

/// Fills `count` bytes from the operating system's CSPRNG.
public func secureRandomBytes(_ count: Int) -> [UInt8] {
    ensureSodium()
    var out = [UInt8](repeating: 0, count: count)
    out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
    return out
}
