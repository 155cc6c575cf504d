import PeerCLI
import Testing

/// The commands' arguments as the lead's `peer` root will hand them over.
@Suite struct CommandParsingTests {
    let key = String(repeating: "ab", count: 32)

    @Test func joinTakesTrustContactsAndNoWait() throws {
        let join = try SpaceCommand.Join.parse([key, "--trust", "quorum:2", "--contact", "a:1", "--contact", "b:2", "--no-wait", "--data", "/d"])
        #expect(join.trust == "quorum:2")
        #expect(join.contacts == ["a:1", "b:2"])
        #expect(join.noWait)
        #expect(join.daemon.dataDirectory == "/d")
        #expect(throws: (any Error).self) { try SpaceCommand.Join.parse([key, "--trust", "quorum:0"]) }
        #expect(throws: (any Error).self) { try SpaceCommand.Join.parse([key, "--trust", "everyone"]) }
    }

    @Test func putTakesFieldsAndParent() throws {
        let put = try PutCommand.parse([key, "doc", "title=hi", "n=3", "--parent", "root", "--json"])
        #expect(put.fields == ["title=hi", "n=3"])
        #expect(put.parent == "root")
        #expect(put.daemon.json)
    }

    @Test func listBoundsItsLimit() throws {
        #expect(try ListCommand.parse([key, "--limit", "10"]).limit == 10)
        #expect(throws: (any Error).self) { try ListCommand.parse([key, "--limit", "0"]) }
    }

    @Test func spaceHasItsSubcommands() throws {
        let names = SpaceCommand.configuration.subcommands.map { $0.configuration.commandName ?? "\($0)" }
        #expect(names == ["create", "join", "list", "drop", "admit"])
        let drop = try SpaceCommand.parseAsRoot(["drop", key, "--yes"]) as? SpaceCommand.Drop
        #expect(drop?.yes == true)
    }
}
