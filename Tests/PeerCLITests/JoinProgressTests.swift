import PeerCLI
import SheafControl
import Testing

/// The join progress lines, as pure functions of polled progress.
@Suite struct JoinProgressTests {
    func progress(
        _ phase: BootstrapProgress.Phase, chunks: (Int, Int) = (0, 0), bytes: (UInt64, UInt64) = (0, 0), stored: UInt64 = 0,
        known: UInt64 = 0, elapsed: Double = 2, ready: Double? = nil, fromSnapshot: Bool = true
    ) -> BootstrapProgress {
        BootstrapProgress(
            phase: phase, fromSnapshot: fromSnapshot, chunksDone: chunks.0, chunksTotal: chunks.1, bytesDone: bytes.0,
            bytesTotal: bytes.1, snapshotEntries: 120_000, entriesStored: stored, entriesKnown: known, elapsedSeconds: elapsed,
            readySeconds: ready)
    }

    @Test func downloadingBarShowsChunksBytesRateAndETA() {
        let p = progress(.downloading, chunks: (10, 40), bytes: (5 << 20, 20 << 20))
        let line = JoinProgressView.line(p, rate: Double(1 << 20), width: 100, bar: true)
        #expect(line.hasPrefix("[========>"), "\(line)")
        #expect(line.hasSuffix("10/40 chunks  5.0 MB of 20.0 MB  1.0 MB/s  ETA 15.0 s"), "\(line)")
        #expect(line.count < 100)
    }

    @Test func barStaysWithinANarrowTerminal() {
        let p = progress(.downloading, chunks: (1, 2), bytes: (1, 2))
        let line = JoinProgressView.line(p, rate: nil, width: 30, bar: true)
        #expect(line.count < 30)
        #expect(line.hasPrefix("[===>    ] 1/2 chunks"), "\(line)")
    }

    @Test func plainLinesForLogs() {
        let p = progress(.downloading, chunks: (10, 40), bytes: (5 << 20, 20 << 20))
        #expect(JoinProgressView.line(p, rate: nil, width: 80, bar: false)
            == "downloading snapshot: 10/40 chunks, 5.0 MB of 20.0 MB, – /s, ETA –")
        #expect(JoinProgressView.line(progress(.catchingUp, stored: 1200, known: 5000), rate: nil, width: 80, bar: false)
            == "catching up: 1,200 of 5,000 entries")
        #expect(JoinProgressView.line(progress(.discovering, elapsed: 2.5), rate: nil, width: 80, bar: false)
            == "discovering peers and snapshots… 2.50 s")
    }

    @Test func barFill() {
        #expect(JoinProgressView.bar(fraction: 0, width: 12) == "[          ]")
        #expect(JoinProgressView.bar(fraction: 0.5, width: 12) == "[====>     ]")
        #expect(JoinProgressView.bar(fraction: 1, width: 12) == "[==========]")
        #expect(JoinProgressView.bar(fraction: .nan, width: 12) == "[          ]")
    }

    @Test func finishedLine() {
        let key = String(repeating: "ab", count: 32)
        var space = SpaceStatus(
            space: key, trust: "member", writer: false, ready: true, entries: 121_200, frontier: [:], stateRoot: "", objects: 0,
            neighbours: [], newestSnapshot: nil, bootstrap: progress(.live, stored: 121_200, ready: 1.234))
        #expect(JoinProgressView.isDone(space))
        #expect(JoinProgressView.finished(space) == "ready in 1.23 s from snapshot (120,000 entries), caught up at 121,200 entries")
        space.bootstrap = progress(.live, ready: 4.5, fromSnapshot: false)
        #expect(JoinProgressView.finished(space) == "ready in 4.50 s by replay, caught up at 121,200 entries")
        space.bootstrap = progress(.catchingUp, ready: 1)
        #expect(!JoinProgressView.isDone(space))
    }

    @Test func rateMeterUsesARecentWindow() {
        var meter = RateMeter(window: 3)
        #expect(meter.bytesPerSecond == nil)
        meter.add(seconds: 0, bytes: 0)
        meter.add(seconds: 1, bytes: 1000)
        #expect(meter.bytesPerSecond == 1000)
        for second in 2...10 { meter.add(seconds: Double(second), bytes: 1000 + UInt64(second - 1) * 4000) }
        #expect(meter.bytesPerSecond == 4000)
    }
}
