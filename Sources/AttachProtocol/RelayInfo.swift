/// One IDE connection on a project's attach port, relayed to a session
/// (`io.attachd.Broker.Relay`).
public struct RelayInfo: Codable, Sendable, Equatable {
    /// Unique while the daemon runs.
    public var id: Int
    public var project: String
    /// The session it reaches; nil while it is held (no session ready yet).
    public var session: String?
    /// The IDE's address, `host:port`.
    public var peer: String
    /// Seconds since the epoch.
    public var startedAt: Double
    /// Bytes moved from the IDE to the debug server, and back.
    public var bytesToHost: Int
    public var bytesToIDE: Int
    /// Why it ended (only in `relayEnded`).
    public var endReason: String?

    public init(
        id: Int, project: String, session: String?, peer: String, startedAt: Double,
        bytesToHost: Int = 0, bytesToIDE: Int = 0, endReason: String? = nil
    ) {
        self.id = id
        self.project = project
        self.session = session
        self.peer = peer
        self.startedAt = startedAt
        self.bytesToHost = bytesToHost
        self.bytesToIDE = bytesToIDE
        self.endReason = endReason
    }
}

/// `SelectSession` parameters: pin a project's new IDE connections to one session (nil: clear).
public struct SelectSessionParameters: Codable, Sendable, Equatable {
    public var project: String
    public var session: String?
    public init(project: String, session: String? = nil) {
        self.project = project
        self.session = session
    }
}
