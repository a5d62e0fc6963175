/// A project as the control API shows it (`io.attachd.Broker.Project`).
public struct ProjectInfo: Codable, Sendable, Equatable {
    public var name: String
    public var debugHost: String
    public var debugPort: Int
    public var rendezvousPort: Int?
    public var rendezvousSocket: String
    public var readyTimeout: Double
    public var allowRemote: Bool
    /// Why a rendezvous listener is not up, if it is not.
    public var error: String?

    public init(name: String, debugHost: String, debugPort: Int, rendezvousPort: Int?, rendezvousSocket: String,
                readyTimeout: Double, allowRemote: Bool, error: String? = nil) {
        self.name = name
        self.debugHost = debugHost
        self.debugPort = debugPort
        self.rendezvousPort = rendezvousPort
        self.rendezvousSocket = rendezvousSocket
        self.readyTimeout = readyTimeout
        self.allowRemote = allowRemote
        self.error = error
    }
}
