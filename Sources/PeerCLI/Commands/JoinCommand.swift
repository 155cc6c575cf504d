import ArgumentParser
import SheafControl

extension SpaceCommand {
    /// `peer space join KEY`: asks the daemon to join, then follows the
    /// bootstrap until the space is ready and caught up.
    public struct Join: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "join",
            abstract: "Join a space by its key and follow the bootstrap until it is ready.",
            discussion: """
                --trust says whose snapshot to start from: member (signed by an admitted writer, the default), \
                quorum:K (K members attest the same state root) or replay (no snapshot: fetch and apply every entry).
                """)

        @OptionGroup public var daemon: DaemonOptions
        @Argument(help: "The space's key (64 hex digits).") public var space: String
        @Option(name: .long, help: ArgumentHelp("member, quorum:K or replay.", valueName: "POLICY")) public var trust: String?
        @Option(name: .customLong("contact"), help: ArgumentHelp("A peer to join through (repeatable).", valueName: "HOST:PORT"))
        public var contacts: [String] = []
        @Flag(name: .long, help: "Return once the daemon has started joining.") public var noWait = false
        @Option(name: .long, help: ArgumentHelp("Give up waiting after this many seconds (the join goes on).", valueName: "SECONDS"))
        public var timeout: Double?

        public init() {}

        public func validate() throws {
            if let trust, !Self.isTrustPolicy(trust) {
                throw ValidationError("--trust is member, quorum:K (K ≥ 1) or replay, not \(trust)")
            }
        }

        static func isTrustPolicy(_ text: String) -> Bool {
            if text == "member" || text == "replay" { return true }
            guard text.hasPrefix("quorum:"), let k = Int(text.dropFirst("quorum:".count)) else { return false }
            return k >= 1
        }

        public func run() async throws {
            try await reportingErrors { () throws(ControlError) in
                let space = try ControlKeys.validate(space, as: "space")
                let client = try daemon.client()
                let request = JoinSpaceRequest(space: space, trust: trust, contacts: contacts.isEmpty ? nil : contacts)
                let reply = try await client.send(.joinSpace, body: request)
                if noWait {
                    try daemon.show(reply, as: SpaceStatus.self, Views.space)
                    return
                }
                let final = try await follow(space, client: client)
                try daemon.show(final, as: SpaceStatus.self, JoinProgressView.finished)
            }
        }

        /// Polls every 200 ms, drawing progress on stderr: a live bar on a
        /// terminal, a line every few seconds (and on each phase) otherwise.
        private func follow(_ space: String, client: ControlClient) async throws(ControlError) -> ControlReply {
            let live = Terminal.stderrIsTerminal
            var meter = RateMeter()
            var lastPhase: BootstrapProgress.Phase?
            var lastPrinted = -Double.infinity
            let deadline = timeout.map { ContinuousClock.now + .seconds($0) }
            while true {
                let reply = try await client.send(.space(space))
                let status = try reply.decode(SpaceStatus.self)
                if JoinProgressView.isDone(status) {
                    if live { Terminal.clearLine() }
                    return reply
                }
                if let progress = status.bootstrap {
                    meter.add(seconds: progress.elapsedSeconds, bytes: progress.bytesDone)
                    let line = JoinProgressView.line(progress, rate: meter.bytesPerSecond, width: Terminal.width, bar: live)
                    if live {
                        Terminal.redraw(line)
                    } else if progress.phase != lastPhase || progress.elapsedSeconds - lastPrinted >= 2 {
                        Terminal.err(line)
                        lastPrinted = progress.elapsedSeconds
                    }
                    lastPhase = progress.phase
                }
                if let deadline, ContinuousClock.now >= deadline {
                    if live { Terminal.err("") }
                    throw ControlError(
                        .unavailable, "\(Format.key(space)) is not ready after \(Format.duration(timeout ?? 0))",
                        hint: "the daemon keeps joining; follow it with `peer status \(space)`")
                }
                do {
                    try await Task.sleep(for: .milliseconds(200))
                } catch {
                    throw ControlError(.unavailable, "interrupted", hint: "the daemon keeps joining; follow it with `peer status \(space)`")
                }
            }
        }
    }
}
