import SheafProtocol
import SheafSimulator
import Testing

/// Every scenario on real protocol nodes and replicas (on temporary
/// directories), small enough for a debug build: each must hold its
/// invariants and report its key figures.
@MainActor @Suite struct ScenarioTests {
    static func options(seed: UInt64 = 1, entries: Int? = nil, nodes: Int? = nil) -> ScenarioOptions {
        var options = ScenarioOptions()
        options.seed = seed
        options.entries = entries
        options.nodes = nodes
        // A failing run ends here instead of at the default ten minutes.
        options.maxSimSeconds = 120
        return options
    }

    static func run(_ scenario: Scenario, _ options: ScenarioOptions) async throws -> SimReport {
        let result = try await scenario.run(options)
        #expect(result.violations == [], "\(scenario) seed \(options.seed): \(result.report)")
        #expect(result.report["ok"] == .bool(true))
        #expect(result.report["scenario"] == .string(scenario.rawValue))
        #expect(result.report["seed"] == .int(Int(options.seed)))
        return result.report
    }

    @Test func bootstrapBySnapshotAndByReplayReachTheSameState() async throws {
        let report = try await Self.run(.bootstrap, Self.options(entries: 2_000))
        #expect(report["entries"] == .int(2_000))
        #expect(report["state_roots_equal"] == .bool(true))
        guard case .double(let bySnapshot) = report["ready_s_snapshot"], case .double(let byReplay) = report["ready_s_replay"],
              case .double(let queryable) = report["queryable_s_snapshot"] else {
            Issue.record("missing readiness times: \(report)")
            return
        }
        #expect(bySnapshot > 0 && byReplay > 0)
        #expect(queryable > 0 && queryable <= bySnapshot)
        guard case .int(let snapshotBytes) = report["snapshot_compressed_bytes"], case .int(let received) = report["bytes_snapshot"] else {
            Issue.record("missing byte counts: \(report)")
            return
        }
        // The newcomer fetched at least the snapshot it installed.
        #expect(snapshotBytes > 0 && received >= snapshotBytes)
    }

    @Test func partitionedWritersConverge() async throws {
        let report = try await Self.run(.convergence, Self.options(nodes: 8))
        #expect(report["nodes"] == .int(8))
        #expect(report["converged"] == .bool(true))
        #expect(report["distinct_roots"] == .int(1))
        // Ten writes per node, plus the genesis writer's seven admissions.
        #expect(report["entries"] == .int(8 * 10 + 7))
    }

    @Test func crashesLoseNoAcknowledgedWrite() async throws {
        let report = try await Self.run(.churn, Self.options())
        #expect(report["acked_lost"] == .int(0))
        #expect(report["converged"] == .bool(true))
        guard case .int(let acked) = report["acked"], case .int(let crashes) = report["crashes"] else {
            Issue.record("missing counts: \(report)")
            return
        }
        #expect(acked > 0)
        #expect(crashes > 0)
    }

    @Test func everyAttackIsDetectedAndNoForgedEntryApplied() async throws {
        for seed: UInt64 in [1, 5, 12] {
            let report = try await Self.run(.byzantine, Self.options(seed: seed))
            #expect(report["attacks"] == .int(Behaviour.attacks.count))
            #expect(report["attacks_detected"] == report["attacks"], "seed \(seed)")
            #expect(report["bad_entries_applied"] == .int(0))
            #expect(report["forked_feeds"] == .int(1))
            #expect(report["converged"] == .bool(true))
        }
    }

    @Test func broadcastReachesEveryNodeInFewHops() async throws {
        let report = try await Self.run(.scale, Self.options(nodes: 30))
        #expect(report["nodes"] == .int(30))
        #expect(report["all_delivered"] == .bool(true))
        guard case .int(let hops) = report["max_hops"], case .double(let payload) = report["payload_messages_per_node"] else {
            Issue.record("missing figures: \(report)")
            return
        }
        #expect(hops >= 1 && hops <= 9)  // 2·log2(30) ≈ 9.8
        // A spanning tree: about one copy of each entry per node.
        #expect(payload >= 1 && payload < 2)
    }

    @Test(arguments: [Scenario.bootstrap, .convergence])
    func theSameSeedReproducesTheRun(_ scenario: Scenario) async throws {
        let entries = scenario == .bootstrap ? 500 : nil
        let nodes = scenario == .convergence ? 6 : nil
        let first = try await scenario.run(Self.options(seed: 7, entries: entries, nodes: nodes)).report
        let again = try await scenario.run(Self.options(seed: 7, entries: entries, nodes: nodes)).report
        let other = try await scenario.run(Self.options(seed: 8, entries: entries, nodes: nodes)).report
        #expect(first["trace_hash"] != nil)
        #expect(first["trace_hash"] == again["trace_hash"])
        #expect(first["sim_seconds"] == again["sim_seconds"])
        #expect(first["trace_hash"] != other["trace_hash"])
    }
}
