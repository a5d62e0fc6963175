/// When the daemon must look at the kernel next, and what for: Core says it with
/// `BrokerAction.reschedule` whenever it changes, and the daemon's one timer follows it.
/// Deadlines are absolute times on Core's clock (monotonic), so only a change of state moves
/// them; the interval is counted from when the timer is set.
public struct ProbeSchedule: Sendable, Equatable {
    /// Read LISTEN state this often; nil when nothing needs it.
    public var interval: Double?
    /// Wake by this monotonic time at the latest (a waiter, a pending session, a held IDE
    /// connection times out, or a refusal's back-off ends); nil when nothing will.
    public var deadline: Double?
    /// Read the ports of ESTABLISHED connections too (who is attached), at most this often.
    public var connectedInterval: Double?
    /// Ask each host's own process tree these.
    public var queries: [OwnershipQuery]

    public init(interval: Double?, deadline: Double?, connectedInterval: Double?, queries: [OwnershipQuery]) {
        self.interval = interval
        self.deadline = deadline
        self.connectedInterval = connectedInterval
        self.queries = queries
    }

    /// Nothing to look at, nothing to wake for: the timer is parked.
    public static let idle = ProbeSchedule(interval: nil, deadline: nil, connectedInterval: nil, queries: [])
}

extension Broker {
    /// The schedule to say at the end of a batch: the current one when it is not the one said
    /// last (remembered as said), nil when the daemon's timer already follows it.
    mutating func rescheduled() -> ProbeSchedule? {
        let current = schedule
        guard current != saidSchedule else { return nil }
        saidSchedule = current
        return current
    }

    /// The next probe and wake-up as of now: one pass over the sessions. The daemon learns it
    /// from `.reschedule`; tests and the queries (`probeInterval`, `nextDeadline`,
    /// `ownershipQueries`) read it here.
    public var schedule: ProbeSchedule {
        var interval: Double?
        var deadline: Double?
        func want(_ seconds: Double) { interval = min(interval ?? seconds, seconds) }
        func wake(_ time: Double) { deadline = min(deadline ?? time, time) }
        var watchesAttachment = false
        var queries: [OwnershipQuery] = []
        for session in sessions.values {
            if let until = session.refusedUntil { wake(until) }
            if session.isPending { wake(session.readyDeadline) }
            // Whose readiness depends on their own process tree: a pid, waiting to be ready or
            // ready now.
            if let pid = session.info.pid, pid > 0,
                (session.isPending && session.readyClaimed) || session.info.state.isListening
            {
                queries.append(
                    OwnershipQuery(
                        session: session.info.id, pid: Int32(pid),
                        port: session.isDiscovering ? nil : session.port))
            }
            // A remote session's readiness is decided on its own machine.
            if session.isMirror { continue }
            if session.isPending && session.readyClaimed {
                want(Self.fastProbeInterval)
            } else if session.info.state.isListening, needsWatching(session) {
                // Slowly while ready: a bare session ends with its port, and any ready session
                // is watched for a client attaching.
                want(Self.slowProbeInterval)
                watchesAttachment = true
            }
        }
        for project in projects.values where project.handoff.awaitsReclaim {
            want(Self.handoffProbeInterval)
        }
        for waiter in waiters.values { wake(waiter.deadline) }
        if let held = nextHeldDeadline { wake(held) }
        return ProbeSchedule(
            interval: interval, deadline: deadline,
            connectedInterval: watchesAttachment ? Self.slowProbeInterval : nil,
            // In the sessions' own order: sorting a thousand ids after every input cost more
            // than the rest of the pass, and two schedules of the same sessions still compare
            // equal (a dictionary's order changes only when it does).
            queries: queries)
    }
}
