import ArgumentParser
import SheafControl
import SheafModels

/// `SPACE ID`, the object a command is about.
public struct ObjectArguments: ParsableArguments {
    @Argument(help: "The space's key.") public var space: String
    @Argument(help: "The object's id.") public var id: String

    public init() {}

    /// The route for the object, with the space key checked first.
    func route(_ make: (String, String) -> ControlRoute) throws(ControlError) -> ControlRoute {
        make(try ControlKeys.validate(space, as: "space"), id)
    }
}

/// `peer put SPACE ID field=value ...`.
public struct PutCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Set fields of an object (creating it).",
        discussion: """
            Values: 42 is an int, 4.2 or 1e6 a double, true/false a bool, null is null, 0x00ff bytes, \
            "quoted" a string (quotes force a string: "42"), anything else the string as written.
            """)

    @OptionGroup public var daemon: DaemonOptions
    @OptionGroup public var object: ObjectArguments
    @Argument(help: ArgumentHelp("Fields to set.", valueName: "field=value")) public var fields: [String] = []
    @Option(name: .long, help: "Make the object a child of this one.") public var parent: String?
    @Flag(name: .long, help: "Remove the object's parent.") public var clearParent = false

    public init() {}

    public func run() async throws {
        try await reportingErrors { () throws(ControlError) in
            var values: [String: FieldValue] = [:]
            for field in fields {
                let (name, value) = try FieldSyntax.parseAssignment(field)
                values[name] = value
            }
            guard !values.isEmpty || parent != nil || clearParent else {
                throw ControlError(.badRequest, "nothing to write", hint: "give fields as name=value, or --parent")
            }
            let request = PutObjectRequest(fields: values, parent: parent, clearParent: clearParent ? true : nil)
            let reply = try await daemon.client().send(try object.route(ControlRoute.putObject), body: request)
            try daemon.show(reply, as: WriteResult.self) { Views.write($0, "put \(object.id)") }
        }
    }
}

/// `peer get SPACE ID`.
public struct GetCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "get", abstract: "Show an object's fields.")

    @OptionGroup public var daemon: DaemonOptions
    @OptionGroup public var object: ObjectArguments

    public init() {}

    public func run() async throws {
        try await reportingErrors { () throws(ControlError) in
            let reply = try await daemon.client().send(try object.route(ControlRoute.getObject))
            try daemon.show(reply, as: ObjectInfo.self, Views.object)
        }
    }
}

/// `peer delete SPACE ID`.
public struct DeleteCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete an object.")

    @OptionGroup public var daemon: DaemonOptions
    @OptionGroup public var object: ObjectArguments

    public init() {}

    public func run() async throws {
        try await reportingErrors { () throws(ControlError) in
            let reply = try await daemon.client().send(try object.route(ControlRoute.deleteObject))
            try daemon.show(reply, as: WriteResult.self) { Views.write($0, "deleted \(object.id)") }
        }
    }
}

/// `peer list SPACE [--parent P] [--after ID] [--limit N]`.
public struct ListCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List objects in key order, a page at a time.")

    @OptionGroup public var daemon: DaemonOptions
    @Argument(help: "The space's key.") public var space: String
    @Option(name: .long, help: "Only the children of this object.") public var parent: String?
    @Option(name: .long, help: "Start after this id (the last page's `next`).") public var after: String?
    @Option(name: .long, help: "At most this many objects (1 to \(ListQuery.maxLimit); default \(ListQuery.defaultLimit)).")
    public var limit: Int?

    public init() {}

    public func validate() throws {
        if let limit, !(1...ListQuery.maxLimit).contains(limit) {
            throw ValidationError("--limit is from 1 to \(ListQuery.maxLimit)")
        }
    }

    public func run() async throws {
        try await reportingErrors { () throws(ControlError) in
            let space = try ControlKeys.validate(space, as: "space")
            let query = ListQuery(parent: parent, after: after, limit: limit)
            let reply = try await daemon.client().send(.listObjects(space: space, query: query))
            try daemon.show(reply, as: ObjectPage.self, Views.page)
        }
    }
}
