import ArgumentParser
import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles

/// Appends batches to one durable feed log, signing once per batch.
struct FeedAppend: CheckedCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed-append",
        abstract: "Append signed batches to a durable feed log.",
        discussion: "Times drafting, chaining, signing, framing, writing and (in fsync mode) syncing. mb_per_s counts encoded entry bodies.")

    @Option(help: "Entries to append.") var entries = 1_000_000
    @Option(help: "Entries per signed batch.") var batch = 1_000
    @Option(help: "Payload bytes per entry.") var payload = 64
    @Option(help: "fsync (default, what users get) or none (no syncing; a crash loses writes).") var durability = Durability.fsync
    @Option(help: "Directory for the log (default: a temporary directory, removed afterwards).") var directory: String?

    func validate() throws {
        guard entries > 0, batch > 0, payload >= 0, payload <= FeedLimits.maxPayloadBytes else {
            throw ValidationError("--entries and --batch must be positive, --payload between 0 and \(FeedLimits.maxPayloadBytes)")
        }
    }

    func runMeasured() throws {
        let temporary = TemporaryDirectory(prefix: "sheaf-bench-append")
        let root = directory ?? temporary.path
        let store = try FeedStore(directory: root, options: .init(durability: durability))
        defer { store.close() }
        let keyPair = KeyPair(seed: [UInt8](repeating: 7, count: 32))!
        var writer = FeedWriter(keyPair: keyPair)
        let log = try store.log(keyPair.publicKey)

        // Payloads are made before the clock starts: they are the application's data.
        var rng = SplitMix64(seed: 1)
        let payloads = (0..<min(entries, 4096)).map { _ in rng.alphanumeric(payload) }
        progress("feed-append: \(entries) entries, batches of \(batch), \(payload)-byte payloads, durability \(durability.rawValue)")

        var bodyBytes = 0
        var written = 0
        let (_, elapsed) = try measure {
            var nextReport = entries / 10
            while written < entries {
                let n = min(batch, entries - written)
                let drafts = (0..<n).map { EntryDraft(payload: payloads[(written + $0) % payloads.count]) }
                let verified = try writer.append(drafts, timestamp: 1_700_000_000_000 + UInt64(written))
                try log.append(verified)
                bodyBytes += verified.bodyRanges.reduce(0) { $0 + $1.count }
                written += n
                if written >= nextReport && written < entries {
                    progress("  \(written) entries")
                    nextReport += entries / 10
                }
            }
        }
        guard log.length == UInt64(entries) else { throw ValidationError("log holds \(log.length) entries, expected \(entries)") }

        var report = Report(bench: "feed-append")
        report.add("entries", entries)
        report.add("batch", batch)
        report.add("payload", payload)
        report.add("durability", durability.rawValue)
        report.add("seconds", elapsed)
        report.add("entries_per_s", Double(entries) / elapsed)
        report.add("mb_per_s", Double(bodyBytes) / elapsed / 1e6)
        report.add("peak_rss_mb", peakRSSMegabytes())
        report.print()
    }
}
