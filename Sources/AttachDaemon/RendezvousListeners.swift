import AttachCore
import AttachProtocol
import AttachSystem
import AttachSystemd
import Dispatch
import Logging

/// Every project's rendezvous listeners (a Unix socket, and a TCP port when it has one): binding
/// or adopting them from systemd's fd store, giving the TCP port up for a handoff and taking it
/// back, and binding again later when a bind failed (1 s doubling to 30 s).
final class RendezvousListeners: @unchecked Sendable {
    private let queue: DispatchQueue
    private let logger: Logger
    private let paths: DefaultPaths
    private let fdStore: FDStore
    private let reserve: ReserveDescriptor
    /// A host connected: hands its socket on (to `HostConnections`).
    private let onAccept: (FileDescriptor, _ project: String, _ viaTCP: Bool) -> Void
    /// The result of a rebind that the daemon did not ask for in a batch.
    private let deliver: @Sendable (BrokerInput) -> Void
    /// The project as it is now, nil once it is gone (for rebinding later).
    private let lookup: (String) -> ProjectInfo?

    private var tcp: [String: Listener] = [:]
    private var unix: [String: Listener] = [:]
    /// The socket file each Unix listener is bound to: removed only while the path names it.
    private var socketFiles: [String: FileIdentity] = [:]
    /// Ports of our TCP listeners given up for a handoff but not yet closed by Dispatch.
    private var closing: [UInt16: Int] = [:]
    private var rebindTimers: [String: DispatchSourceTimer] = [:]
    private var rebindDelays: [String: Double] = [:]
    private var stopped = false

    init(queue: DispatchQueue, logger: Logger, paths: DefaultPaths, fdStore: FDStore, reserve: ReserveDescriptor,
         lookup: @escaping (String) -> ProjectInfo?,
         onAccept: @escaping (FileDescriptor, String, Bool) -> Void,
         deliver: @escaping @Sendable (BrokerInput) -> Void) {
        self.queue = queue
        self.logger = logger
        self.paths = paths
        self.fdStore = fdStore
        self.reserve = reserve
        self.lookup = lookup
        self.onAccept = onAccept
        self.deliver = deliver
    }

    /// Our own TCP listeners that are closing: they still LISTEN for a moment.
    var closingPorts: Set<UInt16> { Set(closing.keys) }

    /// Opens (or adopts) what the project should have and is not open yet. Returns the problem,
    /// nil when all are up; a failed bind is tried again later by itself.
    func open(_ info: ProjectInfo) -> String? {
        let project = info.name
        var problems: [String] = []
        if unix[project] == nil {
            do {
                let fd = try adoptOrBindUnix(project)
                unix[project] = makeListener(fd, name: FDStore.unixName(project), project: project, viaTCP: false)
            } catch {
                problems.append("unix socket \(info.rendezvousSocket): \(error)")
            }
        }
        if let port = info.rendezvousPort, tcp[project] == nil {
            do {
                let fd = try adoptOrBindTCP(project, port: port, allowRemote: info.allowRemote)
                tcp[project] = makeListener(fd, name: FDStore.tcpName(project), project: project, viaTCP: true)
            } catch {
                problems.append("tcp port \(port): \(error)")
            }
        }
        guard problems.isEmpty else {
            let problem = problems.joined(separator: "; ")
            logger.error("rendezvous listener not up; will retry", metadata: ["project": "\(project)", "error": "\(problem)"])
            scheduleRebind(project)
            return problem
        }
        rebindDelays[project] = nil
        return nil
    }

    private func adoptOrBindUnix(_ project: String) throws(Errno) -> FileDescriptor {
        let path = paths.rendezvousSocket(for: project)
        if let fd = fdStore.adopt(FDStore.unixName(project)) {
            if Socket.isListeningUnixStream(fd, path: nil) && Files.isSocket(path) {
                socketFiles[project] = FileIdentity.of(path)
                return fd
            }
            fd.close()
        }
        try Files.createDirectories(paths.rendezvousDirectory, mode: 0o700)
        // A file left by an attachd that died: ours to replace, since we hold the runtime
        // directory's lock (no other attachd serves it).
        if Files.exists(path) { try Files.unlink(path) }
        let fd = try Socket.listenUnix(path: path, mode: 0o600)
        socketFiles[project] = FileIdentity.of(path)
        fdStore.store(fd, name: FDStore.unixName(project))
        return fd
    }

    private func adoptOrBindTCP(_ project: String, port: Int, allowRemote: Bool) throws(Errno) -> FileDescriptor {
        if let fd = fdStore.adopt(FDStore.tcpName(project)) {
            if Socket.isListeningTCP(fd, port: UInt16(port)) { return fd }
            fd.close()
        }
        let fd = try Socket.listenTCP(host: allowRemote ? "0.0.0.0" : "127.0.0.1", port: UInt16(port))
        fdStore.store(fd, name: FDStore.tcpName(project))
        return fd
    }

    private func makeListener(_ fd: FileDescriptor, name: String, project: String, viaTCP: Bool) -> Listener {
        let listener = Listener(fd: fd, name: name, queue: queue, reserve: reserve,
                                onAccept: { [self] client in onAccept(client, project, viaTCP) },
                                onExhausted: { [self] error in
                                    logger.warning("accept failed; turning hosts away until descriptors are free", metadata: ["listener": "\(name)", "error": "\(error)"])
                                })
        listener.start()
        return listener
    }

    private func scheduleRebind(_ project: String) {
        guard rebindTimers[project] == nil, !stopped else { return }
        let delay = rebindDelays[project] ?? 1
        rebindDelays[project] = min(delay * 2, 30)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + delay)
        timer.setEventHandler { [self] in
            rebindTimers.removeValue(forKey: project)?.cancel()
            guard let info = lookup(project), !stopped else { return }
            let problem = open(info)
            deliver(.listenersOpened(project: project, error: problem))
        }
        rebindTimers[project] = timer
        timer.resume()
    }

    /// Closes all of a project's listeners, forgets them in systemd, removes its socket file.
    func close(_ project: String) {
        rebindTimers.removeValue(forKey: project)?.cancel()
        rebindDelays[project] = nil
        if let listener = tcp.removeValue(forKey: project) {
            fdStore.remove(FDStore.tcpName(project))
            listener.close()
        }
        if let listener = unix.removeValue(forKey: project) {
            fdStore.remove(FDStore.unixName(project))
            listener.close()
            Files.unlink(paths.rendezvousSocket(for: project), ifStill: socketFiles.removeValue(forKey: project))
        }
    }

    /// Handoff: gives the TCP port up so the host's debug server can bind it. systemd's copy in
    /// the fd store goes too, or the port would stay taken.
    func releaseTCP(_ project: String, port: Int?) {
        guard let listener = tcp.removeValue(forKey: project) else { return }
        fdStore.remove(FDStore.tcpName(project))
        // Until Dispatch has really closed it, our own socket still LISTENs on the port: it
        // must not pass for the host's debug server.
        if let port = port.map(UInt16.init) {
            closing[port, default: 0] += 1
            listener.onClosed = { [self] in
                closing[port, default: 1] -= 1
                if closing[port] == 0 { closing[port] = nil }
            }
        }
        listener.close()
        logger.debug("rendezvous port handed to the host", metadata: ["project": "\(project)"])
    }

    /// Stops every listener for good (shutdown). With the fd store the sockets stay open in
    /// systemd for the next start, and so do their socket files.
    func stopAll() {
        stopped = true
        for timer in rebindTimers.values { timer.cancel() }
        rebindTimers = [:]
        for project in Array(tcp.keys) { tcp.removeValue(forKey: project)?.close() }
        for project in Array(unix.keys) {
            unix.removeValue(forKey: project)?.close()
            let file = socketFiles.removeValue(forKey: project)
            if !fdStore.isEnabled { Files.unlink(paths.rendezvousSocket(for: project), ifStill: file) }
        }
    }
}
