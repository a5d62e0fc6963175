/// When the daemon must look at the kernel next, and what for: Core's answer after each batch
/// of inputs (`Broker.schedule`), which the daemon's one timer follows.
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
    /// The next probe and wake-up, read once after every batch.
    public var schedule: ProbeSchedule {
        ProbeSchedule(interval: probeInterval, deadline: nextDeadline,
                      connectedInterval: wantsConnectedPorts ? Self.slowProbeInterval : nil, queries: ownershipQueries)
    }
}
