#if canImport(Glibc)
import Glibc
#endif
import AttachSystem

/// Why the benchmark cannot go on.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Child processes: posix_spawn(3), pidfds, bounded waits. Every child the benchmark starts is
/// recorded in ``ChildRegistry`` so that a signal or the global deadline can stop it.
enum Processes {
    /// Redirections for a child: `dup2(source, target)`; targets 0, 1, 2 not named get /dev/null
    /// (or `stderrPath`, appended, for 2).
    struct Redirect {
        var source: Int32
        var target: Int32
    }

    /// posix_spawnp(3): starts `argv[0]` (looked up in PATH when it has no slash) with exactly
    /// `environment`. Signals the benchmark ignores or catches are reset to their defaults in
    /// the child. Returns the pid; the child is registered for clean-up.
    static func spawn(_ argv: [String], environment: [String], redirects: [Redirect] = [],
                      stderrPath: String? = nil) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let targets = Set(redirects.map(\.target))
        for redirect in redirects {
            posix_spawn_file_actions_adddup2(&actions, redirect.source, redirect.target)
        }
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
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, argv[0], &actions, &attributes, cArguments, cEnvironment)
        guard result == 0 else {
            throw BenchError("cannot start \(argv[0]): \(Errno(rawValue: result))")
        }
        ChildRegistry.add(pid)
        return pid
    }

    /// Waits at most `timeout` seconds for `pid` to exit (through its pidfd when given, else by
    /// polling waitpid), reaps it and returns its wait status and the CLOCK_REALTIME instant
    /// read right after waitpid(2). nil on timeout (the child is left running).
    static func waitExit(_ pid: pid_t, pidfd: FileDescriptor?, timeout: Double) -> (status: Int32, wall: Double)? {
        let deadline = Clock.monotonicSeconds() + timeout
        while true {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                let wall = Clock.wallSeconds()
                ChildRegistry.remove(pid)
                return (status, wall)
            }
            if reaped < 0 && errno != EINTR {
                ChildRegistry.remove(pid)
                return (-1, Clock.wallSeconds())
            }
            let left = deadline - Clock.monotonicSeconds()
            if left <= 0 { return nil }
            if let pidfd {
                _ = try? pidfd.waitReadable(timeoutMilliseconds: Int32(min(left * 1000, 60_000).rounded(.up)))
            } else {
                usleep(1000)
            }
        }
    }

    /// SIGTERM, a bounded wait, then SIGKILL. Reaps the child.
    @discardableResult
    static func stop(_ pid: pid_t, grace: Double = 5) -> Int32? {
        kill(pid, SIGTERM)
        if let done = waitExit(pid, pidfd: nil, timeout: grace) { return done.status }
        kill(pid, SIGKILL)
        return waitExit(pid, pidfd: nil, timeout: 5)?.status
    }

    /// The exit code of a wait status, or 128 + signal.
    static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    /// Runs a short command and returns its standard output, nil if it cannot run or takes
    /// longer than `timeout`.
    static func output(of argv: [String], environment: [String], timeout: Double = 10) -> String? {
        guard let pair = try? makePipe() else { return nil }
        let fds = [pair.read, pair.write]
        let reader = FileDescriptor(rawValue: fds[0])
        defer { reader.close() }
        let pid: pid_t
        do {
            pid = try spawn(argv, environment: environment, redirects: [Redirect(source: fds[1], target: 1)])
        } catch {
            close(fds[1])
            return nil
        }
        close(fds[1])
        var bytes: [UInt8] = []
        let deadline = Clock.monotonicSeconds() + timeout
        while Clock.monotonicSeconds() < deadline {
            guard (try? reader.waitReadable(timeoutMilliseconds: 100)) == true else { continue }
            guard let chunk = try? reader.read(upTo: 65536), !chunk.isEmpty else { break }
            bytes += chunk
        }
        guard let status = waitExit(pid, pidfd: nil, timeout: max(0.1, deadline - Clock.monotonicSeconds())) else {
            stop(pid, grace: 1)
            return nil
        }
        guard exitCode(status.status) == 0 else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// This process's environment as `NAME=value` strings, with `overrides` applied and the
    /// systemd variables a child must not inherit removed.
    static func environment(_ overrides: [String: String] = [:], removing: Set<String> = []) -> [String] {
        let scrub: Set<String> = ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC",
                                  "WATCHDOG_PID", "ATTACHD_SOCKET", "ATTACHD_RENDEZVOUS"]
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            let name = String(text.prefix { $0 != "=" })
            if !scrub.contains(name), !removing.contains(name), overrides[name] == nil { result.append(text) }
            pointer += 1
        }
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) { result.append("\(name)=\(value)") }
        return result
    }
}

/// The pids of the children still running, so that SIGINT, SIGTERM and the global deadline can
/// stop them. A fixed array of atomics-by-convention: the handler only reads it.
enum ChildRegistry {
    private static let capacity = 256
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<pid_t> = {
        let pointer = UnsafeMutablePointer<pid_t>.allocate(capacity: capacity)
        pointer.initialize(repeating: 0, count: capacity)
        return pointer
    }()

    static func add(_ pid: pid_t) {
        for index in 0..<capacity where slots[index] == 0 {
            slots[index] = pid
            return
        }
    }

    static func remove(_ pid: pid_t) {
        for index in 0..<capacity where slots[index] == pid { slots[index] = 0 }
    }

    /// Sends `signal` to every registered child (async-signal-safe: kill(2) only).
    static func signalAll(_ signal: Int32) {
        for index in 0..<capacity where slots[index] > 0 { kill(slots[index], signal) }
    }

    /// Stops every child still registered (SIGTERM, then SIGKILL) and reaps it.
    static func stopAll() {
        for index in 0..<capacity where slots[index] > 0 {
            let pid = slots[index]
            Processes.stop(pid, grace: 2)
            slots[index] = 0
        }
    }

    /// SIGINT, SIGTERM and SIGALRM (the `--max-seconds` deadline) end the benchmark: children
    /// are killed, the process exits 2. Only async-signal-safe calls in the handler.
    static func installHandlers(maxSeconds: UInt32) {
        let handler: @convention(c) (Int32) -> Void = { signal in
            ChildRegistry.signalAll(SIGKILL)
            let message: StaticString = signal == SIGALRM
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

/// pipe(2) with both ends close-on-exec (pipe2 is a GNU extension Glibc's module hides), so
/// only the ends dup2'ed into a child reach it.
func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw BenchError("pipe failed: \(Errno(rawValue: errno))") }
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return (fds[0], fds[1])
}
