import AttachCore
import AttachProtocol
import Testing

@Suite("Relays adopted after a restart are Core's too")
struct AdoptedRelayTests {
    @Test("an adopted relay is held to no session, never dispatched, closed with its project, and its end is told")
    func adopted() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        #expect(h.send(.relayAdopted(7, project: "maxtools", peer: "127.0.0.1:40000")).isEmpty)
        // A session becoming ready does not take it: it is not held.
        _ = h.line(1, "maxtools", "READY=1")
        #expect(
            !h.tick([5678]).contains { if case .connectRelay(7, _, _, _) = $0 { return true } else { return false } })
        let removed = h.request(.removeProject("maxtools"))
        #expect(removed.contains(.closeAttach(7, reason: "project maxtools removed")))
        let ended = h.send(.relayEnded(7, reason: "project maxtools removed", bytesToHost: 10, bytesToIDE: 20))
        #expect(ended.eventKinds == [.relayEnded])
        #expect(h.send(.relayEnded(7, reason: "again", bytesToHost: 0, bytesToIDE: 0)).isEmpty, "told once")
    }

    @Test("Core and the room disagreeing ends in relayEnded: a connecting relay Core hears ended is forgotten")
    func notHeldAfterAll() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        _ = h.line(1, "maxtools", "READY=1")
        _ = h.tick([5678])
        let held = h.send(.ideConnected(9, project: "maxtools", peer: "127.0.0.1:40001"))
        #expect(held.contains { if case .connectRelay(9, _, _, _) = $0 { return true } else { return false } })
        #expect(
            h.send(.relayEnded(9, reason: "the IDE connection was no longer held", bytesToHost: 0, bytesToIDE: 0))
                .eventKinds == [.relayEnded])
        #expect(h.broker.sessionInfos(project: "maxtools").first?.relays == nil)
    }
}
