#if canImport(Glibc)
    import Glibc
#endif

extension Socket {
    /// getsockname(2): the path a Unix socket is bound to, nil for an unbound or abstract one,
    /// or another family.
    public static func boundPath(_ fd: FileDescriptor) -> String? {
        guard var storage = try? Kernel.getsockname(fd.rawValue), Int32(storage.ss_family) == AF_UNIX else {
            return nil
        }
        return withUnsafeBytes(of: &storage) { raw -> String? in
            let address = raw.load(as: sockaddr_un.self)
            let path = withUnsafeBytes(of: address.sun_path) { Array($0.prefix { $0 != 0 }) }
            return path.isEmpty ? nil : String(decoding: path, as: UTF8.self)
        }
    }

    /// A NUL-terminated C string in `buffer`, as text.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// getpeername(2) and inet_ntop(3): the peer of a TCP connection as `host:port`
    /// (`[v6]:port` for IPv6), nil when it has none (closed, not an inet socket).
    public static func peerAddress(_ fd: FileDescriptor) -> String? {
        guard var storage = try? Kernel.getpeername(fd.rawValue) else { return nil }
        let family = Int32(storage.ss_family)
        return withUnsafeBytes(of: &storage) { raw -> String? in
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            switch family {
            case AF_INET:
                var address = raw.load(as: sockaddr_in.self)
                guard inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count)) != nil else { return nil }
                return "\(Self.text(text)):\(UInt16(bigEndian: address.sin_port))"
            case AF_INET6:
                var address = raw.load(as: sockaddr_in6.self)
                guard inet_ntop(AF_INET6, &address.sin6_addr, &text, socklen_t(text.count)) != nil else { return nil }
                return "[\(Self.text(text))]:\(UInt16(bigEndian: address.sin6_port))"
            default:
                return nil
            }
        }
    }
}

extension Socket {
    /// poll(2) for POLLRDHUP without waiting: whether the peer has closed (or shut down its
    /// writing side, or the connection failed), even while bytes it sent are still unread —
    /// how a connection that is held, not read, notices its client left.
    public static func peerHasHungUp(_ fd: FileDescriptor) -> Bool {
        let events = Self.pollRDHUP | Int16(truncatingIfNeeded: Int32(POLLHUP) | Int32(POLLERR))
        guard
            let revents = try? Kernel.poll(
                fd.rawValue, events: Self.pollRDHUP,
                timeoutMilliseconds: 0)
        else { return false }
        return revents & events != 0
    }
}

extension Socket {
    /// POLLRDHUP (Linux 2.6.17), which Glibc exports only under _GNU_SOURCE.
    static let pollRDHUP: Int16 = 0x2000
}

extension Socket {
    /// What a stream socket holds for reading now.
    public enum Unread: Sendable, Equatable {
        /// At least one byte.
        case bytes
        /// The peer closed (or shut down its writing side): end of file.
        case endOfFile
        /// Nothing yet.
        case nothing
        /// The connection failed (ECONNRESET, ...).
        case failed(Errno)
    }

    /// recv(2) of one byte with MSG_PEEK | MSG_DONTWAIT: what is there to read, leaving it there.
    public static func unread(_ fd: FileDescriptor) -> Unread {
        var byte: UInt8 = 0
        do throws(Errno) {
            let count = try withUnsafeMutableBytes(of: &byte) { buffer throws(Errno) in
                try Kernel.recv(fd.rawValue, buffer, flags: Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
            }
            return count == 0 ? .endOfFile : .bytes
        } catch .wouldBlock {
            return .nothing
        } catch {
            return .failed(error)
        }
    }
}
