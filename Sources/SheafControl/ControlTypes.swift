// The control API's request and response bodies (JSON). Field names are
// part of the API (docs/API.md): add fields, never rename them. Field values
// are the store's own `FieldValue`, in JSON as FieldValue+JSON.swift spells them.

import SheafModels

/// The node as a whole: who it is, whom it talks to, what it serves.
public struct NodeStatus: Codable, Hashable, Sendable {
    /// The node's identity and writer key (hex).
    public var node: String
    /// The address peers reach it at ("host:port").
    public var listen: String
    public var version: String
    public var uptimeSeconds: Double
    /// Protocol frame bytes received and sent since the node started.
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var neighbours: [NeighbourStatus]
    public var spaces: [SpaceStatus]

    public init(node: String, listen: String, version: String, uptimeSeconds: Double, bytesIn: UInt64, bytesOut: UInt64,
                neighbours: [NeighbourStatus], spaces: [SpaceStatus]) {
        self.node = node
        self.listen = listen
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.neighbours = neighbours
        self.spaces = spaces
    }
}

/// One encrypted session with another node.
public struct NeighbourStatus: Codable, Hashable, Sendable {
    public var node: String
    public var address: String
    public var outbound: Bool
    public var connectedSeconds: Double
    public var bytesIn: UInt64
    public var bytesOut: UInt64

    public init(node: String, address: String, outbound: Bool, connectedSeconds: Double, bytesIn: UInt64, bytesOut: UInt64) {
        self.node = node
        self.address = address
        self.outbound = outbound
        self.connectedSeconds = connectedSeconds
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
    }
}

/// One space on this node.
public struct SpaceStatus: Codable, Hashable, Sendable {
    public var space: String
    /// "member", "quorum:K" or "replay".
    public var trust: String
    /// Whether this node's feed is admitted, so it may write.
    public var writer: Bool
    /// Queryable: created here, installed from a snapshot, or replayed.
    public var ready: Bool
    /// Entries stored across all feeds.
    public var entries: UInt64
    /// Last stored seq per feed (feed key hex → seq).
    public var frontier: [String: UInt64]
    /// Empty while joining or catching up (see docs/API.md).
    public var stateRoot: String
    public var objects: Int
    /// Neighbours in the space's overlay (node keys).
    public var neighbours: [String]
    public var newestSnapshot: SnapshotInfo?
    public var bootstrap: BootstrapProgress?

    public init(space: String, trust: String, writer: Bool, ready: Bool, entries: UInt64, frontier: [String: UInt64], stateRoot: String,
                objects: Int, neighbours: [String], newestSnapshot: SnapshotInfo?, bootstrap: BootstrapProgress?) {
        self.space = space
        self.trust = trust
        self.writer = writer
        self.ready = ready
        self.entries = entries
        self.frontier = frontier
        self.stateRoot = stateRoot
        self.objects = objects
        self.neighbours = neighbours
        self.newestSnapshot = newestSnapshot
        self.bootstrap = bootstrap
    }
}

/// How a joining space is getting on; kept after it is ready, for the record.
public struct BootstrapProgress: Codable, Hashable, Sendable {
    public enum Phase: String, Codable, Hashable, Sendable {
        /// Connecting and waiting for offers and membership.
        case discovering
        /// Fetching snapshot chunks.
        case downloading
        /// Queryable; fetching the entries after the snapshot (or all of them, for replay).
        case catchingUp = "catching_up"
        /// Caught up with what neighbours offered.
        case live
    }

    public var phase: Phase
    public var fromSnapshot: Bool
    public var chunksDone: Int
    public var chunksTotal: Int
    public var bytesDone: UInt64
    public var bytesTotal: UInt64
    /// Entries the chosen snapshot covers (0 for replay).
    public var snapshotEntries: UInt64
    /// Entries stored so far, and the most any neighbour has offered.
    public var entriesStored: UInt64
    public var entriesKnown: UInt64
    public var elapsedSeconds: Double
    /// Seconds from join to queryable, once ready.
    public var readySeconds: Double?

    public init(phase: Phase, fromSnapshot: Bool, chunksDone: Int, chunksTotal: Int, bytesDone: UInt64, bytesTotal: UInt64,
                snapshotEntries: UInt64, entriesStored: UInt64, entriesKnown: UInt64, elapsedSeconds: Double, readySeconds: Double?) {
        self.phase = phase
        self.fromSnapshot = fromSnapshot
        self.chunksDone = chunksDone
        self.chunksTotal = chunksTotal
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.snapshotEntries = snapshotEntries
        self.entriesStored = entriesStored
        self.entriesKnown = entriesKnown
        self.elapsedSeconds = elapsedSeconds
        self.readySeconds = readySeconds
    }
}

public struct SnapshotInfo: Codable, Hashable, Sendable {
    /// The manifest's content address (hex).
    public var id: String
    public var signer: String
    public var stateRoot: String
    /// Entries the frontier covers.
    public var entries: UInt64
    public var chunks: Int
    public var rawBytes: UInt64
    public var compressedBytes: UInt64
    public var attestations: Int

    public init(id: String, signer: String, stateRoot: String, entries: UInt64, chunks: Int, rawBytes: UInt64, compressedBytes: UInt64,
                attestations: Int) {
        self.id = id
        self.signer = signer
        self.stateRoot = stateRoot
        self.entries = entries
        self.chunks = chunks
        self.rawBytes = rawBytes
        self.compressedBytes = compressedBytes
        self.attestations = attestations
    }
}

public struct JoinSpaceRequest: Codable, Hashable, Sendable {
    public var space: String
    /// "member" (default), "quorum:K" or "replay".
    public var trust: String?
    /// Extra "host:port" addresses to join through, besides the node's neighbours.
    public var contacts: [String]?

    public init(space: String, trust: String? = nil, contacts: [String]? = nil) {
        self.space = space
        self.trust = trust
        self.contacts = contacts
    }
}

/// Sets fields of an object (creating it), and optionally its parent.
public struct PutObjectRequest: Codable, Hashable, Sendable {
    public var fields: [String: FieldValue]
    /// Absent: leave the parent as it is. `null` is spelled by `clearParent`.
    public var parent: String?
    public var clearParent: Bool?

    public init(fields: [String: FieldValue], parent: String? = nil, clearParent: Bool? = nil) {
        self.fields = fields
        self.parent = parent
        self.clearParent = clearParent
    }
}

public struct PutBatchRequest: Codable, Hashable, Sendable {
    public struct Put: Codable, Hashable, Sendable {
        public var id: String
        public var fields: [String: FieldValue]
        public init(id: String, fields: [String: FieldValue]) {
            self.id = id
            self.fields = fields
        }
    }

    public var puts: [Put]
    public init(puts: [Put]) { self.puts = puts }
}

/// Where a write landed: this node's feed and the seq of its last entry.
public struct WriteResult: Codable, Hashable, Sendable {
    public var space: String
    public var feed: String
    public var seq: UInt64
    public var entries: Int

    public init(space: String, feed: String, seq: UInt64, entries: Int) {
        self.space = space
        self.feed = feed
        self.seq = seq
        self.entries = entries
    }
}

public struct ObjectInfo: Codable, Hashable, Sendable {
    public var id: String
    public var parent: String?
    public var fields: [String: FieldValue]

    public init(id: String, parent: String?, fields: [String: FieldValue]) {
        self.id = id
        self.parent = parent
        self.fields = fields
    }
}

public struct ListQuery: Codable, Hashable, Sendable {
    /// Only the children of this object.
    public var parent: String?
    /// Start after this id (key order), for paging.
    public var after: String?
    public var limit: Int?

    public init(parent: String? = nil, after: String? = nil, limit: Int? = nil) {
        self.parent = parent
        self.after = after
        self.limit = limit
    }

    public static let defaultLimit = 100
    public static let maxLimit = 10_000
}

public struct ObjectPage: Codable, Hashable, Sendable {
    public var objects: [ObjectInfo]
    /// Pass as `after` for the next page; absent on the last page.
    public var next: String?

    public init(objects: [ObjectInfo], next: String?) {
        self.objects = objects
        self.next = next
    }
}
