/// A project as the control API shows it (`io.attachd.Broker.Project`).
public struct ProjectInfo: Codable, Sendable, Equatable {
    public var name: String
    public var debugHost: String
    /// The port hosts' debug servers listen on; nil when each host says its own (projects with
    /// an attach port).
    public var debugPort: Int?
    /// Where the IDE connects: attachd relays it to a ready session. nil: the IDE connects to
    /// the debug port itself.
    public var attachPort: Int?
    /// The session new IDE connections are pinned to (`SelectSession`), while it lives.
    public var selectedSession: String?
    public var rendezvousPort: Int?
    public var rendezvousSocket: String
    public var readyTimeout: Double
    public var allowRemote: Bool
    /// Why a rendezvous listener is not up, if it is not.
    public var error: String?
    /// Set for a project whose hosts run on another machine, reached through OpenSSH.
    public var remote: RemoteInfo?
    /// For a project with an attach port: whether an IDE's DAP session follows the project's
    /// hosts (told to restart when its host ends, held for the next one). nil without one.
    public var follow: Bool?

    public init(
        name: String, debugHost: String, debugPort: Int?, attachPort: Int? = nil, selectedSession: String? = nil,
        rendezvousPort: Int?, rendezvousSocket: String,
        readyTimeout: Double, allowRemote: Bool, error: String? = nil, remote: RemoteInfo? = nil,
        follow: Bool? = nil
    ) {
        self.name = name
        self.debugHost = debugHost
        self.debugPort = debugPort
        self.attachPort = attachPort
        self.selectedSession = selectedSession
        self.rendezvousPort = rendezvousPort
        self.rendezvousSocket = rendezvousSocket
        self.readyTimeout = readyTimeout
        self.allowRemote = allowRemote
        self.error = error
        self.remote = remote
        self.follow = follow
    }
}
