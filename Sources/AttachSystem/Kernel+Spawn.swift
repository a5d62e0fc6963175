#if canImport(Glibc)
    import Glibc
#endif

extension Kernel {
    /// posix_spawn(3) of `path` (no PATH lookup) with `arguments` and `environment`, its
    /// descriptors 0, 1 and 2 made from `stdio` (posix_spawn_file_actions_adddup2(3); every other
    /// descriptor of ours is close-on-exec), its signal mask emptied and the signals the daemon
    /// ignores or takes through signalfd set back to their defaults
    /// (posix_spawnattr_setsigmask(3), posix_spawnattr_setsigdefault(3)), in a new session
    /// (POSIX_SPAWN_SETSID) so that a terminal's ^C is not its business. posix_spawn returns the
    /// error number instead of setting errno; it is thrown as it is.
    static func spawn(
        path: String, arguments: [String], environment: [String],
        stdio: (Int32, Int32, Int32)
    ) throws(Errno) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { throw .noMemory }
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard posix_spawnattr_init(&attributes) == 0 else { throw .noMemory }
        defer { posix_spawnattr_destroy(&attributes) }
        for (from, to) in [(stdio.0, Int32(0)), (stdio.1, 1), (stdio.2, 2)] {
            let result = posix_spawn_file_actions_adddup2(&actions, from, to)
            guard result == 0 else { throw Errno(rawValue: result) }
        }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | spawnSetSID))
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw Errno(rawValue: result) }
        return pid
    }

    /// glibc's POSIX_SPAWN_SETSID (spawn.h, _GNU_SOURCE only, so not imported).
    static let spawnSetSID: Int32 = 0x80

    /// waitpid(2) with WNOHANG: the raw wait status once `pid` has exited (it is reaped), nil
    /// while it runs.
    static func waitNoHang(_ pid: pid_t) throws(Errno) -> Int32? {
        var status: Int32 = 0
        let reaped = try syscall { waitpid(pid, &status, WNOHANG) }
        return reaped == 0 ? nil : status
    }
}
