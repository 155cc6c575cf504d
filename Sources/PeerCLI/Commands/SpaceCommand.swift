import ArgumentParser
import SheafControl

/// `peer space create|join|list|drop|admit`.
public struct SpaceCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "space",
        abstract: "Create, join, list and drop spaces; admit writers.",
        subcommands: [Create.self, Join.self, List.self, Drop.self, Admit.self]
    )

    public init() {}

    public struct Create: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "create", abstract: "Create a space whose first writer is this node; prints its key.")

        @OptionGroup public var daemon: DaemonOptions

        public init() {}

        public func run() async throws {
            try await reportingErrors { () throws(ControlError) in
                let reply = try await daemon.client().send(.createSpace)
                try daemon.show(reply, as: SpaceStatus.self, Views.space)
            }
        }
    }

    public struct List: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "list", abstract: "List the spaces this node holds.")

        @OptionGroup public var daemon: DaemonOptions

        public init() {}

        public func run() async throws {
            try await reportingErrors { () throws(ControlError) in
                let reply = try await daemon.client().send(.listSpaces)
                try daemon.show(reply, as: SpaceList.self) { Views.spaces($0.spaces) }
            }
        }
    }

    public struct Drop: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "drop", abstract: "Stop serving a space and delete its files on this node.")

        @OptionGroup public var daemon: DaemonOptions
        @Argument(help: "The space's key (64 hex digits).") public var space: String
        @Flag(name: .long, help: "Do not ask for confirmation.") public var yes = false

        public init() {}

        public func run() async throws {
            try await reportingErrors { () throws(ControlError) in
                let space = try ControlKeys.validate(space, as: "space")
                if !yes {
                    guard Terminal.stdinIsTerminal else {
                        throw ControlError(.badRequest, "refusing to drop \(Format.key(space)) without confirmation", hint: "pass --yes")
                    }
                    guard Terminal.confirm("drop space \(space) and delete all its files on this node?") else {
                        throw ControlError(.badRequest, "not dropped")
                    }
                }
                let reply = try await daemon.client().send(.dropSpace(space))
                try daemon.show(reply, as: DropResult.self) { "dropped \($0.dropped)" }
            }
        }
    }

    public struct Admit: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "admit", abstract: "Admit a writer's feed to a space (the space's creator only).")

        @OptionGroup public var daemon: DaemonOptions
        @Argument(help: "The space's key.") public var space: String
        @Argument(help: "The writer's key (its node key, from `peer status` on that node).") public var writer: String

        public init() {}

        public func run() async throws {
            try await reportingErrors { () throws(ControlError) in
                let space = try ControlKeys.validate(space, as: "space")
                let writer = try ControlKeys.validate(writer, as: "writer")
                let reply = try await daemon.client().send(.admitWriter(space: space), body: AdmitRequest(writer: writer))
                try daemon.show(reply, as: WriteResult.self) { Views.write($0, "admitted \(Format.key(writer))") }
            }
        }
    }
}
