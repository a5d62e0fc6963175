import AttachCore
import AttachProtocol
import Testing

extension Harness {
    /// A project with an attach port and no debug port: hosts say (or show) their own.
    mutating func addAttach(_ name: String, attachPort: Int = 5678, timeout: Double? = nil) {
        let added = request(
            .addProject(
                AddProjectParameters(
                    name: name, debugPort: nil, readyTimeout: timeout,
                    attachPort: attachPort)))
        _ = added + send(.listenersOpened(project: name, error: nil))
    }

    /// What the probe saw of the hosts' trees, twice, a settle apart: a discovered port is the
    /// session's once it held that long.
    mutating func seen(_ hosts: [String: HostListening]) -> [BrokerAction] {
        _ = send(.probed(listening: [], connected: nil, hosts: hosts))
        advance(Broker.discoverySettle)
        return send(.probed(listening: [], connected: nil, hosts: hosts))
    }

    /// A host on rendezvous connection `connection` with pid `pid`, READY=1 said, no port.
    mutating func host(_ connection: ConnectionID, _ project: String, pid: Int) -> String {
        _ = line(connection, project, "MAINPID=\(pid)")
        _ = line(connection, project, "READY=1")
        return broker.sessionInfos(project: project).last!.id
    }
}

extension Array where Element == BrokerAction {
    var relayTargets: [ConnectionID: String] {
        var out: [ConnectionID: String] = [:]
        for case .connectRelay(let c, let s, _, _) in self { out[c] = s }
        return out
    }
}

@Suite("Attach endpoint")
struct AttachTests {
    @Test("an attach-port project needs no debug port; a project without either is refused")
    func attachPortMakesDebugPortOptional() {
        var h = Harness()
        let refused = h.request(.addProject(AddProjectParameters(name: "nope", debugPort: nil)))
        #expect(refused.responses.values.first?.errorName == "org.varlink.service.InvalidParameter")
        h.addAttach("blend")
        #expect(h.broker.projectInfo("blend")?.attachPort == 5678)
        #expect(h.broker.projectInfo("blend")?.debugPort == nil)
        // attachd listens on 5678 for blend's IDE: no host of another project can (issue 20).
        let clash = h.request(.addProject(AddProjectParameters(name: "other", debugPort: 5678)))
        #expect(clash.responses.values.first?.errorName == "io.attachd.Broker.AddressInUse")
        let sameAttach = h.request(.addProject(AddProjectParameters(name: "third", debugPort: nil, attachPort: 5678)))
        #expect(sameAttach.responses.values.first?.errorName == "io.attachd.Broker.AddressInUse")
    }

    @Test("an IDE that connects first is held, then relayed to the session whose own tree listens (port discovered)")
    func heldThenRelayed() {
        var h = Harness()
        h.addAttach("blend")
        #expect(h.send(.ideConnected(70, project: "blend", peer: "127.0.0.1:50000")).isEmpty)
        let id = h.host(1, "blend", pid: 4242)
        #expect(h.broker.ownershipQueries == [OwnershipQuery(session: id, pid: 4242, port: nil)])
        // Discovered, but not at once: a first sighting may be a host's short-lived internal port.
        #expect(h.send(.probed(listening: [40001], connected: nil, hosts: [id: .listening(port: 40001)])).isEmpty)
        #expect(h.broker.session(id)?.debugPort == nil)
        h.advance(Broker.discoverySettle)
        let ready = h.send(.probed(listening: [40001], connected: nil, hosts: [id: .listening(port: 40001)]))
        #expect(ready.contains(.connectRelay(70, session: id, host: "127.0.0.1", port: 40001)))
        #expect(h.broker.session(id)?.debugPort == 40001)
        #expect(h.send(.relayUp(70)).eventKinds == [.relayStarted])
        #expect(h.broker.session(id)?.relays?.map(\.peer) == ["127.0.0.1:50000"])
        let ended = h.send(.relayEnded(70, reason: "IDE closed", bytesToHost: 10, bytesToIDE: 20))
        guard case .emit(let event) = ended.first else {
            Issue.record("no event")
            return
        }
        #expect(event.kind == .relayEnded && event.relay?.bytesToIDE == 20 && event.relay?.endReason == "IDE closed")
    }

    @Test("someone else's listener on the port never makes the session ready, and says who")
    func heldByOther() {
        var h = Harness()
        h.addAttach("blend")
        _ = h.line(1, "blend", "DEBUG_PORT=41000")
        let id = h.host(1, "blend", pid: 4242)
        let actions = h.send(
            .probed(
                listening: [41000], connected: nil,
                hosts: [id: .heldByOther(port: 41000, holder: "pid 77 (docker-proxy)")]))
        #expect(actions.eventKinds.isEmpty)
        #expect(h.broker.session(id)?.state == .pending)
        #expect(h.broker.session(id)?.problem == "port 41000 is held by pid 77 (docker-proxy), not by the host")
        _ = h.send(.probed(listening: [41000], connected: nil, hosts: [id: .listening(port: 41000)]))
        #expect(h.broker.session(id)?.state == .ready)
        #expect(h.broker.session(id)?.problem == nil)
    }

    @Test("a host the probe finds exited ends its session at once, never falling back to pending on the way")
    func exitedHostEnds() {
        var h = Harness()
        h.addAttach("blend")
        _ = h.line(1, "blend", "DEBUG_PORT=41000")
        let id = h.host(1, "blend", pid: 4242)
        _ = h.send(.probed(listening: [41000], connected: nil, hosts: [id: .listening(port: 41000)]))
        #expect(h.broker.session(id)?.state == .ready)
        // Its exit is seen by the probe before the pidfd or the rendezvous connection tells.
        let actions = h.send(.probed(listening: [], connected: nil, hosts: [id: .exited]))
        #expect(actions.eventKinds == [.sessionEnded])
        #expect(h.broker.session(id)?.state == .ended)
        #expect(h.broker.session(id)?.endReason == "process 4242 exited")
        #expect(actions.contains(.unwatchProcess(session: id)))
    }

    @Test("new IDE connections go to the newest ready session without an IDE, else the newest; a pin overrides")
    func choosingTheSession() {
        var h = Harness()
        h.addAttach("blend")
        let first = h.host(1, "blend", pid: 100)
        _ = h.seen([first: .listening(port: 40001)])
        h.advance(1)
        let second = h.host(2, "blend", pid: 200)
        _ = h.seen([first: .listening(port: 40001), second: .listening(port: 40002)])
        #expect(h.send(.ideConnected(70, project: "blend", peer: "a")).relayTargets == [70: second])
        #expect(h.send(.ideConnected(71, project: "blend", peer: "b")).relayTargets == [71: first])
        #expect(h.send(.ideConnected(72, project: "blend", peer: "c")).relayTargets == [72: second])
        _ = h.request(.selectSession(SelectSessionParameters(project: "blend", session: first)))
        #expect(h.broker.projectInfo("blend")?.selectedSession == first)
        #expect(h.send(.ideConnected(73, project: "blend", peer: "d")).relayTargets == [73: first])
        let unknown = h.request(.selectSession(SelectSessionParameters(project: "blend", session: "blend-999")))
        #expect(unknown.responses.values.first?.errorName == "io.attachd.Broker.SessionNotFound")
        // The pinned session ends: its relays close and the pin goes.
        let ended = h.send(.hostClosed(1, project: "blend", receivedBytes: true))
        #expect(
            ended.contains(.closeAttach(71, reason: "session \(first) ended: host closed the rendezvous connection")))
        #expect(
            ended.contains(.closeAttach(73, reason: "session \(first) ended: host closed the rendezvous connection")))
        #expect(h.broker.projectInfo("blend")?.selectedSession == nil)
    }

    @Test("a held IDE connection is closed after the project's ready timeout")
    func heldTimesOut() {
        var h = Harness()
        h.addAttach("blend", timeout: 30)
        _ = h.send(.ideConnected(70, project: "blend", peer: "a"))
        #expect(h.broker.nextDeadline == h.clock + 30)
        h.advance(30)
        #expect(h.tick([]) == [.closeAttach(70, reason: "no session of blend became ready within 30 s")])
        #expect(h.tick([]).isEmpty)
    }

    @Test("a debug server that refuses the relay sends its session back to pending and the IDE is held again")
    func refusedRelay() {
        var h = Harness()
        h.addAttach("blend")
        let id = h.host(1, "blend", pid: 100)
        _ = h.seen([id: .listening(port: 40001)])
        _ = h.send(.ideConnected(70, project: "blend", peer: "a"))
        let failed = h.send(.relayFailed(70, reason: "connection refused"))
        #expect(failed.eventKinds == [.sessionPending])
        #expect(failed.relayTargets.isEmpty)
        // Not at once (a server that keeps refusing is not hammered), but after a short wait.
        let soon = h.send(.probed(listening: [], connected: nil, hosts: [id: .listening(port: 40001)]))
        #expect(soon.relayTargets.isEmpty)
        #expect(h.broker.nextDeadline == h.clock + Broker.relayRetryDelay)
        h.advance(Broker.relayRetryDelay)
        _ = h.tick([])
        // Its port was discovered: pending again, it is looked for anew.
        let again = h.seen([id: .listening(port: 40001)])
        #expect(again.relayTargets == [70: id])
        // A second refusal waits twice as long.
        _ = h.send(.relayFailed(70, reason: "connection refused"))
        #expect(h.broker.nextDeadline == h.clock + 2 * Broker.relayRetryDelay)
    }

    @Test("removing the project closes its IDE connections")
    func removeClosesAttaches() {
        var h = Harness()
        h.addAttach("blend")
        _ = h.send(.ideConnected(70, project: "blend", peer: "a"))
        let removed = h.request(.removeProject("blend"))
        #expect(removed.contains(.closeAttach(70, reason: "project blend removed")))
        #expect(
            h.send(.ideConnected(71, project: "blend", peer: "a")) == [
                .closeAttach(71, reason: "project blend was removed")
            ])
    }
}
