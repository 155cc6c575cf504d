/// Which message a `WireMessage` is, without its contents: a cheap key for
/// metrics, logs and peer scoring. The raw value is a stable dotted name.
public enum WireMessageKind: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case hello, ping, pong, open, close
    case join = "overlay.join"
    case forwardJoin = "overlay.forwardJoin"
    case neighbor = "overlay.neighbor"
    case neighborReply = "overlay.neighborReply"
    case disconnect = "overlay.disconnect"
    case shuffle = "overlay.shuffle"
    case shuffleReply = "overlay.shuffleReply"
    case gossip = "broadcast.gossip"
    case ihave = "broadcast.ihave"
    case graft = "broadcast.graft"
    case prune = "broadcast.prune"
    case frontier = "sync.frontier"
    case request = "sync.request"
    case range = "sync.range"
    case unavailable = "sync.unavailable"
    case requestOffers = "snapshot.requestOffers"
    case offers = "snapshot.offers"
    case requestManifest = "snapshot.requestManifest"
    case manifest = "snapshot.manifest"
    case requestChunks = "snapshot.requestChunks"
    case chunk = "snapshot.chunk"
    case chunkMissing = "snapshot.chunkMissing"
    case attestations = "snapshot.attestations"
    case requestSnapshot = "snapshot.requestSnapshot"
    case fork = "evidence.fork"
    case snapshotFraud = "evidence.snapshotFraud"

    public var description: String { rawValue }
}

extension WireMessage {
    /// Which message this is, without copying anything it carries.
    public var kind: WireMessageKind {
        switch self {
        case .hello: .hello
        case .ping: .ping
        case .pong: .pong
        case .open: .open
        case .close: .close
        case .space(_, let message): message.kind
        }
    }
}

extension SpaceMessage {
    public var kind: WireMessageKind {
        switch self {
        case .overlay(let message):
            switch message {
            case .join: .join
            case .forwardJoin: .forwardJoin
            case .neighbor: .neighbor
            case .neighborReply: .neighborReply
            case .disconnect: .disconnect
            case .shuffle: .shuffle
            case .shuffleReply: .shuffleReply
            }
        case .broadcast(let message):
            switch message {
            case .gossip: .gossip
            case .ihave: .ihave
            case .graft: .graft
            case .prune: .prune
            }
        case .sync(let message):
            switch message {
            case .frontier: .frontier
            case .request: .request
            case .range: .range
            case .unavailable: .unavailable
            }
        case .snapshot(let message):
            switch message {
            case .requestOffers: .requestOffers
            case .offers: .offers
            case .requestManifest: .requestManifest
            case .manifest: .manifest
            case .requestChunks: .requestChunks
            case .chunk: .chunk
            case .chunkMissing: .chunkMissing
            case .requestSnapshot: .requestSnapshot
            case .attestations: .attestations
            }
        case .evidence(let message):
            switch message {
            case .fork: .fork
            case .snapshotFraud: .snapshotFraud
            }
        }
    }
}
