import Foundation

/// Turns varlink messages into bytes and back. Holds one JSON encoder and decoder, so it is
/// meant to be owned by one queue or thread.
public final class VarlinkCodec: @unchecked Sendable {
    private let encoder: JSONEncoder
    private let decoder = JSONDecoder()

    public init() {
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    /// The bytes of one message, ended by the NUL that frames it.
    public func frame<T: Encodable>(_ message: T) -> [UInt8] {
        var bytes = (try? [UInt8](encoder.encode(message))) ?? Array(#"{"error":"org.varlink.service.InternalError"}"#.utf8)
        bytes.append(0)
        return bytes
    }

    /// Decodes one message (without its NUL).
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decoder.decode(T.self, from: Data(bytes))
    }

    /// A value as JSON, for a reply's `parameters`.
    public func value<T: Encodable>(_ value: T) -> JSONValue {
        guard let data = try? encoder.encode(value),
              let json = try? decoder.decode(JSONValue.self, from: data) else { return .object([:]) }
        return json
    }

    /// Decodes a call's parameters into the method's own type. A missing `parameters` key is
    /// taken as `{}`. A mismatch becomes `org.varlink.service.InvalidParameter` naming the field.
    public func parameters<T: Decodable>(_ type: T.Type, of call: VarlinkCall) throws(VarlinkError) -> T {
        let params = call.parameters ?? .object([:])
        guard case .object = params else { throw .invalidParameter("parameters") }
        do {
            let data = try encoder.encode(params)
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw .invalidParameter(Self.fieldName(of: error))
        } catch {
            throw .invalidParameter("parameters")
        }
    }

    private static func fieldName(of error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _):
            return key.stringValue
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return context.codingPath.map(\.stringValue).joined(separator: ".").nonEmpty ?? "parameters"
        @unknown default:
            return "parameters"
        }
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
