#if canImport(Glibc)
    import Glibc
#endif

/// Which local TCP ports are in LISTEN state, asked of the kernel through sock_diag netlink
/// (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, inet_diag_req_v2 with states = 1<<TCP_LISTEN, for
/// AF_INET and AF_INET6), falling back to parsing /proc/net/tcp and /proc/net/tcp6 (state 0A)
/// when netlink is refused.
///
/// NEVER connects to any port: a connect+close probe breaks debug adapters such as debugpy.
///
/// Owns one netlink socket, reused across queries. Not thread-safe: use it from one serial
/// queue (hence `@unchecked Sendable`).
public final class ListenProbe: @unchecked Sendable {
    /// How the answer is obtained.
    public enum Method: String, Sendable {
        /// sock_diag netlink: walks only listening sockets, ~0.1 ms.
        case sockDiag
        /// /proc/net/tcp{,6}: the kernel formats every TCP socket as text.
        case procNet
    }

    /// The method the next query will use. Starts as `.sockDiag` and changes for good to
    /// `.procNet` when the kernel refuses netlink (EPERM, EACCES, EPROTONOSUPPORT, ...).
    public private(set) var method: Method

    /// Why the probe fell back to /proc, if it did: the netlink error.
    public private(set) var fallbackReason: Errno?

    /// The netlink socket was opened in another network namespace (`adoptingNetlink`): never
    /// re-opened here, never answered from this process's /proc/net, errors are thrown.
    private let boundElsewhere: Bool
    private var netlink: Int32 = -1
    private var sequence: UInt32 = 0
    private let buffer = UnsafeMutableRawBufferPointer.allocate(
        byteCount: SockDiag.receiveBufferSize, alignment: 8)

    /// Opens the netlink socket; if that is refused, the probe uses /proc from the start.
    public convenience init() {
        self.init(method: .sockDiag)
    }

    /// A probe that uses `method`; `.procNet` never opens a netlink socket (for tests and
    /// comparisons). Asking for `.sockDiag` still falls back when netlink is refused.
    public init(method: Method) {
        self.method = method
        boundElsewhere = false
        if method == .sockDiag {
            do throws(Errno) {
                try openNetlink()
            } catch {
                fallBack(because: error)
            }
        }
    }

    /// A probe over `fd`, a NETLINK_SOCK_DIAG socket opened inside another network namespace
    /// (see `NamespaceNetlink`); the probe owns and closes it.
    internal init(adoptingNetlink fd: Int32) {
        method = .sockDiag
        boundElsewhere = true
        netlink = fd
    }

    deinit {
        closeNetlink()
        buffer.deallocate()
    }

    /// All ports in LISTEN state (IPv4 and IPv6, any local address).
    ///
    /// With sock_diag, a failed query is retried once on a fresh socket; if netlink is refused
    /// the probe switches to /proc for good, and for any other failure this one query is
    /// answered from /proc. Throws only when /proc cannot be read either.
    public func listeningPorts() throws(Errno) -> Set<UInt16> {
        if boundElsewhere { return try sockDiagPorts() }
        if let ports = withSockDiag({ () throws(Errno) in try sockDiagPorts() }) { return ports }
        return try ProcNetTCP.listeningPorts()
    }

    /// Every TCP socket in LISTEN state in this process's network namespace (IPv4 and IPv6),
    /// with local address, port, inode and owner uid: one sock_diag dump per family
    /// (`inet_diag_msg.idiag_uid`, `idiag_inode`), or /proc/net/tcp{,6} under the same fallback
    /// rules as `listeningPorts()`.
    public func listeningSockets() throws(Errno) -> [ListeningSocket] {
        if boundElsewhere { return try sockDiagListeners() }
        if let sockets = withSockDiag({ () throws(Errno) in try sockDiagListeners() }) { return sockets }
        return try ProcNetTCP.listeningSockets()
    }

    /// The TCP sockets in LISTEN state on `ports` only, like `listeningSockets()`: with
    /// sock_diag one dump per port and family that the kernel filters by local port (a look
    /// at a few ports costs a few records, however many sockets listen); from /proc, the whole
    /// table filtered here.
    public func listeningSockets(onPorts ports: Set<UInt16>) throws(Errno) -> [ListeningSocket] {
        if boundElsewhere { return try sockDiagListeners(onPorts: ports) }
        if let sockets = withSockDiag({ () throws(Errno) in try sockDiagListeners(onPorts: ports) }) {
            return sockets
        }
        return try ProcNetTCP.listeningSockets().filter { ports.contains($0.port) }
    }

    /// Runs a sock_diag query, retrying once on a fresh socket; nil when the caller must fall
    /// back to /proc (and, when netlink is refused, the probe switches to /proc for good).
    private func withSockDiag<T>(_ body: () throws(Errno) -> T) -> T? {
        guard method == .sockDiag else { return nil }
        do throws(Errno) {
            return try body()
        } catch {
            closeNetlink()
            do throws(Errno) {
                try openNetlink()
                return try body()
            } catch {
                if Self.isRefusal(error) { fallBack(because: error) }
                return nil
            }
        }
    }

    /// Who owns the socket at the other end of `connection`, a TCP connection this process
    /// accepted from a local peer: one exact sock_diag lookup (~0.03 ms) by the connection's
    /// two endpoints. `.unknown` when netlink is not available, the peer is not on this
    /// machine, or its socket is already closed (a closed socket has no owner any more).
    public func peerOwner(of connection: FileDescriptor) -> PeerOwner {
        guard method == .sockDiag, netlink >= 0,
            let local = try? Kernel.getsockname(connection.rawValue),
            let peer = try? Kernel.getpeername(connection.rawValue),
            let request = SockDiag.exactRequest(peerSide: peer, ourSide: local, sequence: sequence &+ 1)
        else { return .unknown }
        sequence &+= 1
        do throws(Errno) {
            let sent = try request.withUnsafeBytes { raw in
                Result { () throws(Errno) -> Int in try Kernel.send(netlink, raw, flags: 0) }
            }.get()
            guard sent == request.count else { return .unknown }
            while true {
                let received = try Kernel.recv(netlink, buffer, flags: Int32(MSG_TRUNC))
                guard received > 0, received <= buffer.count else { return .unknown }
                let answer = try SockDiag.parseOwner(
                    UnsafeRawBufferPointer(rebasing: buffer[..<received]),
                    sequence: sequence)
                if let answer { return answer }
            }
        } catch {
            // ENOENT: no such socket on this machine (a remote peer, or one already gone).
            return .unknown
        }
    }

    // MARK: sock_diag

    /// The local ports of the TCP connections in ESTABLISHED state (IPv4 and IPv6): a debug
    /// server with a client attached has one on its port. nil when only /proc is available
    /// (reading it for this is not worth its cost) or the query failed.
    public func connectedPorts() -> Set<UInt16>? {
        guard method == .sockDiag, netlink >= 0 else { return nil }
        return try? sockDiagPorts(state: SockDiag.tcpEstablished)
    }

    private func sockDiagPorts(state: UInt8 = SockDiag.tcpListen) throws(Errno) -> Set<UInt16> {
        var ports = Set<UInt16>()
        try bothFamilies { (family) throws(Errno) in
            try dump(family: family, state: state) { (datagram, sequence) throws(Errno) -> Bool in
                let batch = try SockDiag.parse(datagram, sequence: sequence, state: state)
                ports.formUnion(batch.ports)
                return batch.done
            }
        }
        return ports
    }

    private func sockDiagListeners() throws(Errno) -> [ListeningSocket] {
        var sockets: [ListeningSocket] = []
        try bothFamilies { (family) throws(Errno) in try dumpListeners(family: family, port: nil, into: &sockets) }
        return sockets
    }

    private func sockDiagListeners(onPorts ports: Set<UInt16>) throws(Errno) -> [ListeningSocket] {
        var sockets: [ListeningSocket] = []
        try bothFamilies { (family) throws(Errno) in
            // Port 0 would ask for every port.
            for port in ports.sorted() where port != 0 {
                try dumpListeners(family: family, port: port, into: &sockets)
            }
        }
        return sockets
    }

    private func dumpListeners(family: Int32, port: UInt16?, into sockets: inout [ListeningSocket]) throws(Errno) {
        try dump(family: family, state: SockDiag.tcpListen, port: port) { (datagram, sequence) throws(Errno) -> Bool in
            let batch = try SockDiag.parseListeners(datagram, sequence: sequence)
            // Kept to the port asked for, whatever the kernel did with the filter.
            sockets += port.map { port in batch.sockets.filter { $0.port == port } } ?? batch.sockets
            return batch.done
        }
    }

    private func bothFamilies(_ body: (Int32) throws(Errno) -> Void) throws(Errno) {
        try body(AF_INET)
        do throws(Errno) {
            try body(AF_INET6)
        } catch .noSuchFile, .addressFamilyNotSupported {
            // No IPv6 in this kernel: nothing listens there.
        }
    }

    /// One dump: send the request, then recv(2) datagrams into `take` until it reports NLMSG_DONE.
    private func dump(
        family: Int32, state: UInt8, port: UInt16? = nil,
        _ take: (UnsafeRawBufferPointer, UInt32) throws(Errno) -> Bool
    ) throws(Errno) {
        sequence &+= 1
        let request = SockDiag.request(family: family, sequence: sequence, state: state, port: port)
        let sent = try request.withUnsafeBytes { raw in
            Result { () throws(Errno) -> Int in try Kernel.send(netlink, raw, flags: 0) }
        }.get()
        guard sent == request.count else { throw .protocolError }
        while true {
            // MSG_TRUNC makes recv report the datagram's real length, so truncation is visible.
            let received = try Kernel.recv(netlink, buffer, flags: Int32(MSG_TRUNC))
            guard received > 0 else { throw .protocolError }
            guard received <= buffer.count else { throw .noBufferSpace }
            if try take(UnsafeRawBufferPointer(rebasing: buffer[..<received]), sequence) { return }
        }
    }

    /// socket(2) AF_NETLINK/SOCK_RAW/NETLINK_SOCK_DIAG, close-on-exec, with a 2 s SO_RCVTIMEO
    /// so that a kernel that never answers cannot wedge the caller's queue.
    private func openNetlink() throws(Errno) {
        let fd = try Kernel.socket(
            AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            SockDiag.netlinkSockDiag)
        do throws(Errno) {
            try Kernel.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval(tv_sec: 2, tv_usec: 0))
        } catch {
            closeQuietly(fd)
            throw error
        }
        netlink = fd
    }

    private func closeNetlink() {
        if netlink >= 0 {
            closeQuietly(netlink)
            netlink = -1
        }
    }

    private func fallBack(because error: Errno) {
        closeNetlink()
        method = .procNet
        fallbackReason = error
    }

    /// Errors that mean "this kernel or sandbox will not let us use sock_diag".
    private static func isRefusal(_ error: Errno) -> Bool {
        switch error {
        case .notPermitted, .permissionDenied, .protocolNotSupported, .addressFamilyNotSupported,
            .invalidArgument, .notSupported, .noSuchFile, .notImplemented:
            true
        default:
            false
        }
    }
}
