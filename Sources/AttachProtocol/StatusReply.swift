/// Reply of `GetStatus`.
public struct StatusReply: Codable, Sendable, Equatable {
    public var version: String
    public var pid: Int
    /// Seconds since the daemon started.
    public var uptime: Double
    public var projects: Int
    /// Live sessions (pending or ready).
    public var sessions: Int
    public var pending: Int
    public var ready: Int
    public var waiters: Int
    /// Open control and rendezvous connections.
    public var connections: Int
    /// How LISTEN state is read: `sock_diag` or `proc`.
    public var probe: String

    public init(
        version: String, pid: Int, uptime: Double, projects: Int, sessions: Int, pending: Int,
        ready: Int, waiters: Int, connections: Int, probe: String
    ) {
        self.version = version
        self.pid = pid
        self.uptime = uptime
        self.projects = projects
        self.sessions = sessions
        self.pending = pending
        self.ready = ready
        self.waiters = waiters
        self.connections = connections
        self.probe = probe
    }
}
