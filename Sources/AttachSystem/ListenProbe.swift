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
        if method == .sockDiag {
            do throws(Errno) {
                try openNetlink()
            } catch {
                fallBack(because: error)
            }
        }
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
        if method == .sockDiag {
            do throws(Errno) {
                return try sockDiagPorts()
            } catch {
                closeNetlink()
                do throws(Errno) {
                    try openNetlink()
                    return try sockDiagPorts()
                } catch {
                    if Self.isRefusal(error) { fallBack(because: error) }
                }
            }
        }
        return try ProcNetTCP.listeningPorts()
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
                let answer = try SockDiag.parseOwner(UnsafeRawBufferPointer(rebasing: buffer[..<received]),
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
        var ports = Set(try query(family: AF_INET, state: state))
        do throws(Errno) {
            ports.formUnion(try query(family: AF_INET6, state: state))
        } catch .noSuchFile, .addressFamilyNotSupported {
            // No IPv6 in this kernel: nothing listens there.
        }
        return ports
    }

    /// One dump: send the request, then recv(2) until NLMSG_DONE.
    private func query(family: Int32, state: UInt8) throws(Errno) -> [UInt16] {
        sequence &+= 1
        let request = SockDiag.request(family: family, sequence: sequence, state: state)
        let sent = try request.withUnsafeBytes { raw in
            Result { () throws(Errno) -> Int in try Kernel.send(netlink, raw, flags: 0) }
        }.get()
        guard sent == request.count else { throw .protocolError }

        var ports: [UInt16] = []
        while true {
            // MSG_TRUNC makes recv report the datagram's real length, so truncation is visible.
            let received = try Kernel.recv(netlink, buffer, flags: Int32(MSG_TRUNC))
            guard received > 0 else { throw .protocolError }
            guard received <= buffer.count else { throw .noBufferSpace }
            let batch = try SockDiag.parse(UnsafeRawBufferPointer(rebasing: buffer[..<received]),
                                           sequence: sequence, state: state)
            ports += batch.ports
            if batch.done { return ports }
        }
    }

    /// socket(2) AF_NETLINK/SOCK_RAW/NETLINK_SOCK_DIAG, close-on-exec, with a 2 s SO_RCVTIMEO
    /// so that a kernel that never answers cannot wedge the caller's queue.
    private func openNetlink() throws(Errno) {
        let fd = try Kernel.socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
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
