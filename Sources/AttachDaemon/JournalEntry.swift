import AttachSystem
import AttachSystemd

/// How one log event becomes a journal entry: pure functions, no I/O, on plain values (the
/// handler turns swift-log's level and metadata into a syslog priority and strings).
///
/// Every metadata key becomes a field `ATTACHD_<KEY>` (camelCase split at the capitals,
/// upper-cased, anything but A-Z 0-9 turned into `_`): "project" → ATTACHD_PROJECT, "session" →
/// ATTACHD_SESSION, "pid" (the host's) → ATTACHD_PID, "port" → ATTACHD_PORT, "keptAs" →
/// ATTACHD_KEPT_AS. So `journalctl --user -u attachd ATTACHD_PROJECT=maxtools` shows one
/// project's history. The metadata also stays in MESSAGE as `key=value`, as on stderr, because
/// journalctl shows only MESSAGE unless asked for more.
enum JournalEntry {
    /// The fields of one entry, in this order: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_FILE,
    /// CODE_LINE, CODE_FUNC, then one ATTACHD_* field per metadata key in key order.
    static func fields(
        priority: Int,
        message: String,
        metadata: [String: String],
        file: String,
        function: String,
        line: UInt
    ) -> [Journal.Field] {
        var fields = [
            Journal.Field("MESSAGE", text(message: message, metadata: metadata)),
            Journal.Field("PRIORITY", String(priority)),
            Journal.Field("SYSLOG_IDENTIFIER", "attachd"),
            Journal.Field("CODE_FILE", file),
            Journal.Field("CODE_LINE", String(line)),
            Journal.Field("CODE_FUNC", function),
        ]
        for key in metadata.keys.sorted() {
            fields.append(Journal.Field(fieldName(forMetadataKey: key), metadata[key]!))
        }
        return fields
    }

    /// The message followed by the metadata as `key=value`, sorted by key, space-separated:
    /// the same text on stderr and in MESSAGE.
    static func text(message: String, metadata: [String: String]) -> String {
        guard !metadata.isEmpty else { return message }
        let details = metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }.joined(separator: " ")
        return message + " " + details
    }

    /// `ATTACHD_` + the key in upper snake case, cut to the journal's 64 characters; always a
    /// valid field name (`Journal.isValidFieldName`).
    static func fieldName(forMetadataKey key: String) -> String {
        var name = Array("ATTACHD_".utf8)
        var previousWasLower = false
        for byte in key.utf8 {
            let isUpper = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            let isLower = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            let isDigit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            if isUpper && previousWasLower { name.append(UInt8(ascii: "_")) }
            if isLower {
                name.append(byte - 32)
            } else if isUpper || isDigit {
                name.append(byte)
            } else {
                // One underscore per non-ASCII character, not per UTF-8 byte.
                if byte & 0xC0 != 0x80 { name.append(UInt8(ascii: "_")) }
            }
            previousWasLower = isLower || isDigit
        }
        return String(decoding: name.prefix(64), as: UTF8.self)
    }
}
