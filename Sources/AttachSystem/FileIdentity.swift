#if canImport(Glibc)
    import Glibc
#endif

/// Which file a path named when it was looked at: its device and inode (lstat(2)). A socket
/// file bound by one process and replaced by another's has a new identity, so a process that
/// removes only the identity it recorded never removes another's file.
public struct FileIdentity: Sendable, Hashable {
    public let device: UInt64
    public let inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// lstat(2) of `path`: what is there now, nil when nothing is.
    public static func of(_ path: String) -> FileIdentity? {
        guard let info = try? Kernel.lstat(path) else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

extension Files {
    /// unlink(2) of `path`, only when it still names the file recorded as `identity` (lstat(2)
    /// first). Returns whether it was removed; a path that names another file (or nothing) is
    /// left alone, as is any path when `identity` is nil.
    @discardableResult
    public static func unlink(_ path: String, ifStill identity: FileIdentity?) -> Bool {
        guard let identity, FileIdentity.of(path) == identity else { return false }
        return (try? Kernel.unlink(path)) != nil
    }
}
