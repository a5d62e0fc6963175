import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The credentials of the process at the other end of an AF_UNIX socket, as the kernel recorded
/// them at connect(2) time (SO_PEERCRED): process id, effective uid and effective gid.
public struct PeerCredentials: Sendable, Equatable {
    public let pid: Int32
    public let uid: UInt32
    public let gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// Stream sockets: listening, accepting, connecting, and the questions asked of them.
public enum Socket {
    private static let stream = Int32(SOCK_STREAM.rawValue)
    private static let nonBlocking = Int32(SOCK_NONBLOCK.rawValue)
    private static let closeOnExec = Int32(SOCK_CLOEXEC.rawValue)

    /// umask(2) is process-wide; this lock keeps two `listenUnix` calls from interleaving theirs.
    private static let umaskLock = Mutex(())

    /// socket(2) + bind(2) + listen(2) on an AF_UNIX path. The socket is non-blocking and
    /// close-on-exec. An existing file at `path` is NOT unlinked (bind fails with EADDRINUSE; the
    /// caller decides). The socket file is created under umask(2) `0o777 & ~mode`, so it is never
    /// more permissive than `mode`, then chmod(2)ed to exactly `mode`. If listen fails, the file
    /// this call created is removed again.
    public static func listenUnix(path: String, mode: UInt32 = 0o600, backlog: Int32 = 128) throws(Errno)
        -> FileDescriptor
    {
        let address = try SocketAddress.unix(path: path)
        let fd = try Kernel.socket(AF_UNIX, stream | nonBlocking | closeOnExec, 0)
        do throws(Errno) {
            try umaskLock.withLock { _ throws(Errno) in
                let previous = Kernel.umask(0o777 & ~mode)
                defer { _ = Kernel.umask(previous) }
                try Kernel.bind(fd, address)
            }
            do throws(Errno) {
                try Kernel.chmod(path, mode)
                try Kernel.listen(fd, backlog)
            } catch {
                _ = try? Kernel.unlink(path)
                throw error
            }
            return FileDescriptor(rawValue: fd)
        } catch {
            closeQuietly(fd)
            throw error
        }
    }

    /// socket(2) + setsockopt(2) SO_REUSEADDR + bind(2) + listen(2) on TCP. `host` is a numeric
    /// IPv4 or IPv6 address ("127.0.0.1", "::1", "0.0.0.0"); anything else throws EINVAL.
    /// Port 0 lets the kernel choose (see `localPort`). Non-blocking, close-on-exec.
    public static func listenTCP(host: String, port: UInt16, backlog: Int32 = 128) throws(Errno) -> FileDescriptor {
        let address = try SocketAddress.inet(host: host, port: port)
        let fd = try Kernel.socket(address.family, stream | nonBlocking | closeOnExec, Int32(IPPROTO_TCP))
        do throws(Errno) {
            try Kernel.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, Int32(1))
            try Kernel.bind(fd, address)
            try Kernel.listen(fd, backlog)
            return FileDescriptor(rawValue: fd)
        } catch {
            closeQuietly(fd)
            throw error
        }
    }

    /// accept4(2) with SOCK_NONBLOCK|SOCK_CLOEXEC. Returns nil on EAGAIN (nothing to accept).
    /// Retries EINTR, ECONNABORTED and EPROTO (a connection that died while queued). Throws
    /// other errors (EMFILE, ENFILE, ENOBUFS, ...).
    public static func accept(_ listener: FileDescriptor) throws(Errno) -> FileDescriptor? {
        while true {
            do throws(Errno) {
                let fd = try Kernel.accept4(listener.rawValue, flags: nonBlocking | closeOnExec)
                return FileDescriptor(rawValue: fd)
            } catch .wouldBlock {
                return nil
            } catch .connectionAborted, .protocolError {
                continue
            }
        }
    }

    /// socket(2) + connect(2) to an AF_UNIX stream socket. The result is blocking and
    /// close-on-exec. For clients.
    public static func connectUnix(path: String) throws(Errno) -> FileDescriptor {
        try connect(to: SocketAddress.unix(path: path), protocol: 0)
    }

    /// socket(2) + connect(2) over TCP to a numeric IPv4/IPv6 address. The result is blocking
    /// and close-on-exec. For clients.
    public static func connectTCP(host: String, port: UInt16) throws(Errno) -> FileDescriptor {
        try connect(to: SocketAddress.inet(host: host, port: port), protocol: Int32(IPPROTO_TCP))
    }

    /// Connects a fresh blocking socket. A connect(2) interrupted by a signal keeps going in the
    /// kernel, so EINTR is answered by waiting for writability and reading SO_ERROR.
    private static func connect(to address: SocketAddress, protocol proto: Int32) throws(Errno) -> FileDescriptor {
        let fd = try Kernel.socket(address.family, stream | closeOnExec, proto)
        let descriptor = FileDescriptor(rawValue: fd)
        do throws(Errno) {
            do throws(Errno) {
                try Kernel.connect(fd, address)
            } catch .interrupted, .inProgress {
                _ = try descriptor.poll(events: Int16(POLLOUT), timeoutMilliseconds: -1)
                var pending: Int32 = 0
                try Kernel.getsockopt(fd, SOL_SOCKET, SO_ERROR, into: &pending)
                if pending != 0 { throw Errno(rawValue: pending) }
            }
            return descriptor
        } catch {
            closeQuietly(fd)
            throw error
        }
    }

    /// getsockopt(2) SO_PEERCRED: who is at the other end of an AF_UNIX socket.
    public static func peerCredentials(_ fd: FileDescriptor) throws(Errno) -> PeerCredentials {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (needs _GNU_SOURCE, so not imported).
        var raw: (Int32, UInt32, UInt32) = (0, 0, 0)
        try Kernel.getsockopt(fd.rawValue, SOL_SOCKET, SO_PEERCRED, into: &raw)
        return PeerCredentials(pid: raw.0, uid: raw.1, gid: raw.2)
    }

    /// getsockname(2): the local TCP port of a bound IPv4 or IPv6 socket.
    /// Throws EAFNOSUPPORT for any other kind of socket.
    public static func localPort(_ fd: FileDescriptor) throws(Errno) -> UInt16 {
        try SocketAddress.port(of: Kernel.getsockname(fd.rawValue))
    }

    /// setsockopt(2) TCP_NODELAY: small replies leave at once instead of waiting for the
    /// peer's delayed acknowledgement.
    public static func setNoDelay(_ fd: FileDescriptor) throws(Errno) {
        try Kernel.setsockopt(fd.rawValue, Int32(IPPROTO_TCP), TCP_NODELAY, Int32(1))
    }

    /// shutdown(2) SHUT_WR: tells the peer we are done sending. Errors (ENOTCONN) are ignored.
    public static func shutdownWrite(_ fd: FileDescriptor) {
        _ = try? Kernel.shutdown(fd.rawValue, Int32(SHUT_WR))
    }

    /// socketpair(2) AF_UNIX SOCK_STREAM, close-on-exec, blocking: two connected ends.
    public static func pair() throws(Errno) -> (FileDescriptor, FileDescriptor) {
        let (a, b) = try Kernel.socketpair(AF_UNIX, stream | closeOnExec)
        return (FileDescriptor(rawValue: a), FileDescriptor(rawValue: b))
    }

    /// socket(2) + bind(2) of an AF_UNIX datagram socket (blocking, close-on-exec). Used by the
    /// tests to stand in for systemd's NOTIFY_SOCKET.
    internal static func bindUnixDatagram(path: String) throws(Errno) -> FileDescriptor {
        let address = try SocketAddress.unix(path: path)
        let fd = try Kernel.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | closeOnExec, 0)
        do throws(Errno) {
            try Kernel.bind(fd, address)
            return FileDescriptor(rawValue: fd)
        } catch {
            closeQuietly(fd)
            throw error
        }
    }
}
