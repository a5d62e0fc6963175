import AttachSystem

/// A real debugpy host (f): MAINPID and READY=1 on the rendezvous, then
/// debugpy.listen(("127.0.0.1", 0)); attachd waits for the host's own process tree to listen.
struct DebugpyResult: Codable {
    var skipped: String?
    var launches: Int
    var failures: Int
    var failureExamples: [String]
    /// debugpy's port first seen in LISTEN (bench/debugpy_host.py's side thread) → `attachctl
    /// wait` exits. Negative when attachctl exited before the port was seen.
    var listenToRelease: Summary?
    /// debugpy.listen() returning → `attachctl wait` exits.
    var returnToRelease: Summary?
    /// How long debugpy.listen() itself takes (adapter start-up).
    var listenCall: Summary?
    var releasedBeforeListen: Int
    /// Launches where the session's discovered debug port is debugpy's own port (not the
    /// adapter's internal one).
    var portMatches: Int
    /// Average duration of one /proc/net/tcp read in the side thread: the sighting's resolution.
    var meanReadMicros: Double
}

enum DebugpyBench {
    static func run(_ daemon: DaemonUnderTest, python: String, script: String, attachctl: String, launches: Int,
                    warmup: Int, progress: (String) -> Void) throws -> DebugpyResult {
        let check = Processes.output(of: [python, "-c", "import debugpy; print(debugpy.__version__)"],
                                     environment: Processes.environment(), timeout: 30)
        guard let version = check?.split(separator: "\n").first else {
            return DebugpyResult(skipped: "debugpy is not importable by \(python) (pip install debugpy)", launches: 0, failures: 0,
                                 failureExamples: [], listenToRelease: nil, returnToRelease: nil, listenCall: nil,
                                 releasedBeforeListen: 0, portMatches: 0, meanReadMicros: .nan)
        }
        progress("  debugpy \(version): \(launches) launches (+\(warmup) warm-up), one Python process each")
        let project = "bench-debugpy"
        _ = try daemon.call("AddProject", ["name": project, "attachPort": try AttachBench.freePort()])
        let socket = daemon.sandbox.controlSocket, rendezvous = daemon.sandbox.rendezvousSocket(project)
        var listenToRelease: [Double] = [], returnToRelease: [Double] = [], call: [Double] = [], reads: [Double] = []
        var failures: [String] = []
        var early = 0, matches = 0
        for index in 0..<(warmup + launches) {
            try daemon.waitFor("the previous \(project) session to end", timeout: 15) { intValue($0["sessions"]) == 0 }
            let waiter = try Processes.spawn([attachctl, "wait", "--socket", socket, project, "--timeout", "30"],
                                             environment: daemon.sandbox.environment)
            let pidfd = try? ProcessHandle.pidfdOpen(waiter)
            defer { pidfd?.close() }
            try daemon.waitFor("attachctl wait to block", timeout: 10) { intValue($0["waiters"]) == 1 }
            let toHost = try Sys.pipe(), fromHost = try Sys.pipe()
            let host = try Processes.spawn([python, "-u", script, rendezvous], environment: daemon.sandbox.environment,
                                           redirects: [.init(source: toHost.read.rawValue, target: 0),
                                                       .init(source: fromHost.write.rawValue, target: 1)],
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
                guard words.count >= 6, words[0] == "LISTENED", let tCall = Double(words[1]), let tReturn = Double(words[2]),
                      let tSeen = Double(words[3]), let port = Int(words[4]), let read = Double(words[5]) else {
                    throw BenchError("debugpy host: \(line)")
                }
                guard let exit, Processes.exitCode(exit.status) == 0 else {
                    throw BenchError(exit.map { "attachctl wait exited \(Processes.exitCode($0.status))" } ?? "attachctl wait did not return")
                }
                let sessions = try daemon.call("ListSessions", ["project": project])["sessions"] as? [[String: Any]] ?? []
                let discovered = sessions.compactMap { intValue($0["debugPort"]) }
                if index >= warmup {
                    if tSeen > 0 {
                        listenToRelease.append(exit.wall - tSeen)
                        if exit.wall < tSeen { early += 1 }
                    }
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
        return DebugpyResult(skipped: nil, launches: returnToRelease.count, failures: failures.count,
                             failureExamples: Array(failures.prefix(3)), listenToRelease: Summary(seconds: listenToRelease),
                             returnToRelease: Summary(seconds: returnToRelease), listenCall: Summary(seconds: call),
                             releasedBeforeListen: early, portMatches: matches,
                             meanReadMicros: reads.isEmpty ? .nan : reads.reduce(0, +) / Double(reads.count))
    }
}
