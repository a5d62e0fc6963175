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
    /// Core asked the daemon to close it; waiting for `relayEnded`.
    case closing

    /// The session it goes to, once chosen.
    var session: String? {
        switch self {
        case .connecting(let id), .relaying(let id): return id
        case .held, .closing: return nil
        }
    }
}
