import AttachProtocol

/// What the daemon saw of one host's own listeners, for a session whose pid is known: a session
/// with a pid is ready only when a LISTEN socket on its port belongs to that process or one of
/// its descendants (in the host's own network namespace), never because someone else listens.
public enum HostListening: Sendable, Equatable {
    /// The host's process tree listens on `port` (the session's port, or the first loopback port
    /// it put in LISTEN when the session has none yet: discovery).
    case listening(port: UInt16)
    /// The port listens, but not for the host: `holder` says who ("pid 4242 (python3)", "uid 1001").
    case heldByOther(port: UInt16, holder: String)
    /// Nothing of the host's listens (yet).
    case notListening
    /// The host's process has exited: its session ends as when the exit itself is heard (the
    /// probe may see it first, and the session must not fall back to pending on the way).
    case exited
}

/// A session whose readiness the daemon must look at through its process tree: it answers each
/// with a `HostListening` in `.probed(hosts:)`.
public struct OwnershipQuery: Sendable, Equatable, Hashable {
    public var session: String
    public var pid: Int32
    /// nil: discover the port.
    public var port: UInt16?

    public init(session: String, pid: Int32, port: UInt16?) {
        self.session = session
        self.pid = pid
        self.port = port
    }
}

extension Broker {
    /// The sessions whose readiness depends on their own process tree: every live session with
    /// a pid that is waiting to become ready or is ready now.
    public var ownershipQueries: [OwnershipQuery] { schedule.queries }

    /// Whether `session` listens, by its own process tree when the daemon looked at it, else by
    /// any LISTEN socket on its port (hosts without a pid). Records what it learnt: a discovered
    /// port, or who holds the port instead.
    mutating func listens(_ id: String, listening: Set<UInt16>, hosts: [String: HostListening], now: Double) -> Bool {
        guard sessions[id] != nil else { return false }
        // In place: a copy of the record per session per probe was most of a probe's cost with
        // a thousand sessions.
        return Self.listens(&sessions[id]!, listening: listening, seen: hosts[id], now: now)
    }

    private static func listens(
        _ session: inout SessionRecord, listening: Set<UInt16>, seen: HostListening?, now: Double
    ) -> Bool {
        guard session.info.pid != nil, let seen else {
            guard let port = session.port else { return false }
            return listening.contains(port)
        }
        // Written only when it changes: a write makes a new box for the session's info.
        func say(_ problem: String?) {
            if session.info.problem != problem { session.info.problem = problem }
        }
        switch seen {
        case .listening(let port):
            say(nil)
            if session.isDiscovering {
                // Discovery: the port is the session's once it held for a moment.
                if session.discovered?.port != port {
                    session.discovered = (port, now)
                    session.info.debugPort = nil
                }
                guard now - session.discovered!.since >= Self.discoverySettle - 1e-9 else { return false }
                session.discovered = nil
                session.info.debugPort = Int(port)
                session.portWasDiscovered = true
            }
            return session.port == port
        case .heldByOther(let port, let holder):
            say("port \(port) is held by \(holder), not by the host")
            return false
        case .notListening, .exited:
            say(nil)
            return false
        }
    }
}
