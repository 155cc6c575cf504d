import SheafCodec
import SheafCrypto
import SheafFeeds

/// What a snapshot's chunks hold.
public enum SnapshotContent: UInt8, Hashable, Sendable {
    /// The model's records: loading installs them.
    case records = 1
    /// The model's ops in (Lamport, feed, seq) order, for models that cannot
    /// encode their state: loading replays them.
    case entries = 2
}

/// The signed description of a snapshot: which space and model, exactly
/// which entries it contains (the frontier), the state root, and the chunks.
///
/// Layout (docs/FORMATS.md): magic `sheafsnp` ‖ u32 version ‖ space ‖ model
/// name ‖ u32 model version ‖ u8 content ‖ frontier ‖ bytes metadata ‖ state root ‖ varint
/// record count ‖ varint leaf count ‖ varint raw bytes ‖ varint compressed
/// bytes ‖ varint n ‖ n × (id ‖ varint raw ‖ varint compressed ‖ varint
/// leaves) ‖ varint created (ms) ‖ signer ‖ signature. The signature covers
/// every byte before it.
public struct SnapshotManifest: Hashable, Sendable {
    public static let magic = Array("sheafsnp".utf8)
    public static let formatVersion: UInt32 = 1

    public var space: PublicKey
    public var model: String
    public var modelVersion: UInt32
    public var content: SnapshotContent
    public var frontier: Frontier
    /// Replica metadata (admission state), covered by the state root.
    public var metadata: [UInt8]
    public var stateRoot: Hash
    public var recordCount: UInt64
    public var leafCount: UInt64
    public var rawBytes: UInt64
    public var compressedBytes: UInt64
    public var index: [IndexChunkRef]
    public var createdAt: UInt64
    public var signer: PublicKey
    public var signature: Signature

    /// Fills in everything and signs with `keyPair`.
    public init(space: PublicKey, model: String, modelVersion: UInt32, content: SnapshotContent, frontier: Frontier,
                built: BuiltSnapshot, createdAt: UInt64, signedBy keyPair: KeyPair) {
        self.space = space
        self.model = model
        self.modelVersion = modelVersion
        self.content = content
        self.frontier = frontier
        metadata = built.metadata
        stateRoot = built.stateRoot
        recordCount = built.layout.recordCount
        leafCount = UInt64(built.layout.leaves.count)
        rawBytes = built.layout.rawBytes
        compressedBytes = built.layout.compressedBytes + UInt64(built.indexBytes)
        index = built.index
        self.createdAt = createdAt
        signer = keyPair.publicKey
        signature = Signature(r: .zero, s: .zero)
        signature = keyPair.sign(signedBody, domain: SnapshotDomains.manifest)
    }

    /// Every byte before the signature.
    public var signedBody: [UInt8] {
        var writer = ByteWriter(capacity: 256 + index.count * 48 + frontier.heads.count * 72)
        writer.writeRaw(Self.magic)
        writer.writeUInt32(Self.formatVersion)
        space.encode(into: &writer)
        writer.writeLengthPrefixed(Array(model.utf8))
        writer.writeUInt32(modelVersion)
        writer.writeUInt8(content.rawValue)
        frontier.encode(into: &writer)
        writer.writeLengthPrefixed(metadata)
        stateRoot.encode(into: &writer)
        writer.writeVarint(recordCount)
        writer.writeVarint(leafCount)
        writer.writeVarint(rawBytes)
        writer.writeVarint(compressedBytes)
        writer.writeVarint(UInt64(index.count))
        for ref in index {
            ref.id.encode(into: &writer)
            writer.writeVarint(UInt64(ref.rawSize))
            writer.writeVarint(UInt64(ref.compressedSize))
            writer.writeVarint(UInt64(ref.leafCount))
        }
        writer.writeVarint(createdAt)
        signer.encode(into: &writer)
        return writer.bytes
    }

    public var encoded: [UInt8] { signedBody + signature.bytes }

    /// Signs the manifest as it now stands (after editing a field) with `keyPair`.
    public mutating func sign(with keyPair: KeyPair) {
        signer = keyPair.publicKey
        signature = keyPair.sign(signedBody, domain: SnapshotDomains.manifest)
    }

    /// Content address of this manifest (of its full bytes).
    public var id: Hash { Hash.of(encoded, domain: SnapshotDomains.manifestID) }

    public func verifySignature() throws(SnapshotError) {
        do { try signer.verify(signature, over: signedBody, domain: SnapshotDomains.manifest) } catch {
            throw SnapshotError(.badSignature)
        }
    }

    /// Decodes and checks the manifest's own consistency (not its signature:
    /// see `verifySignature`, and the trust policy of the space).
    public init(decoding bytes: [UInt8]) throws(SnapshotError) {
        guard bytes.count <= SnapshotLimits.maxManifestBytes else { throw SnapshotError(.overLimit("manifest of \(bytes.count) bytes")) }
        do throws(DecodingError) {
            var reader = ByteReader(bytes)
            guard Array(try reader.readRaw("manifest.magic", count: 8)) == Self.magic else {
                throw DecodingError(.invalidValue, at: 0, field: "manifest.magic")
            }
            let version = try reader.readUInt32("manifest.version")
            guard version == Self.formatVersion else {
                throw DecodingError(.invalidValue, at: 8, field: "manifest.version", detail: "unsupported format \(version)")
            }
            space = try PublicKey(from: &reader)
            let nameOffset = reader.offset
            guard let name = String(validating: try reader.readLengthPrefixed("manifest.model", limit: 64), as: UTF8.self), !name.isEmpty else {
                throw DecodingError(.invalidValue, at: nameOffset, field: "manifest.model")
            }
            model = name
            modelVersion = try reader.readUInt32("manifest.modelVersion")
            let contentOffset = reader.offset
            guard let content = SnapshotContent(rawValue: try reader.readUInt8("manifest.content")) else {
                throw DecodingError(.invalidValue, at: contentOffset, field: "manifest.content")
            }
            self.content = content
            frontier = try Frontier(from: &reader)
            metadata = try reader.readLengthPrefixed("manifest.metadata", limit: SnapshotLimits.maxMetadataBytes)
            stateRoot = try Hash(from: &reader)
            recordCount = try reader.readVarint("manifest.recordCount", in: 0...SnapshotLimits.maxRecords)
            leafCount = try reader.readVarint("manifest.leafCount", in: 0...SnapshotLimits.maxRecords)
            rawBytes = try reader.readVarint("manifest.rawBytes")
            compressedBytes = try reader.readVarint("manifest.compressedBytes")
            let count = try reader.readCount("manifest.index", limit: SnapshotLimits.maxIndexChunks, minElementSize: 35)
            var index = [IndexChunkRef]()
            index.reserveCapacity(count)
            for _ in 0..<count {
                let id = try Hash(from: &reader)
                let raw = try reader.readVarint("manifest.index.raw", in: 1...UInt64(SnapshotLimits.maxChunkRawBytes))
                let compressed = try reader.readVarint("manifest.index.compressed", in: 1...UInt64(SnapshotLimits.maxChunkCompressedBytes))
                let leaves = try reader.readVarint("manifest.index.leaves", in: 1...UInt64(SnapshotLimits.maxLeavesPerIndexChunk))
                index.append(IndexChunkRef(id: id, rawSize: Int(raw), compressedSize: Int(compressed), leafCount: Int(leaves)))
            }
            self.index = index
            createdAt = try reader.readVarint("manifest.createdAt")
            signer = try PublicKey(from: &reader)
            signature = try Signature(from: &reader)
            try reader.expectEnd("manifest")
        } catch {
            throw SnapshotError(.malformed(error))
        }
        let listed = index.reduce(UInt64(0)) { $0 + UInt64($1.leafCount) }
        guard listed == leafCount else { throw SnapshotError(.inconsistent("index lists \(listed) leaves, manifest says \(leafCount)")) }
        guard (recordCount == 0) == (leafCount == 0), leafCount <= recordCount else {
            throw SnapshotError(.inconsistent("\(recordCount) records in \(leafCount) leaves"))
        }
    }
}

/// A member's signature over (space, model, frontier, state root): "I derived
/// this state from exactly these entries". Deterministic models make honest
/// members attest the same root, so k matching attestations are a quorum.
///
/// Layout: space ‖ model name ‖ u32 version ‖ frontier ‖ state root ‖ signer ‖ signature.
public struct Attestation: Hashable, Sendable {
    public var space: PublicKey
    public var model: String
    public var modelVersion: UInt32
    public var frontier: Frontier
    public var stateRoot: Hash
    public var signer: PublicKey
    public var signature: Signature

    public init(space: PublicKey, model: String, modelVersion: UInt32, frontier: Frontier, stateRoot: Hash, signedBy keyPair: KeyPair) {
        self.space = space
        self.model = model
        self.modelVersion = modelVersion
        self.frontier = frontier
        self.stateRoot = stateRoot
        signer = keyPair.publicKey
        signature = Signature(r: .zero, s: .zero)
        signature = keyPair.sign(signedBody, domain: SnapshotDomains.attestation)
    }

    var signedBody: [UInt8] {
        var writer = ByteWriter()
        space.encode(into: &writer)
        writer.writeLengthPrefixed(Array(model.utf8))
        writer.writeUInt32(modelVersion)
        frontier.encode(into: &writer)
        stateRoot.encode(into: &writer)
        signer.encode(into: &writer)
        return writer.bytes
    }

    public var encoded: [UInt8] { signedBody + signature.bytes }

    /// Whether this attests the same thing as `manifest` describes.
    public func matches(_ manifest: SnapshotManifest) -> Bool {
        space == manifest.space && model == manifest.model && modelVersion == manifest.modelVersion
            && frontier == manifest.frontier && stateRoot == manifest.stateRoot
    }

    public func verify() throws(SnapshotError) {
        do { try signer.verify(signature, over: signedBody, domain: SnapshotDomains.attestation) } catch {
            throw SnapshotError(.badSignature)
        }
    }

    public init(decoding bytes: [UInt8]) throws(SnapshotError) {
        do throws(DecodingError) {
            var reader = ByteReader(bytes)
            space = try PublicKey(from: &reader)
            let offset = reader.offset
            guard let name = String(validating: try reader.readLengthPrefixed("attestation.model", limit: 64), as: UTF8.self) else {
                throw DecodingError(.invalidValue, at: offset, field: "attestation.model")
            }
            model = name
            modelVersion = try reader.readUInt32("attestation.modelVersion")
            frontier = try Frontier(from: &reader)
            stateRoot = try Hash(from: &reader)
            signer = try PublicKey(from: &reader)
            signature = try Signature(from: &reader)
            try reader.expectEnd("attestation")
        } catch {
            throw SnapshotError(.malformed(error))
        }
    }
}
