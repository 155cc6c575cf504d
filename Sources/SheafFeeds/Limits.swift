/// Size limits of the feed formats. Every decoder checks these before it
/// allocates; docs/FORMATS.md lists them.
public enum FeedLimits {
    /// Largest payload of one entry: 1 MiB.
    public static let maxPayloadBytes = 1 << 20
    /// Most causal dependencies one entry may name.
    public static let maxDependencies = 64
    /// Largest encoded entry body: payload plus every header at its largest.
    public static let maxEntryBodyBytes = maxPayloadBytes + 3 * 10 + 32 + 10 + maxDependencies * (32 + 10) + 10
    /// Most feeds a frontier may list.
    public static let maxFrontierFeeds = 1 << 16
    /// Most entries in one encoded range (a wire message or a log batch).
    public static let maxRangeEntries = 1 << 20
}

/// Domains that separate Sheaf's uses of BLAKE2b and Ed25519.
public enum FeedDomains {
    // Hash domains are BLAKE2b personalisation strings (at most 16 bytes).
    /// Hash of an entry body.
    public static let entry = HashDomain("sheaf/entry/v1")
    /// The "previous hash" of a feed's first entry: binds the chain to its key.
    public static let feedRoot = HashDomain("sheaf/feedroot")
    /// Signature over (feed, seq, entry hash).
    public static let signedHead = SignatureDomain("signed-head/v1")
}

import SheafCrypto
