#if canImport(Glibc)
    import Glibc
#endif

/// A sock_diag netlink socket that lives in another process's network namespace.
///
/// A socket belongs to the network namespace of the thread that created it, for its whole life.
/// So a short-lived thread of our own opens `/proc/PID/ns/net`, setns(2)s into it
/// (CLONE_NEWNET), creates the NETLINK_SOCK_DIAG socket and ends; the socket then answers
/// LISTEN dumps of that namespace (~0.07 ms) from any thread, where reading
/// `/proc/PID/net/tcp{,6}` costs milliseconds (the kernel walks the whole established hash).
///
/// setns(2) into a network namespace needs CAP_SYS_ADMIN both in the caller's user namespace
/// and in the one owning the target namespace: a daemon running as root can, an ordinary user's
/// daemon gets EPERM and uses /proc instead.
internal enum NamespaceNetlink {
    /// CLONE_NEWNET, from <sched.h> (not imported: _GNU_SOURCE).
    static let cloneNewNet: Int32 = 0x4000_0000

    /// A `ListenProbe` whose netlink socket was opened inside the network namespace of `pid`.
    /// Throws EPERM when not allowed to enter it, ENOENT when the process is gone.
    static func probe(insideNetworkNamespaceOf pid: Int32) throws(Errno) -> ListenProbe {
        let path = "/proc/\(pid)/ns/net"
        let outcome = Outcome()
        try Kernel.onFreshThread {
            outcome.result = Result { () throws(Errno) -> Int32 in try openInside(path) }
        }
        guard let result = outcome.result else { throw .protocolError }
        return ListenProbe(adoptingNetlink: try result.get())
    }

    /// Runs on the fresh thread: after setns(2) this thread is in the other namespace.
    private static func openInside(_ path: String) throws(Errno) -> Int32 {
        let namespace = try Kernel.open(path, O_RDONLY | O_CLOEXEC)
        defer { closeQuietly(namespace) }
        try Kernel.setns(namespace, cloneNewNet)
        let fd = try Kernel.socket(
            AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            SockDiag.netlinkSockDiag)
        do throws(Errno) {
            try Kernel.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval(tv_sec: 2, tv_usec: 0))
        } catch {
            closeQuietly(fd)
            throw error
        }
        return fd
    }

    /// The fresh thread's answer, read after pthread_join(3) (which orders the memory).
    private final class Outcome: @unchecked Sendable {
        var result: Result<Int32, Errno>?
    }
}
