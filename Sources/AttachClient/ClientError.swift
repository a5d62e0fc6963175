import AttachProtocol
import AttachSystem

/// What can go wrong talking to attachd. Messages for people are attachctl's business; the
/// description here is a technical one, for logs and tests.
public enum ClientError: Error, CustomStringConvertible {
    /// Nothing accepts connections on `path` (`errno` says why: ENOENT, ECONNREFUSED, EACCES, …).
    case unreachable(path: String, Errno)
    /// The daemon closed the connection (or reset it) before the reply arrived: it exited or
    /// restarted while the call was in progress.
    case connectionLost
    /// The daemon answered with a varlink error.
    case remote(VarlinkError)
    /// The daemon's bytes are not varlink as expected (bad JSON, a reply we cannot decode,
    /// an oversized message, a write error other than a lost connection).
    case protocolViolation(String)
    /// No reply within the client's own deadline (a safety net behind the daemon's timeout).
    case deadlineExceeded(seconds: Double)

    public var description: String {
        switch self {
        case .unreachable(let path, let errno): return "cannot connect to \(path): \(errno)"
        case .connectionLost: return "connection lost"
        case .remote(let error): return error.description
        case .protocolViolation(let what): return what
        case .deadlineExceeded(let seconds): return "no reply within \(seconds) s"
        }
    }
}
