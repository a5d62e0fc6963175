/// Every error attachd's control socket answers with: those `io.attachd.Broker` declares and
/// the standard ones of `org.varlink.service`. The one list of error names: the
/// `VarlinkError` constructors build from it and clients match on it.
public enum BrokerErrorName: String, CaseIterable, Sendable {
    // io.attachd.Broker
    case projectNotFound = "io.attachd.Broker.ProjectNotFound"
    case projectExists = "io.attachd.Broker.ProjectExists"
    case invalidProjectName = "io.attachd.Broker.InvalidProjectName"
    case invalidPort = "io.attachd.Broker.InvalidPort"
    case sessionNotFound = "io.attachd.Broker.SessionNotFound"
    case timeout = "io.attachd.Broker.Timeout"
    case addressInUse = "io.attachd.Broker.AddressInUse"
    case projectRemoved = "io.attachd.Broker.ProjectRemoved"
    case shuttingDown = "io.attachd.Broker.ShuttingDown"
    case permissionDenied = "io.attachd.Broker.PermissionDenied"
    case tooManyConnections = "io.attachd.Broker.TooManyConnections"
    case messageTooLarge = "io.attachd.Broker.MessageTooLarge"
    case notSaved = "io.attachd.Broker.NotSaved"

    // org.varlink.service
    case interfaceNotFound = "org.varlink.service.InterfaceNotFound"
    case methodNotFound = "org.varlink.service.MethodNotFound"
    case methodNotImplemented = "org.varlink.service.MethodNotImplemented"
    case invalidParameter = "org.varlink.service.InvalidParameter"
    /// `org.varlink.service.PermissionDenied` (the broker's own is ``permissionDenied``).
    case serviceAccessDenied = "org.varlink.service.PermissionDenied"
    case expectedMore = "org.varlink.service.ExpectedMore"

    /// The interface declaring the error: everything before the last dot.
    public var interface: String {
        String(rawValue[..<rawValue.lastIndex(of: ".")!])
    }

    /// The error's own name, as the interface declares it (`ProjectNotFound`).
    public var member: String {
        String(rawValue[rawValue.index(after: rawValue.lastIndex(of: ".")!)...])
    }
}

extension VarlinkError {
    /// An error of a known name.
    public init(_ name: BrokerErrorName, _ parameters: [String: JSONValue] = [:]) {
        self.init(name.rawValue, parameters)
    }

    /// The error's name when it is one of ``BrokerErrorName``, nil for names this build does
    /// not know (a newer daemon).
    public var knownName: BrokerErrorName? { BrokerErrorName(rawValue: name) }
}
