import AttachCore
import AttachSystem
import Dispatch
import Logging

/// Core's timer and the LISTEN probe behind it: reads the kernel's LISTEN table (sock_diag) as
/// often as Core's schedule (`.reschedule`) asks while something is pending, wakes for Core's
/// next deadline, and never runs while nothing needs it (no wakeups when idle). `reading` is
/// the full probe, for the timer; a batch that asked `probeNow` gets `lookNow`, which is the
/// same unless only a few hosts with known ports are still unseen (then a look at their ports).
final class ReadinessProbe {
    let probe: ListenProbe
    /// Whether a host's own process tree listens (sharing `probe`'s netlink socket).
    private lazy var hostProbe = HostListenProbe(listenProbe: probe)
    /// Hosts looked at last time, so that a host no longer asked about is forgotten.
    private var lookedAt: Set<Int32> = []
    /// The sessions whose host was seen listening when last looked at: a look now (`lookNow`)
    /// is about the others.
    private var seenListening: Set<String> = []
    private let queue: DispatchQueue
    private let logger: Logger
    private let deliver: (BrokerInput) -> Void
    /// Ports of our own listeners that are closing: never taken for a host's debug server.
    private let excludedPorts: () -> Set<UInt16>
    private var timer: DispatchSourceTimer?
    private var timerFireAt: Double?
    /// What Core wants, as it said last (`.reschedule`).
    private var schedule = ProbeSchedule.idle
    private var lastAttachmentCheck = 0.0

    init(
        queue: DispatchQueue, logger: Logger, probe: ListenProbe = ListenProbe(),
        excludedPorts: @escaping () -> Set<UInt16>,
        deliver: @escaping (BrokerInput) -> Void
    ) {
        self.queue = queue
        self.logger = logger
        self.probe = probe
        self.excludedPorts = excludedPorts
        self.deliver = deliver
    }

    /// "sock_diag" or "proc", for status and logs.
    var methodName: String { probe.method == .sockDiag ? "sock_diag" : "proc" }

    /// The ports in LISTEN state now (less our own closing ones); nil when the kernel refused.
    func readListening() -> Set<UInt16>? { readListeningTable()?.ports }

    /// Reads the LISTEN table now (one dump, shared with the ownership queries); nil when the
    /// kernel refused (logged).
    func readListeningTable() -> (ports: Set<UInt16>, sockets: [ListeningSocket])? {
        do {
            let sockets = try probe.listeningSockets()
            let ports = Set(sockets.lazy.map(\.port))
            let excluded = excludedPorts()
            return (excluded.isEmpty ? ports : ports.subtracting(excluded), sockets)
        } catch {
            logger.error("cannot read LISTEN sockets", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// What each host's own process tree listens on, for Core's ownership queries; `listing`:
    /// this namespace's LISTEN sockets, read already.
    func readHosts(_ queries: [OwnershipQuery], listing: [ListeningSocket]? = nil) -> [String: HostListening] {
        let pids = Set(queries.map(\.pid))
        for gone in lookedAt.subtracting(pids) { hostProbe.forget(pid: gone) }
        lookedAt = pids
        seenListening = []
        guard !queries.isEmpty else { return [:] }
        return look(at: queries, listing: listing, partial: false)
    }

    /// The verdicts on `queries`, remembering who was seen listening.
    private func look(at queries: [OwnershipQuery], listing: [ListeningSocket]?, partial: Bool)
        -> [String: HostListening]
    {
        let (verdicts, exited) = hostProbe.verdicts(
            queries.map { (pid: $0.pid, port: $0.port, mark: String($0.pid)) }, ownListing: listing,
            ownListingIsPartial: partial)
        var seen: [String: HostListening] = [:]
        for (query, verdict) in zip(queries, verdicts) {
            // A host that exited is said so, not "not listening": its session ends rather than
            // falling back to pending for the moment before its exit is heard.
            seen[query.session] = exited.contains(query.pid) ? .exited : Self.listening(verdict)
            if case .listening = verdict {
                seenListening.insert(query.session)
            } else {
                seenListening.remove(query.session)
            }
        }
        return seen
    }

    /// The most hosts a look now (`lookNow`) asks the kernel about port by port; beyond that
    /// one dump of every listener costs less.
    static let mostPortsLookedAt = 8

    /// What Core asked for with `.probeNow`: a look at only the hosts not yet seen listening
    /// when there are a few such and each has its port (a host announced or ready now), through
    /// a listing of their ports alone, so that announcing one host of a thousand costs one
    /// socket's worth of the kernel's time, not a thousand; otherwise the full probe.
    func lookNow() -> BrokerInput {
        if seenListening.count > schedule.queries.count {
            seenListening.formIntersection(schedule.queries.lazy.map(\.session))  // ended ones
        }
        let unseen = schedule.queries.filter { !seenListening.contains($0.session) }
        guard !unseen.isEmpty, unseen.count <= Self.mostPortsLookedAt, unseen.allSatisfy({ $0.port != nil }),
            let listing = try? probe.listeningSockets(onPorts: Set(unseen.compactMap(\.port)))
        else { return reading(connectedToo: false) }
        return .lookedAt(hosts: look(at: unseen, listing: listing, partial: true))
    }

    static func listening(_ verdict: HostListenVerdict) -> HostListening {
        switch verdict {
        case .listening(let port):
            return .listening(port: port)
        case .notListening:
            return .notListening
        case .heldByOther(let port, let pid, let command, let uid):
            var holder = pid.map { "pid \($0)" + (command.map { " (\($0))" } ?? "") } ?? "uid \(uid)"
            if pid != nil, uid != ProcessHandle.currentUID { holder += " of uid \(uid)" }
            return .heldByOther(port: port, holder: holder)
        }
    }

    /// The one probe: LISTEN state, what the hosts' process trees listen on (the ownership
    /// queries of Core's schedule), and, when `connectedToo` and Core wants it and it is due,
    /// the ports of established connections. A reading with nil `listening` (the kernel
    /// refused) is still a tick of the clock.
    func reading(connectedToo: Bool) -> BrokerInput {
        let listening = readListeningTable()
        // Attachment is looked at on the timer only, at most as often as Core says: it walks
        // every established connection, not just the listeners.
        var connected: Set<UInt16>?
        let now = Clock.monotonicSeconds()
        if connectedToo, listening != nil, let every = schedule.connectedInterval,
            now - lastAttachmentCheck >= every * 0.9
        {
            lastAttachmentCheck = now
            connected = probe.connectedPorts()
        }
        return .probed(
            listening: listening?.ports, connected: connected,
            hosts: listening.map { readHosts(schedule.queries, listing: $0.sockets) } ?? [:])
    }

    /// Follows what Core said (`.reschedule`): moves the timer to the next probe (`interval`
    /// from now) or `deadline` (monotonic), whichever is first; parked when there is neither.
    func reschedule(_ schedule: ProbeSchedule) {
        self.schedule = schedule
        let now = Clock.monotonicSeconds()
        var fireAt: Double?
        if let interval = schedule.interval { fireAt = now + interval }
        if let deadline = schedule.deadline { fireAt = min(fireAt ?? deadline, deadline) }
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

    /// Creates the one timer, armed once shortly after: Dispatch opens its timer descriptor
    /// (timerfd) the first time it programs a deadline still in the future, and that must not
    /// first happen when descriptors have run out. (A deadline of `.now()` has passed by the
    /// time Dispatch looks at it and opened nothing: the timerfd then came with the first Wait,
    /// after a test's baseline of descriptors, or at exhaustion.)
    func makeTimer() {
        guard timer == nil else { return }
        let source = DispatchSource.makeTimerSource(queue: queue)
        source.setEventHandler { [self] in timerFired() }
        timer = source
        source.schedule(deadline: .now() + Self.firstShot)
        timerFireAt = Clock.monotonicSeconds() + Self.firstShot
        source.resume()
    }

    /// Seconds to the first shot: far enough ahead to be programmed, not to be noticed.
    static let firstShot = 0.05

    private func timerFired() {
        timerFireAt = nil
        // A deadline alone wakes Core without reading the kernel.
        deliver(
            schedule.interval == nil
                ? .probed(listening: nil, connected: nil) : reading(connectedToo: true))
    }

    /// The timer as a test drives it: `wantsConnected` asks for attachment at Core's slow pace.
    func reschedule(interval: Double?, deadline: Double?, wantsConnected: Bool) {
        reschedule(
            ProbeSchedule(
                interval: interval, deadline: deadline,
                connectedInterval: wantsConnected ? Broker.slowProbeInterval : nil, queries: []))
    }
}
