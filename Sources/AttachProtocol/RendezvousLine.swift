/// One `sd_notify(3)`-style assignment a host sends on a rendezvous connection.
public enum RendezvousAssignment: Equatable, Sendable {
    /// `READY=1`: the host says its debug server is listening (the daemon still checks).
    case ready
    /// `STOPPING=1`: the host is shutting down; the session ends.
    case stopping
    /// `DEBUG_PORT=1..65535`: the port the host's debug server listens on.
    case debugPort(Int)
    /// `MAINPID=positive`: the host's process; the session ends when it exits.
    case mainPID(Int32)
    /// `STATUS=any text` (may be empty): free text shown with the session.
    case status(String)
    /// `SESSION=ID`, as the first line: this connection speaks for a session that exists
    /// already (one `attachctl run` announced, whose id the host finds in `ATTACHD_SESSION`).
    case session(String)
    /// `EXECUTABLE=any text` (may be empty): the host's `sys.executable`, sent by attach_ready
    /// only when it is not a Python debugpy's adapter can run with (an embedded interpreter
    /// whose `sys.executable` is the application); empty when it is None.
    case executable(String)
    /// `PYTHON=any text` (may be empty): the interpreter attach_ready had debugpy run its
    /// adapter with, sent with `EXECUTABLE=`; empty when none was found.
    case python(String)
    /// `NOTIFY_ATTACH=1`: the host wants `ATTACHED=1` / `DETACHED=1` lines when an IDE relay to
    /// it starts and ends.
    case notifyAttach
}

/// Why a rendezvous line was refused.
public enum RendezvousLineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The line has no `=`.
    case notAnAssignment(String)
    /// The key is none of ``RendezvousLine/keys``.
    case unknownKey(String)
    /// The value does not fit the key. `value` is as received (untrimmed); `expected` says
    /// what would have been accepted.
    case invalidValue(key: String, value: String, expected: String)

    /// A precise, human explanation, for example
    /// `DEBUG_PORT=99999: expected a port number 1-65535`. Control characters are escaped.
    public var description: String {
        switch self {
        case .notAnAssignment(let line):
            return "\"\(RendezvousLine.printable(line))\": expected KEY=VALUE"
        case .unknownKey(let key):
            return "unknown key \"\(RendezvousLine.printable(key))\": expected one of "
                + RendezvousLine.keys.joined(separator: ", ")
        case .invalidValue(let key, let value, let expected):
            return "\(RendezvousLine.printable(key))=\(RendezvousLine.printable(value)): expected \(expected)"
        }
    }
}

/// The line protocol of a rendezvous connection: parsing what a host says, formatting what the
/// daemon answers. Lines are framed by ``LineFramer``.
public enum RendezvousLine {
    /// The keys a host may assign, in the order the documentation lists them.
    public static let keys = [
        "READY", "STOPPING", "DEBUG_PORT", "MAINPID", "STATUS", "SESSION", "EXECUTABLE", "PYTHON",
    ]

    static let expectedOne = "1"
    static let expectedPort = "a port number 1-65535"
    static let expectedPID = "a positive process ID (1-2147483647)"
    static let expectedText = "text without NUL bytes"
    static let expectedSession = "a session id of 1-128 characters A-Z a-z 0-9 . _ -"

    /// Parses one line (without its line ending).
    ///
    /// Keys are case-sensitive. Values are trimmed of surrounding spaces and tabs, except the
    /// text ones (`STATUS`, and the paths `EXECUTABLE` and `PYTHON`), which are kept as sent.
    /// Numbers are plain decimal digits: no sign, leading zeros allowed. A NUL byte makes any
    /// value invalid.
    ///
    /// nil for an empty line (ignored by the daemon, no reply). A line of only spaces and tabs
    /// counts as empty.
    public static func parse(_ line: String) -> Result<RendezvousAssignment, RendezvousLineError>? {
        if line.unicodeScalars.allSatisfy(isBlank) { return nil }
        let scalars = line.unicodeScalars
        guard let equals = scalars.firstIndex(of: "=") else { return .failure(.notAnAssignment(line)) }
        let key = String(scalars[..<equals])
        let rawValue = String(scalars[scalars.index(after: equals)...])
        let value = trimmed(rawValue)
        let containsNUL = rawValue.unicodeScalars.contains("\0")

        func invalid(_ expected: String) -> Result<RendezvousAssignment, RendezvousLineError> {
            .failure(.invalidValue(key: key, value: rawValue, expected: expected))
        }

        switch key {
        case "READY":
            return value == "1" && !containsNUL ? .success(.ready) : invalid(expectedOne)
        case "STOPPING":
            return value == "1" && !containsNUL ? .success(.stopping) : invalid(expectedOne)
        case "DEBUG_PORT":
            guard let port = decimal(value, max: 65535), port >= 1 else { return invalid(expectedPort) }
            return .success(.debugPort(port))
        case "MAINPID":
            guard let pid = decimal(value, max: Int(Int32.max)), pid >= 1 else { return invalid(expectedPID) }
            return .success(.mainPID(Int32(pid)))
        case "STATUS":
            return containsNUL ? invalid(expectedText) : .success(.status(rawValue))
        case "EXECUTABLE":
            return containsNUL ? invalid(expectedText) : .success(.executable(rawValue))
        case "PYTHON":
            return containsNUL ? invalid(expectedText) : .success(.python(rawValue))
        case "NOTIFY_ATTACH":
            return value == "1" && !containsNUL ? .success(.notifyAttach) : invalid(expectedOne)
        case "SESSION":
            let valid =
                !value.isEmpty && value.utf8.count <= 128
                && value.unicodeScalars.allSatisfy {
                    $0.isASCII
                        && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0))
                }
            return valid ? .success(.session(value)) : invalid(expectedSession)
        default:
            return .failure(.unknownKey(key))
        }
    }

    /// `OK session=ID\n`: the daemon's answer to an accepted announcement.
    public static func ok(session: String) -> [UInt8] {
        Array("OK session=\(singleLine(session))\n".utf8)
    }

    /// `ERROR reason\n`: the daemon's answer to a refused line. Any newline (`\n`, `\r`) or NUL in
    /// `reason` is replaced by a space, so the answer stays one line.
    public static func error(_ reason: String) -> [UInt8] {
        Array("ERROR \(singleLine(reason))\n".utf8)
    }

    // MARK: - Helpers

    private static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t"
    }

    private static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isBlank($0) }),
            let last = scalars.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return String(scalars[first...last])
    }

    /// The value of a string of ASCII digits, if it is at most `max`; nil for anything else
    /// (empty, signs, spaces, other digits, overflow).
    private static func decimal(_ text: String, max: Int) -> Int? {
        var result = 0
        var sawDigit = false
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            result = result * 10 + Int(byte - UInt8(ascii: "0"))
            if result > max { return nil }
            sawDigit = true
        }
        return sawDigit ? result : nil
    }

    private static func singleLine(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { scalar in
                    scalar == "\n" || scalar == "\r" || scalar == "\0" ? " " : scalar
                }))
    }

    /// `text` with control characters escaped, for error messages.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\0": out += "\\0"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
