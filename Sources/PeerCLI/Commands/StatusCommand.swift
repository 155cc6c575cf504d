import ArgumentParser
import SheafControl

/// `peer status [SPACE]`.
public struct StatusCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the node (neighbours, spaces), or one space in full.")

    @OptionGroup public var daemon: DaemonOptions
    @Argument(help: "A space's key, to show that space with its frontier and bootstrap.") public var space: String?

    public init() {}

    public func run() async throws {
        try await reportingErrors { () throws(ControlError) in
            let client = try daemon.client()
            if let space {
                let reply = try await client.send(.space(try ControlKeys.validate(space, as: "space")))
                try daemon.show(reply, as: SpaceStatus.self, Views.space)
            } else {
                try daemon.show(try await client.send(.status), as: NodeStatus.self, Views.node)
            }
        }
    }
}

/// `peer snapshot SPACE`.
public struct SnapshotCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Take a snapshot of a space now.")

    @OptionGroup public var daemon: DaemonOptions
    @Argument(help: "The space's key.") public var space: String

    public init() {}

    public func run() async throws {
        try await reportingErrors { () throws(ControlError) in
            let space = try ControlKeys.validate(space, as: "space")
            let reply = try await daemon.client().send(.snapshot(space: space))
            try daemon.show(reply, as: SnapshotInfo.self, Views.snapshot)
        }
    }
}
