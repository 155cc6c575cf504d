import Dispatch
import SheafParallel
import SheafRandom
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ParallelTests {
    /// Every index is visited once, in one range per piece, and the
    /// results come back in range order, whatever the grain and lanes.
    @Test func mapRangesCoversEveryIndexInOrder() {
        var rng = SplitMix64(seed: 0x5EED_0001)
        for _ in 0..<200 {
            let count = rng.below(300)
            let grain = 1 + rng.below(40)
            let lanes = 1 + rng.below(6)
            let lanesMade = Atomic<Int>(0)
            let runs = Parallel.mapRanges(count, grain: grain, lanes: lanes,
                                          makeState: { (lane: lanesMade.wrappingAdd(1, ordering: .relaxed).oldValue, calls: 0) }) { state, range in
                state.calls += 1
                return (Array(range), state.lane, state.calls)
            }
            #expect(runs.flatMap(\.0) == Array(0..<count))
            #expect(runs.allSatisfy { !$0.0.isEmpty && $0.0.count <= grain })
            // Each lane's state is its own: every lane counts 1, 2, 3, ... of
            // its own calls, and there are no more lanes than asked for.
            let byLane = Dictionary(grouping: runs, by: \.1)
            #expect(byLane.count <= lanes)
            #expect(byLane.values.allSatisfy { $0.map(\.2).sorted() == Array(1...$0.count) })
        }
    }

    @Test func mapKeepsIndexOrder() {
        var rng = SplitMix64(seed: 0x5EED_0002)
        for _ in 0..<100 {
            let count = rng.below(1000)
            let salt = rng.next()
            let lanes = 1 + rng.below(8)
            #expect(Parallel.map(count, lanes: lanes) { UInt64($0) &* salt } == (0..<count).map { UInt64($0) &* salt })
        }
    }

    /// A parallel call inside a parallel call completes (a helper busy with
    /// the outer call is not waited for) and gets the same answers.
    @Test func nestedCallsComplete() {
        let sums = Parallel.map(16, lanes: 4) { i in
            Parallel.map(64, lanes: 4) { j in i * 64 + j }.reduce(0, +)
        }
        #expect(sums == (0..<16).map { i in (0..<64).reduce(0) { $0 + i * 64 + $1 } })
    }

    /// The regression behind slow restarts: with the threads libdispatch
    /// lends to its global queues all blocked (as on a busy node), the work
    /// must still be shared with a second thread (`concurrentPerform` ran
    /// every piece on the caller then). Piece 0 waits, up to two seconds,
    /// for another piece to start; done alone, it would wait in vain.
    @Test(.enabled(if: Parallel.processorCount > 1))
    func helperRunsWhileTheGlobalQueuesAreBlocked() {
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let blockers = 4 * Parallel.processorCount
        for _ in 0..<blockers {
            DispatchQueue.global().async { blockThread(signalling: started, until: release) }
        }
        defer { for _ in 0..<blockers { release.signal() } }
        // As many as libdispatch will run at once (the rest stay queued).
        let deadline = DispatchTime.now() + .milliseconds(300)
        for _ in 0..<blockers where started.wait(timeout: deadline) == .timedOut { break }

        let otherStarted = Atomic<Bool>(false)
        let threads = Parallel.mapRanges(2, grain: 1, lanes: 2, makeState: {}) { _, range -> UInt in
            if range.lowerBound == 0 {
                let deadline = DispatchTime.now() + .seconds(2)
                while !otherStarted.load(ordering: .acquiring) && DispatchTime.now() < deadline { sched_yield() }
            } else {
                otherStarted.store(true, ordering: .releasing)
            }
            return UInt(bitPattern: Int(bitPattern: UInt(pthread_self())))
        }
        #expect(threads.count == 2)
        #expect(threads[0] != threads[1], "both pieces ran on one thread")
    }

    /// A forked job runs once and its result comes back, whether the helper
    /// took it or the joining caller ran it; the caller is free meanwhile.
    @Test func forkRunsItsWorkOnceAndReturnsItsResult() {
        for i in 0..<200 {
            let runs = Atomic<Int>(0)
            let forked = Parallel.fork { () -> Int in
                runs.wrappingAdd(1, ordering: .relaxed)
                return i * 3
            }
            // Work of varied length meanwhile, so both claimants win sometimes.
            for _ in 0..<(i % 7) * 50 { sched_yield() }
            #expect(forked.join() == i * 3)
            #expect(runs.load(ordering: .relaxed) == 1)
        }
    }

    /// With the helper lane busy (a long `fork` holds it), a second fork is
    /// not waited for: its caller runs it on its own thread.
    @Test(.enabled(if: Parallel.processorCount > 1))
    func forkRunsOnTheCallerWhenTheHelperIsBusy() {
        let release = DispatchSemaphore(value: 0)
        let holding = DispatchSemaphore(value: 0)
        let blocker = Parallel.fork { () -> Bool in
            holding.signal()
            return release.wait(timeout: .now() + .seconds(10)) == .success
        }
        #expect(holding.wait(timeout: .now() + .seconds(5)) == .success, "the helper never started the first job")
        let caller = UInt(bitPattern: Int(bitPattern: UInt(pthread_self())))
        let second = Parallel.fork { UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))) }
        #expect(second.join() == caller)
        release.signal()
        #expect(blocker.join())
    }

    /// Steps that wait run side by side, more of them than there are cores:
    /// each of eight waits (up to two seconds) until all eight have started.
    /// Results come back in index order.
    @Test func mapWaitingRunsEveryStepAtOnce() {
        let started = Atomic<Int>(0)
        let steps = 8
        let results = Parallel.mapWaiting(steps) { i -> (Int, Bool) in
            started.wrappingAdd(1, ordering: .relaxed)
            let deadline = DispatchTime.now() + .seconds(2)
            while started.load(ordering: .relaxed) < steps && DispatchTime.now() < deadline { usleep(100) }
            return (i * 7, started.load(ordering: .relaxed) == steps)
        }
        #expect(results.map { $0.0 } == (0..<steps).map { $0 * 7 })
        #expect(results.allSatisfy { $0.1 }, "not every step ran while the others waited")
        #expect(Parallel.mapWaiting(0) { $0 }.isEmpty)
        #expect(Parallel.mapWaiting(1) { $0 + 1 } == [1])
    }

    /// A forked job may itself call `mapWaiting` (an install makes its logs
    /// on the thread writing its chunks): no step lands on the serial queue
    /// running the job, where it would wait for the very call waiting for it.
    @Test(.enabled(if: Parallel.processorCount > 1))
    func mapWaitingInsideAForkedJob() {
        let started = DispatchSemaphore(value: 0)
        let forked = Parallel.fork { () -> [Int] in
            started.signal()
            return Parallel.mapWaiting(40) { $0 * 2 }
        }
        // Joined only once a queue runs it, so the caller does not take it over.
        #expect(started.wait(timeout: .now() + .seconds(10)) == .success, "the forked job never started")
        #expect(forked.join() == (0..<40).map { $0 * 2 })
    }

    struct StepFailed: Error, Equatable { let step: Int }

    /// A failing step's error comes back from `join` and `mapWaiting` (the
    /// first by index), after every other step has run.
    @Test func errorsComeBackFromForkAndMapWaiting() {
        let forked = Parallel.fork { () throws(StepFailed) -> Int in throw StepFailed(step: 1) }
        #expect(throws: StepFailed(step: 1)) { try forked.join() }
        let ran = Atomic<Int>(0)
        #expect(throws: StepFailed(step: 2)) {
            _ = try Parallel.mapWaiting(6) { (i) throws(StepFailed) -> Int in
                ran.wrappingAdd(1, ordering: .relaxed)
                if i == 2 || i == 4 { throw StepFailed(step: i) }
                return i
            }
        }
        #expect(ran.load(ordering: .relaxed) == 6)
    }
}

/// Holds a thread until `release` is signalled (or ten seconds pass).
private func blockThread(signalling started: DispatchSemaphore, until release: DispatchSemaphore) {
    started.signal()
    _ = release.wait(timeout: .now() + .seconds(10))
}
