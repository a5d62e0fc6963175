import AttachProtocol

/// One IDE connection on a project's attach port, as the broker tracks it.
struct AttachRecord: Sendable {
    var info: RelayInfo
    var phase: AttachPhase
}

/// Where an IDE connection on an attach port is in its life.
enum AttachPhase: Sendable, Equatable {
    /// Accepted and not read: its bytes wait in the kernel until a session is ready, or it is
    /// closed at `deadline` (monotonic).
    case held(deadline: Double)
    /// The daemon is connecting to the session's debug endpoint.
    case connecting(session: String)
    /// Bytes move both ways.
    case relaying(session: String)
    /// Relayed since before this attachd started (handed over through systemd's fd store by
    /// the one before): bytes move, to a session that is no longer known.
    case adopted
    /// Core asked the daemon to close it; waiting for `relayEnded`.
    case closing

    /// The session it goes to, once chosen.
    var session: String? {
        switch self {
        case .connecting(let id), .relaying(let id): return id
        case .held, .adopted, .closing: return nil
        }
    }
}
