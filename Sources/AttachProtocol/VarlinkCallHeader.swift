/// A varlink call without its parameters: what the daemon reads first, to know which method's
/// parameter type to decode the same bytes into (`VarlinkCodec.parameters(_:in:)`).
public struct VarlinkCallHeader: Decodable, Sendable, Equatable, VarlinkMethodNamed {
    /// Fully qualified method name, e.g. `io.attachd.Broker.Wait`.
    public var method: String
    /// The client wants no reply.
    public var oneway: Bool?
    /// The client accepts several replies.
    public var more: Bool?

    public init(method: String, oneway: Bool? = nil, more: Bool? = nil) {
        self.method = method
        self.oneway = oneway
        self.more = more
    }
}

/// The `parameters` of a call, decoded straight into the method's own type.
private struct TypedParameters<P: Decodable>: Decodable {
    var parameters: P?
}

extension VarlinkCodec {
    /// Decodes the parameters of the call in `message` (one varlink message, without its NUL)
    /// straight from its bytes into the method's own type: one decode, no detour through
    /// `JSONValue`. A missing or null `parameters` is taken as `{}`. Only when that fails is
    /// the message read as a `VarlinkCall`, to name the field at fault
    /// (`org.varlink.service.InvalidParameter`).
    public func parameters<T: Decodable>(_ type: T.Type, in message: [UInt8]) throws(VarlinkError) -> T {
        do {
            if let parameters = try decode(TypedParameters<T>.self, from: message).parameters { return parameters }
            return try decode(T.self, from: Array("{}".utf8))
        } catch {
            guard let call = try? decode(VarlinkCall.self, from: message) else { throw .invalidParameter("parameters") }
            return try parameters(T.self, of: call)
        }
    }
}
