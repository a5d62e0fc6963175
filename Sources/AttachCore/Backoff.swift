/// How long to wait before trying something again that failed: starts at `first`, doubles on
/// every failure up to `limit`, and starts over after a success. The one backoff of attachd:
/// listeners that could not bind (`listener`), remote links that went down (`remoteLink`), debug
/// servers that refused a relay (`relayRefused`, in Core).
public struct Backoff: Sendable, Equatable {
    public let first: Double
    public let limit: Double
    /// The delay the next failure waits.
    public private(set) var current: Double

    public init(first: Double, limit: Double) {
        precondition(first > 0 && limit >= first, "a backoff needs 0 < first <= limit")
        self.first = first
        self.limit = limit
        current = first
    }

    /// A failure: the delay to wait now; the one after it is twice as long (up to `limit`).
    public mutating func next() -> Double {
        defer { current = min(current * 2, limit) }
        return current
    }

    /// A success: the next failure waits `first` again.
    public mutating func reset() { current = first }

    /// A listener that cannot bind: tried again after 1 s, 2 s, 4 s… up to 30 s.
    public static var listener: Backoff { Backoff(first: 1, limit: 30) }
    /// A remote link that went down: started again after 0.5 s, 1 s… up to 8 s.
    public static var remoteLink: Backoff { Backoff(first: 0.5, limit: 8) }
    /// A debug server that refused a relay: its session is not ready again for 0.25 s, 0.5 s…
    /// up to 8 s, so that a server that keeps refusing is not hammered.
    public static var relayRefused: Backoff { Backoff(first: Broker.relayRetryDelay, limit: Broker.relayRetryMaxDelay) }
}
