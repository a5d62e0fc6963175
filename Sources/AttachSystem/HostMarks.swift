/// The mark a host hands down to the processes it starts, `ATTACHD_HOST_PID=PID` in their
/// environment: how a listener held outside the host's process tree (debugpy's adapter, which
/// detaches itself) is still known as the host's. Looked up once per socket, by inode.
struct HostMarks {
    /// The environment variable that carries the mark.
    static let variable = "ATTACHD_HOST_PID"
    /// The mark found on each socket's holder ("" for none), by inode.
    private var byInode: [UInt64: String] = [:]
    /// Bounded: sockets come and go, and a stale entry costs one more look.
    private static let capacity = 256

    /// Whether the process `pid`, holding the socket `inode`, was started with `mark`.
    mutating func carries(_ mark: String, holder pid: Int32, inode: UInt64) -> Bool {
        if let known = byInode[inode] { return known == mark }
        let found = ProcessTree.environmentValue(Self.variable, of: pid) ?? ""
        if byInode.count >= Self.capacity { byInode = [:] }
        byInode[inode] = found
        return found == mark
    }
}
