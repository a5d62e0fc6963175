#if canImport(Glibc)
    import Glibc
#endif

/// A TCP connection started by `Socket.startConnectTCP`: the socket, and whether the kernel is
/// still completing the handshake (wait for writability, then read `Socket.connectError`).
public struct ConnectAttempt: Sendable, Equatable {
    /// The non-blocking, close-on-exec socket. The caller owns it.
    public let fd: FileDescriptor
    /// True when connect(2) answered EINPROGRESS: not connected yet.
    public let inProgress: Bool

    public init(fd: FileDescriptor, inProgress: Bool) {
        self.fd = fd
        self.inProgress = inProgress
    }
}

extension Socket {
    /// The numeric addresses to try, in order, for a debug endpoint's host: a numeric IPv4 or
    /// IPv6 address stands for itself ("[::1]" is accepted), `localhost` for 127.0.0.1 then
    /// ::1 (debug servers listen on one or the other; no resolver is asked, so this never
    /// blocks). Anything else gives [] (attachd relays to this machine only).
    public static func numericHosts(for host: String) -> [String] {
        if host.lowercased() == "localhost" || host.lowercased() == "localhost." {
            return ["127.0.0.1", "::1"]
        }
        return (try? SocketAddress.inet(host: host, port: 0)) == nil ? [] : [host]
    }

    /// socket(2) with SOCK_NONBLOCK|SOCK_CLOEXEC + connect(2) over TCP to a numeric IPv4/IPv6
    /// address. Returns at once: connected (`inProgress` false, usual on loopback only when the
    /// handshake completes inside the call) or in progress (EINPROGRESS, or EINTR, after which
    /// the kernel goes on connecting). Throws EINVAL for a host that is not a numeric address,
    /// and connect(2)'s immediate errors (ECONNREFUSED, ENETUNREACH, EADDRNOTAVAIL, ...); the
    /// socket is closed then.
    public static func startConnectTCP(host: String, port: UInt16) throws(Errno) -> ConnectAttempt {
        let address = try SocketAddress.inet(host: host, port: port)
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = try Kernel.socket(address.family, type, Int32(IPPROTO_TCP))
        do throws(Errno) {
            try Kernel.connect(fd, address)
            return ConnectAttempt(fd: FileDescriptor(rawValue: fd), inProgress: false)
        } catch .inProgress, .interrupted {
            return ConnectAttempt(fd: FileDescriptor(rawValue: fd), inProgress: true)
        } catch {
            closeQuietly(fd)
            throw error
        }
    }

    /// getsockopt(2) SO_ERROR: the outcome of a non-blocking connect once the socket is
    /// writable. nil means connected; otherwise the error (ECONNREFUSED, ETIMEDOUT, ...).
    /// Reading it clears it.
    public static func connectError(_ fd: FileDescriptor) throws(Errno) -> Errno? {
        var pending: Int32 = 0
        try Kernel.getsockopt(fd.rawValue, SOL_SOCKET, SO_ERROR, into: &pending)
        return pending == 0 ? nil : Errno(rawValue: pending)
    }

    /// setsockopt(2) SO_RCVBUF and SO_SNDBUF: fixed buffer sizes (the kernel doubles them and
    /// stops autotuning). For tests that need small buffers to show backpressure quickly.
    public static func setBufferSizes(_ fd: FileDescriptor, receive: Int32, send: Int32) throws(Errno) {
        try Kernel.setsockopt(fd.rawValue, SOL_SOCKET, SO_RCVBUF, receive)
        try Kernel.setsockopt(fd.rawValue, SOL_SOCKET, SO_SNDBUF, send)
    }
}
