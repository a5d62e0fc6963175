import AttachSystem

#if canImport(Glibc)
    import Glibc
#endif

/// attachbench's own raw calls: the one file of the benchmark that calls Glibc. Everything
/// AttachSystem already offers (sockets, descriptors, pidfds, clocks, files, limits) is used
/// from there; what is left here is what only a benchmark needs: spawning with redirections
/// and a process group, non-blocking reaping, a bound-but-not-listening socket, poll(2) over
/// many descriptors, the deadline signal handlers and a few facts about the machine.
enum Sys {
    static let sigterm = SIGTERM
    static let sigkill = SIGKILL

    /// Redirections for a child: `dup2(source, target)`.
    struct Redirect {
        var source: Int32
        var target: Int32
    }

    /// posix_spawnp(3) with posix_spawn_file_actions_adddup2/addopen: starts `argv[0]` (looked
    /// up in PATH when it has no slash) with exactly `environment`. Targets 0, 1, 2 not
    /// redirected get /dev/null (or `stderrPath`, appended, for 2). Signals the benchmark
    /// ignores or catches are reset in the child (POSIX_SPAWN_SETSIGDEF); with
    /// `newProcessGroup` the child leads a group of its own (POSIX_SPAWN_SETPGROUP), so that
    /// ``kill(group:_:)`` reaches what it starts.
    static func spawn(
        _ argv: [String], environment: [String], redirects: [Redirect], stderrPath: String?,
        newProcessGroup: Bool
    ) throws(Errno) -> Int32 {
        guard let program = argv.first else { throw .invalidArgument }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let targets = Set(redirects.map(\.target))
        for redirect in redirects { posix_spawn_file_actions_adddup2(&actions, redirect.source, redirect.target) }
        if !targets.contains(0) { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        if !targets.contains(1) { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
        if !targets.contains(2) {
            if let stderrPath {
                posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            } else {
                posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGALRM, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var pid: pid_t = 0
        // posix_spawnp returns the error number instead of setting errno.
        let result = posix_spawnp(&pid, program, &actions, &attributes, cArguments, cEnvironment)
        guard result == 0 else { throw Errno(rawValue: result) }
        return pid
    }

    /// What a non-blocking waitpid(2) found.
    enum Reaped {
        case running
        /// The raw wait status.
        case exited(Int32)
        /// waitpid failed (ECHILD: not our child, or reaped already).
        case failed(Errno)
    }

    /// waitpid(2) with WNOHANG, EINTR retried.
    static func reap(_ pid: Int32) -> Reaped {
        while true {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return .exited(status) }
            if reaped == 0 { return .running }
            if errno != EINTR { return .failed(Errno(rawValue: errno)) }
        }
    }

    /// kill(2). Async-signal-safe.
    static func kill(_ pid: Int32, _ signal: Int32) {
        _ = Glibc.kill(pid, signal)
    }

    /// kill(2) of a whole process group (`-pgid`).
    static func kill(group: Int32, _ signal: Int32) {
        guard group > 1 else { return }
        _ = Glibc.kill(-group, signal)
    }

    /// pipe(2), both ends blocking and close-on-exec (pipe2 is a GNU extension Glibc's module
    /// hides; AttachSystem's `Pipe` is non-blocking, which a child's stdin must not be).
    static func pipe() throws(Errno) -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else { throw Errno(rawValue: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// nanosleep(2) for `seconds`, resumed after EINTR. For pacing and idle windows only.
    static func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// access(2) X_OK.
    static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    /// access(2) W_OK.
    static func isWritable(_ path: String) -> Bool { access(path, W_OK) == 0 }

    /// mkdtemp(3) of `PREFIX-XXXXXX`.
    static func makeTemporaryDirectory(prefix: String) throws(Errno) -> String {
        var template = Array("\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else { throw Errno(rawValue: errno) }
        return String(cString: made)
    }

    /// opendir(3)/readdir(3): the names in `path` without "." and "..", nil if it cannot be read.
    static func directoryEntries(_ path: String) -> [String]? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// sysconf(3) _SC_CLK_TCK: the unit of utime/stime in /proc/PID/stat.
    static var clockTicksPerSecond: Double { Double(sysconf(Int32(_SC_CLK_TCK))) }

    /// sysconf(3) _SC_NPROCESSORS_ONLN.
    static var onlineCores: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// uname(2): the kernel release and the machine ("6.1.0 x86_64").
    static func kernel() -> String {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let machine = withUnsafeBytes(of: name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "\(release) \(machine)"
    }

    /// time(2), gmtime_r(3), strftime(3): now as `YYYY-MM-DDTHH:MM:SSZ`.
    static func utcTimestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// socket(2), setsockopt(2) SO_REUSEADDR, bind(2) to 127.0.0.1:`port`, and no listen(2)
    /// yet: ``listen(_:backlog:)`` is then the one call a measurement times.
    static func boundTCPSocket(port: Int) throws(Errno) -> FileDescriptor {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = Errno(rawValue: errno)
            close(fd)
            throw error
        }
        return FileDescriptor(rawValue: fd)
    }

    /// listen(2).
    static func listen(_ fd: FileDescriptor, backlog: Int32 = 16) throws(Errno) {
        guard Glibc.listen(fd.rawValue, backlog) == 0 else { throw Errno(rawValue: errno) }
    }

    /// poll(2) for POLLIN over `fds` (negative entries are skipped, as poll does): the indices
    /// with an event (readable, hung up or in error); empty on timeout or EINTR.
    static func readable(_ fds: [Int32], timeoutMilliseconds: Int32) -> [Int] {
        var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&entries, nfds_t(entries.count), timeoutMilliseconds)
        guard ready > 0 else { return [] }
        return entries.indices.filter { entries[$0].revents != 0 }
    }

    /// write(2) of the whole text to standard error (unbuffered, for progress lines).
    static func writeStandardError(_ text: String) {
        try? FileDescriptor.standardError.writeAll(Array(text.utf8))
    }

    /// signal(2) for SIGINT, SIGTERM and SIGALRM, and alarm(2) for the `--max-seconds` deadline:
    /// the handler kills every registered child, says why and _exit(2)s with 2. Only
    /// async-signal-safe calls in the handler.
    static func installDeadlineHandlers(maxSeconds: UInt32) {
        let handler: @convention(c) (Int32) -> Void = { signal in
            ChildRegistry.signalAll(SIGKILL)
            let message: StaticString =
                signal == SIGALRM
                ? "\nattachbench: --max-seconds deadline reached; children killed\n"
                : "\nattachbench: interrupted; children killed\n"
            _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
            _exit(2)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        signal(SIGALRM, handler)
        if maxSeconds > 0 { alarm(maxSeconds) }
    }
}
