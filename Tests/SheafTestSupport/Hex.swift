/// Bytes from a hex literal in a test vector (parsed here, not with
/// SheafCrypto's `Hex`, so vectors do not depend on the code under test).
public func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    precondition(digits.count % 2 == 0, "odd hex literal")
    return stride(from: 0, to: digits.count, by: 2).map { i in
        UInt8(String(decoding: digits[i..<(i + 2)], as: UTF8.self), radix: 16)!
    }
}
