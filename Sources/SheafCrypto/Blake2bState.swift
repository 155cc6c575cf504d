import CSodium

/// libsodium's streaming BLAKE2b state. The C struct is 64-byte aligned and
/// Swift does not import it, so it lives in memory allocated here with that
/// alignment; it is wiped on release because it may have absorbed secrets
/// (HMAC keys).
final class Blake2bState {
    private let state: UnsafeMutableRawPointer
    private let stateSize: Int
    let outputBytes: Int

    /// `personal` is nil or 16 bytes (BLAKE2b's personalization parameter).
    init(outputBytes: Int, personal: [UInt8]?) {
        ensureSodium()
        self.outputBytes = outputBytes
        stateSize = crypto_generichash_blake2b_statebytes()
        state = UnsafeMutableRawPointer.allocate(byteCount: stateSize, alignment: 64)
        if let personal {
            personal.withUnsafeBufferPointer { p in
                _ = crypto_generichash_blake2b_init_salt_personal(
                    OpaquePointer(state), nil, 0, outputBytes, nil, p.baseAddress)
            }
        } else {
            _ = crypto_generichash_blake2b_init(OpaquePointer(state), nil, 0, outputBytes)
        }
    }

    init(copying other: Blake2bState) {
        outputBytes = other.outputBytes
        stateSize = other.stateSize
        state = UnsafeMutableRawPointer.allocate(byteCount: stateSize, alignment: 64)
        // libsodium's BLAKE2b state holds no pointers: a byte copy is a full copy.
        state.copyMemory(from: other.state, byteCount: stateSize)
    }

    deinit {
        sodium_memzero(state, stateSize)
        state.deallocate()
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        _ = crypto_generichash_blake2b_update(
            OpaquePointer(state), bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    /// Writes the digest (`outputBytes` long) into memory bound to UInt8.
    func finalize(into out: UnsafeMutableBufferPointer<UInt8>) {
        precondition(out.count >= outputBytes)
        _ = crypto_generichash_blake2b_final(OpaquePointer(state), out.baseAddress!, outputBytes)
    }
}
