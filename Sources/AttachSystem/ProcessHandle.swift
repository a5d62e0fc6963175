#if canImport(Glibc)
    import Glibc
#endif

/// This process and others: pidfds, liveness, signals, descriptor limits.
public enum ProcessHandle {
    /// pidfd_open(2) (glibc's `pidfd_open`, looked up at run time). The descriptor is
    /// close-on-exec and becomes readable when the process exits. Throws `.noSuchProcess` if it is
    /// already gone, `.notImplemented` on a kernel or libc without pidfds.
    public static func pidfdOpen(_ pid: Int32) throws(Errno) -> FileDescriptor {
        guard pid > 0 else { throw .invalidArgument }
        return FileDescriptor(rawValue: try Kernel.pidfdOpen(pid))
    }

    /// kill(2) with signal 0: true if the process exists (also when it belongs to another user,
    /// EPERM). A zombie still counts as alive until it is reaped.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        do throws(Errno) {
            try Kernel.kill(pid, 0)
            return true
        } catch .notPermitted {
            return true
        } catch {
            return false
        }
    }

    /// readlink(2) of /proc/self/exe: this program's absolute path (to start it again).
    public static var executablePath: String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { (raw) -> Int in
            (try? Kernel.readlink("/proc/self/exe", raw)) ?? 0
        }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    /// getpid(2)
    public static var currentPID: Int32 {
        Glibc.getpid()
    }

    /// geteuid(2): the effective uid, which is what SO_PEERCRED reports for peers.
    public static var currentUID: UInt32 {
        Glibc.geteuid()
    }

    /// signal(2) SIGPIPE → SIG_IGN, so writing to a closed socket returns EPIPE instead of
    /// killing the process.
    public static func ignoreSIGPIPE() {
        ignoreSignal(SIGPIPE)
    }

    /// signal(2) `sig` → SIG_IGN, so that a DispatchSource can take it.
    public static func ignoreSignal(_ sig: Int32) {
        _ = Glibc.signal(sig, SIG_IGN)
    }

    /// getrlimit(2) RLIMIT_NOFILE: the soft and hard limits on open descriptors.
    /// `RLIM_INFINITY` comes back as `UInt64.max`.
    public static func openFileLimit() -> (soft: UInt64, hard: UInt64) {
        guard let limit = try? Kernel.getrlimit(RLIMIT_NOFILE) else { return (0, 0) }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// setrlimit(2) RLIMIT_NOFILE: raises the soft limit to `soft` (default: the hard limit),
    /// never above the hard limit and never lowering it. Returns the soft limit now in force.
    @discardableResult
    public static func raiseOpenFileLimit(to soft: UInt64? = nil) throws(Errno) -> UInt64 {
        var limit = try Kernel.getrlimit(RLIMIT_NOFILE)
        let wanted = min(soft ?? UInt64(limit.rlim_max), UInt64(limit.rlim_max))
        if wanted > UInt64(limit.rlim_cur) {
            limit.rlim_cur = rlim_t(wanted)
            try Kernel.setrlimit(RLIMIT_NOFILE, limit)
        }
        return UInt64(limit.rlim_cur)
    }

    /// The number of entries in /proc/self/fd (opendir/readdir), not counting the descriptor
    /// used to read the directory itself. -1 if /proc cannot be read.
    public static func openDescriptorCount() -> Int {
        guard let names = try? Kernel.directoryEntries("/proc/self/fd") else { return -1 }
        return max(0, names.count - 1)
    }
}
