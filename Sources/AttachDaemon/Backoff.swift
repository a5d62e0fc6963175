/// How long to wait before trying something again that failed: starts at `first`, doubles on
/// every failure up to `limit`, and starts over after a success. The one backoff of the daemon:
/// listeners that could not bind, remote links that went down, relays refused.
struct Backoff: Sendable, Equatable {
    let first: Double
    let limit: Double
    /// The delay the next failure waits.
    private(set) var current: Double

    init(first: Double, limit: Double) {
        precondition(first > 0 && limit >= first, "a backoff needs 0 < first <= limit")
        self.first = first
        self.limit = limit
        current = first
    }

    /// A failure: the delay to wait now; the one after it is twice as long (up to `limit`).
    mutating func next() -> Double {
        defer { current = min(current * 2, limit) }
        return current
    }

    /// A success: the next failure waits `first` again.
    mutating func reset() { current = first }

    /// A listener that cannot bind: tried again after 1 s, 2 s, 4 s… up to 30 s.
    static var listener: Backoff { Backoff(first: 1, limit: 30) }
}
