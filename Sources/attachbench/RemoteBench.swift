import AttachProtocol
import AttachSystem

/// Hosts on other machines, through OpenSSH on loopback (``RemoteRig``): how soon a local
/// `attachctl wait` hears of a host that listens on the remote machine, and what the relay
/// through `ssh -W` costs against a plain `ssh -L` forward, in one run.
struct RemoteResult: Codable {
    var skipped: String?
    /// The local attachd's version and the host driver's Python, for the machine line.
    var attachdVersion: String?
    var python: String?
    /// `ssh -V`.
    var ssh: String?
    /// Local AddProject of the remote project → its link is up (ssh connection, ControlMaster,
    /// `attachctl bridge`, the first replies), for the first project.
    var linkUpMs: Double?
    var launches: Int = 0
    var failures: Int = 0
    var failureExamples: [String] = []
    /// The host's listen() on the remote side (READY=1 said first on the remote rendezvous) →
    /// the local `attachctl wait` exits.
    var listenToRelease: Summary?
    var roundTrips: Int = 0
    /// 1-byte ping-pong through the local attach port: attachd → `ssh -W` (a channel of the
    /// ControlMaster) → sshd → the echo server on the remote loopback.
    var relay: Summary?
    /// The same through a plain `ssh -N -L` to the same server, same sshd and keys.
    var forward: Summary?
    /// The same through `ssh -W` on attachd's ControlMaster, started by the bench: the relay
    /// without attachd's own hop.
    var channel: Summary?
    /// The same straight to the echo server (no ssh): what the others add to.
    var direct: Summary?
    /// relay − forward, p50 and p99, in microseconds.
    var relayOverForwardP50Micros: Double?
    var relayOverForwardP99Micros: Double?
    /// New connections: connect → first echo read, through the attach port (a new `ssh -W`
    /// channel each) and through the forward (a new direct-tcpip channel each).
    var newConnections: Int = 0
    var relayFirstExchange: Summary?
    var forwardFirstExchange: Summary?
    /// A real debugpy on the remote side: DAP `evaluate` through the attach port and through
    /// the forward.
    var dap: RemoteDapResult?

    static func skipped(_ reason: String) -> RemoteResult { RemoteResult(skipped: reason) }
}

enum RemoteBench {
    struct Settings {
        var launches: Int
        var warmup: Int
        var roundTrips: Int
        var newConnections: Int
        var dapRequests: Int
    }

    static func run(
        binDirectory: String, python: String, benchDirectory: String, settings s: Settings,
        progress: (String) -> Void
    ) throws -> RemoteResult {
        if let missing = LoopbackSSHServer.missingTools() { return .skipped(missing) }
        let rig = try RemoteRig(binDirectory: binDirectory)
        defer { rig.stop() }
        try rig.start()
        var result = RemoteResult()
        result.attachdVersion = try? rig.local.status()["version"] as? String
        let version = Processes.output(
            of: ["/bin/sh", "-c", "exec ssh -V 2>&1"], environment: Processes.environment(), timeout: 5)
        result.ssh = version?.split(separator: "\n").first.map(String.init)
        progress(
            "  remote: sshd on 127.0.0.1:\(rig.sshd.port), \(result.ssh ?? "ssh ?"); \(s.launches) launches (+\(s.warmup) warm-up)"
        )
        try release(rig, python: python, benchDirectory: benchDirectory, settings: s, into: &result)
        progress(
            "  remote: \(s.roundTrips) 1-byte round trips through the attach port, through ssh -L, ssh -W and directly; \(s.newConnections) new connections each"
        )
        try relay(rig, python: python, benchDirectory: benchDirectory, settings: s, into: &result)
        result.dap = try RemoteDap.run(
            rig, python: python, script: benchDirectory + "/debugpy_host.py", requests: s.dapRequests,
            progress: progress)
        return result
    }

    /// `attachctl wait` on the local project, held first; the host says DEBUG_PORT and READY=1
    /// on the remote project's rendezvous, then listens; the exit is taken after waitpid(2).
    static func release(
        _ rig: RemoteRig, python: String, benchDirectory: String, settings s: Settings,
        into result: inout RemoteResult
    ) throws {
        let project = "bench-remote"
        let port = try AttachBench.freePort()
        result.linkUpMs =
            try rig.addProject(
                project, remoteParameters: ["debugPort": port],
                attachPort: try AttachBench.freePort()) * 1000
        let host = try HostDriver(
            python: python, script: benchDirectory + "/host_driver.py", environment: Processes.environment())
        defer { host.quit() }
        result.python = host.pythonVersion
        let rendezvous = rig.remoteSandbox.rendezvousSocket(project)
        var samples: [Double] = []
        var failures: [String] = []
        for index in 0..<(s.warmup + s.launches) {
            try rig.waitNoSessions()
            let pid = try Processes.spawn(
                [rig.attachctl, "wait", "--socket", rig.localSandbox.controlSocket, project, "--timeout", "30"],
                environment: rig.localSandbox.environment)
            let pidfd = try? ProcessHandle.pidfdOpen(pid)
            defer { pidfd?.close() }
            do {
                try rig.local.waitFor("attachctl wait to block", timeout: 10) { intValue($0["waiters"]) == 1 }
            } catch {
                Processes.stop(pid, grace: 1)
                throw error
            }
            try host.send("lines \(rendezvous) \(port)")
            let exit = Processes.waitExit(pid, pidfd: pidfd, timeout: 15)
            if exit == nil { Processes.stop(pid, grace: 1) }
            do {
                let launch = try host.launchAnswer(timeout: 15)
                guard let exit, Processes.exitCode(exit.status) == 0 else {
                    throw BenchError(
                        exit.map { "attachctl wait exited \(Processes.exitCode($0.status))" }
                            ?? "attachctl wait did not return within 15 s")
                }
                if index >= s.warmup { samples.append(exit.wall - launch.listened) }
            } catch {
                failures.append("\(error)")
                if failures.count > 5 { break }
            }
            try host.closeHost()
        }
        result.launches = samples.count
        result.failures = failures.count
        result.failureExamples = Array(failures.prefix(3))
        result.listenToRelease = Summary(seconds: samples)
    }

    /// The echo server of bench/relay_host.py on the remote loopback, announced to the remote
    /// attachd with its pid; one connection through the local attach port, one through `ssh -L`,
    /// one through `ssh -W` on the ControlMaster and one direct, pinged in turn in blocks of 250.
    static func relay(
        _ rig: RemoteRig, python: String, benchDirectory: String, settings s: Settings,
        into result: inout RemoteResult
    ) throws {
        let project = "bench-remote-relay"
        let attachPort = try AttachBench.freePort()
        _ = try rig.addProject(
            project, remoteParameters: ["attachPort": try AttachBench.freePort()], attachPort: attachPort)
        try rig.waitNoSessions()
        let host = try HostDriver(
            python: python, script: benchDirectory + "/relay_host.py", environment: Processes.environment())
        defer { host.quit() }
        let port = try RelayBench.openPorts(host, 1)[0]
        _ = try host.launchAnswer(command: "listen", timeout: 10)
        let session = try RelayBench.announce(rig.remote, project: project, port: port, pid: host.pid)
        defer {
            _ = try? rig.remote.call(.endSession, ["id": session])
            try? host.closeHost()
        }
        _ = try rig.local.call(.wait, ["project": project, "timeout": 10])
        let forward = try SSHForward(rig.sshd, to: port, log: rig.localSandbox.root + "/ssh-forward.log")
        defer { forward.stop() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: UInt8(ascii: "r"))

        let relayed = try RelayBench.connect(attachPort)
        let forwarded = try RelayBench.connect(forward.localPort)
        let direct = try RelayBench.connect(port)
        defer {
            relayed.close()
            forwarded.close()
            direct.close()
        }
        let channel = try SSHChannel(
            rig.sshd, controlDirectory: rig.controlDirectory, to: port, log: rig.localSandbox.root + "/ssh-channel.log")
        defer { channel.stop() }
        let paths = [relayed, forwarded, channel.fd, direct]
        for fd in paths { _ = try RelayBench.pingPong(fd, count: s.warmup * 40 + 100, buffer: buffer) }
        var times: [[Double]] = paths.map { _ in [] }
        var done = 0
        while done < s.roundTrips {
            let n = min(250, s.roundTrips - done)
            for (index, fd) in paths.enumerated() {
                times[index] += try RelayBench.pingPong(fd, count: n, buffer: buffer)
            }
            done += n
        }
        result.roundTrips = s.roundTrips
        result.relay = Summary(seconds: times[0])
        result.forward = Summary(seconds: times[1])
        result.channel = Summary(seconds: times[2])
        result.direct = Summary(seconds: times[3])
        if let r = result.relay, let f = result.forward {
            result.relayOverForwardP50Micros = (r.p50Ms - f.p50Ms) * 1000
            result.relayOverForwardP99Micros = (r.p99Ms - f.p99Ms) * 1000
        }

        var relayFirst: [Double] = []
        var forwardFirst: [Double] = []
        for _ in 0..<s.newConnections {
            relayFirst.append(try firstExchange(attachPort, buffer: buffer))
            forwardFirst.append(try firstExchange(forward.localPort, buffer: buffer))
        }
        result.newConnections = s.newConnections
        result.relayFirstExchange = Summary(seconds: relayFirst)
        result.forwardFirstExchange = Summary(seconds: forwardFirst)
    }

    /// Connect, send one byte, read the echo (10 s at most), close. Seconds.
    static func firstExchange(_ port: Int, buffer: UnsafeMutableRawBufferPointer) throws -> Double {
        let started = Clock.monotonicSeconds()
        let fd = try RelayBench.connect(port)
        defer { fd.close() }
        _ = try RelayBench.pingPong(fd, count: 1, buffer: buffer)
        return Clock.monotonicSeconds() - started
    }
}
