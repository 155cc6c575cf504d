import SheafCrypto
import SheafSnapshots

/// Whether a space's trust policy lets a node install a manifest.
enum Trust {
    /// Whether deciding on `manifest` needs the members the genesis feed
    /// admitted: not for one the genesis key signed, under `member`.
    static func needsMembers(_ manifest: SnapshotManifest, policy: TrustPolicy, space: PublicKey) -> Bool {
        if case .member = policy, manifest.signer == space { return false }
        return true
    }

    /// `members` are the writers the genesis feed admitted (the genesis key
    /// itself is always a member). Attestations must match the manifest's
    /// space, frontier and root and carry a valid signature to count.
    static func accepts(_ manifest: SnapshotManifest, policy: TrustPolicy, space: PublicKey, members: Set<PublicKey>,
                        attestations: [Attestation], denounced: Set<PublicKey>) -> Bool {
        let isMember = { (key: PublicKey) in key == space || members.contains(key) }
        guard !denounced.contains(manifest.signer), isMember(manifest.signer) else { return false }
        switch policy {
        case .replay:
            return false
        case .member:
            return true
        case .quorum(let k):
            var signers: Set<PublicKey> = [manifest.signer]
            for attestation in attestations where isMember(attestation.signer) && !denounced.contains(attestation.signer)
                && attestation.matches(manifest) && (try? attestation.verify()) != nil {
                signers.insert(attestation.signer)
            }
            return signers.count >= k
        }
    }
}
