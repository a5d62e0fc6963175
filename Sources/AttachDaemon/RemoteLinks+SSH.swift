import AttachCore
import AttachSystem
import Dispatch

/// The ssh command lines of the remote links: the user's ssh (or `ATTACHD_SSH_COMMAND`, or a
/// project's `--ssh-command`, run through `/bin/sh` as git runs `GIT_SSH_COMMAND`), with the
/// options attachd needs added after the user's own, so that what the user gave wins (ssh keeps
/// the first value of an option): BatchMode (never a prompt), strict host key checking (an
/// unknown or changed key is an error, never accepted), one shared connection per host
/// (ControlMaster/ControlPath/ControlPersist under the runtime directory), keep-alives.
struct SSHCommand: Sendable, Equatable {
    /// Shell text naming ssh and the user's own options, e.g. `ssh -F ~/.ssh/farm_config`.
    var command: String
    /// Where the shared connections' control sockets live (`%C`: a hash of host, port, user).
    var controlDirectory: String

    static let keepAliveSeconds = 5
    static let persistSeconds = 60
    static let connectTimeoutSeconds = 10

    var options: [String] {
        [
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", "ControlMaster=auto", "-o", "ControlPath=\(controlDirectory)/%C",
            "-o", "ControlPersist=\(Self.persistSeconds)",
            "-o", "ServerAliveInterval=\(Self.keepAliveSeconds)", "-o", "ServerAliveCountMax=3",
            "-o", "ConnectTimeout=\(Self.connectTimeoutSeconds)",
        ]
    }

    /// `ssh … DEST attachctl bridge [--socket PATH]`: the control link.
    func bridge(to remote: RemoteConfig) -> [String] {
        var remoteCommand = "attachctl bridge"
        if let socket = remote.socket { remoteCommand += " --socket " + Self.shellQuoted(socket) }
        return wrap(options + ["-T", "--", Self.sshDestination(remote.destination), remoteCommand])
    }

    /// `ssh … -W HOST:PORT DEST`: one channel to a debug server on the remote machine.
    func channel(to remote: RemoteConfig, host: String, port: Int) -> [String] {
        let target = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return wrap(options + ["-W", target, "--", Self.sshDestination(remote.destination)])
    }

    func wrap(_ arguments: [String]) -> [String] {
        ["/bin/sh", "-c", "exec \(command) \"$@\"", "ssh"] + arguments
    }

    /// ssh takes `host:port` only as a URI: `me@render42:2222` → `ssh://me@render42:2222`.
    static func sshDestination(_ destination: String) -> String {
        let afterUser = destination.split(separator: "@").last.map(String.init) ?? destination
        let parts = afterUser.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else { return destination }
        return "ssh://" + destination
    }

    /// `'text'`, for the remote shell.
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacing("'", with: "'\\''") + "'"
    }
}

/// One ssh process of the daemon: spawned with a socketpair as its standard input and output
/// and a pipe as its standard error, watched through a pidfd and reaped when it exits. What it
/// wrote on standard error (the last few KiB) is kept, for "the words ssh gave".
final class SSHProcess {
    let pid: Int32
    private let queue: DispatchQueue
    private var stderrSource: DispatchSourceRead?
    private var exitSource: DispatchSourceRead?
    private let stderrFD: FileDescriptor
    private(set) var stderrBytes: [UInt8] = []
    /// Called once on the queue when the process has exited and is reaped.
    var onExit: ((ChildProcess.Exit?, String) -> Void)?

    static let stderrKept = 8192

    /// Spawns `arguments`; returns the process and the daemon's end of its standard input and
    /// output (non-blocking, close-on-exec).
    static func start(_ arguments: [String], queue: DispatchQueue) throws(Errno) -> (SSHProcess, FileDescriptor) {
        let (ours, theirs) = try Socket.pair()
        let errors: Pipe
        do {
            errors = try Pipe.make()
            try errors.writeEnd.setNonBlocking(false)
        } catch {
            ours.close()
            theirs.close()
            throw error
        }
        defer {
            theirs.close()
            errors.writeEnd.close()
        }
        let pid: Int32
        do {
            try ours.setNonBlocking(true)
            pid = try ChildProcess.spawn(
                arguments, environment: ChildProcess.environment, standardInput: theirs,
                standardOutput: theirs, standardError: errors.writeEnd)
        } catch {
            ours.close()
            errors.readEnd.close()
            throw error
        }
        let process = SSHProcess(pid: pid, stderr: errors.readEnd, queue: queue)
        process.watch()
        return (process, ours)
    }

    private init(pid: Int32, stderr: FileDescriptor, queue: DispatchQueue) {
        self.pid = pid
        self.stderrFD = stderr
        self.queue = queue
    }

    private func watch() {
        let errors = DispatchSource.makeReadSource(fileDescriptor: stderrFD.rawValue, queue: queue)
        errors.setEventHandler { [self] in
            if !drainStderr() {
                stderrSource?.cancel()
                stderrSource = nil
            }
        }
        errors.setCancelHandler { [fd = stderrFD] in fd.close() }
        stderrSource = errors
        errors.resume()
        guard let pidfd = try? ProcessHandle.pidfdOpen(pid) else {
            // No pidfd: it is already reaped, or the kernel has none. Look again soon.
            queue.asyncConfined(after: 0.1) { [self] in exited() }
            return
        }
        let exit = DispatchSource.makeReadSource(fileDescriptor: pidfd.rawValue, queue: queue)
        exit.setEventHandler { [self] in exited() }
        exit.setCancelHandler { pidfd.close() }
        exitSource = exit
        exit.resume()
    }

    /// Reads what the pipe holds; false at its end.
    @discardableResult
    private func drainStderr() -> Bool {
        while true {
            do {
                let chunk = try stderrFD.read(upTo: 4096)
                if chunk.isEmpty { return false }
                stderrBytes += chunk
                if stderrBytes.count > Self.stderrKept { stderrBytes.removeFirst(stderrBytes.count - Self.stderrKept) }
            } catch .wouldBlock {
                return true
            } catch {
                return false
            }
        }
    }

    private func exited() {
        guard onExit != nil || exitSource != nil else { return }
        guard let status = ChildProcess.reap(pid) else {
            if exitSource == nil { queue.asyncConfined(after: 0.1) { [self] in exited() } }
            return
        }
        if stderrSource != nil { drainStderr() }
        stderrSource?.cancel()
        stderrSource = nil
        exitSource?.cancel()
        exitSource = nil
        let handler = onExit
        onExit = nil
        handler?(status, stderrText)
    }

    /// What ssh said on standard error, as text.
    var stderrText: String { String(decoding: stderrBytes, as: UTF8.self) }

    /// SIGTERM; the exit is still reported through `onExit`.
    func terminate() {
        ChildProcess.signal(pid)
    }
}
