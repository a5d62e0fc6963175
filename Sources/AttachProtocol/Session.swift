/// Where a session is in its life.
public enum SessionState: String, Codable, Sendable, CaseIterable {
    /// The host announced itself; its debug port is not listening yet.
    case pending
    /// The debug port is in LISTEN state: an IDE may attach.
    case ready
    /// Ready, and a client is connected to the debug port (seen about once a second).
    case attached
    /// The host went away, the session was ended, or it never became ready.
    case ended
    /// A remote session whose machine cannot be reached now; it comes back as it is there once
    /// the link is up again.
    case unreachable

    /// Ready or attached: the debug server listens.
    public var isListening: Bool { self == .ready || self == .attached }
}

/// How a host announced itself.
public enum SessionOrigin: String, Codable, Sendable {
    /// Connected to the rendezvous socket and closed it, saying nothing (the article's bootstrap).
    case connect
    /// Sent `sd_notify`-style lines on the rendezvous socket and keeps the connection open.
    case lines
    /// Called `Announce` on the control socket.
    case control
    /// Runs on the remote machine of a remote project; mirrored from the attachd there.
    case remote
}

extension SessionInfo {
    /// The session's debug server listens on another port than the project's, and the IDE,
    /// told the project's (no attach port relays it), will not reach it: both ports, else nil.
    public var debugPortMismatch: (listens: Int, expected: Int)? {
        guard attachPort == nil, let expected = projectDebugPort, let port = debugPort, port != expected else {
            return nil
        }
        return (port, expected)
    }
}

/// A session as the control API shows it (`io.attachd.Broker.Session`).
public struct SessionInfo: Codable, Sendable, Equatable {
    public var id: String
    public var project: String
    public var state: SessionState
    public var origin: SessionOrigin
    public var debugHost: String
    /// nil until the host says it (`DEBUG_PORT=`) or its process tree is seen listening.
    public var debugPort: Int?
    /// The project's attach port: where an IDE reaches this session through attachd.
    public var attachPort: Int?
    /// Without an attach port: the project's debug port, where the IDE is told to attach
    /// (launch.json, `attachctl wait`'s answer). A session whose ``debugPort`` differs cannot
    /// be reached there (``debugPortMismatch``).
    public var projectDebugPort: Int?
    public var pid: Int?
    public var status: String?
    /// Why a pending session is not ready although something listens, e.g. "port 5678 is held
    /// by pid 4242 (python3), not by the host".
    public var problem: String?
    /// The host's `sys.executable` when attach_ready found it is not a Python debugpy's adapter
    /// can run with (an embedded interpreter: the application itself); "" when it is None. nil:
    /// the host reported nothing (no need, or not attach_ready).
    public var executable: String?
    /// With ``executable``: the interpreter attach_ready had debugpy run its adapter with; ""
    /// when none was found (the adapter then runs with `sys.executable`, and fails unless that
    /// is a Python after all).
    public var python: String?
    /// The IDE connections relayed to this session through the project's attach port.
    public var relays: [RelayInfo]?
    /// For a remote session: the ssh destination it runs on.
    public var remote: String?
    /// For a remote session: its id on the remote attachd.
    public var remoteId: String?
    /// Seconds since the epoch.
    public var startedAt: Double
    public var readyAt: Double?
    public var endedAt: Double?
    public var endReason: String?

    public init(
        id: String, project: String, state: SessionState, origin: SessionOrigin, debugHost: String,
        debugPort: Int?, attachPort: Int? = nil, pid: Int? = nil, status: String? = nil, startedAt: Double,
        readyAt: Double? = nil, endedAt: Double? = nil, endReason: String? = nil
    ) {
        self.attachPort = attachPort
        self.id = id
        self.project = project
        self.state = state
        self.origin = origin
        self.debugHost = debugHost
        self.debugPort = debugPort
        self.pid = pid
        self.status = status
        self.startedAt = startedAt
        self.readyAt = readyAt
        self.endedAt = endedAt
        self.endReason = endReason
    }
}
