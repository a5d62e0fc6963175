#if canImport(Glibc)
    import Glibc
#endif

extension ChildProcess {
    /// posix_spawn(3) of `arguments[0]` (an absolute path) with `environment` (`NAME=value`) and
    /// the given descriptors as its standard input, output and error (the daemon's ssh links:
    /// socketpair ends and a pipe). The child starts with no signal blocked and default
    /// dispositions, in a session of its own. Returns its pid; reap it with `reap`.
    public static func spawn(
        _ arguments: [String], environment: [String], standardInput: FileDescriptor,
        standardOutput: FileDescriptor, standardError: FileDescriptor
    ) throws(Errno) -> Int32 {
        guard let path = arguments.first, path.hasPrefix("/") else { throw .invalidArgument }
        return try Kernel.spawn(
            path: path, arguments: arguments, environment: environment,
            stdio: (standardInput.rawValue, standardOutput.rawValue, standardError.rawValue))
    }

    /// waitpid(2) with WNOHANG: how `pid` ended, once it has (it is reaped then); nil while it
    /// runs or when it is not our child (ECHILD).
    public static func reap(_ pid: Int32) -> Exit? {
        guard let status = try? Kernel.waitNoHang(pid) else { return nil }
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(status & 0x7f)
    }

    /// kill(2) `signal` to `pid`; a process already gone is no error.
    public static func signal(_ pid: Int32, _ signal: Int32 = SIGTERM) {
        try? Kernel.kill(pid, signal)
    }
}
