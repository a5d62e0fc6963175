import AttachCore
import AttachProtocol
import Testing

/// `.lookedAt`: what the daemon saw when, asked to probe now, it looked only at the hosts it had
/// not yet seen listening (through a listing of their ports alone).
@Suite struct LookedAtTests {
    /// A project with a debug port and a host announced on `port` with `pid`; its id.
    private func announced(_ h: inout Harness, port: Int, pid: Int) -> String {
        let reply = h.send(
            .call(.announce(AnnounceParameters(project: "maxtools", debugPort: port, pid: pid)), token: h.token()))
        return reply.responses.values.first!.session!.id
    }

    @Test("A host seen listening becomes ready, and the project's waiter is answered with it")
    func readies() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        let waiter = h.token()
        _ = h.send(.call(.wait(WaitParameters(project: "maxtools", timeout: 10)), token: waiter))
        let id = announced(&h, port: 6100, pid: 99)
        let looked = h.send(.lookedAt(hosts: [id: .listening(port: 6100)]))
        #expect(looked.eventKinds == [.sessionReady])
        #expect(looked.responses[waiter]?.session?.id == id)
        #expect(h.broker.session(id)?.state == .ready)
    }

    @Test("Nothing is concluded about a host the look says nothing of, or one not listening")
    func concludesNothingElse() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        let first = announced(&h, port: 6100, pid: 99)
        #expect(
            h.send(.probed(listening: [6100], connected: nil, hosts: [first: .listening(port: 6100)])).eventKinds == [
                .sessionReady
            ])
        let second = announced(&h, port: 6101, pid: 99)
        // The look is about the second host only: the first stays ready though absent.
        #expect(h.send(.lookedAt(hosts: [second: .notListening])).isEmpty)
        #expect(h.broker.session(first)?.state == .ready)
        #expect(h.broker.session(second)?.state == .pending)
        // A ready host said not listening by a look is not sent back to pending either: only
        // the full probe says what stopped.
        #expect(h.send(.lookedAt(hosts: [first: .notListening])).isEmpty)
        #expect(h.broker.session(first)?.state == .ready)
        // Who holds the port instead is still said.
        _ = h.send(.lookedAt(hosts: [second: .heldByOther(port: 6101, holder: "pid 7 (nc)")]))
        #expect(h.broker.session(second)?.problem == "port 6101 is held by pid 7 (nc), not by the host")
    }

    @Test("A host found exited ends its session")
    func exited() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        let id = announced(&h, port: 6100, pid: 99)
        let looked = h.send(.lookedAt(hosts: [id: .exited]))
        #expect(looked.eventKinds == [.sessionEnded])
        #expect(h.broker.session(id)?.endReason == "process 99 exited")
    }

    @Test("Several hosts seen together become ready oldest first")
    func oldestFirst() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        let older = announced(&h, port: 6100, pid: 99)
        h.advance(1)
        let newer = announced(&h, port: 6101, pid: 98)
        let looked = h.send(.lookedAt(hosts: [newer: .listening(port: 6101), older: .listening(port: 6100)]))
        let readied = looked.compactMap { action -> String? in
            if case .emit(let event) = action, event.kind == .sessionReady { return event.session?.id }
            return nil
        }
        #expect(readied == [older, newer])
    }
}
