import SheafControl

/// The human form of each reply: pure functions from values to text. Tables
/// shorten keys; a single thing shown whole (`space create`, `space`) keeps
/// them whole, since that is where people copy them from.
public enum Views {
    public static func node(_ status: NodeStatus) -> String {
        var text = Table.properties([
            ("node", status.node), ("listen", status.listen), ("version", status.version),
            ("uptime", Format.duration(status.uptimeSeconds)),
        ]).render()
        text += "\n\nneighbours (\(status.neighbours.count))"
        if !status.neighbours.isEmpty { text += "\n" + neighbours(status.neighbours) }
        text += "\n\nspaces (\(status.spaces.count))"
        if !status.spaces.isEmpty { text += "\n" + spaces(status.spaces) }
        return text
    }

    public static func neighbours(_ neighbours: [NeighbourStatus]) -> String {
        Table(
            [.init("NODE"), .init("ADDRESS"), .init("DIR"), .init("CONNECTED", .right), .init("IN", .right), .init("OUT", .right)],
            rows: neighbours.map {
                [Format.key($0.node), $0.address, $0.outbound ? "out" : "in", Format.duration($0.connectedSeconds),
                 Format.bytes($0.bytesIn), Format.bytes($0.bytesOut)]
            }
        ).render()
    }

    public static func spaces(_ spaces: [SpaceStatus]) -> String {
        guard !spaces.isEmpty else { return "no spaces (create one with `peer space create`, or `peer space join KEY`)" }
        return Table(
            [.init("SPACE"), .init("TRUST"), .init("STATE"), .init("WRITER"), .init("ENTRIES", .right), .init("OBJECTS", .right),
             .init("NEIGHBOURS", .right), .init("SNAPSHOT")],
            rows: spaces.map {
                [Format.key($0.space), $0.trust, state($0), $0.writer ? "yes" : "no", Format.count($0.entries), Format.count($0.objects),
                 String($0.neighbours.count), $0.newestSnapshot.map { "\(Format.count($0.entries)) entries" } ?? "–"]
            }
        ).render()
    }

    public static func space(_ space: SpaceStatus) -> String {
        var rows: [(String, String)] = [
            ("space", space.space), ("trust", space.trust), ("state", state(space)), ("writer", space.writer ? "yes" : "no"),
            ("entries", Format.count(space.entries)), ("objects", Format.count(space.objects)), ("state root", space.stateRoot),
            ("neighbours", space.neighbours.isEmpty ? "none" : space.neighbours.map(Format.key).joined(separator: " ")),
        ]
        if let snapshot = space.newestSnapshot {
            rows.append(("snapshot", "\(Format.key(snapshot.id)) (\(Format.count(snapshot.entries)) entries, \(Format.bytes(snapshot.compressedBytes)))"))
        }
        if let bootstrap = space.bootstrap {
            rows.append(("bootstrap", JoinProgressView.summary(bootstrap)))
        }
        var text = Table.properties(rows).render()
        if !space.frontier.isEmpty {
            text += "\n\nfrontier (\(space.frontier.count) feeds)\n"
            text += Table(
                [.init("FEED"), .init("SEQ", .right)],
                rows: space.frontier.sorted { $0.key < $1.key }.map { [Format.key($0.key), Format.count($0.value)] }
            ).render()
        }
        return text
    }

    public static func object(_ object: ObjectInfo) -> String {
        var text = Table.properties([("id", object.id), ("parent", object.parent ?? "–")]).render()
        if !object.fields.isEmpty {
            text += "\n\n" + Table(
                [.init("FIELD"), .init("VALUE")],
                rows: object.fields.sorted { $0.key < $1.key }.map { [$0.key, FieldSyntax.render($0.value)] }
            ).render()
        }
        return text
    }

    public static func page(_ page: ObjectPage) -> String {
        guard !page.objects.isEmpty else { return "no objects" }
        var text = Table(
            [.init("ID"), .init("PARENT"), .init("FIELDS")],
            rows: page.objects.map { object in
                let fields = object.fields.sorted { $0.key < $1.key }.map { "\($0.key)=\(FieldSyntax.render($0.value))" }
                return [object.id, object.parent ?? "–", abbreviate(fields.joined(separator: " "), to: 60)]
            }
        ).render()
        if let next = page.next { text += "\n\nmore after \(next) (--after \(FieldSyntax.render(.string(next))))" }
        return text
    }

    /// "wrote 1 entry: feed 3f2a9b0c1d2e… seq 42" after `what`.
    public static func write(_ result: WriteResult, _ what: String) -> String {
        "\(what): wrote \(Format.count(result.entries)) entr\(result.entries == 1 ? "y" : "ies") to feed \(Format.key(result.feed)) (seq \(result.seq))"
    }

    public static func snapshot(_ snapshot: SnapshotInfo) -> String {
        Table.properties([
            ("snapshot", snapshot.id), ("signer", snapshot.signer), ("state root", snapshot.stateRoot),
            ("entries", Format.count(snapshot.entries)), ("chunks", Format.count(snapshot.chunks)),
            ("size", "\(Format.bytes(snapshot.compressedBytes)) (\(Format.bytes(snapshot.rawBytes)) raw)"),
            ("attestations", String(snapshot.attestations)),
        ]).render()
    }

    static func state(_ space: SpaceStatus) -> String {
        guard let phase = space.bootstrap?.phase, phase != .live else { return space.ready ? "ready" : "not ready" }
        return phase == .catchingUp ? "catching up" : phase.rawValue
    }

    private static func abbreviate(_ text: String, to length: Int) -> String {
        text.count <= length ? text : text.prefix(length - 1) + "…"
    }
}
