/// What the daemon answers on a rendezvous connection, one line each. Core and the daemon say
/// which; only `bytes` knows how it is written (`OK session=ID` or `ERROR reason`, ended by `\n`).
public enum RendezvousReply: Sendable, Equatable, CustomStringConvertible {
    /// The announcement was taken.
    case ok(session: String)
    /// A line that is not a valid announcement; the host may go on.
    case invalidLine(RendezvousLineError)
    /// `DEBUG_PORT=` after the session became ready.
    case debugPortFixed(session: String)
    /// `SESSION=` after the connection already speaks for a session.
    case sessionJoinTooLate(session: String)
    /// The project was removed while the host was connected.
    case projectRemoved(String)
    /// The session ended (the connection closes after this line).
    case sessionEnded(session: String, reason: String)
    /// A line for a session that is already gone.
    case sessionGone(String)
    /// A line that is not UTF-8 (skipped; the host may go on).
    case notUTF8
    /// A line over the limit (the connection closes).
    case lineTooLong(limit: Int)
    /// A partial line that was not finished in time (the connection closes).
    case incompleteLine(seconds: Int)
    /// Over the connection limits (the connection closes).
    case tooManyConnections
    /// A peer owned by another user (the connection closes).
    case permissionDenied(uid: UInt32)
    /// `ATTACHED=1`: an IDE is relayed to this host now (it said `NOTIFY_ATTACH=1`).
    case ideAttached
    /// `DETACHED=1`: no IDE is relayed to this host any more.
    case ideDetached

    /// The reason after `ERROR`, or `session=ID` after `OK`.
    public var description: String {
        switch self {
        case .ok(let session): return "OK session=\(session)"
        case .invalidLine(let error): return "ERROR \(error)"
        case .debugPortFixed(let id): return "ERROR DEBUG_PORT cannot change once session \(id) is ready"
        case .sessionJoinTooLate(let id):
            return "ERROR SESSION= must be the first line; this connection is session \(id)"
        case .projectRemoved(let project): return "ERROR project \(project) was removed"
        case .sessionEnded(let id, let reason): return "ERROR session \(id) ended: \(reason)"
        case .sessionGone(let id): return "ERROR session \(id) has ended"
        case .notUTF8: return "ERROR line is not valid UTF-8"
        case .lineTooLong(let limit): return "ERROR line longer than \(limit) bytes"
        case .incompleteLine(let seconds): return "ERROR incomplete line: no newline within \(seconds) s"
        case .tooManyConnections: return "ERROR too many connections"
        case .permissionDenied(let uid): return "ERROR permission denied: uid \(uid) is not the user attachd serves"
        case .ideAttached: return "ATTACHED=1"
        case .ideDetached: return "DETACHED=1"
        }
    }

    /// The line as it goes on the wire, newline included; always exactly one line.
    public var bytes: [UInt8] {
        switch self {
        case .ok(let session): return RendezvousLine.ok(session: session)
        case .ideAttached, .ideDetached: return Array((description + "\n").utf8)
        default: return RendezvousLine.error(String(description.dropFirst("ERROR ".count)))
        }
    }
}
