import SheafCrypto

/// Spaces and writers are named by a 32-byte key in hex. Checked where a
/// request enters (route, CLI argument) so a typo gets a 400 that says so,
/// not a 404 from deep inside the node.
public enum ControlKeys {
    /// The key in canonical form (lowercase), or a `badRequest` naming `what`.
    public static func validate(_ text: String, as what: String) throws(ControlError) -> String {
        let lower = text.lowercased()
        guard lower.utf8.count == 64, Hex.decode(lower) != nil else {
            throw ControlError(
                .badRequest, "\(what) \"\(abbreviate(text))\" is not a key (64 hex digits)",
                hint: "copy the full key from `peer space list --json`")
        }
        return lower
    }

    /// At most 80 characters of untrusted text, for error messages.
    static func abbreviate(_ text: String) -> String {
        text.count <= 80 ? text : String(text.prefix(77)) + "..."
    }
}
