import AttachCore
import AttachProtocol
import Testing

extension Harness {
    /// A remote project `farm` on `render42` with attach port 5678; returns what adding it did.
    @discardableResult
    mutating func addRemote(
        _ name: String = "farm", destination: String = "me@render42:2222",
        remoteProject: String? = nil
    ) -> [BrokerAction] {
        let added = request(
            .addProject(
                AddProjectParameters(
                    name: name, debugPort: nil, attachPort: 5678,
                    remote: destination, remoteProject: remoteProject)))
        return added + send(.listenersOpened(project: name, error: nil))
    }

    /// A session as the remote attachd reports it.
    func remoteSession(_ id: String, _ state: SessionState, port: Int? = 6000, project: String = "farm") -> SessionInfo
    {
        SessionInfo(
            id: id, project: project, state: state, origin: .lines, debugHost: "127.0.0.1", debugPort: port,
            pid: 777, startedAt: 5)
    }
}

extension Array where Element == BrokerAction {
    var remoteRelays: [ConnectionID: (session: String, host: String, port: Int)] {
        var out: [ConnectionID: (String, String, Int)] = [:]
        for case .connectRemoteRelay(let c, let s, _, let host, let port) in self { out[c] = (s, host, port) }
        return out
    }
}

@Suite("Remote projects")
struct RemoteTests {
    @Test("a remote project needs an attach port and a destination ssh cannot take for an option")
    func validation() {
        var h = Harness()
        func refused(_ p: AddProjectParameters) -> String? {
            h.request(.addProject(p)).responses.values.first?.errorName
        }
        #expect(
            refused(AddProjectParameters(name: "a", debugPort: 5000, remote: "render42"))
                == "org.varlink.service.InvalidParameter")
        #expect(
            refused(AddProjectParameters(name: "a", debugPort: nil, attachPort: 5678, remote: "-oProxyCommand=x"))
                == "org.varlink.service.InvalidParameter")
        #expect(
            refused(AddProjectParameters(name: "a", debugPort: nil, attachPort: 5678, remote: "a b"))
                == "org.varlink.service.InvalidParameter")
        #expect(
            refused(
                AddProjectParameters(name: "a", debugPort: nil, attachPort: 5678, remote: "r", remoteProject: "x/y"))
                == "io.attachd.Broker.InvalidProjectName")
        #expect(
            refused(
                AddProjectParameters(name: "a", debugPort: nil, attachPort: 5678, remote: "r", remoteSocket: "rel.sock")
            ) == "org.varlink.service.InvalidParameter")
        #expect(
            refused(AddProjectParameters(name: "a", debugPort: 5000, remoteProject: "b"))
                == "org.varlink.service.InvalidParameter")
        #expect(RemoteConfig(destination: "me@render42:2222", project: "p").host == "render42")
        #expect(RemoteConfig(destination: "[::1]:22", project: "p").host == "::1")
        #expect(RemoteConfig(destination: "farmbox", project: "p").host == "farmbox")
    }

    @Test("adding a remote project opens its link once, with its saved configuration; loading does too")
    func openLink() {
        var h = Harness()
        let actions = h.addRemote(remoteProject: "farm-there")
        let remote = RemoteConfig(destination: "me@render42:2222", project: "farm-there")
        #expect(actions.effects.contains(.openRemote(project: "farm", remote)))
        #expect(h.broker.projectInfo("farm")?.remote?.state == .connecting)
        #expect(h.send(.listenersOpened(project: "farm", error: nil)).effects.isEmpty)
        #expect(h.broker.projectConfigs.first?.remote == remote)

        var reloaded = Harness()
        let loaded = reloaded.load(h.broker.projectConfigs)
        #expect(loaded.skipped.isEmpty)
        #expect(
            reloaded.send(.listenersOpened(project: "farm", error: nil)).effects == [
                .openRemote(project: "farm", remote)
            ])
    }

    @Test("a remote session ready there releases the wait here, marked remote with its remote id")
    func mirrorReleasesWait() throws {
        var h = Harness()
        h.addRemote()
        _ = h.send(.remoteConnected(project: "farm", version: "0.2.0"))
        #expect(h.broker.projectInfo("farm")?.remote?.state == .connected)
        let wait = h.token()
        #expect(h.request(.wait(WaitParameters(project: "farm", timeout: 30)), token: wait).responses.isEmpty)
        let pending = h.send(.remoteSessions(project: "farm", [h.remoteSession("farm-9", .pending)]))
        #expect(pending.eventKinds == [.sessionStarted])
        #expect(pending.responses.isEmpty)
        var embedded = h.remoteSession("farm-9", .ready)
        embedded.executable = "/opt/blender/blender"
        embedded.python = "/usr/bin/python3.11"
        let ready = h.send(.remoteSession(project: "farm", embedded))
        #expect(ready.eventKinds == [.sessionReady])
        let session = try #require(ready.responses[wait]?.session)
        #expect(session.id == "farm@render42:farm-9")
        #expect(session.origin == .remote)
        #expect(session.remoteId == "farm-9")
        #expect(session.remote == "me@render42:2222")
        #expect(session.attachPort == 5678)
        // What the helper reported there is mirrored: doctor explains it here.
        #expect(session.executable == "/opt/blender/blender")
        #expect(session.python == "/usr/bin/python3.11")
        // The local kernel has nothing to say about it: no probing, and a reading changes nothing.
        #expect(h.broker.probeInterval == nil)
        #expect(h.tick([]).isEmpty)
        #expect(h.broker.session("farm@render42:farm-9")?.state == .ready)
    }

    @Test("a held IDE connection goes through ssh to the remote debug server")
    func heldIDEGoesThroughSSH() {
        var h = Harness()
        h.addRemote()
        #expect(h.send(.ideConnected(70, project: "farm", peer: "127.0.0.1:50000")).isEmpty)
        let actions = h.send(.remoteSessions(project: "farm", [h.remoteSession("farm-9", .ready, port: 6001)]))
        let relay = actions.remoteRelays[70]
        #expect(relay?.session == "farm@render42:farm-9")
        #expect(relay?.host == "127.0.0.1")
        #expect(relay?.port == 6001)
        #expect(actions.relayTargets.isEmpty)
    }

    @Test("a relay refused on the remote machine holds the IDE, shows why, and is tried again after a back-off")
    func refusedRelayIsRetried() throws {
        var h = Harness()
        h.addRemote()
        let id = "farm@render42:farm-9"
        _ = h.send(.remoteSessions(project: "farm", [h.remoteSession("farm-9", .ready)]))
        #expect(h.send(.ideConnected(70, project: "farm", peer: "p")).remoteRelays[70]?.session == id)
        let failed = h.send(.relayFailed(70, reason: "Stdio forwarding request failed: Session open refused by peer"))
        #expect(failed.eventKinds == [.sessionPending])
        #expect(failed.remoteRelays.isEmpty)
        #expect(failed.effects.isEmpty, "the IDE connection is held, not closed")
        let refused = try #require(h.broker.session(id))
        #expect(refused.state == .pending)
        #expect(
            refused.problem
                == "the debug server on me@render42:2222 refused the relay: Stdio forwarding request failed: Session open refused by peer"
        )
        // Its machine still says ready: that does not end the back-off, nor does a wait see it.
        #expect(h.send(.remoteSession(project: "farm", h.remoteSession("farm-9", .ready))).isEmpty)
        #expect(h.broker.session(id)?.problem?.contains("refused the relay") == true)
        let wait = h.token()
        #expect(h.request(.wait(WaitParameters(project: "farm", timeout: 30)), token: wait).responses.isEmpty)
        #expect(h.broker.nextDeadline == h.clock + Broker.relayRetryDelay)
        #expect(h.tick(nil).remoteRelays.isEmpty)

        h.advance(Broker.relayRetryDelay)
        let again = h.tick(nil)
        #expect(again.remoteRelays[70]?.session == id)
        #expect(again.eventKinds == [.sessionReady])
        #expect(again.responses[wait]?.session?.id == id)
        // Refused again: twice as long.
        _ = h.send(.relayFailed(70, reason: "refused"))
        #expect(h.broker.nextDeadline == h.clock + 2 * Broker.relayRetryDelay)
        h.advance(2 * Broker.relayRetryDelay)
        #expect(h.tick(nil).remoteRelays[70]?.session == id)
        #expect(h.send(.relayUp(70)).eventKinds == [.relayStarted])
        #expect(h.broker.session(id)?.problem == nil)
        #expect(h.broker.session(id)?.state == .ready)
    }

    @Test("a refused remote session that its machine makes pending stays pending after the back-off")
    func refusedThenPendingThere() {
        var h = Harness()
        h.addRemote()
        let id = "farm@render42:farm-9"
        _ = h.send(.remoteSessions(project: "farm", [h.remoteSession("farm-9", .ready)]))
        _ = h.send(.ideConnected(70, project: "farm", peer: "p"))
        _ = h.send(.relayFailed(70, reason: "refused"))
        _ = h.send(.remoteSession(project: "farm", h.remoteSession("farm-9", .pending)))
        h.advance(Broker.relayRetryDelay)
        #expect(h.tick(nil).remoteRelays.isEmpty)
        #expect(h.broker.session(id)?.state == .pending)
        // Only its machine ends it: not the project's ready timeout here.
        h.advance(3600)
        _ = h.tick(nil)
        #expect(h.broker.session(id)?.state == .pending)
        _ = h.send(.ideConnected(71, project: "farm", peer: "p"))
        // Ready there again: tried at once.
        let ready = h.send(.remoteSession(project: "farm", h.remoteSession("farm-9", .ready)))
        #expect(ready.remoteRelays[71]?.session == id)
    }

    @Test("a lost link makes the sessions unreachable, keeps IDEs held, and the snapshot after it restores them")
    func lostAndBack() {
        var h = Harness()
        h.addRemote()
        _ = h.send(
            .remoteSessions(project: "farm", [h.remoteSession("farm-9", .ready), h.remoteSession("farm-10", .ready)]))
        let lost = h.send(.remoteLost(project: "farm", reason: "Connection to render42 closed by remote host."))
        #expect(lost.eventKinds == [.projectChanged, .sessionPending, .sessionPending])
        let info = h.broker.projectInfo("farm")
        #expect(info?.remote?.state == .unreachable)
        #expect(info?.remote?.error == "Connection to render42 closed by remote host.")
        #expect(info?.error == nil)
        #expect(h.broker.session("farm@render42:farm-9")?.state == .unreachable)
        #expect(h.broker.session("farm@render42:farm-9")?.problem?.contains("closed by remote host") == true)
        // Nothing ready: a wait waits, an IDE is held.
        #expect(
            h.request(.wait(WaitParameters(project: "farm", timeout: 0))).responses.values.first?.errorName
                == "io.attachd.Broker.Timeout")
        #expect(h.send(.ideConnected(71, project: "farm", peer: "p")).isEmpty)

        _ = h.send(.remoteConnected(project: "farm", version: "0.2.0"))
        let back = h.send(.remoteSessions(project: "farm", [h.remoteSession("farm-9", .ready)]))
        #expect(h.broker.session("farm@render42:farm-9")?.state == .ready)
        #expect(back.remoteRelays[71]?.session == "farm@render42:farm-9")
        let gone = h.broker.session("farm@render42:farm-10")
        #expect(gone?.state == .ended)
        #expect(gone?.endReason == "ended on me@render42:2222")
        #expect(h.broker.projectInfo("farm")?.remote?.error == nil)
    }

    @Test("a session ended there ends here with its reason; removing the project closes the link")
    func endedAndRemoved() {
        var h = Harness()
        h.addRemote()
        _ = h.send(.remoteSession(project: "farm", h.remoteSession("farm-9", .ready)))
        var ended = h.remoteSession("farm-9", .ended)
        ended.endReason = "process 777 exited"
        let actions = h.send(.remoteSession(project: "farm", ended))
        #expect(actions.eventKinds == [.sessionEnded])
        #expect(h.broker.session("farm@render42:farm-9")?.endReason == "ended on me@render42:2222: process 777 exited")
        // Another project's sessions and chained remote sessions are not mirrored.
        #expect(h.send(.remoteSession(project: "farm", h.remoteSession("x-1", .ready, project: "other"))).isEmpty)
        var chained = h.remoteSession("farm-11", .ready)
        chained.origin = .remote
        #expect(h.send(.remoteSession(project: "farm", chained)).isEmpty)
        let removed = h.request(.removeProject("farm"))
        #expect(removed.effects.contains(.closeRemote(project: "farm")))
    }
}
