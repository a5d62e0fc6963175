// The comments and trailing commas of VS Code's JSON, found and blanked before reading.

/// The "JSON with comments" dialect of VS Code's configuration files.
public enum JSONC {
    /// Whether `text` has a `//` or `/* */` comment outside its string literals.
    public static func hasComments(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var i = 0
        var inString = false
        while i < bytes.count {
            let c = bytes[i]
            if inString {
                if c == UInt8(ascii: "\\") {
                    i += 2
                    continue
                }
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\n") { inString = false }
            } else if c == UInt8(ascii: "\"") {
                inString = true
            } else if c == UInt8(ascii: "/"), i + 1 < bytes.count,
                bytes[i + 1] == UInt8(ascii: "/") || bytes[i + 1] == UInt8(ascii: "*")
            {
                return true
            }
            i += 1
        }
        return false
    }

    /// `text` with `//` and `/* */` comments replaced by spaces (newlines are kept, so line
    /// numbers stay right) and commas that only precede a `]` or `}` removed. String literals,
    /// including escaped quotes and comment markers inside them, are left untouched.
    public static func stripComments(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        var pendingComma: Int? = nil  // index in `out` of a comma that may be trailing
        let slash = UInt8(ascii: "/")
        let star = UInt8(ascii: "*")
        let quote = UInt8(ascii: "\"")
        let backslash = UInt8(ascii: "\\")
        let newline = UInt8(ascii: "\n")
        let space = UInt8(ascii: " ")
        while i < bytes.count {
            let c = bytes[i]
            if c == quote {
                pendingComma = nil
                out.append(c)
                i += 1
                while i < bytes.count {
                    let d = bytes[i]
                    out.append(d)
                    i += 1
                    if d == backslash, i < bytes.count {
                        out.append(bytes[i])
                        i += 1
                    } else if d == quote || d == newline {
                        break
                    }
                }
                continue
            }
            if c == slash, i + 1 < bytes.count, bytes[i + 1] == slash {
                while i < bytes.count, bytes[i] != newline {
                    out.append(space)
                    i += 1
                }
                continue
            }
            if c == slash, i + 1 < bytes.count, bytes[i + 1] == star {
                out.append(space)
                out.append(space)
                i += 2
                while i < bytes.count {
                    if bytes[i] == star, i + 1 < bytes.count, bytes[i + 1] == slash {
                        out.append(space)
                        out.append(space)
                        i += 2
                        break
                    }
                    out.append(bytes[i] == newline ? newline : space)
                    i += 1
                }
                continue
            }
            switch c {
            case UInt8(ascii: ","):
                pendingComma = out.count
                out.append(c)
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if let comma = pendingComma { out[comma] = space }
                pendingComma = nil
                out.append(c)
            case space, newline, UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                out.append(c)
            default:
                pendingComma = nil
                out.append(c)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
