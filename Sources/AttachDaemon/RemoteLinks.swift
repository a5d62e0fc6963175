import AttachCore
import AttachSystem
import Dispatch
import Logging

/// The remote projects' links to their machines, through OpenSSH: one control link per project
/// (`RemoteLink`: `ssh DEST attachctl bridge`, varlink to the attachd there), and the ssh
/// channels (`ssh -W 127.0.0.1:PORT DEST`) that carry IDE connections to remote debug servers.
/// All share one ssh connection per remote host (ControlMaster, see `SSHCommand`), so a relay
/// or a reconnect costs a channel, not a handshake.
final class RemoteLinks {
    let queue: DispatchQueue
    let logger: Logger
    private let ids: ConnectionIDs
    private let deliver: (BrokerInput) -> Void
    /// `ATTACHD_SSH_COMMAND`, else `ssh`.
    let defaultCommand: String
    /// Where the shared connections' control sockets live.
    let controlDirectory: String
    var links: [String: RemoteLink] = [:]
    /// The `ssh -W` processes of relays, by pid.
    var channels: [Int32: SSHProcess] = [:]
    /// `ssh -O exit` requests under way, by pid (`endMaster`).
    var masterRequests: [Int32: SSHProcess] = [:]

    init(
        queue: DispatchQueue, logger: Logger, ids: ConnectionIDs, runtimeDirectory: String,
        sshCommand: String? = Environment.get("ATTACHD_SSH_COMMAND"),
        deliver: @escaping (BrokerInput) -> Void
    ) {
        self.queue = queue
        self.logger = logger
        self.ids = ids
        self.deliver = deliver
        self.defaultCommand = sshCommand.flatMap { $0.allSatisfy(\.isWhitespace) ? nil : $0 } ?? "ssh"
        self.controlDirectory = runtimeDirectory + "/ssh"
    }

    /// Control links and relay channels open now.
    var count: Int { links.count + channels.count }

    func command(for remote: RemoteConfig) -> SSHCommand {
        SSHCommand(command: remote.sshCommand ?? defaultCommand, controlDirectory: controlDirectory)
    }

    /// Opens a project's control link (again, should it be open).
    func open(project: String, remote: RemoteConfig) {
        links.removeValue(forKey: project)?.stop()
        do {
            try Files.createDirectories(controlDirectory)
        } catch {
            logger.warning(
                "cannot create the ssh control directory",
                metadata: ["path": "\(controlDirectory)", "error": "\(error)"])
        }
        let link = RemoteLink(
            project: project, remote: remote, ssh: command(for: remote), queue: queue, logger: logger,
            ids: ids, deliver: deliver)
        links[project] = link
        link.start()
    }

    /// Closes a project's control link for good (the project was removed), and its shared ssh
    /// connection unless another project's may use it (`endMaster`).
    func close(_ project: String) {
        guard let link = links.removeValue(forKey: project) else { return }
        link.stop()
        endMaster(of: link.remote)
    }

    /// Starts `ssh -W host:port` to a project's remote machine and returns it, for a relay; or
    /// why it could not start. Whether the remote debug server accepted shows later: a refusal
    /// ends the channel before any byte, and ssh with a failure (`RemoteChannel.ended`).
    func openChannel(project: String, host: String, port: Int) -> Result<RemoteChannel, RemoteChannelError> {
        guard let remote = links[project]?.remote else {
            return .failure(RemoteChannelError(reason: "project \(project) has no remote link"))
        }
        let started: (SSHProcess, FileDescriptor)
        do {
            started = try SSHProcess.start(
                command(for: remote).channel(to: remote, host: host, port: port), queue: queue)
        } catch {
            return .failure(RemoteChannelError(reason: "cannot start ssh: \(error)"))
        }
        let (process, fd) = started
        let channel = RemoteChannel(fd: fd, process: process)
        channels[process.pid] = process
        process.onExit = { [self] status, words in
            channels[process.pid] = nil
            let reason = RemoteLink.reason(status: status, words: words, destination: remote.destination)
            logger.debug(
                "ssh channel ended",
                metadata: ["project": "\(project)", "target": "\(host):\(port)", "reason": "\(reason)"])
            channel.exited(status: status, reason: reason)
        }
        return .success(channel)
    }
}

/// One `ssh -W` channel of a relay: the daemon's end of its standard input and output, and how
/// ssh ended once it has (exit status 0 when the channel was open and then closed; a failure,
/// with ssh's words, when the remote debug server refused it or ssh could not reach the host).
final class RemoteChannel {
    let fd: FileDescriptor
    private let process: SSHProcess
    /// How ssh ended, once it has.
    private(set) var ended: (status: ChildProcess.Exit?, reason: String)?
    /// Called once when ssh has ended.
    var onEnd: (() -> Void)?

    init(fd: FileDescriptor, process: SSHProcess) {
        self.fd = fd
        self.process = process
    }

    /// ssh exited with the status 0: the channel was open.
    var endedCleanly: Bool {
        if case .exited(0)? = ended?.status { return true }
        return false
    }

    /// ssh exited (RemoteLinks watches the process): records how, and tells `onEnd`.
    func exited(status: ChildProcess.Exit?, reason: String) {
        ended = (status, reason)
        let handler = onEnd
        onEnd = nil
        handler?()
    }

    /// SIGTERM to ssh (it did not go by itself); `onEnd` still follows.
    func terminate() {
        guard ended == nil else { return }
        process.terminate()
    }
}

/// Why an ssh channel for a relay could not be started.
struct RemoteChannelError: Error {
    var reason: String
}
