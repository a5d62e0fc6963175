/// A reply type read from a parsed `JSONValue` by hand instead of through `Decodable`.
///
/// Only the replies attachctl reads on every F5 (`Wait`, `GetStatus`, `ListProjects`) have this:
/// a short-lived process pays the Swift runtime's first use of each Codable type (metadata from
/// mangled names, conformances found by scanning the binary) on every run, about as much as
/// everything else it does. Each `init(reading:)` must read exactly what the type's synthesized
/// `Decodable` reads; `ReplyReadingTests` holds them to that, field by field.
public protocol JSONReadable: Decodable {
    init(reading object: JSONObjectReader) throws(ReplyDecodingError)
}

/// Typed access to one JSON object's members, with the errors `JSONDecoder` would give:
/// a member missing, null where a value is required, or of the wrong type is
/// `ReplyDecodingError.mismatch(field:)` naming its path (`session.debugPort`; array elements
/// as `Index N`, as JSONDecoder names them). Optional members may be absent or null.
public struct JSONObjectReader {
    public let members: [String: JSONValue]
    /// The keys from the reply's parameters down to this object.
    public let path: [String]

    /// Reads `value` as an object; anything else is a mismatch of `path`.
    public init(_ value: JSONValue, path: [String] = []) throws(ReplyDecodingError) {
        guard case .object(let members) = value else {
            throw .mismatch(field: path.isEmpty ? nil : path.joined(separator: "."))
        }
        self.members = members
        self.path = path
    }

    private func mismatch(_ key: String) -> ReplyDecodingError {
        .mismatch(field: (path + [key]).joined(separator: "."))
    }

    /// The member, nil when absent or null.
    private func present(_ key: String) -> JSONValue? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    private func required(_ key: String) throws(ReplyDecodingError) -> JSONValue {
        guard let value = present(key) else { throw mismatch(key) }
        return value
    }

    public func optionalString(_ key: String) throws(ReplyDecodingError) -> String? {
        guard let value = present(key) else { return nil }
        guard case .string(let text) = value else { throw mismatch(key) }
        return text
    }

    public func string(_ key: String) throws(ReplyDecodingError) -> String {
        guard let text = try optionalString(key) else { throw mismatch(key) }
        return text
    }

    public func optionalDouble(_ key: String) throws(ReplyDecodingError) -> Double? {
        guard let value = present(key) else { return nil }
        guard case .number(let number) = value else { throw mismatch(key) }
        return number
    }

    public func double(_ key: String) throws(ReplyDecodingError) -> Double {
        guard let number = try optionalDouble(key) else { throw mismatch(key) }
        return number
    }

    /// An integer member: a number with no fraction that fits an Int.
    public func optionalInt(_ key: String) throws(ReplyDecodingError) -> Int? {
        guard let number = try optionalDouble(key) else { return nil }
        guard number.rounded() == number, abs(number) < 9.0e15 else { throw mismatch(key) }
        return Int(number)
    }

    public func int(_ key: String) throws(ReplyDecodingError) -> Int {
        guard let number = try optionalInt(key) else { throw mismatch(key) }
        return number
    }

    public func optionalBool(_ key: String) throws(ReplyDecodingError) -> Bool? {
        guard let value = present(key) else { return nil }
        guard case .bool(let flag) = value else { throw mismatch(key) }
        return flag
    }

    public func bool(_ key: String) throws(ReplyDecodingError) -> Bool {
        guard case .bool(let flag) = try required(key) else { throw mismatch(key) }
        return flag
    }

    /// A string member that must be one of `E`'s raw values.
    public func optionalCase<E: RawRepresentable>(_ key: String, _ type: E.Type) throws(ReplyDecodingError) -> E?
    where E.RawValue == String {
        guard let text = try optionalString(key) else { return nil }
        guard let value = E(rawValue: text) else { throw mismatch(key) }
        return value
    }

    public func `case`<E: RawRepresentable>(_ key: String, _ type: E.Type) throws(ReplyDecodingError) -> E
    where E.RawValue == String {
        guard let value = try optionalCase(key, type) else { throw mismatch(key) }
        return value
    }

    public func optionalObject<T: JSONReadable>(_ key: String, _ type: T.Type) throws(ReplyDecodingError) -> T? {
        guard let value = present(key) else { return nil }
        return try T(reading: JSONObjectReader(value, path: path + [key]))
    }

    public func object<T: JSONReadable>(_ key: String, _ type: T.Type) throws(ReplyDecodingError) -> T {
        guard let value = try optionalObject(key, type) else { throw mismatch(key) }
        return value
    }

    public func optionalArray<T: JSONReadable>(_ key: String, of type: T.Type) throws(ReplyDecodingError) -> [T]? {
        guard let value = present(key) else { return nil }
        guard case .array(let elements) = value else { throw mismatch(key) }
        var result: [T] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            result.append(try T(reading: JSONObjectReader(element, path: path + [key, "Index \(index)"])))
        }
        return result
    }

    public func array<T: JSONReadable>(_ key: String, of type: T.Type) throws(ReplyDecodingError) -> [T] {
        guard let value = try optionalArray(key, of: type) else { throw mismatch(key) }
        return value
    }
}
