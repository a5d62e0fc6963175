import AttachCore
import AttachProtocol
import AttachSystem
import AttachSystemd
import Dispatch
import Logging

/// Every project's listeners, in one room: the rendezvous Unix socket, the rendezvous TCP port
/// and the attach port when the project has them. Binds them or adopts them from systemd's fd
/// store, gives the rendezvous port up for a handoff and takes it back, and binds again what
/// failed to bind, with one backoff per project (`Backoff.listener`), keeping each listener's
/// error until it is up. Accepted sockets go to `onAccept`; the daemon routes them (hosts to
/// `HostConnections`, IDEs to `AttachRelays`).
final class ProjectListeners {
    /// Which of a project's listeners.
    enum Kind: Int, CaseIterable, Sendable {
        case unix, tcp, attach
    }

    /// A socket one of the listeners accepted.
    struct Accepted {
        let fd: FileDescriptor
        let project: String
        let kind: Kind
        /// The project lets other machines connect (so an owner that cannot be known is fine).
        let allowRemote: Bool
    }

    /// One project's listeners, those that failed with their error, and its retry.
    private struct Project {
        var info: ProjectInfo
        var open: [Kind: Listener] = [:]
        var errors: [Kind: String] = [:]
        var backoff = Backoff.listener
        var retry: QueueTimer?
    }

    private let queue: DispatchQueue
    private let logger: Logger
    private let paths: DefaultPaths
    private let fdStore: FDStore
    private let reserve: ReserveDescriptor
    private let onAccept: (Accepted) -> Void
    /// The result of a retry that the daemon did not ask for in a batch.
    private let deliver: (BrokerInput) -> Void
    private var projects: [String: Project] = [:]
    /// The socket file each Unix listener is bound to: removed only while the path names it.
    private var socketFiles: [String: FileIdentity] = [:]
    /// Ports of our TCP listeners given up for a handoff but not yet closed by Dispatch.
    private let closing: ClosingPorts
    private var stopped = false

    init(
        queue: DispatchQueue, logger: Logger, paths: DefaultPaths, fdStore: FDStore, reserve: ReserveDescriptor,
        closing: ClosingPorts = ClosingPorts(), onAccept: @escaping (Accepted) -> Void,
        deliver: @escaping (BrokerInput) -> Void
    ) {
        self.closing = closing
        self.queue = queue
        self.logger = logger
        self.paths = paths
        self.fdStore = fdStore
        self.reserve = reserve
        self.onAccept = onAccept
        self.deliver = deliver
    }

    /// Our own TCP listeners that are closing: they still LISTEN for a moment.
    var closingPorts: Set<UInt16> { closing.ports }

    /// Opens (or adopts) what the project should have and is not open yet. Returns the problem
    /// of every listener that is not up, nil when all are; what failed is tried again later by
    /// itself, and Core hears the outcome (`listenersOpened`).
    func open(_ info: ProjectInfo) -> String? {
        var project = projects[info.name] ?? Project(info: info)
        project.info = info
        projects[info.name] = project
        return bind(info.name, kinds: Kind.allCases)
    }

    /// The problem of every listener of the project that is not up, in kind order.
    func problem(_ name: String) -> String? {
        guard let errors = projects[name]?.errors, !errors.isEmpty else { return nil }
        return Kind.allCases.compactMap { errors[$0] }.joined(separator: "; ")
    }

    /// Binds those of `kinds` the project wants and has not got; keeps or clears each one's
    /// error; arms the retry while any is down.
    private func bind(_ name: String, kinds: [Kind]) -> String? {
        guard var project = projects[name] else { return nil }
        let info = project.info
        for kind in kinds where project.open[kind] == nil {
            guard let (port, what) = address(kind, of: info) else {
                project.errors[kind] = nil
                continue
            }
            do {
                let fd = try adoptOrBind(kind, of: info, port: port)
                project.open[kind] = makeListener(fd, kind: kind, info: info)
                project.errors[kind] = nil
            } catch {
                project.errors[kind] = "\(what): \(error)"
            }
        }
        projects[name] = project
        guard let problem = problem(name) else {
            projects[name]?.backoff.reset()
            return nil
        }
        let kind = project.errors.keys.min { $0.rawValue < $1.rawValue }
        logger.error(
            "\(kind == .attach ? "attach" : "rendezvous") listener not up; will retry",
            metadata: ["project": "\(name)", "error": "\(problem)"])
        scheduleRetry(name)
        return problem
    }

    /// The port (nil for the Unix socket) and how errors name the listener; nil when the project
    /// has no such listener.
    private func address(_ kind: Kind, of info: ProjectInfo) -> (port: UInt16?, what: String)? {
        switch kind {
        case .unix: return (nil, "unix socket \(info.rendezvousSocket)")
        case .tcp: return info.rendezvousPort.map { (UInt16($0), "tcp port \($0)") }
        case .attach: return info.attachPort.map { (UInt16($0), "attach port \($0)") }
        }
    }

    private static func storeName(_ kind: Kind, _ project: String) -> String {
        switch kind {
        case .unix: return FDStore.unixName(project)
        case .tcp: return FDStore.tcpName(project)
        case .attach: return FDStore.attachName(project)
        }
    }

    private func adoptOrBind(_ kind: Kind, of info: ProjectInfo, port: UInt16?) throws(Errno) -> FileDescriptor {
        let name = Self.storeName(kind, info.name)
        let path = paths.rendezvousSocket(for: info.name)
        if let fd = fdStore.adopt(name) {
            let listening =
                port.map { Socket.isListeningTCP(fd, port: $0) }
                ?? (Socket.isListeningUnixStream(fd, path: nil) && Files.isSocket(path))
            if listening {
                if port == nil { socketFiles[info.name] = FileIdentity.of(path) }
                return fd
            }
            fd.close()
        }
        let fd: FileDescriptor
        if let port {
            fd = try Socket.listenTCP(host: info.allowRemote ? "0.0.0.0" : "127.0.0.1", port: port)
        } else {
            try Files.createDirectories(paths.rendezvousDirectory, mode: 0o700)
            // A file left by an attachd that died: ours to replace, since we hold the runtime
            // directory's lock (no other attachd serves it).
            if Files.exists(path) { try Files.unlink(path) }
            fd = try Socket.listenUnix(path: path, mode: 0o600)
            socketFiles[info.name] = FileIdentity.of(path)
        }
        fdStore.store(fd, name: name)
        return fd
    }

    private func makeListener(_ fd: FileDescriptor, kind: Kind, info: ProjectInfo) -> Listener {
        let name = Self.storeName(kind, info.name)
        let (project, allowRemote) = (info.name, info.allowRemote)
        let who = kind == .attach ? "IDEs" : "hosts"
        let listener = Listener(
            fd: fd, name: name, queue: queue, reserve: reserve,
            onAccept: { [self] client in
                onAccept(Accepted(fd: client, project: project, kind: kind, allowRemote: allowRemote))
            },
            onExhausted: { [self] error in
                logger.warning(
                    "accept failed; turning \(who) away until descriptors are free",
                    metadata: ["listener": "\(name)", "project": "\(project)", "error": "\(error)"])
            })
        listener.start()
        return listener
    }

    /// Tries the failed listeners again after the project's backoff, and tells Core.
    private func scheduleRetry(_ name: String) {
        guard !stopped, var project = projects[name] else { return }
        if project.retry?.isArmed == true { return }
        let timer =
            project.retry
            ?? QueueTimer(queue: queue, leeway: .milliseconds(50)) { [self] in
                guard !stopped, let failed = projects[name]?.errors.keys else { return }
                let problem = bind(name, kinds: failed.sorted { $0.rawValue < $1.rawValue })
                deliver(.listenersOpened(project: name, error: problem))
            }
        timer.once(after: project.backoff.next())
        project.retry = timer
        projects[name] = project
    }

    /// Closes all of a project's listeners, forgets them in systemd, removes its socket file.
    func close(_ name: String) {
        guard let project = projects.removeValue(forKey: name) else { return }
        project.retry?.cancel()
        for (kind, listener) in project.open {
            fdStore.remove(Self.storeName(kind, name))
            listener.close()
        }
        let file = socketFiles.removeValue(forKey: name)
        if project.open[.unix] != nil { Files.unlink(paths.rendezvousSocket(for: name), ifStill: file) }
    }

    /// Handoff: gives the TCP rendezvous port up so the host's debug server can bind it.
    /// systemd's copy in the fd store goes too, or the port would stay taken.
    func releaseTCP(_ name: String, port: Int?) {
        guard let listener = projects[name]?.open.removeValue(forKey: .tcp) else { return }
        fdStore.remove(FDStore.tcpName(name))
        // Until Dispatch has really closed it, our own socket still LISTENs on the port: it
        // must not pass for the host's debug server.
        if let port = port.map(UInt16.init) {
            closing.add(port)
            listener.onClosed = { [closing] in closing.remove(port) }
        }
        listener.close()
        logger.debug("rendezvous port handed to the host", metadata: ["project": "\(name)"])
    }

    /// Stops every listener for good (shutdown). With the fd store the sockets stay open in
    /// systemd for the next start, and so do the socket files.
    func stopAll() {
        stopped = true
        for (name, project) in projects {
            project.retry?.cancel()
            for listener in project.open.values { listener.close() }
            let file = socketFiles.removeValue(forKey: name)
            if project.open[.unix] != nil, !fdStore.isEnabled {
                Files.unlink(paths.rendezvousSocket(for: name), ifStill: file)
            }
        }
        projects = [:]
    }
}
