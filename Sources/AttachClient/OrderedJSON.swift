import AttachProtocol

/// A JSON value that keeps the order of object members and the text of numbers, so a file
/// read, changed and written back keeps its layout as far as JSON can (comments excepted).
public indirect enum OrderedJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's literal text, as read (or as written by ``int(_:)``).
    case number(String)
    case string(String)
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    public static func int(_ value: Int) -> OrderedJSON { .number(String(value)) }

    public static func == (lhs: OrderedJSON, rhs: OrderedJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The member `key` of an object (the first, if repeated).
    public subscript(key: String) -> OrderedJSON? {
        get {
            guard case .object(let members) = self else { return nil }
            return members.first { $0.0 == key }?.1
        }
        set {
            guard case .object(var members) = self else { return }
            if let index = members.firstIndex(where: { $0.0 == key }) {
                if let newValue { members[index].1 = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append((key, newValue))
            }
            self = .object(members)
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var arrayValue: [OrderedJSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    // MARK: - Writing

    /// Pretty-printed JSON, indented by `indent` spaces per level, members in their order.
    /// Empty arrays and objects are written `[]` and `{}`. No trailing newline.
    public func serialized(indent: Int = 4) -> String {
        var out = ""
        write(to: &out, level: 0, indent: indent)
        return out
    }

    private func write(to out: inout String, level: Int, indent: Int) {
        let pad = String(repeating: " ", count: (level + 1) * indent)
        let closePad = String(repeating: " ", count: level * indent)
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): out += JSONValue.quoted(s)
        case .array(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += pad
                item.write(to: &out, level: level + 1, indent: indent)
                out += index < items.count - 1 ? ",\n" : "\n"
            }
            out += closePad + "]"
        case .object(let members):
            if members.isEmpty {
                out += "{}"
                return
            }
            out += "{\n"
            for (index, member) in members.enumerated() {
                out += pad + JSONValue.quoted(member.0) + ": "
                member.1.write(to: &out, level: level + 1, indent: indent)
                out += index < members.count - 1 ? ",\n" : "\n"
            }
            out += closePad + "}"
        }
    }

    // MARK: - Reading

    /// Parses JSON as VS Code reads its settings files ("JSON with comments"): `//` line comments,
    /// `/* */` block comments and trailing commas before `]` or `}` are allowed and dropped.
    /// Comment markers inside strings (`"https://…"`) are string content.
    public static func parse(jsonc text: String) throws(JSONParseError) -> OrderedJSON {
        var parser = JSONCReader(bytes: Array(JSONC.stripComments(text).utf8))
        return try parser.parseDocument()
    }
}

/// Where and why a JSON text could not be read.
