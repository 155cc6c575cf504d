import Dispatch

/// Runs the jobs of the actors a simulated node calls into (its replica)
/// on the main queue, where the simulation itself runs.
///
/// The event loop awaits every handler before it takes the next event, so
/// nothing runs in parallel anyway; without this preference each call into
/// a replica hops to a pool thread and back, two thread wake-ups per call
/// that cost more than the work on a loaded machine.
final class MainQueueExecutor: TaskExecutor {
    static let shared = MainQueueExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        DispatchQueue.main.async { job.runSynchronously(on: executor) }
    }
}
