import AttachCore
import AttachProtocol
import AttachSystem
import Dispatch
import Logging

/// One remote project's control link: `ssh DEST attachctl bridge` with a socketpair as its
/// stdio, and a varlink client on the daemon's end. It asks, in one write, `GetInfo` (the
/// remote's version), `GetProject`, `ListSessions` and `Watch` (more: true) of the remote
/// project: the remote answers in call order, and takes the last two in the same turn of its
/// queue, so no change falls between the snapshot and the stream. Every session the stream
/// reports is passed on to Core as it is there; when ssh exits or the remote says no, Core hears
/// `remoteLost` with the words given, and the link starts again after a backoff.
final class RemoteLink {
    /// The reply expected next, in call order; `watch` stays at the head once reached.
    enum Expect { case info, project, sessions, watch }

    let project: String
    let remote: RemoteConfig
    private let ssh: SSHCommand
    private let queue: DispatchQueue
    private let logger: Logger
    private let ids: ConnectionIDs
    private let deliver: (BrokerInput) -> Void
    private let codec = VarlinkCodec()
    private var process: SSHProcess?
    private var connection: Connection?
    private var framer = VarlinkFramer()
    private var expected: [Expect] = []
    private var version: String?
    /// The next attempt after a failure, armed while the link is down.
    private var retry: QueueTimer?
    /// Ends an attempt that has not come up by `connectDeadline`.
    private lazy var deadline = QueueTimer(queue: queue) { [weak self] in self?.expired() }
    private var stopped = false
    /// The wait before the next attempt after a failure; starts over once the link is up.
    private(set) var backoff = Backoff.remoteLink
    /// Seconds an attempt may take to come up (ssh connected, the remote attachd answered up to
    /// its sessions): past ssh's own ConnectTimeout, so that ssh's words come first when it can
    /// give them. A link never stays `connecting` longer: a bridge that answers nothing (say,
    /// another program called attachctl on the remote PATH) ends as `unreachable`.
    static let connectDeadline = Double(SSHCommand.connectTimeoutSeconds) + 5

    init(
        project: String, remote: RemoteConfig, ssh: SSHCommand, queue: DispatchQueue, logger: Logger,
        ids: ConnectionIDs, deliver: @escaping (BrokerInput) -> Void
    ) {
        self.project = project
        self.remote = remote
        self.ssh = ssh
        self.queue = queue
        self.logger = logger
        self.ids = ids
        self.deliver = deliver
    }

    /// Starts ssh and asks the remote attachd.
    func start() {
        guard !stopped, process == nil else { return }
        retry?.cancel()
        let arguments = ssh.bridge(to: remote)
        logger.debug(
            "starting the remote link",
            metadata: ["project": "\(project)", "command": "\(arguments.dropFirst(4).joined(separator: " "))"])
        let started: (SSHProcess, FileDescriptor)
        do {
            started = try SSHProcess.start(arguments, queue: queue)
        } catch {
            return down("cannot start ssh: \(error)")
        }
        let (process, fd) = started
        self.process = process
        process.onExit = { [self] status, words in
            self.process = nil
            down(Self.reason(status: status, words: words, destination: remote.destination))
        }
        let connection = Connection(id: ids.next(), fd: fd, queue: queue, outputLimit: 1 << 20)
        self.connection = connection
        framer = VarlinkFramer()
        expected = [.info, .project, .sessions, .watch]
        connection.start { [self] in readable(connection) }
        var bytes = codec.frameCall(.getInfo, EmptyReply())
        bytes += codec.frameCall(.getProject, ProjectNameParameters(name: remote.project))
        bytes += codec.frameCall(.listSessions, ListSessionsParameters(project: remote.project))
        bytes += codec.frameCall(.watch, WatchParameters(project: remote.project), more: true)
        connection.send(bytes)
        deadline.once(after: Self.connectDeadline)
    }

    /// The attempt did not come up in time: down, with what ssh (and the remote command) said.
    private func expired() {
        guard process != nil || connection != nil, expected.first != .watch else { return }
        var reason = "no answer from attachd on \(remote.destination) within \(Int(Self.connectDeadline)) s"
        let said = Self.reason(status: nil, words: process?.stderrText ?? "", destination: remote.destination)
        if said != "ssh ended" { reason += "; ssh said: \(said)" }
        reason += " (is `attachctl bridge` there the attachctl of attachd \(AttachdVersion.current)?)"
        fail(reason)
    }

    /// Tells the remote attachd that the first IDE relay to its session started, or the last
    /// ended (`IDEAttached`). One-way: no reply comes to upset the order of the watch's, and an
    /// older attachd that does not know the method ignores it. Dropped while the link is down:
    /// Core tells a new link again (`remoteIDEsAgain`).
    func tellIDE(session: String, attached: Bool) {
        guard let connection, !connection.isClosed else { return }
        connection.send(
            codec.frameCall(.ideAttached, IDEAttachedParameters(session: session, attached: attached), oneway: true))
    }

    /// Ends the link for good (the project was removed).
    func stop() {
        stopped = true
        retry?.cancel()
        teardown()
    }

    private func readable(_ connection: Connection) {
        guard connection === self.connection else { return }
        guard case .bytes(let bytes, let peerClosed) = connection.readAvailable() else {
            // End of file: ssh is going; its exit brings the words.
            return
        }
        framer.append(bytes)
        while self.connection === connection {
            let message: [UInt8]
            do {
                guard let next = try framer.next() else { break }
                message = next
            } catch {
                // The stream cannot be read on from here: the link starts again.
                return fail("the remote attachd sent a message that cannot be read: \(error)")
            }
            handle(message)
        }
        if peerClosed { connection.close() }
    }

    private func handle(_ message: [UInt8]) {
        guard let head = expected.first else { return }
        if head != .watch { expected.removeFirst() }
        do {
            switch head {
            case .info:
                let reply = try typed(ServiceInfoReply.self, message)
                guard reply.interfaces.contains(InterfaceDescriptions.brokerName),
                    Self.isCompatible(reply.version)
                else {
                    return fail(
                        "the remote attachd \(reply.version) is not compatible with this attachd \(AttachdVersion.current) (install the same version on \(remote.destination))"
                    )
                }
                version = reply.version
            case .project:
                _ = try typed(ProjectReply.self, message)
            case .sessions:
                let reply = try typed(ListSessionsReply.self, message)
                deadline.cancel()
                backoff.reset()
                logger.info("remote link up", metadata: ["project": "\(project)", "remote": "\(remote.destination)"])
                deliver(.remoteConnected(project: project, version: version ?? "?"))
                deliver(.remoteSessions(project: project, reply.sessions))
            case .watch:
                let reply = try codec.reply(WatchReply.self, from: message)
                if let error = reply.error { throw error }
                guard let event = reply.parameters?.event else { return }
                if event.kind == .projectRemoved {
                    return fail("project '\(remote.project)' was removed on \(remote.destination)")
                }
                if let session = event.session { deliver(.remoteSession(project: project, session)) }
                if reply.continues != true { fail("the remote attachd ended the watch") }
            }
        } catch let error as VarlinkError {
            fail(describe(error))
        } catch {
            fail("the remote attachd gave a reply that cannot be read: \(error)")
        }
    }

    private func typed<P: Decodable>(_ type: P.Type, _ message: [UInt8]) throws -> P {
        let reply = try codec.reply(P.self, from: message)
        if let error = reply.error { throw error }
        guard let parameters = reply.parameters else { throw ReplyDecodingError.mismatch(field: nil) }
        return parameters
    }

    private func describe(_ error: VarlinkError) -> String {
        switch error.name {
        case VarlinkError.projectNotFound("").name:
            return
                "project '\(remote.project)' does not exist on \(remote.destination) (add it there with `attachctl add \(remote.project) ...`)"
        default:
            return "the remote attachd answered \(error)"
        }
    }

    /// A failure the remote's answers showed: ssh is stopped without its words.
    private func fail(_ reason: String) {
        process?.onExit = nil
        down(reason)
    }

    /// The link is down: Core is told, and the next attempt is scheduled.
    private func down(_ reason: String) {
        teardown()
        guard !stopped else { return }
        logger.warning(
            "remote link down",
            metadata: [
                "project": "\(project)", "remote": "\(remote.destination)", "reason": "\(reason)",
                "retry in": "\(backoff.current) s",
            ])
        deliver(.remoteLost(project: project, reason: reason))
        let timer = retry ?? QueueTimer(queue: queue) { [weak self] in self?.start() }
        timer.once(after: backoff.next())
        retry = timer
    }

    private func teardown() {
        deadline.cancel()
        connection?.close()
        connection = nil
        expected = []
        if let process {
            process.onExit = { _, _ in }
            process.terminate()
        }
        process = nil
    }

    /// Same major version, and for 0.x the same minor one.
    static func isCompatible(_ version: String) -> Bool {
        let theirs = version.split(separator: ".").prefix(2).map(String.init)
        let ours = AttachdVersion.current.split(separator: ".").prefix(2).map(String.init)
        guard theirs.count == 2 else { return false }
        return ours[0] == "0" ? theirs == ours : theirs[0] == ours[0]
    }

    /// Why the link ended, in ssh's words, named for people.
    static func reason(status: ChildProcess.Exit?, words: String, destination: String) -> String {
        let lines = words.split(whereSeparator: \.isNewline)
            .map { String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
            .filter { !$0.isEmpty && !$0.hasPrefix("@") }
        let said = lines.suffix(2).joined(separator: " ")
        switch status {
        case .exited(127) where said.contains("exec:"):
            return "the ssh command cannot be run: \(said)"
        case .exited(127):
            return "attachctl is not installed on \(destination) (or not on the PATH of its ssh sessions): \(said)"
        case .exited(let code):
            return said.isEmpty ? "ssh exited with status \(code)" : said
        case .signalled(let signal):
            return said.isEmpty ? "ssh was killed by signal \(signal)" : said
        case nil:
            return said.isEmpty ? "ssh ended" : said
        }
    }
}
