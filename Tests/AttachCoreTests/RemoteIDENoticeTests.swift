import AttachCore
import AttachProtocol
import Testing

extension Array where Element == BrokerAction {
    /// The `IDEAttached` notices for remote attachds among the actions.
    var remoteIDENotices: [String] {
        compactMap {
            if case .tellRemoteIDE(let project, let session, let attached) = $0 {
                return "\(project) \(session) \(attached ? "attached" : "detached")"
            }
            return nil
        }
    }
}

@Suite("The remote host hears of its IDE")
struct RemoteIDENoticeTests {
    @Test("the workstation tells the remote attachd of the first relay to a mirror and after the last")
    func workstationTells() {
        var h = Harness()
        h.addRemote()
        _ = h.send(.remoteSessions(project: "farm", [h.remoteSession("farm-9", .ready)]))
        _ = h.send(.ideConnected(70, project: "farm", peer: "p"))
        #expect(h.send(.relayUp(70)).remoteIDENotices == ["farm farm-9 attached"])
        _ = h.send(.ideConnected(71, project: "farm", peer: "p"))
        #expect(h.send(.relayUp(71)).remoteIDENotices == [])
        #expect(h.send(.relayEnded(70, reason: "IDE closed", bytesToHost: 1, bytesToIDE: 1)).remoteIDENotices == [])
        #expect(h.send(.relayEnded(71, reason: "IDE closed", bytesToHost: 1, bytesToIDE: 1)).lines == [])
        _ = h.send(.ideConnected(72, project: "farm", peer: "p"))
        #expect(h.send(.relayUp(72)).remoteIDENotices == ["farm farm-9 attached"])
        // A new link (after a loss): the remote attachd hears again of the IDE still relayed.
        _ = h.send(.remoteLost(project: "farm", reason: "ssh ended"))
        _ = h.send(.remoteConnected(project: "farm", version: "0.9.0"))
        let again = h.send(.remoteSessions(project: "farm", [h.remoteSession("farm-9", .ready)]))
        #expect(again.remoteIDENotices == ["farm farm-9 attached"])
        #expect(
            h.send(.relayEnded(72, reason: "IDE closed", bytesToHost: 1, bytesToIDE: 1)).remoteIDENotices
                == ["farm farm-9 detached"])
    }

    @Test("local relays to a local session tell no remote attachd")
    func localStaysLocal() {
        var h = Harness()
        h.addAttach("blend")
        _ = h.relayedHost(1, "blend", port: 41000, ide: 70, lines: ["NOTIFY_ATTACH=1"])
        #expect(h.send(.relayUp(70)).remoteIDENotices == [])
    }

    @Test("the remote host hears ATTACHED=1 / DETACHED=1 counting other machines' IDEs with its own")
    func remoteHostHears() {
        var h = Harness()
        h.addAttach("blend")
        let id = h.relayedHost(1, "blend", port: 41000, ide: 70, lines: ["NOTIFY_ATTACH=1"])
        let workstation = h.token(connection: 500)
        let told = h.request(.ideAttached(IDEAttachedParameters(session: id, attached: true)), token: workstation)
        #expect(told.lines == ["ATTACHED=1"])
        #expect(told.responses[workstation] == .success(.empty))
        // A local IDE too: no second ATTACHED=1, and DETACHED=1 only after both are gone.
        #expect(h.send(.relayUp(70)).lines == [])
        #expect(
            h.request(
                .ideAttached(IDEAttachedParameters(session: id, attached: false)), token: h.token(connection: 500)
            )
            .lines == [])
        #expect(h.send(.relayEnded(70, reason: "IDE closed", bytesToHost: 1, bytesToIDE: 1)).lines == ["DETACHED=1"])
        // Said twice by the same link: still one IDE.
        _ = h.request(.ideAttached(IDEAttachedParameters(session: id, attached: true)), token: h.token(connection: 500))
        #expect(
            h.request(.ideAttached(IDEAttachedParameters(session: id, attached: true)), token: h.token(connection: 500))
                .lines == [])
        // A second workstation, then the first one's link is lost: DETACHED=1 once both are gone.
        _ = h.request(.ideAttached(IDEAttachedParameters(session: id, attached: true)), token: h.token(connection: 501))
        #expect(h.send(.controlClosed(500)).lines == [])
        #expect(h.send(.controlClosed(501)).lines == ["DETACHED=1"])
    }

    @Test("a host that asks while another machine's IDE is relayed to it hears ATTACHED=1 at once")
    func lateAsk() {
        var h = Harness()
        h.addAttach("blend")
        let id = h.relayedHost(1, "blend", port: 41000, ide: 70)
        #expect(
            h.request(.ideAttached(IDEAttachedParameters(session: id, attached: true)), token: h.token(connection: 500))
                .lines == [])
        #expect(h.line(1, "blend", "NOTIFY_ATTACH=1").lines == ["OK session=\(id)", "ATTACHED=1"])
    }

    @Test("IDEAttached for a session that is not there is an error and changes nothing")
    func unknownSession() {
        var h = Harness()
        h.addAttach("blend")
        let t = h.token(connection: 500)
        let answer = h.request(.ideAttached(IDEAttachedParameters(session: "blend-404", attached: true)), token: t)
        #expect(answer.responses[t]?.errorName == "io.attachd.Broker.SessionNotFound")
        #expect(h.send(.controlClosed(500)).isEmpty)
    }
}
