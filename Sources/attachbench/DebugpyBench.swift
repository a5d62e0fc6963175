import AttachProtocol
import AttachSystem
import Foundation

/// A real debugpy host (f): MAINPID and READY=1 on the rendezvous, then
/// debugpy.listen(("127.0.0.1", 0)); attachd waits for the host's own process tree to listen.
struct DebugpyResult: Codable {
    var skipped: String?
    var launches: Int
    var failures: Int
    var failureExamples: [String]
    /// debugpy's port first seen in LISTEN (``ListenWatcher``, a side thread here) → `attachctl
    /// wait` exits. Negative when attachctl exited before the port was seen.
    var listenToRelease: Summary?
    /// The first new LISTEN seen after debugpy.listen() was called (debugpy's own "endpoints"
    /// listener in the host process comes before the adapter's port) → `attachctl wait` exits.
    var firstListenerToRelease: Summary?
    /// debugpy.listen() returning → `attachctl wait` exits.
    var returnToRelease: Summary?
    /// How long debugpy.listen() itself takes (adapter start-up).
    var listenCall: Summary?
    var releasedBeforeListen: Int
    /// Launches where the session's discovered debug port is debugpy's own port (not the
    /// adapter's internal one).
    var portMatches: Int
    /// Average time between two looks at the LISTEN table in the side thread: the sighting's
    /// resolution.
    var meanReadMicros: Double
}

enum DebugpyBench {
    static func run(
        _ daemon: DaemonUnderTest, python: String, script: String, attachctl: String, launches: Int,
        warmup: Int, progress: (String) -> Void
    ) throws -> DebugpyResult {
        let check = Processes.output(
            of: [python, "-c", "import debugpy; print(debugpy.__version__)"],
            environment: Processes.environment(), timeout: 30)
        guard let version = check?.split(separator: "\n").first else {
            return DebugpyResult(
                skipped: "debugpy is not importable by \(python) (pip install debugpy)", launches: 0, failures: 0,
                failureExamples: [], listenToRelease: nil, firstListenerToRelease: nil, returnToRelease: nil,
                listenCall: nil,
                releasedBeforeListen: 0, portMatches: 0, meanReadMicros: .nan)
        }
        progress("  debugpy \(version): \(launches) launches (+\(warmup) warm-up), one Python process each")
        let project = "bench-debugpy"
        _ = try daemon.call(.addProject, ["name": project, "attachPort": try AttachBench.freePort()])
        let socket = daemon.sandbox.controlSocket
        let rendezvous = daemon.sandbox.rendezvousSocket(project)
        var listenToRelease: [Double] = []
        var firstToRelease: [Double] = []
        var returnToRelease: [Double] = []
        var call: [Double] = []
        var reads: [Double] = []
        var failures: [String] = []
        var early = 0
        var matches = 0
        for index in 0..<(warmup + launches) {
            try daemon.waitFor("the previous \(project) session to end", timeout: 15) { intValue($0["sessions"]) == 0 }
            let waiter = try Processes.spawn(
                [attachctl, "wait", "--socket", socket, project, "--timeout", "30"],
                environment: daemon.sandbox.environment)
            let pidfd = try? ProcessHandle.pidfdOpen(waiter)
            defer { pidfd?.close() }
            try daemon.waitFor("attachctl wait to block", timeout: 10) { intValue($0["waiters"]) == 1 }
            let watcher = ListenWatcher()
            watcher.start()
            defer { watcher.stop() }
            let toHost = try Sys.pipe()
            let fromHost = try Sys.pipe()
            let host = try Processes.spawn(
                [python, "-u", script, rendezvous], environment: daemon.sandbox.environment,
                redirects: [
                    .init(source: toHost.read.rawValue, target: 0),
                    .init(source: fromHost.write.rawValue, target: 1),
                ],
                stderrPath: daemon.sandbox.root + "/debugpy-host.log", newProcessGroup: true)
            toHost.read.close()
            fromHost.write.close()
            defer {
                toHost.write.close()
                fromHost.read.close()
                if Processes.waitExit(host, pidfd: nil, timeout: 5) == nil { Sys.kill(group: host, Sys.sigkill) }
                Sys.kill(group: host, Sys.sigkill)  // debugpy's adapter, if it outlived the host
                _ = Processes.waitExit(host, pidfd: nil, timeout: 5)
            }
            let exit = Processes.waitExit(waiter, pidfd: pidfd, timeout: 40)
            if exit == nil { Processes.stop(waiter, grace: 1) }
            do {
                let line = try LineReader(fd: fromHost.read).readLine(timeout: 30)
                let words = line.split(separator: " ")
                guard words.count >= 4, words[0] == "LISTENED", let tCall = Double(words[1]),
                    let tReturn = Double(words[2]),
                    let port = Int(words[3])
                else {
                    throw BenchError("debugpy host: \(line)")
                }
                try waitUntil("debugpy's port \(port) to be seen listening", timeout: 5) {
                    watcher.firstSeen(port) != nil
                }
                watcher.stop()
                let tSeen = watcher.firstSeen(port) ?? -1
                let tFirst = watcher.earliest(notBefore: tCall - 0.001) ?? -1
                let read = watcher.meanIntervalMicros
                guard let exit, Processes.exitCode(exit.status) == 0 else {
                    throw BenchError(
                        exit.map { "attachctl wait exited \(Processes.exitCode($0.status))" }
                            ?? "attachctl wait did not return")
                }
                let sessions =
                    try daemon.call(.listSessions, ["project": project])["sessions"] as? [[String: Any]] ?? []
                let discovered = sessions.compactMap { intValue($0["debugPort"]) }
                if index >= warmup {
                    if tSeen > 0 {
                        listenToRelease.append(exit.wall - tSeen)
                        if exit.wall < tSeen { early += 1 }
                    }
                    if tFirst > 0 { firstToRelease.append(exit.wall - tFirst) }
                    returnToRelease.append(exit.wall - tReturn)
                    call.append(tReturn - tCall)
                    reads.append(read)
                    if discovered.contains(port) { matches += 1 }
                }
            } catch {
                failures.append("\(error)")
            }
        }
        if !failures.isEmpty { progress("  debugpy failures: \(failures[0])") }
        return DebugpyResult(
            skipped: nil, launches: returnToRelease.count, failures: failures.count,
            failureExamples: Array(failures.prefix(3)), listenToRelease: Summary(seconds: listenToRelease),
            firstListenerToRelease: Summary(seconds: firstToRelease),
            returnToRelease: Summary(seconds: returnToRelease), listenCall: Summary(seconds: call),
            releasedBeforeListen: early, portMatches: matches,
            meanReadMicros: reads.isEmpty ? .nan : reads.reduce(0, +) / Double(reads.count))
    }
}

/// A side thread that looks at the loopback LISTEN table (sock_diag through ``ListenProbe``)
/// every 0.2 ms and notes, for each port that was not listening when it started, the
/// CLOCK_REALTIME instant right after the first look that shows it.
final class ListenWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [UInt16: Double] = [:]
    private var running = false
    private var looks = 0
    private var started = 0.0, stopped = 0.0
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?

    func start() {
        let probe = ListenProbe()
        let baseline = (try? probe.listeningPorts()) ?? []
        lock.withLock {
            running = true
            started = Clock.monotonicSeconds()
        }
        let thread = Thread { [self] in
            defer { finished.signal() }
            while lock.withLock({ running }) {
                let ports = (try? probe.listeningPorts()) ?? []
                let now = Clock.wallSeconds()
                lock.withLock {
                    looks += 1
                    for port in ports.subtracting(baseline) where seen[port] == nil { seen[port] = now }
                }
                Sys.sleep(0.0002)
            }
        }
        self.thread = thread
        thread.start()
    }

    /// Stops the thread (idempotent) and waits for it.
    func stop() {
        let wasRunning = lock.withLock { () -> Bool in
            defer { running = false }
            if running { stopped = Clock.monotonicSeconds() }
            return running
        }
        if wasRunning { _ = finished.wait(timeout: .now() + 5) }
    }

    func firstSeen(_ port: Int) -> Double? { lock.withLock { seen[UInt16(port)] } }
    /// The first sighting at or after `time` (earlier ones are other processes' listeners).
    func earliest(notBefore time: Double) -> Double? { lock.withLock { seen.values.filter { $0 >= time }.min() } }
    var meanIntervalMicros: Double { lock.withLock { (stopped - started) / Double(max(1, looks)) * 1e6 } }
}
