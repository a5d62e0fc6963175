/// One varlink reply whose parameters are decoded straight into the method's reply type `P`
/// (a client's view of ``VarlinkReply``). An error reply's parameters are kept as JSON, since
/// their shape depends on the error. Made by ``VarlinkCodec/reply(_:from:)``.
public struct VarlinkTypedReply<P: Decodable>: Decodable {
    /// The reply's parameters; nil for an error reply.
    public var parameters: P?
    /// More replies follow (only for calls made with `more: true`).
    public var continues: Bool?
    /// The error, for an error reply.
    public var error: VarlinkError?

    private enum CodingKeys: String, CodingKey {
        case parameters, continues, error
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        continues = try container.decodeIfPresent(Bool.self, forKey: .continues)
        if let name = try container.decodeIfPresent(String.self, forKey: .error) {
            error = VarlinkError(
                name: name,
                parameters: try container.decodeIfPresent(JSONValue.self, forKey: .parameters))
            parameters = nil
        } else {
            error = nil
            parameters = try container.decodeIfPresent(P.self, forKey: .parameters)
        }
    }
}

/// Why a reply could not be decoded.
public enum ReplyDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not a JSON object shaped as a varlink reply.
    case malformed(String)
    /// A varlink reply whose parameters do not fit the reply type; `field` names the member
    /// when the decoder says which (`project.debugPort`).
    case mismatch(field: String?)

    public var description: String {
        switch self {
        case .malformed(let what): return "not a varlink reply: \(what)"
        case .mismatch(let field): return "parameters do not match the reply type (field '\(field ?? "?")')"
        }
    }
}
