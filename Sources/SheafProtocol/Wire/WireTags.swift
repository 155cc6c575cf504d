/// The type bytes of the wire format, one enum per level, shared by the
/// encoder and the decoder. Values are fixed by docs/PROTOCOL.md; 0 is never
/// used, so a zeroed buffer is an unknown message, not a valid one.
enum WireTag {
    enum Message: UInt8 {
        case hello = 1, ping, pong, open, close, space
    }

    enum Space: UInt8 {
        case overlay = 1, broadcast, sync, snapshot, evidence
    }

    enum Overlay: UInt8 {
        case join = 1, forwardJoin, neighbor, neighborReply, disconnect, shuffle, shuffleReply
    }

    enum Broadcast: UInt8 {
        case gossip = 1, ihave, graft, prune
    }

    enum Sync: UInt8 {
        case frontier = 1, request, range, unavailable
    }

    enum Unavailable: UInt8 {
        case pruned = 1, notHeld, forked
    }

    enum Snapshot: UInt8 {
        case requestOffers = 1, offers, requestManifest, manifest, requestChunks, chunk, chunkMissing, attestations, requestSnapshot
    }

    enum Evidence: UInt8 {
        case fork = 1, snapshotFraud
    }
}
