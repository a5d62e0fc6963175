#if canImport(Glibc)
    import Glibc
#endif

/// A command started by `attachctl run`: spawned with posix_spawnp(3), signals forwarded to it,
/// waited for with waitpid(2).
public enum ChildProcess {
    /// How a child ended.
    public enum Exit: Equatable, Sendable {
        case exited(Int32)
        case signalled(Int32)
    }

    /// posix_spawnp(3): runs `arguments[0]` (looked up in PATH) with `arguments` and
    /// `environment` (`NAME=value` strings), inheriting our standard descriptors. Returns its pid.
    public static func spawn(_ arguments: [String], environment: [String]) throws(Errno) -> Int32 {
        guard let program = arguments.first else { throw .invalidArgument }
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        // posix_spawnp returns the error number instead of setting errno.
        let result = posix_spawnp(&pid, program, nil, nil, argv, envp)
        guard result == 0 else { throw Errno(rawValue: result) }
        return pid
    }

    /// waitpid(2) until `pid` exits, retrying EINTR (a forwarded signal interrupts it).
    public static func wait(_ pid: Int32) throws(Errno) -> Exit {
        var status: Int32 = 0
        _ = try syscall { waitpid(pid, &status, 0) }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as macros.
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(status & 0x7f)
    }

    /// Forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to `pid` (kill(2) from the handler, which
    /// is async-signal-safe) instead of dying of them: the child decides, and we exit with it.
    public static func forwardSignals(to pid: Int32) {
        forwardedChild = pid
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { received in
                if forwardedChild > 0 { kill(forwardedChild, received) }
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signal, &action, nil)
        }
    }

    /// Dies of `signal` as the child did: default action, unblocked, raised.
    public static func die(of signal: Int32) -> Never {
        Glibc.signal(signal, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(signal)
        exit(128 + signal)
    }

    /// The environment as `NAME=value` strings (environ(7)).
    public static var environment: [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }
}

/// The child signals are forwarded to; read from the signal handler.
nonisolated(unsafe) private var forwardedChild: pid_t = 0
