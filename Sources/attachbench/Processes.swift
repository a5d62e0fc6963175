import AttachSystem

/// Why the benchmark cannot go on.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Child processes: posix_spawn(3), pidfds, bounded waits. Every child the benchmark starts is
/// recorded in ``ChildRegistry`` so that a signal or the global deadline can stop it.
enum Processes {
    typealias Redirect = Sys.Redirect

    /// Starts `argv[0]` (``Sys/spawn(_:environment:redirects:stderrPath:newProcessGroup:)``) and
    /// registers the child for clean-up. Returns the pid.
    static func spawn(
        _ argv: [String], environment: [String], redirects: [Redirect] = [],
        stderrPath: String? = nil, newProcessGroup: Bool = false
    ) throws -> Int32 {
        let pid: Int32
        do {
            pid = try Sys.spawn(
                argv, environment: environment, redirects: redirects, stderrPath: stderrPath,
                newProcessGroup: newProcessGroup)
        } catch {
            throw BenchError("cannot start \(argv.first ?? "?"): \(error)")
        }
        ChildRegistry.add(pid)
        return pid
    }

    /// Waits at most `timeout` seconds for `pid` to exit (through its pidfd when given, else by
    /// polling waitpid), reaps it and returns its wait status and the CLOCK_REALTIME instant
    /// read right after waitpid(2). nil on timeout (the child is left running).
    static func waitExit(_ pid: Int32, pidfd: FileDescriptor?, timeout: Double) -> (status: Int32, wall: Double)? {
        let deadline = Clock.monotonicSeconds() + timeout
        while true {
            switch Sys.reap(pid) {
            case .exited(let status):
                let wall = Clock.wallSeconds()
                ChildRegistry.remove(pid)
                return (status, wall)
            case .failed:
                ChildRegistry.remove(pid)
                return (-1, Clock.wallSeconds())
            case .running:
                break
            }
            let left = deadline - Clock.monotonicSeconds()
            if left <= 0 { return nil }
            if let pidfd {
                _ = try? pidfd.waitReadable(timeoutMilliseconds: Int32(min(left * 1000, 60_000).rounded(.up)))
            } else {
                Sys.sleep(0.001)
            }
        }
    }

    /// SIGTERM, a bounded wait, then SIGKILL. Reaps the child.
    @discardableResult
    static func stop(_ pid: Int32, grace: Double = 5) -> Int32? {
        Sys.kill(pid, Sys.sigterm)
        if let done = waitExit(pid, pidfd: nil, timeout: grace) { return done.status }
        Sys.kill(pid, Sys.sigkill)
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
        guard let (reader, writer) = try? Sys.pipe() else { return nil }
        defer { reader.close() }
        let pid: Int32
        do {
            pid = try spawn(argv, environment: environment, redirects: [Redirect(source: writer.rawValue, target: 1)])
        } catch {
            writer.close()
            return nil
        }
        writer.close()
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

    /// utime + stime of `pid` (dead threads included) from /proc/PID/stat, in seconds; the kernel
    /// counts them in 10 ms ticks. -1 when it cannot be read.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let bytes = try? Files.read("/proc/\(pid)/stat") else { return -1 }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return -1 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After ")": state is field 3, utime 14, stime 15 → indices 11 and 12 here.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return -1 }
        return (user + system) / Sys.clockTicksPerSecond
    }

    /// This process's environment as `NAME=value` strings, with `overrides` applied and the
    /// systemd variables a child must not inherit removed.
    static func environment(_ overrides: [String: String] = [:], removing: Set<String> = []) -> [String] {
        let scrub: Set<String> = [
            "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC",
            "WATCHDOG_PID", "ATTACHD_SOCKET", "ATTACHD_RENDEZVOUS",
        ]
        var result: [String] = []
        for text in ChildProcess.environment {
            let name = String(text.prefix { $0 != "=" })
            if !scrub.contains(name), !removing.contains(name), overrides[name] == nil { result.append(text) }
        }
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) { result.append("\(name)=\(value)") }
        return result
    }
}

/// The pids of the children still running, so that SIGINT, SIGTERM and the global deadline can
/// stop them. A fixed array of atomics-by-convention: the handler only reads it.
enum ChildRegistry {
    private static let capacity = 256
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<Int32> = {
        let pointer = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        pointer.initialize(repeating: 0, count: capacity)
        return pointer
    }()

    static func add(_ pid: Int32) {
        for index in 0..<capacity where slots[index] == 0 {
            slots[index] = pid
            return
        }
    }

    static func remove(_ pid: Int32) {
        for index in 0..<capacity where slots[index] == pid { slots[index] = 0 }
    }

    /// Sends `signal` to every registered child (async-signal-safe: kill(2) only).
    static func signalAll(_ signal: Int32) {
        for index in 0..<capacity where slots[index] > 0 { Sys.kill(slots[index], signal) }
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
    /// are killed, the process exits 2.
    static func installHandlers(maxSeconds: UInt32) {
        Sys.installDeadlineHandlers(maxSeconds: maxSeconds)
    }
}
