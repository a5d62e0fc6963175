/// One TCP socket in LISTEN state, as sock_diag (`inet_diag_msg`) or /proc/net/tcp{,6} report it:
/// what readiness needs to tell whose listener it is and whether loopback can reach it.
public struct ListeningSocket: Hashable, Sendable, CustomStringConvertible {
    /// The address family of the socket.
    public enum Family: Hashable, Sendable {
        case ipv4
        case ipv6
    }

    /// AF_INET or AF_INET6.
    public var family: Family
    /// The local address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public var address: [UInt8]
    /// The local port.
    public var port: UInt16
    /// The socket's inode number (`idiag_inode`): what `/proc/PID/fd/N` links to as `socket:[INODE]`.
    public var inode: UInt64
    /// The socket's owner (`idiag_uid`), as seen from the reader's user namespace.
    public var uid: UInt32

    /// A socket with these fields.
    public init(family: Family, address: [UInt8], port: UInt16, inode: UInt64, uid: UInt32) {
        self.family = family
        self.address = address
        self.port = port
        self.inode = inode
        self.uid = uid
    }

    /// Bound to a loopback address: 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104 (IPv4-mapped).
    public var isLoopback: Bool {
        switch family {
        case .ipv4:
            return address.first == 127
        case .ipv6:
            guard address.count == 16 else { return false }
            if address[0..<15].allSatisfy({ $0 == 0 }) && address[15] == 1 { return true }
            return isIPv4Mapped && address[12] == 127
        }
    }

    /// Bound to the wildcard address (0.0.0.0 or ::): listens on every interface, loopback included.
    public var isWildcard: Bool {
        address.allSatisfy { $0 == 0 }
    }

    /// A client on this machine can connect to it through loopback: loopback or wildcard. This
    /// is what port discovery accepts (a debug server bound to 0.0.0.0 is reachable at 127.0.0.1).
    public var isReachableFromLoopback: Bool {
        isLoopback || isWildcard
    }

    /// "127.0.0.1:5678" or "[::1]:5678" (IPv6 groups in hex, without zero compression).
    public var description: String {
        switch family {
        case .ipv4:
            return address.map { String($0) }.joined(separator: ".") + ":\(port)"
        case .ipv6:
            var groups: [String] = []
            var index = 0
            while index + 1 < address.count {
                groups.append(String(UInt16(address[index]) << 8 | UInt16(address[index + 1]), radix: 16))
                index += 2
            }
            return "[" + groups.joined(separator: ":") + "]:\(port)"
        }
    }

    private var isIPv4Mapped: Bool {
        address[0..<10].allSatisfy { $0 == 0 } && address[10] == 0xff && address[11] == 0xff
    }
}
