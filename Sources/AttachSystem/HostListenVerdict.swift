/// Whether a host's own process tree has its debug server listening: the answer of
/// `HostListenProbe.verdict(pid:port:)`.
public enum HostListenVerdict: Hashable, Sendable {
    /// A LISTEN socket on `port` belongs to the host's process or one of its descendants. When
    /// no port was asked for, `port` is the one discovered: the first port the tree put in
    /// LISTEN on an address loopback reaches (127.0.0.0/8, ::1, or the wildcard 0.0.0.0 / ::).
    case listening(port: UInt16)
    /// `port` is in LISTEN state, but no socket listening on it belongs to the host's tree.
    /// `pid` and `command` name a process holding one of those sockets when one could be found
    /// (another user's processes cannot be looked into); `uid` is the socket's owner, always known.
    case heldByOther(port: UInt16, pid: Int32?, command: String?, uid: UInt32)
    /// Nothing of the host's listens yet (for a given port: nothing at all listens on it), or
    /// the host's process is gone.
    case notListening
}

extension HostListenVerdict: CustomStringConvertible {
    /// "listening on 5678", "5678 held by pid 42 (python3), uid 1000", "not listening".
    public var description: String {
        switch self {
        case .listening(let port):
            return "listening on \(port)"
        case .heldByOther(let port, let pid, let command, let uid):
            var text = "\(port) held by "
            if let pid {
                text += "pid \(pid)"
                if let command { text += " (\(command))" }
                text += ", "
            }
            return text + "uid \(uid)"
        case .notListening:
            return "not listening"
        }
    }
}
