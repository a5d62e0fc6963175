import AttachSystem
import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Checks on descriptors handed over by socket activation or the fd store (sd_is_socket(3)).
extension Socket {
    private static let stream = Int32(SOCK_STREAM.rawValue)

    /// sd_is_socket_unix(3) with SOCK_STREAM and listening = 1: true if `fd` is a listening
    /// AF_UNIX stream socket, bound to `path` when a path is given.
    public static func isListeningUnixStream(_ fd: FileDescriptor, path: String?) -> Bool {
        guard let path else {
            return sd_is_socket_unix(fd.rawValue, stream, 1, nil, 0) > 0
        }
        return sd_is_socket_unix(fd.rawValue, stream, 1, path, 0) > 0
    }

    /// sd_is_socket_inet(3) with any family, SOCK_STREAM and listening = 1: true if `fd` is a
    /// listening TCP socket on `port` (0 = any port).
    public static func isListeningTCP(_ fd: FileDescriptor, port: UInt16) -> Bool {
        sd_is_socket_inet(fd.rawValue, 0, stream, 1, port) > 0
    }
}
