import AttachProtocol
import AttachSystem

/// The two machines of the remote phase on one: a loopback sshd, a "remote" attachd with its own
/// XDG_RUNTIME_DIR and XDG_CONFIG_HOME (the hosts announce themselves to it), and the local
/// attachd, whose remote projects reach the remote one through `ssh 127.0.0.1 attachctl bridge
/// --socket REMOTE` (ATTACHD_SSH_COMMAND carries the key, known_hosts and port) and relay over
/// `ssh -W` channels of one ControlMaster. As tests/test_remote.py sets it up.
final class RemoteRig {
    let remoteSandbox: Sandbox
    let localSandbox: Sandbox
    let sshd: LoopbackSSHServer
    let remote: DaemonUnderTest
    let local: DaemonUnderTest
    let attachctl: String

    /// Nothing runs yet; ``start()`` starts, ``stop()`` stops whatever was started.
    init(binDirectory: String) throws {
        remoteSandbox = try Sandbox(label: "rr")
        localSandbox = try Sandbox(label: "rl")
        // ssh binds its ControlPath's 40 hex digits plus a 17-byte temporary suffix first, and
        // a Unix socket's path has 107 bytes at most.
        let control = localSandbox.runtimeDirectory + "/attachd/ssh/"
        if control.utf8.count + 57 > 107 {
            localSandbox.remove()
            remoteSandbox.remove()
            throw BenchError(
                "\(control) is too long for ssh's control sockets (\(control.utf8.count + 57) > 107 bytes); pass a shorter --runtime-parent"
            )
        }
        do {
            sshd = try LoopbackSSHServer(
                directory: remoteSandbox.root + "/sshd",
                remotePath: binDirectory + ":/usr/local/bin:/usr/bin:/bin")
        } catch {
            localSandbox.remove()
            remoteSandbox.remove()
            throw error
        }
        localSandbox.extraEnvironment = ["ATTACHD_SSH_COMMAND": sshd.sshCommand]
        attachctl = binDirectory + "/attachctl"
        remote = DaemonUnderTest(sandbox: remoteSandbox, binDirectory: binDirectory)
        local = DaemonUnderTest(sandbox: localSandbox, binDirectory: binDirectory)
    }

    func start() throws {
        try sshd.start()
        try remote.start()
        try local.start()
    }

    /// The local attachd's shared ssh connections live here (`%C` sockets).
    var controlDirectory: String { localSandbox.runtimeDirectory + "/attachd/ssh" }

    /// Adds `project` on both sides (remote: `remoteParameters`; local: a remote project with
    /// `attachPort`) and returns the seconds from the local AddProject to the link being up.
    func addProject(_ project: String, remoteParameters: [String: Any], attachPort: Int) throws -> Double {
        _ = try remote.call(.addProject, remoteParameters.merging(["name": project]) { $1 })
        let started = Clock.monotonicSeconds()
        _ = try local.call(
            .addProject,
            [
                "name": project, "attachPort": attachPort, "remote": "127.0.0.1",
                "remoteSocket": remoteSandbox.controlSocket,
            ])
        var last: [String: Any] = [:]
        do {
            try waitUntil("the remote link of \(project) to come up", timeout: 30) {
                last =
                    ((try? local.call(.getProject, ["name": project]))?["project"] as? [String: Any])?["remote"]
                    as? [String: Any] ?? [:]
                return last["state"] as? String == "connected"
            }
        } catch {
            throw BenchError(
                "\(error); remote: \(last)\nlocal attachd:\n\(localSandbox.logTail())\nsshd:\n\(sshd.logTail())")
        }
        return Clock.monotonicSeconds() - started
    }

    /// Waits until neither attachd has a live session: the remote one ended and the local one
    /// heard it through the link.
    func waitNoSessions(timeout: Double = 15) throws {
        try remote.waitFor("the remote sessions to end", timeout: timeout, interval: 0.001) {
            intValue($0["sessions"]) == 0
        }
        try local.waitFor("the mirrored sessions to end", timeout: timeout, interval: 0.001) {
            intValue($0["sessions"]) == 0
        }
    }

    /// Stops everything, in an order that leaves nothing behind: the local attachd (and its ssh
    /// processes), its ControlMasters, the remote attachd, sshd with every session; then kills
    /// by pid whatever of this run is still running, and removes the directories.
    func stop() {
        local.stop()
        sshd.stopMasters(controlDirectory: controlDirectory)
        remote.stop()
        sshd.stop()
        let markers = [localSandbox.root, localSandbox.runtimeRoot, remoteSandbox.root, remoteSandbox.runtimeRoot]
        let leftovers = LoopbackSSHServer.killLeftovers(naming: Array(Set(markers)))
        if leftovers > 0 { log("remote: killed \(leftovers) leftover processes of this run") }
        localSandbox.remove()
        remoteSandbox.remove()
    }
}

/// A plain `ssh -N -L 127.0.0.1:LOCAL:127.0.0.1:PORT` of its own (no shared connection), the
/// same sshd and keys: what a user would do by hand instead of the attach port.
final class SSHForward {
    let pid: Int32
    let localPort: Int
    private var running = true

    init(_ sshd: LoopbackSSHServer, to port: Int, log logPath: String) throws {
        localPort = try AttachBench.freePort()
        pid = try Processes.spawn(
            sshd.sshArguments + [
                "-o", "ControlMaster=no", "-o", "ControlPath=none",
                "-o", "ExitOnForwardFailure=yes", "-N",
                "-L", "127.0.0.1:\(localPort):127.0.0.1:\(port)", "127.0.0.1",
            ],
            environment: Processes.environment(), stderrPath: logPath)
        let probe = ListenProbe()
        do {
            try waitUntil("ssh -L to listen on \(localPort)", timeout: 15) {
                (try? probe.listeningPorts().contains(UInt16(localPort))) == true || !ProcessHandle.isAlive(pid)
            }
            if let exited = Processes.waitExit(pid, pidfd: nil, timeout: 0) {
                running = false
                throw BenchError("ssh -L exited with \(Processes.exitCode(exited.status)):\n\(Sandbox.tail(logPath))")
            }
        } catch {
            stop()
            throw error
        }
    }

    func stop() {
        if running { Processes.stop(pid, grace: 2) }
        running = false
    }
}

/// `ssh -W 127.0.0.1:PORT` through the local attachd's ControlMaster, started by the bench with
/// a socketpair as its standard input and output: the relay's ssh part without attachd's hop.
final class SSHChannel {
    let pid: Int32
    let fd: FileDescriptor

    init(_ sshd: LoopbackSSHServer, controlDirectory: String, to port: Int, log logPath: String) throws {
        guard let name = Sys.directoryEntries(controlDirectory)?.first else {
            throw BenchError("no ControlMaster socket in \(controlDirectory)")
        }
        let (mine, theirs) = try Socket.pair()
        defer { theirs.close() }
        do {
            pid = try Processes.spawn(
                sshd.sshArguments + [
                    "-o", "ControlMaster=no", "-o", "ControlPath=\(controlDirectory)/\(name)",
                    "-W", "127.0.0.1:\(port)", "127.0.0.1",
                ],
                environment: Processes.environment(),
                redirects: [.init(source: theirs.rawValue, target: 0), .init(source: theirs.rawValue, target: 1)],
                stderrPath: logPath)
        } catch {
            mine.close()
            throw error
        }
        fd = mine
    }

    func stop() {
        fd.close()
        Processes.stop(pid, grace: 2)
    }
}
