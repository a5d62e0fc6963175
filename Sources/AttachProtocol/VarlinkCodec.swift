#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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
        var bytes =
            (try? [UInt8](encoder.encode(message))) ?? Array(#"{"error":"org.varlink.service.InternalError"}"#.utf8)
        bytes.append(0)
        return bytes
    }

    /// The bytes of a successful reply carrying `parameters`, encoded in one pass (no detour
    /// through `JSONValue`), ended by its NUL.
    public func frameReply<P: Encodable>(_ parameters: P, continues: Bool? = nil) -> [UInt8] {
        frame(ReplyEnvelope(parameters: parameters, continues: continues))
    }

    /// Decodes one message (without its NUL).
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decoder.decode(T.self, from: Data(bytes))
    }

    /// Decodes one reply (without its NUL) in one pass, its parameters straight into `P`
    /// (no detour through `JSONValue`). A successful reply without `parameters` is read as `{}`.
    public func reply<P: Decodable>(_ type: P.Type, from bytes: [UInt8]) throws(ReplyDecodingError)
        -> VarlinkTypedReply<P>
    {
        do {
            var reply = try decoder.decode(VarlinkTypedReply<P>.self, from: Data(bytes))
            if reply.error == nil, reply.parameters == nil {
                reply.parameters = try decoder.decode(P.self, from: Data("{}".utf8))
            }
            return reply
        } catch let error as DecodingError {
            // An error without a path is bad JSON, or (Foundation on Linux) a number that does
            // not fit its field: only the first fails to read as an untyped reply.
            if Self.fieldName(of: error) == nil, (try? decoder.decode(VarlinkReply.self, from: Data(bytes))) == nil {
                throw .malformed("\(error)")
            }
            let field = Self.fieldName(of: error).map { $0.hasPrefix("parameters.") ? String($0.dropFirst(11)) : $0 }
            throw .mismatch(field: field)
        } catch {
            throw .malformed("\(error)")
        }
    }

    /// A value as JSON, for a reply's `parameters`.
    public func value<T: Encodable>(_ value: T) -> JSONValue {
        guard let data = try? encoder.encode(value),
            let json = try? decoder.decode(JSONValue.self, from: data)
        else { return .object([:]) }
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
            throw .invalidParameter(
                Self.fieldName(of: error) ?? culprit(decoding: T.self, from: params) ?? "parameters")
        } catch {
            throw .invalidParameter("parameters")
        }
    }

    /// The top-level key whose number makes decoding `params` fail, for errors that carry no
    /// coding path: Foundation's JSONDecoder on Linux reports a number that does not fit an
    /// integer field (`"debugPort": 5678.5`, `1e30`) as `dataCorrupted` with an empty path. The
    /// culprit is the key whose numbers, once set to 0 (together with those of the keys tried
    /// before it), make that error go away. Error path only.
    private func culprit<T: Decodable>(decoding type: T.Type, from params: JSONValue) -> String? {
        guard case .object(let members) = params else { return nil }
        var zeroed = members
        for key in members.keys.sorted() {
            guard let value = members[key], value.containsNumber else { continue }
            zeroed[key] = value.withNumbersZeroed
            do {
                _ = try decoder.decode(T.self, from: encoder.encode(JSONValue.object(zeroed)))
                return key
            } catch let error as DecodingError {
                if Self.fieldName(of: error) != nil { return key }
            } catch {
                return nil
            }
        }
        return nil
    }

    /// The field `error` is about, or nil when it names none.
    private static func fieldName(of error: DecodingError) -> String? {
        switch error {
        case .keyNotFound(let key, let context):
            return (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return context.codingPath.map(\.stringValue).joined(separator: ".").nonEmpty
        @unknown default:
            return nil
        }
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}

extension JSONValue {
    fileprivate var containsNumber: Bool {
        switch self {
        case .number: return true
        case .array(let items): return items.contains { $0.containsNumber }
        case .object(let members): return members.values.contains { $0.containsNumber }
        case .null, .bool, .string: return false
        }
    }

    fileprivate var withNumbersZeroed: JSONValue {
        switch self {
        case .number: return .number(0)
        case .array(let items): return .array(items.map(\.withNumbersZeroed))
        case .object(let members): return .object(members.mapValues(\.withNumbersZeroed))
        case .null, .bool, .string: return self
        }
    }
}

/// A reply whose parameters are already a typed value.
private struct ReplyEnvelope<P: Encodable>: Encodable {
    let parameters: P
    let continues: Bool?
}
