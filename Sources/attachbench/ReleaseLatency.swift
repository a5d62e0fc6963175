import AttachProtocol
import AttachSystem

/// Release latency of one way of announcing, measured over real `attachctl wait` processes.
struct LatencyResult: Codable {
    var mode: String
    var launches: Int
    var failures: Int
    var failureExamples: [String]
    /// From the host's listen() returning to `attachctl wait` exiting (the headline figure).
    var listenToRelease: Summary?
    /// From the host starting its handshake (the moment it could have listened) to the exit.
    var handshakeToRelease: Summary?
}

/// The article's handshake as published, measured the same way.
struct BaselineResult: Codable {
    var launches: Int
    var failures: Int
    var failureExamples: [String]
    /// From the debug port's listen() to the IDE side (`bootstrap.py` with PROJECT_AUTOATTACH)
    /// exiting. Negative when the IDE side finished first: the attach would then race the
    /// debug server.
    var listenToIDEDone: Summary?
    var ideDoneBeforeListen: Int
    /// From the host starting `_connect` to the moment the IDE may attach and the debug server
    /// listens (the later of the two): what the handshake costs each launch.
    var handshakeToAttachable: Summary?
}

enum ReleaseLatency {
    enum Mode: String {
        /// READY=1 lines on the Unix rendezvous, released `attachctl wait` processes.
        case lines
        /// The article's bare connect with handoff, released `attachctl wait` processes.
        case bare
        /// READY=1 lines, but the waiter is a raw varlink Wait on a connection of this process:
        /// the daemon's share of the latency, without attachctl's reply handling and exit.
        case linesRaw = "lines-raw"
    }

    struct Context {
        var daemon: DaemonUnderTest
        var host: HostDriver
        var attachctl: String
        var python: String
        var articleScript: String
        /// Live sessions of other projects during the launches (GetStatus counts them all).
        var otherSessions = 0
    }

    /// Spawns `attachctl wait` before the host is ready, waits until the daemon holds it, lets
    /// the host listen, and takes the exit time right after waitpid(2).
    static func measure(
        _ mode: Mode, project: String, port: Int, launches: Int, warmup: Int,
        context c: Context, progress: (String) -> Void
    ) throws -> LatencyResult {
        let s = try samples(
            mode, project: project, port: port, launches: launches, warmup: warmup, context: c,
            progress: progress)
        return LatencyResult(
            mode: mode.rawValue, launches: s.listenToRelease.count, failures: s.failures.count,
            failureExamples: Array(s.failures.prefix(3)),
            listenToRelease: Summary(seconds: s.listenToRelease),
            handshakeToRelease: Summary(seconds: s.handshakeToRelease))
    }

    /// The seconds of each measured launch, for callers that pool several runs.
    struct Samples {
        var listenToRelease: [Double] = []
        var handshakeToRelease: [Double] = []
        var failures: [String] = []
    }

    /// ``measure(_:project:port:launches:warmup:context:progress:)`` without the summary.
    static func samples(
        _ mode: Mode, project: String, port: Int, launches: Int, warmup: Int,
        context c: Context, progress: (String) -> Void
    ) throws -> Samples {
        let probe = ListenProbe()
        var listenToRelease: [Double] = []
        var handshakeToRelease: [Double] = []
        var failures: [String] = []
        let socket = c.daemon.sandbox.controlSocket
        let rendezvous = c.daemon.sandbox.rendezvousSocket(project)
        let total = warmup + launches
        for index in 0..<total {
            // The previous session must be gone, or the wait would return at once.
            try c.daemon.waitFor("the previous \(project) session to end", timeout: 10) {
                intValue($0["sessions"]) == c.otherSessions
            }
            if mode == .bare {
                try waitUntil("attachd to take port \(port) back", timeout: 10) {
                    (try? probe.listeningPorts().contains(UInt16(port))) == true
                }
            }
            if mode == .linesRaw {
                let waiter = try RawVarlink(path: socket)
                try waiter.send(RawVarlink.frame(.wait, ["project": project, "timeout": 30]))
                try c.daemon.waitFor("the Wait to block", timeout: 10) { intValue($0["waiters"]) == 1 }
                try c.host.send("lines \(rendezvous) \(port)")
                let reply = try waiter.receive(timeout: 15)
                let wall = Clock.wallSeconds()
                let launch = try c.host.launchAnswer(timeout: 15)
                if let reply, !String(decoding: reply, as: UTF8.self).contains("\"error\"") {
                    if index >= warmup {
                        listenToRelease.append(wall - launch.listened)
                        handshakeToRelease.append(wall - launch.handshakeStart)
                    }
                } else {
                    failures.append(reply.map { String(decoding: $0, as: UTF8.self) } ?? "connection closed")
                }
                try c.host.closeHost()
                continue
            }
            let pid = try Processes.spawn(
                [c.attachctl, "wait", "--socket", socket, project, "--timeout", "30"],
                environment: c.daemon.sandbox.environment)
            let pidfd = try? ProcessHandle.pidfdOpen(pid)
            defer { pidfd?.close() }
            do {
                try c.daemon.waitFor("attachctl wait to block", timeout: 10) { intValue($0["waiters"]) == 1 }
            } catch {
                Processes.stop(pid, grace: 1)
                throw error
            }
            try c.host.send(mode != .bare ? "lines \(rendezvous) \(port)" : "bare \(port)")
            let exit = Processes.waitExit(pid, pidfd: pidfd, timeout: 15)
            let launch: HostDriver.Launch
            do {
                launch = try c.host.launchAnswer(timeout: 15)
            } catch {
                if exit == nil { Processes.stop(pid, grace: 1) }
                failures.append("\(error)")
                try? c.host.closeHost()
                try? c.daemon.endSessions(project: project)
                continue
            }
            if let exit, Processes.exitCode(exit.status) == 0 {
                if index >= warmup {
                    listenToRelease.append(exit.wall - launch.listened)
                    handshakeToRelease.append(exit.wall - launch.handshakeStart)
                }
            } else {
                if exit == nil { Processes.stop(pid, grace: 1) }
                failures.append(
                    exit.map { "attachctl wait exited \(Processes.exitCode($0.status))" }
                        ?? "attachctl wait did not return within 15 s")
            }
            try c.host.closeHost()
            if mode == .bare {
                // A bare session ends when its port stops listening, checked once a second;
                // end it now so the next launch starts at once.
                try c.daemon.endSessions(project: project)
            }
            if (index + 1) % 50 == 0 { progress("  \(mode.rawValue): \(index + 1)/\(total) launches") }
        }
        return Samples(listenToRelease: listenToRelease, handshakeToRelease: handshakeToRelease, failures: failures)
    }

    /// The article's `_listen` (IDE side: bootstrap.py with PROJECT_AUTOATTACH=1, as its
    /// tasks.json runs it) against its `_connect` in the host driver.
    static func baseline(port: Int, launches: Int, context c: Context, progress: (String) -> Void) throws
        -> BaselineResult
    {
        let probe = ListenProbe()
        var listenToDone: [Double] = []
        var handshake: [Double] = []
        var early = 0
        var failures: [String] = []
        let environment = Processes.environment([
            "PROJECT_AUTOATTACH": "1", "PROJECT_DEBUG_HOST": "127.0.0.1",
            "PROJECT_DEBUG_PORT": "\(port)",
        ])
        for index in 0..<launches {
            try waitUntil("port \(port) to be free", timeout: 10) {
                (try? probe.listeningPorts().contains(UInt16(port))) == false
            }
            let pid = try Processes.spawn([c.python, c.articleScript], environment: environment)
            let pidfd = try? ProcessHandle.pidfdOpen(pid)
            defer { pidfd?.close() }
            do {
                try waitUntil("the article's _listen to listen on \(port)", timeout: 20) {
                    (try? probe.listeningPorts().contains(UInt16(port))) == true
                }
            } catch {
                Processes.stop(pid, grace: 1)
                throw error
            }
            try c.host.send("article \(port)")
            let exit = Processes.waitExit(pid, pidfd: pidfd, timeout: 70)
            do {
                let launch = try c.host.launchAnswer(timeout: 70)
                if let exit, Processes.exitCode(exit.status) == 0 {
                    listenToDone.append(exit.wall - launch.listened)
                    if exit.wall < launch.listened { early += 1 }
                    handshake.append(max(exit.wall, launch.listened) - launch.handshakeStart)
                } else {
                    failures.append(
                        exit.map { "bootstrap.py exited \(Processes.exitCode($0.status))" }
                            ?? "bootstrap.py did not return")
                }
            } catch {
                failures.append("\(error)")
            }
            if exit == nil { Processes.stop(pid, grace: 1) }
            try c.host.closeHost()
            progress("  article: \(index + 1)/\(launches) launches")
        }
        return BaselineResult(
            launches: listenToDone.count, failures: failures.count,
            failureExamples: Array(failures.prefix(3)),
            listenToIDEDone: Summary(seconds: listenToDone), ideDoneBeforeListen: early,
            handshakeToAttachable: Summary(seconds: handshake))
    }
}

/// Polls `condition` every 0.5 ms until it holds; throws after `timeout` seconds.
func waitUntil(_ what: String, timeout: Double, _ condition: () -> Bool) throws {
    let deadline = Clock.monotonicSeconds() + timeout
    while !condition() {
        if Clock.monotonicSeconds() > deadline { throw BenchError("timed out after \(timeout) s waiting for \(what)") }
        Sys.sleep(0.0005)
    }
}
