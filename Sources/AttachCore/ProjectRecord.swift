/// A project and the state of its listeners.
struct ProjectRecord: Sendable {
    var config: ProjectConfig
    var listenerError: String?
    /// The `AddProject` call that created it, until its listeners were tried and it is answered.
    var addedBy: RequestToken?
    /// Who has the TCP rendezvous port: us, or a starting host.
    var handoff: Handoff = .holding
    /// The session new IDE connections are pinned to, while it lives.
    var selected: String?
    /// The link to a remote project's machine, once the daemon was asked to open it.
    var remoteLink: RemoteLinkRecord?
}

/// The TCP rendezvous port of a project whose debug port is that same port (the article's
/// set-up): attachd gives it up while a host's debug server needs it, and takes it back after.
enum Handoff: Sendable, Equatable {
    /// attachd listens on the port.
    case holding
    /// The port is given up to a starting host: held for it while the rendezvous connection
    /// that caused it is open or its session lives; taken back once neither is left and the
    /// port is free.
    case released(connection: ConnectionID?, session: String?)

    /// The port is given up (whoever still holds it).
    var isReleased: Bool { self != .holding }

    /// Given up, and nobody holds it any more: time to take it back once it is free.
    var awaitsReclaim: Bool { self == .released(connection: nil, session: nil) }

    /// Gives the port up for a host that connected on it.
    mutating func release(for connection: ConnectionID) {
        self = .released(connection: connection, session: nil)
    }

    /// A session of the project's own port started. Returns true when the port must be given
    /// up now (it was still ours).
    mutating func hold(for session: String) -> Bool {
        switch self {
        case .holding:
            self = .released(connection: nil, session: session)
            return true
        case .released(let connection, nil):
            self = .released(connection: connection, session: session)
            return false
        case .released:
            return false
        }
    }

    /// The connection that caused the handoff started a session: the session holds it now too.
    mutating func sessionStarted(_ session: String, on connection: ConnectionID) {
        if case .released(connection, _) = self { self = .released(connection: connection, session: session) }
    }

    /// A rendezvous connection closed. Returns true when it was the one holding the port.
    mutating func connectionClosed(_ closed: ConnectionID) -> Bool {
        guard case .released(closed, let session) = self else { return false }
        self = .released(connection: nil, session: session)
        return true
    }

    /// A session ended. Returns true when it was the one holding the port.
    mutating func sessionEnded(_ ended: String) -> Bool {
        guard case .released(let connection, ended) = self else { return false }
        self = .released(connection: connection, session: nil)
        return true
    }
}
