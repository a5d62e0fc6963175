/// Every method attachd serves, fully qualified: the one spelling of each name, for the
/// server's dispatch and every client (attachctl, the remote links, the benchmark). A test
/// holds the list to the interface descriptions.
public enum VarlinkMethod: String, CaseIterable, Sendable {
    case getInfo = "org.varlink.service.GetInfo"
    case getInterfaceDescription = "org.varlink.service.GetInterfaceDescription"
    case addProject = "io.attachd.Broker.AddProject"
    case removeProject = "io.attachd.Broker.RemoveProject"
    case getProject = "io.attachd.Broker.GetProject"
    case listProjects = "io.attachd.Broker.ListProjects"
    case listSessions = "io.attachd.Broker.ListSessions"
    case endSession = "io.attachd.Broker.EndSession"
    case selectSession = "io.attachd.Broker.SelectSession"
    case setFollow = "io.attachd.Broker.SetFollow"
    case ideAttached = "io.attachd.Broker.IDEAttached"
    case announce = "io.attachd.Broker.Announce"
    case wait = "io.attachd.Broker.Wait"
    case watch = "io.attachd.Broker.Watch"
    case getStatus = "io.attachd.Broker.GetStatus"

    /// The fully qualified name, as a call carries it.
    public var name: String { rawValue }

    /// The method a call names, nil when attachd serves no such method.
    public init?(_ name: String) { self.init(rawValue: name) }
}

/// A call as a client writes it, its parameters typed and encoded in one pass (no detour
/// through `JSONValue`): the one Codable call writer (`VarlinkCodec.frameCall`); the hand
/// writer of attachctl's F5 path is `VarlinkCall.framedByHand`, held equal by a test.
public struct TypedCall<P: Encodable>: Encodable {
    public let method: String
    /// nil: the call carries no `parameters` (varlink's form for a method without arguments).
    public let parameters: P?
    public let more: Bool?
    /// true: the call expects no reply, and gets none (not even an error).
    public let oneway: Bool?

    public init(_ method: VarlinkMethod, parameters: P?, more: Bool? = nil, oneway: Bool? = nil) {
        self.method = method.name
        self.parameters = parameters
        self.more = more
        self.oneway = oneway
    }
}

extension VarlinkCodec {
    /// The bytes of a call of `method` with `parameters`, ended by its NUL.
    public func frameCall<P: Encodable>(
        _ method: VarlinkMethod, _ parameters: P?, more: Bool = false, oneway: Bool = false
    ) -> [UInt8] {
        frame(TypedCall(method, parameters: parameters, more: more ? true : nil, oneway: oneway ? true : nil))
    }
}
