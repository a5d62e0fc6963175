import Synchronization

/// A relay's byte counts, written by the relay loop after every pump and read from anywhere
/// (the daemon's queue, for `ListSessions` and `relayEnded`) without waiting for the loop.
final class RelayCounters: Sendable {
    private let ide: Atomic<UInt64>
    private let host: Atomic<UInt64>

    init(fromIDE: UInt64 = 0, fromHost: UInt64 = 0) {
        ide = Atomic(fromIDE)
        host = Atomic(fromHost)
    }

    /// Bytes relayed from the IDE to the host so far.
    var fromIDE: UInt64 { ide.load(ordering: .relaxed) }
    /// Bytes relayed from the host to the IDE so far.
    var fromHost: UInt64 { host.load(ordering: .relaxed) }

    func store(fromIDE: UInt64, fromHost: UInt64) {
        ide.store(fromIDE, ordering: .relaxed)
        host.store(fromHost, ordering: .relaxed)
    }
}
