#if canImport(Glibc)
    import Glibc
#endif

/// A socket address built in Swift and handed to bind(2)/connect(2) as a `sockaddr` pointer.
internal enum SocketAddress: Sendable {
    case unix(sockaddr_un)
    case inet(sockaddr_in)
    case inet6(sockaddr_in6)

    /// The address family (AF_UNIX, AF_INET or AF_INET6).
    var family: Int32 {
        switch self {
        case .unix: AF_UNIX
        case .inet: AF_INET
        case .inet6: AF_INET6
        }
    }

    /// An AF_UNIX address for a filesystem path. Throws ENAMETOOLONG when the path (plus its
    /// terminating NUL) does not fit in `sun_path`, and EINVAL for an empty path or one with a NUL.
    static func unix(path: String) throws(Errno) -> SocketAddress {
        let bytes = Array(path.utf8)
        if bytes.isEmpty || bytes.contains(0) { throw .invalidArgument }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { throw .nameTooLong }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        return .unix(address)
    }

    /// An AF_INET or AF_INET6 address from a numeric host ("127.0.0.1", "::1", "0.0.0.0", "::")
    /// and a port, through inet_pton(3). Throws EINVAL for anything that is not a numeric address.
    static func inet(host: String, port: UInt16) throws(Errno) -> SocketAddress {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr = v4
            return .inet(address)
        }
        var v6 = in6_addr()
        // Accept the bracketed form some callers copy out of URLs: "[::1]".
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if inet_pton(AF_INET6, bare, &v6) == 1 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            address.sin6_addr = v6
            return .inet6(address)
        }
        throw .invalidArgument
    }

    /// Calls `body` with a `sockaddr` pointer and the length of the concrete structure.
    func withSockaddr<R>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Errno) -> R
    ) throws(Errno) -> R {
        switch self {
        case .unix(var address):
            return try Self.withRebound(&address, body)
        case .inet(var address):
            return try Self.withRebound(&address, body)
        case .inet6(var address):
            return try Self.withRebound(&address, body)
        }
    }

    private static func withRebound<A, R>(
        _ address: inout A,
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Errno) -> R
    ) throws(Errno) -> R {
        let length = socklen_t(MemoryLayout<A>.size)
        return try withUnsafeBytes(of: &address) { (raw) throws(Errno) -> R in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: sockaddr.self)
            return try body(pointer, length)
        }
    }

    /// The port of an AF_INET or AF_INET6 address returned by getsockname(2), in host order.
    /// Throws EAFNOSUPPORT for any other family.
    static func port(of storage: sockaddr_storage) throws(Errno) -> UInt16 {
        var storage = storage
        let family = Int32(storage.ss_family)
        return try withUnsafeBytes(of: &storage) { (raw) throws(Errno) -> UInt16 in
            switch family {
            case AF_INET:
                let address = raw.loadUnaligned(as: sockaddr_in.self)
                return UInt16(bigEndian: address.sin_port)
            case AF_INET6:
                let address = raw.loadUnaligned(as: sockaddr_in6.self)
                return UInt16(bigEndian: address.sin6_port)
            default:
                throw .addressFamilyNotSupported
            }
        }
    }
}
