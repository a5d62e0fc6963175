import AttachSystem

/// A real OpenSSH server on loopback that stands for the other machine of the remote phase, set
/// up as tests/remote_support.py sets it up: a host key, a client key authorised for this user,
/// a known_hosts naming the host key, and an sshd_config (127.0.0.1, a free port, `SetEnv PATH=`
/// with the build's directory so that the remote `attachctl bridge` is found), run as
/// `/usr/sbin/sshd -D -e -f CONFIG`. ``stop()`` kills sshd and every session process it forked
/// (each is in a session of its own, so not in sshd's process group).
final class LoopbackSSHServer {
    static let sshd = "/usr/sbin/sshd"

    let directory: String
    let port: Int
    var clientKey: String { directory + "/client_key" }
    var knownHosts: String { directory + "/known_hosts" }
    var config: String { directory + "/sshd_config" }
    var logPath: String { directory + "/sshd.log" }
    private(set) var pid: Int32 = 0

    /// Why sshd cannot run here, or nil: the phase is then skipped with these words.
    static func missingTools() -> String? {
        guard Sys.isExecutable(sshd) else { return "no sshd (\(sshd) is missing; apt-get install openssh-server)" }
        for tool in ["ssh", "ssh-keygen"] where onPath(tool) == nil {
            return "no \(tool) on PATH (apt-get install openssh-client)"
        }
        // sshd's privilege-separation directory; Debian's package makes it at boot only.
        if !Files.isDirectory("/run/sshd") { try? Files.createDirectories("/run/sshd", mode: 0o755) }
        guard Files.isDirectory("/run/sshd") else {
            return "no /run/sshd (sshd's privilege separation directory) and it cannot be made"
        }
        return nil
    }

    static func onPath(_ name: String) -> String? {
        let path = Environment.get("PATH") ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { Sys.isExecutable($0) }
    }

    /// Writes the keys and the config; `remotePath` is the PATH of the sessions.
    init(directory: String, remotePath: String) throws {
        self.directory = directory
        port = try AttachBench.freePort()
        try Files.createDirectories(directory, mode: 0o700)
        for key in ["host_key", "client_key"] {
            guard
                Processes.output(
                    of: ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", directory + "/" + key],
                    environment: Processes.environment(), timeout: 30) != nil
            else {
                throw BenchError("ssh-keygen failed for \(directory)/\(key)")
            }
        }
        let clientPublic = try Self.text(clientKey + ".pub")
        let hostPublic = try Self.text(directory + "/host_key.pub").split(separator: " ").prefix(2).joined(
            separator: " ")
        try Files.writeAtomically(Array(clientPublic.utf8), to: directory + "/authorized_keys")
        try Files.writeAtomically(Array("[127.0.0.1]:\(port) \(hostPublic)\n".utf8), to: knownHosts)
        let lines = [
            "Port \(port)", "ListenAddress 127.0.0.1", "HostKey \(directory)/host_key",
            "AuthorizedKeysFile \(directory)/authorized_keys", "PidFile \(directory)/sshd.pid",
            "StrictModes no", "UsePAM no", "PermitRootLogin yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "SetEnv PATH=\(remotePath)", "",
        ]
        try Files.writeAtomically(Array(lines.joined(separator: "\n").utf8), to: config)
    }

    private static func text(_ path: String) throws -> String {
        guard let bytes = try Files.read(path) else { throw BenchError("\(path) is missing") }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The client command for ATTACHD_SSH_COMMAND, the one the tests pass: attachd adds
    /// BatchMode, StrictHostKeyChecking and its ControlMaster options after it.
    var sshCommand: String {
        "ssh -F /dev/null -i \(clientKey) -o UserKnownHostsFile=\(knownHosts) -p \(port)"
    }

    /// The same client as an argv, never prompting, with no shared connection of its own.
    var sshArguments: [String] {
        [
            "ssh", "-F", "/dev/null", "-i", clientKey, "-o", "UserKnownHostsFile=\(knownHosts)", "-p", "\(port)",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
        ]
    }

    /// Starts sshd and returns once it listens (10 s at most).
    func start() throws {
        pid = try Processes.spawn(
            [Self.sshd, "-D", "-e", "-f", config], environment: Processes.environment(),
            stderrPath: logPath)
        let probe = ListenProbe()
        try waitUntil("sshd to listen on 127.0.0.1:\(port)", timeout: 10) {
            (try? probe.listeningPorts().contains(UInt16(port))) == true || !ProcessHandle.isAlive(pid)
        }
        if let exited = Processes.waitExit(pid, pidfd: nil, timeout: 0) {
            pid = 0
            throw BenchError("sshd exited with \(Processes.exitCode(exited.status)):\n\(logTail())")
        }
    }

    func logTail(_ count: Int = 10) -> String { Sandbox.tail(logPath, count) }

    /// Kills sshd and all its sessions at once, and waits (10 s at most) until they are gone.
    func stop() {
        guard pid > 0 else { return }
        let members = ProcessTree.members(of: pid)
        for member in members { Sys.kill(member, Sys.sigkill) }
        _ = Processes.waitExit(pid, pidfd: nil, timeout: 5)
        pid = 0
        try? waitUntil("sshd's session processes to die", timeout: 10) {
            !members.dropFirst().contains(where: Self.isRunning)
        }
    }

    /// The process exists and is not a zombie (the sessions are reparented: not ours to reap).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let bytes = try? Files.read("/proc/\(pid)/stat") else { return false }
        let stat = String(decoding: bytes, as: UTF8.self)
        guard let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    /// Ends the shared ssh connections (ControlMaster, ControlPersist: backgrounded, outside
    /// attachd's tree) whose control sockets are in `controlDirectory`: `ssh -O exit`, and
    /// SIGKILL by pid for a master still running after 5 s.
    func stopMasters(controlDirectory: String) {
        for name in Sys.directoryEntries(controlDirectory) ?? [] {
            let control = controlDirectory + "/" + name
            let base = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "ControlPath=\(control)"]
            let said =
                Processes.output(
                    of: ["/bin/sh", "-c", "exec \"$@\" 2>&1", "sh"] + base + ["-O", "check", "127.0.0.1"],
                    environment: Processes.environment(), timeout: 5) ?? ""
            let master = said.split(separator: "pid=").dropFirst().first.flatMap { Int32($0.prefix { $0.isNumber }) }
            _ = Processes.output(
                of: base + ["-O", "exit", "127.0.0.1"], environment: Processes.environment(), timeout: 5)
            if let master {
                try? waitUntil("the ssh master \(master) to exit", timeout: 5) { !Self.isRunning(master) }
                if Self.isRunning(master) { Sys.kill(master, Sys.sigkill) }
            }
        }
    }

    /// Processes of this run that outlived their parents (their command line names one of this
    /// run's own temporary directories): killed by pid, so nothing is left behind. Returns how
    /// many there were.
    @discardableResult
    static func killLeftovers(naming markers: [String]) -> Int {
        let me = ProcessHandle.currentPID
        var killed = 0
        for name in Sys.directoryEntries("/proc") ?? [] {
            guard let pid = Int32(name), pid != me, isRunning(pid),
                let bytes = try? Files.read("/proc/\(pid)/cmdline")
            else { continue }
            let command = String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            guard markers.contains(where: { command.contains($0) }) else { continue }
            Sys.kill(pid, Sys.sigkill)
            killed += 1
        }
        return killed
    }
}
