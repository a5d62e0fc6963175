import AttachCore
import AttachProtocol
import AttachSystem
import Dispatch
import Logging

/// The running daemon: the broker's state machine, and the sockets, timers and files that
/// carry out its actions. Everything runs on one serial queue; no thread per connection.
public final class Daemon: @unchecked Sendable {
    let options: DaemonOptions
    let logger: Logger
    let queue = DispatchQueue(label: "io.attachd.daemon")
    var broker: Broker
    let codec = VarlinkCodec()
    let probe = ListenProbe()
    let store: ProjectStore
    let startedAt = Clock.monotonicSeconds()

    var controlListener: Listener?
    /// The descriptor given back when accept runs out of them (see `Listener`).
    let reserve = ReserveDescriptor()
    /// The control socket file was bound here (not passed by systemd), so it is ours to remove.
    var ownsControlSocket = false
    var tcpListeners: [String: Listener] = [:]
    /// Ports of our TCP listeners given up for a handoff but not yet closed by Dispatch.
    var closingPorts: [UInt16: Int] = [:]
    var unixListeners: [String: Listener] = [:]
    /// Listeners passed back by systemd's fd store, by FDNAME, until their project adopts them.
    var inheritedListeners: [String: FileDescriptor] = [:]
    /// Listeners are pushed to systemd's fd store (NOTIFY_SOCKET is set).
    var fdStoreEnabled = false
    var rebindTimers: [String: DispatchSourceTimer] = [:]
    var rebindDelays: [String: Double] = [:]

    var controls: [ConnectionID: ControlClient] = [:]
    var hosts: [ConnectionID: HostClient] = [:]
    var watchers: [RequestToken: String?] = [:]
    var processWatches: [String: (fd: FileDescriptor, source: DispatchSourceRead)] = [:]
    var nextConnectionID: ConnectionID = 1

    var timer: DispatchSourceTimer?
    var timerFireAt: Double?
    var probeRequested = false
    var lastAttachmentCheck = 0.0
    var lastStatus = ""
    var watchdogTimer: DispatchSourceTimer?
    var signalSources: [DispatchSourceSignal] = []
    var shuttingDown = false

    public init(options: DaemonOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        let paths = options.paths
        // Seeded from the clock, so session ids stay unique across restarts.
        let seed = UInt64(Clock.wallSeconds() * 1000) % 1_000_000_000
        self.broker = Broker(firstSessionNumber: seed) { paths.rendezvousSocket(for: $0) }
        self.store = ProjectStore(path: options.paths.projectsFile, directory: options.paths.configDirectory, logger: logger)
    }

    /// Starts everything and never returns; exits the process after a clean shutdown.
    public func run() throws(DaemonError) -> Never {
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

    func makeConnectionID() -> ConnectionID {
        defer { nextConnectionID += 1 }
        return nextConnectionID
    }

    // MARK: The one funnel from events to actions

    /// Feeds one event to the broker and carries out what it asks.
    func apply(_ event: (inout Broker, Instant) -> [BrokerAction]) {
        let actions = event(&broker, instant())
        perform(actions)
    }

    func perform(_ actions: [BrokerAction]) {
        var work = actions
        var index = 0
        while true {
            while index < work.count {
                work += execute(work[index])
                index += 1
            }
            guard probeRequested else { break }
            probeRequested = false
            work += broker.tick(now: instant(), listening: readListening())
        }
        afterChange()
    }

    /// Carries out one action; returns the broker's answer to what happened, if any.
    private func execute(_ action: BrokerAction) -> [BrokerAction] {
        switch action {
        case .respond(let token, let result):
            respond(token, result)
        case .openListeners(let project):
            return openListeners(project)
        case .closeListeners(let project):
            closeListeners(project)
        case .releaseTCPPort(let project):
            releaseTCPPort(project)
        case .reclaimTCPPort(let project):
            return reclaimTCPPort(project)
        case .sendLine(let connection, let line):
            hosts[connection]?.connection.send(Array((line + "\n").utf8))
        case .closeConnection(let connection):
            if let host = hosts[connection] { closeHost(host, flushFirst: true) }
        case .watchProcess(let session, let pid):
            watchProcess(session: session, pid: pid)
        case .unwatchProcess(let session):
            unwatchProcess(session: session)
        case .probeNow:
            probeRequested = true
        case .persistProjects:
            // At once: the reply that follows in this batch must not promise a change that a
            // crash could still lose.
            saveProjects()
        case .emit(let event):
            emit(event)
        }
        return []
    }

    func saveProjects() {
        do {
            try store.save(broker.projectConfigs)
        } catch {
            logger.error("cannot save projects", metadata: ["file": "\(store.path)", "error": "\(error)"])
        }
    }

    /// Reads the LISTEN table; nil when the kernel refused (logged).
    func readListening() -> Set<UInt16>? {
        do {
            let ports = try probe.listeningPorts()
            return closingPorts.isEmpty ? ports : ports.subtracting(closingPorts.keys)
        } catch {
            logger.error("cannot read LISTEN sockets", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// After every batch: save if asked, move the timer, refresh the systemd status.
    private func afterChange() {
        rescheduleTimer()
        updateStatus()
    }

    // MARK: The one timer: probing while something is pending, and deadlines

    func rescheduleTimer() {
        let now = Clock.monotonicSeconds()
        var fireAt: Double?
        if let interval = broker.probeInterval { fireAt = now + interval }
        if let deadline = broker.nextDeadline { fireAt = min(fireAt ?? deadline, deadline) }
        guard let fireAt else {
            if timerFireAt != nil {
                timer?.schedule(deadline: .distantFuture)
                timerFireAt = nil
            }
            return
        }
        // Only ever move the timer earlier; when it fires it schedules the next one itself.
        if let current = timerFireAt, current <= fireAt { return }
        makeTimer()
        let delay = max(0, fireAt - now)
        timer?.schedule(deadline: .now() + delay, leeway: .microseconds(delay < 0.01 ? 200 : 2000))
        timerFireAt = fireAt
    }

    /// Creates the one timer, armed once at once: Dispatch opens its timer descriptor the first
    /// time a timer is armed, and that must not first happen when descriptors have run out.
    func makeTimer() {
        guard timer == nil else { return }
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.setEventHandler { [self] in timerFired() }
        timer = source
        source.schedule(deadline: .now())
        timerFireAt = Clock.monotonicSeconds()
        source.resume()
    }

    private func timerFired() {
        timerFireAt = nil
        let listening = broker.probeInterval == nil ? nil : readListening()
        // Attachment is only looked at on the timer, at most once a second, while sessions are
        // ready: it walks every established connection, not just the listeners.
        var connected: Set<UInt16>?
        let now = Clock.monotonicSeconds()
        if listening != nil, broker.wantsConnectedPorts, now - lastAttachmentCheck >= Broker.slowProbeInterval * 0.9 {
            lastAttachmentCheck = now
            connected = probe.connectedPorts()
        }
        perform(broker.tick(now: instant(), listening: listening, connected: connected))
    }

    /// The one-line summary for `systemctl status`, sent whenever it changes.
    private func updateStatus() {
        let c = broker.counts
        let status = "\(c.projects) project\(c.projects == 1 ? "" : "s"), \(c.pending) pending, \(c.ready) ready, \(c.waiters) waiting"
        guard status != lastStatus else { return }
        lastStatus = status
        Systemd.notify("STATUS=" + status)
    }
}

/// Why the daemon cannot start.
public struct DaemonError: Error, CustomStringConvertible {
    public var description: String
    public var exitCode: Int32
    public init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}
