/// One varlink method call, as a client sends it (https://varlink.org/Method-Call).
public struct VarlinkCall: Codable, Sendable, Equatable, VarlinkMethodNamed {
    /// Fully qualified method name, e.g. `io.attachd.Broker.Wait`.
    public var method: String
    /// Absent when the method takes no arguments (the PyPI client omits the key then).
    public var parameters: JSONValue?
    /// The client wants no reply.
    public var oneway: Bool?
    /// The client accepts several replies (`continues: true` on all but the last).
    public var more: Bool?
    /// The connection is to be handed over to another protocol after the reply.
    public var upgrade: Bool?

    public init(
        method: String, parameters: JSONValue? = nil, oneway: Bool? = nil, more: Bool? = nil, upgrade: Bool? = nil
    ) {
        self.method = method
        self.parameters = parameters
        self.oneway = oneway
        self.more = more
        self.upgrade = upgrade
    }
}

/// Anything that names a varlink method (`interface.Member`).
public protocol VarlinkMethodNamed {
    /// Fully qualified method name, e.g. `io.attachd.Broker.Wait`.
    var method: String { get }
}

extension VarlinkMethodNamed {
    /// The interface part of `method`: everything before the last dot.
    public var interface: String {
        guard let dot = method.lastIndex(of: ".") else { return "" }
        return String(method[..<dot])
    }

    /// The member part of `method`: everything after the last dot.
    public var member: String {
        guard let dot = method.lastIndex(of: ".") else { return method }
        return String(method[method.index(after: dot)...])
    }
}

/// One varlink reply: parameters, or an error with its parameters.
public struct VarlinkReply: Codable, Sendable, Equatable {
    public var parameters: JSONValue?
    /// More replies follow (only for calls made with `more: true`).
    public var continues: Bool?
    /// Fully qualified error name; nil for a successful reply.
    public var error: String?

    public init(parameters: JSONValue? = .object([:]), continues: Bool? = nil, error: String? = nil) {
        self.parameters = parameters
        self.continues = continues
        self.error = error
    }

    /// A reply carrying `error`.
    public init(error: VarlinkError) {
        self.init(parameters: error.parameters, continues: nil, error: error.name)
    }
}

/// A varlink error: a qualified name and its parameters.
public struct VarlinkError: Error, Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var parameters: JSONValue

    public init(_ name: String, _ parameters: [String: JSONValue] = [:]) {
        self.name = name
        self.parameters = .object(parameters)
    }

    public init(name: String, parameters: JSONValue?) {
        self.name = name
        self.parameters = parameters ?? .object([:])
    }

    public var description: String {
        var text = name
        if case .object(let members) = parameters, !members.isEmpty {
            let details = members.keys.sorted().map { key -> String in
                switch members[key]! {
                case .string(let s): return "\(key)=\(s)"
                case .number(let n): return n.rounded() == n ? "\(key)=\(Int64(n))" : "\(key)=\(n)"
                case .bool(let b): return "\(key)=\(b)"
                default: return "\(key)=…"
                }
            }
            text += " (" + details.joined(separator: ", ") + ")"
        }
        return text
    }
}
