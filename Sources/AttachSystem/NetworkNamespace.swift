#if canImport(Glibc)
    import Glibc
#endif

/// The identity of a network namespace: the device and inode of its nsfs file, which is what
/// `/proc/PID/ns/net` resolves to (the link text `net:[INODE]` names the same inode).
public struct NetworkNamespace: Hashable, Sendable, CustomStringConvertible {
    /// `st_dev` of the nsfs inode.
    public let device: UInt64
    /// `st_ino` of the nsfs inode: the number in `net:[INODE]`.
    public let inode: UInt64

    /// A namespace identity from its two numbers.
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// stat(2) `/proc/PID/ns/net`: the network namespace PID lives in. Throws ENOENT when the
    /// process is gone (or is a zombie, whose namespaces are already released), EACCES when it
    /// belongs to another user and ptrace access is refused.
    public static func of(pid: Int32) throws(Errno) -> NetworkNamespace {
        guard pid > 0 else { throw .invalidArgument }
        return try at("/proc/\(pid)/ns/net")
    }

    /// stat(2) `/proc/self/ns/net`: this process's network namespace, nil if /proc cannot say.
    public static var current: NetworkNamespace? {
        try? at("/proc/self/ns/net")
    }

    /// "net:[4026531833]", as readlink(2) shows it.
    public var description: String {
        "net:[\(inode)]"
    }

    private static func at(_ path: String) throws(Errno) -> NetworkNamespace {
        let info = try Kernel.stat(path)
        return NetworkNamespace(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}
