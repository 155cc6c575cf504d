import ArgumentParser
import SheafCrypto
import SheafFeeds
import SheafParallel

/// Verifies an encoded range from a known hash to a signed head, as a
/// receiver does with bytes from the network.
struct FeedVerify: CheckedCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed-verify",
        abstract: "Verify a range of entries against one signed head.",
        discussion: "The range is built and encoded in memory first; the timed part parses, hashes and chain-checks it. mb_per_s counts encoded range bytes.")

    @Option(help: "Entries in the range.") var entries = 1_000_000
    @Option(help: "Payload bytes per entry.") var payload = 64
    @Option(help: "Timed repetitions; the best is reported.") var iterations = 3
    @Option(help: "Threads hashing the range (default: one per core).") var workers: Int?

    func validate() throws {
        guard entries > 0, iterations > 0, (workers ?? 1) > 0, payload >= 0, payload <= FeedLimits.maxPayloadBytes else {
            throw ValidationError("--entries and --iterations must be positive, --payload between 0 and \(FeedLimits.maxPayloadBytes)")
        }
        guard entries <= FeedLimits.maxRangeEntries else {
            throw ValidationError("one range holds at most \(FeedLimits.maxRangeEntries) entries")
        }
    }

    func runMeasured() throws {
        let keyPair = KeyPair(seed: [UInt8](repeating: 9, count: 32))!
        var writer = FeedWriter(keyPair: keyPair)
        var rng = SplitMix64(seed: 2)
        let payloads = (0..<min(entries, 4096)).map { _ in rng.alphanumeric(payload) }
        progress("feed-verify: building \(entries) entries with \(payload)-byte payloads")
        let drafts = (0..<entries).map { EntryDraft(payload: payloads[$0 % payloads.count]) }
        let batch = try writer.append(drafts, timestamp: 1_700_000_000_000)
        let encoded = batch.encodedRange()
        let anchor = FeedAnchor.genesis(of: keyPair.publicKey)

        var best = Double.infinity
        for i in 1...iterations {
            let (verified, elapsed) = try measure {
                try RangeVerifier.verify(encodedRange: encoded, from: anchor, feed: keyPair.publicKey, workers: workers)
            }
            guard verified.head == batch.head, verified.count == entries else {
                throw ValidationError("verification returned a different range")
            }
            progress("  run \(i): \(String(format2(elapsed))) s")
            best = min(best, elapsed)
        }

        var report = Report(bench: "feed-verify")
        report.add("entries", entries)
        report.add("payload", payload)
        report.add("range_bytes", encoded.count)
        report.add("seconds", best)
        report.add("entries_per_s", Double(entries) / best)
        report.add("mb_per_s", Double(encoded.count) / best / 1e6)
        report.add("workers", workers ?? Parallel.processorCount)
        report.add("peak_rss_mb", peakRSSMegabytes())
        report.print()
    }
}

func format2(_ v: Double) -> String {
    String((v * 1000).rounded() / 1000)
}
