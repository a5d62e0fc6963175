import AttachCore
import AttachProtocol
import AttachSystem
import AttachSystemd
import Dispatch
import Logging

/// The running daemon. It owns the broker (Core's state machine) and the rooms that carry out
/// its actions, and does nothing else than route: every input from a room goes through one
/// door, `handle(_:)`, into `Broker.handle`, and every action that comes out goes to the room
/// whose job it is. Everything runs on one serial queue; no thread per connection. Not
/// Sendable: it is made on the main thread and from then on used on `queue` only (work from
/// elsewhere, like a signal, reaches it through `DispatchQueue.asyncConfined`).
public final class Daemon {
    let options: DaemonOptions
    let logger: Logger
    let queue = DispatchQueue(label: "io.attachd.daemon")
    var broker: Broker
    let store: ProjectStore
    let startedAt = Clock.monotonicSeconds()

    // Services the rooms get at init; none is a room.
    let ids = ConnectionIDs()
    /// The descriptor given back when accept runs out of them (see `Listener`).
    let reserve = ReserveDescriptor()
    let fdStore: FDStore
    /// sock_diag: LISTEN state for the probe, and who owns a peer for the owner checks.
    let listenProbe = ListenProbe()
    let closingPorts = ClosingPorts()
    private let door = DaemonDoor()

    // The rooms, in the order they are built (each needs only services and those before it);
    // each owns its sockets and state.
    let control: ControlServer
    let hosts: HostConnections
    let processes: ProcessWatcher
    let relays: AttachRelays
    let remotes: RemoteLinks
    let listeners: ProjectListeners
    let readiness: ReadinessProbe

    /// The control socket file was bound here (not passed by systemd), so it is ours to remove,
    /// as long as the path still names the file bound (`controlSocketFile`).
    var ownsControlSocket = false
    var controlSocketFile: FileIdentity?
    /// `attachd.lock` beside `projects.json` and in the runtime directory, held until exit.
    var locks: [InstanceLock] = []
    var watchdogTimer: QueueTimer?
    var signalSources: [DispatchSourceSignal] = []
    var shuttingDown = false
    private var probeRequested = false
    /// The save of this batch failed: its successful replies are answered with this instead.
    private var unsaved: VarlinkError?
    private var lastStatus = ""

    /// Builds the rooms; fails only when the relay loop cannot start (epoll or a thread refused).
    public init(options: DaemonOptions, logger: Logger) throws(DaemonError) {
        self.options = options
        self.logger = logger
        let paths = options.paths
        // Seeded from the clock, so session ids stay unique across restarts.
        let seed = UInt64(Clock.wallSeconds() * 1000) % 1_000_000_000
        broker = Broker(firstSessionNumber: seed) { paths.rendezvousSocket(for: $0) }
        store = ProjectStore(path: paths.projectsFile, directory: paths.configDirectory, logger: logger)
        fdStore = FDStore(enabled: Environment.get("NOTIFY_SOCKET") != nil, logger: logger)
        let (door, probe, closing) = (door, listenProbe, closingPorts)
        let deliver: (BrokerInput) -> Void = { door.deliver($0) }
        let peerOwner: (FileDescriptor) -> PeerOwner = { probe.peerOwner(of: $0) }
        control = ControlServer(
            queue: queue, logger: logger, options: options, ids: ids, reserve: reserve,
            readings: door, deliver: deliver)
        hosts = HostConnections(
            queue: queue, logger: logger, options: options, ids: ids, peerOwner: peerOwner, deliver: deliver)
        processes = ProcessWatcher(queue: queue, deliver: deliver)
        let relayLoop: RelayLoop
        do throws(Errno) {
            relayLoop = try RelayLoop()
        } catch {
            throw DaemonError("cannot start the relay loop: \(error)")
        }
        relays = AttachRelays(
            queue: queue, logger: logger, options: options, fdStore: fdStore, ids: ids, loop: relayLoop,
            peerOwner: peerOwner, deliver: deliver)
        remotes = RemoteLinks(
            queue: queue, logger: logger, ids: ids, runtimeDirectory: paths.runtimeDirectory, deliver: deliver)
        listeners = ProjectListeners(
            queue: queue, logger: logger, paths: paths, fdStore: fdStore, reserve: reserve,
            closing: closing, onAccept: Self.route(hosts: hosts, relays: relays), deliver: deliver)
        readiness = ReadinessProbe(
            queue: queue, logger: logger, probe: probe, excludedPorts: { closing.ports }, deliver: deliver)
        door.daemon = self
    }

    /// Starts everything and never returns; exits the process after a clean shutdown.
    public func run() throws(DaemonError) -> Never {
        // dispatchMain() makes the main queue's wake-up descriptor (an eventfd) on its way if
        // nothing has yet, and libdispatch kills the process (SIGILL) when it cannot: clients
        // that used up every descriptor between READY=1 and the main thread reaching
        // dispatchMain() did that. A block on the main queue makes it now, while there are
        // descriptors to spare.
        DispatchQueue.main.async {}
        var failure: DaemonError?
        queue.sync {
            do throws(DaemonError) {
                try start()
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        dispatchMain()
    }

    func instant() -> Instant {
        Instant(monotonic: Clock.monotonicSeconds(), wall: Clock.wallSeconds())
    }

    // MARK: The one door into Core

    /// Feeds one input to the broker and carries out what it asks.
    func handle(_ input: BrokerInput) {
        perform(broker.handle(input, now: instant()))
    }

    /// Carries out a batch of actions, and what Core answers to them, in order; reads LISTEN
    /// state once at the end when an action asked for it (the probe follows the schedule Core
    /// said last, so it asks what Core asks).
    func perform(_ actions: [BrokerAction]) {
        unsaved = nil
        defer { unsaved = nil }
        var work = actions
        var index = 0
        while true {
            while index < work.count {
                work += execute(work[index])
                index += 1
            }
            guard probeRequested else { break }
            probeRequested = false
            work += broker.handle(readiness.lookNow(), now: instant())
        }
        updateStatus()
    }

    /// Where a socket a project's listener accepted goes: a host's to `HostConnections`, an
    /// IDE's to `AttachRelays`. The daemon's routing, handed to `ProjectListeners`.
    private static func route(hosts: HostConnections, relays: AttachRelays) -> (ProjectListeners.Accepted) -> Void {
        { accepted in
            switch accepted.kind {
            case .unix, .tcp: hosts.accept(accepted.fd, project: accepted.project, viaTCP: accepted.kind == .tcp)
            case .attach: relays.accept(accepted.fd, project: accepted.project, remoteAllowed: accepted.allowRemote)
            }
        }
    }

    /// Routes one action to its room; returns Core's answer to what happened, if any.
    private func execute(_ action: BrokerAction) -> [BrokerAction] {
        switch action {
        case .respond(let token, let result):
            // A reply must not promise a change that was not saved.
            if case .success = result, let unsaved {
                control.respond(token, .failure(unsaved))
            } else {
                control.respond(token, result)
            }
        case .openListeners(let project):
            guard let info = broker.projectInfo(project) else { return [] }
            relays.setFollow(project, info.follow == true)
            return broker.handle(.listenersOpened(project: project, error: listeners.open(info)), now: instant())
        case .closeListeners(let project):
            listeners.close(project)
            hosts.closeAll(of: project)
        case .connectRelay(let connection, let session, let host, let port):
            guard let input = relays.connect(connection, session: session, host: host, port: port) else { return [] }
            return broker.handle(input, now: instant())
        case .connectRemoteRelay(let connection, let session, let project, let host, let port):
            switch remotes.openChannel(project: project, host: host, port: port) {
            case .success(let channel):
                guard let input = relays.connect(connection, session: session, through: channel) else { return [] }
                return broker.handle(input, now: instant())
            case .failure(let error):
                return broker.handle(.relayFailed(connection, reason: error.reason), now: instant())
            }
        case .openRemote(let project, let remote):
            remotes.open(project: project, remote: remote)
        case .closeRemote(let project):
            remotes.close(project)
        case .tellRemoteIDE(let project, let session, let attached):
            remotes.links[project]?.tellIDE(session: session, attached: attached)
        case .hostEnded(let connection):
            relays.hostEnded(connection)
        case .followHosts(let project, let on):
            relays.setFollow(project, on)
        case .closeAttach(let connection, let reason):
            guard let input = relays.close(connection, reason: reason) else { return [] }
            return broker.handle(input, now: instant())
        case .releaseTCPPort(let project):
            listeners.releaseTCP(project, port: broker.projectInfo(project)?.rendezvousPort)
        case .reclaimTCPPort(let project):
            logger.debug("taking the rendezvous port back", metadata: ["project": "\(project)"])
            return execute(.openListeners(project: project))
        case .sendLine(let connection, let reply):
            hosts.send(reply, to: connection)
        case .closeConnection(let connection):
            hosts.close(connection)
        case .watchProcess(let session, let pid):
            processes.watch(session: session, pid: pid)
        case .unwatchProcess(let session):
            processes.unwatch(session: session)
        case .probeNow:
            probeRequested = true
        case .reschedule(let schedule):
            readiness.reschedule(schedule)
        case .savedProjectSkipped(let name):
            logger.error("skipping an invalid saved project", metadata: ["project": "\(name)"])
        case .persistProjects:
            // At once: the reply that follows in this batch must not promise a change that a
            // crash could still lose; when the save fails, that reply says so.
            if let problem = saveProjects() { unsaved = .notSaved(file: store.path, reason: problem) }
        case .emit(let event):
            log(event)
            control.emit(event)
        }
        return []
    }

    /// Every change Watch streams goes to the log too, with the fields the journal indexes
    /// (`ATTACHD_PROJECT=`, `ATTACHD_SESSION=`, `ATTACHD_PID=`, `ATTACHD_PORT=`), so that
    /// `journalctl --user -u attachd ATTACHD_PROJECT=NAME` is one project's history.
    private func log(_ event: BrokerEvent) {
        var metadata: Logger.Metadata = ["project": "\(event.projectName ?? "-")"]
        if let session = event.session {
            metadata["session"] = "\(session.id)"
            if let pid = session.pid { metadata["pid"] = "\(pid)" }
            if let port = session.debugPort { metadata["port"] = "\(port)" }
            if let reason = session.endReason { metadata["reason"] = "\(reason)" }
            if let problem = session.problem { metadata["problem"] = "\(problem)" }
        }
        if let relay = event.relay {
            metadata["relay"] = "\(relay.id)"
            metadata["peer"] = "\(relay.peer)"
            if let session = relay.session { metadata["session"] = "\(session)" }
            if event.kind == .relayEnded {
                metadata["bytes_to_host"] = "\(relay.bytesToHost)"
                metadata["bytes_to_ide"] = "\(relay.bytesToIDE)"
                if let reason = relay.endReason { metadata["reason"] = "\(reason)" }
            }
        }
        if let project = event.project, let port = project.attachPort ?? project.debugPort {
            metadata["port"] = "\(port)"
        }
        logger.info("\(Self.describe(event.kind))", metadata: metadata)
    }

    private static func describe(_ kind: BrokerEvent.Kind) -> String {
        switch kind {
        case .projectAdded: return "project added"
        case .projectRemoved: return "project removed"
        case .projectChanged: return "project changed"
        case .sessionStarted: return "session started"
        case .sessionReady: return "session ready"
        case .sessionAttached: return "session attached"
        case .sessionPending: return "session pending again"
        case .sessionEnded: return "session ended"
        case .relayStarted: return "relay started"
        case .relayEnded: return "relay ended"
        }
    }

    /// Saves the projects; returns why it failed (logged too), nil when saved.
    @discardableResult
    func saveProjects() -> String? {
        do {
            try store.save(broker.projectConfigs)
            return nil
        } catch {
            logger.error("cannot save projects", metadata: ["file": "\(store.path)", "error": "\(error)"])
            return "\(error)"
        }
    }

    func status() -> StatusReply {
        let c = broker.counts
        return StatusReply(
            version: options.version, pid: Int(ProcessHandle.currentPID),
            uptime: Clock.monotonicSeconds() - startedAt, projects: c.projects,
            sessions: c.pending + c.ready, pending: c.pending, ready: c.ready, waiters: c.waiters,
            connections: control.count + hosts.count + relays.count, probe: readiness.methodName)
    }

    /// The one-line summary for `systemctl status`, sent whenever it changes.
    private func updateStatus() {
        let c = broker.counts
        let status =
            "\(c.projects) project\(c.projects == 1 ? "" : "s"), \(c.pending) pending, \(c.ready) ready, \(c.waiters) waiting"
        guard status != lastStatus else { return }
        lastStatus = status
        Systemd.notify("STATUS=" + status)
    }
}
