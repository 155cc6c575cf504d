import SheafMetrics
import Testing

/// The instruments the daemon updates show up by name in the exposition.
@Suite struct MetricsTests {
    @Test func renderNamesEveryInstrumentAfterUse() {
        let metrics = PeerMetrics()
        metrics.entriesAppended(3)
        metrics.entriesApplied(5)
        metrics.bytesIn(1000)
        metrics.bytesOut(2000)
        metrics.framesIn()
        metrics.framesOut(2)
        metrics.verificationFailed(kind: "invalidSignature")
        metrics.verificationFailed(kind: "invalidSignature")
        metrics.verificationFailed(kind: "badChunk")
        metrics.forkDetected()
        metrics.fraudDetected()
        metrics.snapshotMade()
        metrics.snapshotInstalled()
        metrics.bootstrapCompleted(seconds: 1.5)
        metrics.neighbours(4)
        metrics.connections(3)
        metrics.peerBanned()
        let text = metrics.render()
        for line in [
            "sheaf_entries_appended_total 3", "sheaf_entries_applied_total 5", "sheaf_received_bytes_total 1000",
            "sheaf_sent_bytes_total 2000", "sheaf_frames_received_total 1", "sheaf_frames_sent_total 2",
            #"sheaf_verification_failures_total{kind="invalidSignature"} 2"#, #"sheaf_verification_failures_total{kind="badChunk"} 1"#,
            "sheaf_forks_detected_total 1", "sheaf_fraud_detected_total 1", "sheaf_snapshots_made_total 1",
            "sheaf_snapshots_installed_total 1", "sheaf_bootstrap_duration_seconds_count 1", "sheaf_bootstrap_duration_seconds_sum 1.5",
            "sheaf_neighbours 4.0", "sheaf_connections 3.0", "sheaf_peers_banned_total 1",
            "# TYPE sheaf_bootstrap_duration_seconds histogram",
        ] {
            #expect(text.contains(line), "missing \(line)")
        }
    }

    @Test func failureKindsAreBounded() {
        let metrics = PeerMetrics()
        for kind in 0..<(PeerMetrics.maxFailureKinds + 10) { metrics.verificationFailed(kind: "kind\(kind)") }
        let text = metrics.render()
        #expect(text.contains(#"sheaf_verification_failures_total{kind="other"} 10"#))
        #expect(!text.contains("kind\(PeerMetrics.maxFailureKinds)\""))
    }

    @Test func eachNodeHasItsOwnRegistry() {
        let a = PeerMetrics()
        let b = PeerMetrics()
        a.entriesAppended(1)
        #expect(a.render().contains("sheaf_entries_appended_total 1"))
        #expect(b.render().contains("sheaf_entries_appended_total 0"))
    }
}
