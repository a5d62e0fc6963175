/// The daemon's hold on a `Relay` that lives on the relay loop: what the attach room (on the
/// daemon's queue) keeps per relaying IDE connection. Its commands run on the loop in the order
/// given; its byte counts are read at once, without the loop.
final class RelayHandle: Sendable {
    private let relay: RelayLoop.Bound<Relay>
    /// Bytes moved so far each way.
    let counters: RelayCounters
    /// When the relay started (CLOCK_REALTIME seconds).
    let startedAt: Double

    /// Gives `relay` (not started, nobody else's) to `loop`.
    init(_ relay: sending Relay, loop: RelayLoop) {
        counters = relay.counters
        startedAt = relay.startedAt
        self.relay = RelayLoop.Bound(relay, loop: loop)
    }

    /// Bytes relayed from the IDE to the host so far.
    var bytesFromIDE: UInt64 { counters.fromIDE }
    /// Bytes relayed from the host to the IDE so far.
    var bytesFromHost: UInt64 { counters.fromHost }

    /// Starts moving bytes; `onEnd` runs on the loop, once, when the relay ends by itself or by
    /// `close` (never after `handOver`).
    func start(onEnd: @escaping @Sendable (String) -> Void) {
        let relay = self.relay
        relay.loop.execute { context in
            relay.value.onEnd = onEnd
            relay.value.start(in: context)
        }
    }

    /// Ends the relay, dropping bytes in flight (`Relay.close`).
    func close(reason: String) {
        let relay = self.relay
        relay.loop.execute { _ in relay.value.close(reason: reason) }
    }

    /// A DAP relay that follows tells its IDE that the host ended (`Relay.sayHostEnded`);
    /// `said` hears, on the loop, whether it did.
    func sayHostEnded(_ said: @escaping @Sendable (Bool) -> Void) {
        let relay = self.relay
        relay.loop.execute { _ in said(relay.value.sayHostEnded()) }
    }

    /// Hands the relay's sockets over for an orderly restart (`Relay.handOver`); waits for the
    /// loop, at most about `timeoutMilliseconds` beyond what runs there already.
    func handOver(timeoutMilliseconds: Int32 = 1000) -> RelayHandOver? {
        let relay = self.relay
        return relay.loop.sync { _ in relay.value.handOver(timeoutMilliseconds: timeoutMilliseconds) }
    }
}
