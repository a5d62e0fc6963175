import AttachCore
import AttachProtocol
import Testing

/// A host whose keeper announces it again: after attachd went away (a new attachd, the id it
/// had asked for) or to an attachd that still has it (same pid and port: the same session).
@Suite struct AnnounceAgainTests {
    @Test("The same live pid and port is the same session: its id, its readiness, no new event")
    func samePidAndPort() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        _ = h.request(.announce(AnnounceParameters(project: "maxtools", debugPort: 6100, pid: 99)))
        #expect(h.tick([6100]).eventKinds == [.sessionReady])
        let again = h.request(
            .announce(AnnounceParameters(project: "maxtools", debugPort: 6100, pid: 99, status: "back")))
        #expect(again.eventKinds == [])
        #expect(again.responses.values.first?.session?.id == "maxtools-1")
        #expect(again.responses.values.first?.session?.state == .ready)
        #expect(h.broker.session("maxtools-1")?.status == "back")
        // Another port, or another pid, is another host.
        let other = h.request(.announce(AnnounceParameters(project: "maxtools", debugPort: 6101, pid: 99)))
        #expect(other.responses.values.first?.session?.id == "maxtools-2")
        let third = h.request(.announce(AnnounceParameters(project: "maxtools", debugPort: 6100, pid: 100)))
        #expect(third.responses.values.first?.session?.id == "maxtools-3")
    }

    @Test("The id a host had is kept by a new attachd when free, and well-formed for the project")
    func keptID() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        let kept = h.request(
            .announce(
                AnnounceParameters(
                    project: "maxtools", debugPort: 6100, pid: 99,
                    session: "maxtools-1765000000")))
        #expect(kept.responses.values.first?.session?.id == "maxtools-1765000000")
        #expect(kept.eventKinds == [.sessionStarted])
        #expect(kept.effects == [.watchProcess(session: "maxtools-1765000000", pid: 99), .probeNow])
        // The live session it names is that host (its helper made it its own: another pid).
        let named = h.request(
            .announce(
                AnnounceParameters(
                    project: "maxtools", debugPort: 6200, pid: 7,
                    session: "maxtools-1765000000")))
        #expect(named.responses.values.first?.session?.id == "maxtools-1765000000")
        #expect(named.eventKinds == [])
        // Of another project, or not an id: a new one.
        for asked in ["other-7", "maxtools-", "maxtools-12a", "maxtools-1/2"] {
            let got = h.request(
                .announce(AnnounceParameters(project: "maxtools", debugPort: 6200, pid: 7, session: asked)))
            let id = got.responses.values.first?.session?.id
            #expect(id != asked && id?.hasPrefix("maxtools-") == true, "asked \(asked), got \(id ?? "nil")")
            _ = h.send(.processExited(session: id!))
        }
    }
}
