import AttachSystem
import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Structured messages to the systemd journal through libsystemd's native protocol
/// (sd_journal_sendv(3)).
///
/// libsystemd always sends to /run/systemd/journal/socket and encodes each field itself:
/// `NAME=value\n`, or, for a value containing a newline, `NAME\n` + 64-bit little-endian length +
/// value + `\n` (systemd's JOURNAL_NATIVE_PROTOCOL).
public enum Journal {
    /// The socket journald reads native messages on; libsystemd has it compiled in.
    public static let socketPath = "/run/systemd/journal/socket"

    /// One journal field. `name` must be a valid journal field name (see `isValidFieldName`);
    /// `value` is any UTF-8 text, newlines included.
    public struct Field: Equatable, Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public let value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }

        public var description: String { "\(name)=\(value)" }
    }

    /// True for names journald accepts from a client: 1–64 characters of `A-Z`, `0-9` and `_`,
    /// not starting with `_` (reserved for trusted fields) nor a digit.
    public static func isValidFieldName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), bytes[0] != UInt8(ascii: "_") else { return false }
        guard !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[0]) else { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
    }

    /// True when `socketPath` exists and is a socket (stat(2)).
    public static var isAvailable: Bool {
        Files.isSocket(socketPath, followingLinks: true)
    }

    /// sd_journal_sendv(3): sends one entry made of `fields`.
    ///
    /// Throws EINVAL for an empty list or an invalid field name, ENOENT when `socketPath` is not a
    /// socket (libsystemd itself reports success then, dropping the entry), and whatever
    /// sendmsg(2) reported otherwise (ECONNREFUSED when nobody reads the socket).
    public static func send(_ fields: [Field]) throws(Errno) {
        guard !fields.isEmpty, fields.allSatisfy({ isValidFieldName($0.name) }) else { throw .invalidArgument }
        // libsystemd hides a missing journal ("fail silently"); the caller wants to know, to
        // write the message to stderr instead.
        guard isAvailable else { throw .noSuchFile }
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = buffer.count
            buffer += field.name.utf8
            buffer.append(UInt8(ascii: "="))
            buffer += field.value.utf8
            ranges.append(start..<buffer.count)
        }
        let bytes = buffer
        _ = try systemdCall {
            bytes.withUnsafeBytes { raw in
                // sd_journal_sendv only reads the vectors; iovec just has no const variant.
                let base = UnsafeMutableRawPointer(mutating: raw.baseAddress!)
                let vectors = ranges.map { iovec(iov_base: base + $0.lowerBound, iov_len: $0.count) }
                return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
            }
        }
    }
}
