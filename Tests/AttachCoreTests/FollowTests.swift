import AttachCore
import AttachProtocol
import FoundationEssentials
import Testing

extension Harness {
    /// A host on `connection` that says its port (and the extra lines), relayed to IDE `ide`.
    mutating func relayedHost(
        _ connection: ConnectionID, _ project: String, port: Int, ide: ConnectionID,
        lines extra: [String] = []
    ) -> String {
        for text in ["DEBUG_PORT=\(port)"] + extra + ["READY=1"] { _ = line(connection, project, text) }
        let id = broker.sessionInfos(project: project).last!.id
        _ = tick([UInt16(port)])
        _ = send(.ideConnected(ide, project: project, peer: "127.0.0.1:50000"))
        return id
    }
}

@Suite("Following the host")
struct FollowTests {
    @Test(
        "a session that ends tells its relays first (hostEnded, then closeAttach); not when following is off or the project goes"
    )
    func hostEndedBeforeClose() {
        var g = Harness()
        g.addAttach("blend")
        #expect(g.broker.projectInfo("blend")?.follow == true)
        let other = g.relayedHost(1, "blend", port: 41000, ide: 70)
        _ = g.send(.relayUp(70))
        let actions = g.request(.endSession(id: other))
        let closing = actions.effects.filter {
            switch $0 {
            case .hostEnded, .closeAttach: return true
            default: return false
            }
        }
        #expect(closing == [.hostEnded(70), .closeAttach(70, reason: "session \(other) ended: ended by EndSession")])

        let off = g.request(.setFollow(SetFollowParameters(name: "blend", follow: false)))
        #expect(off.contains(.followHosts(project: "blend", false)) && off.contains(.persistProjects))
        #expect(g.broker.projectInfo("blend")?.follow == false && g.broker.projectConfigs[0].follow == false)
        let third = g.relayedHost(2, "blend", port: 41001, ide: 71)
        _ = g.send(.relayUp(71))
        #expect(!g.request(.endSession(id: third)).contains(.hostEnded(71)))

        _ = g.request(.setFollow(SetFollowParameters(name: "blend", follow: true)))
        let fourth = g.relayedHost(3, "blend", port: 41002, ide: 72)
        _ = g.send(.relayUp(72))
        #expect(g.broker.session(fourth) != nil)
        #expect(!g.request(.removeProject("blend")).contains(.hostEnded(72)))
    }

    @Test("following is for attach-port projects; old projects.json entries load as on")
    func configuration() throws {
        var h = Harness()
        h.add("plain", debugPort: 5000)
        #expect(h.broker.projectInfo("plain")?.follow == nil)
        let refused = h.request(.setFollow(SetFollowParameters(name: "plain", follow: false)))
        #expect(refused.responses.values.first?.errorName == "org.varlink.service.InvalidParameter")
        let old = #"{"name":"blend","debugHost":"127.0.0.1","attachPort":5678,"readyTimeout":120,"allowRemote":false}"#
        let config = try JSONDecoder().decode(ProjectConfig.self, from: Data(old.utf8))
        #expect(config.follow == nil && config.isFollowing)
        let noFollow = try ProjectConfig.validated(
            AddProjectParameters(name: "x", debugPort: nil, attachPort: 5678, follow: false))
        #expect(!noFollow.isFollowing)
    }

    @Test("ATTACHED=1 and DETACHED=1 go to a host that said NOTIFY_ATTACH=1, once per first and last IDE")
    func notice() {
        var h = Harness()
        h.addAttach("blend")
        let id = h.relayedHost(1, "blend", port: 41000, ide: 70, lines: ["NOTIFY_ATTACH=1"])
        #expect(h.send(.relayUp(70)).lines == ["ATTACHED=1"])
        _ = h.send(.ideConnected(71, project: "blend", peer: "127.0.0.1:50001"))
        #expect(h.send(.relayUp(71)).lines == [])
        #expect(h.send(.relayEnded(70, reason: "IDE closed", bytesToHost: 1, bytesToIDE: 1)).lines == [])
        #expect(h.send(.relayEnded(71, reason: "IDE closed", bytesToHost: 1, bytesToIDE: 1)).lines == ["DETACHED=1"])
        #expect(h.broker.session(id) != nil)

        var quiet = Harness()
        quiet.addAttach("blend")
        _ = quiet.relayedHost(1, "blend", port: 41000, ide: 70)
        #expect(quiet.send(.relayUp(70)).lines == [])
        #expect(quiet.send(.relayEnded(70, reason: "IDE closed", bytesToHost: 1, bytesToIDE: 1)).lines == [])

        var late = Harness()
        late.addAttach("blend")
        let lateID = late.relayedHost(1, "blend", port: 41000, ide: 70)
        _ = late.send(.relayUp(70))
        #expect(late.line(1, "blend", "NOTIFY_ATTACH=1").lines == ["OK session=\(lateID)", "ATTACHED=1"])
        #expect(late.send(.relayEnded(70, reason: "IDE closed", bytesToHost: 1, bytesToIDE: 1)).lines == ["DETACHED=1"])
    }

    @Test("a host that asks while an IDE is relayed to it hears ATTACHED=1 at once, after the OK")
    func lateNotice() {
        var h = Harness()
        h.addAttach("blend")
        let id = h.relayedHost(1, "blend", port: 41000, ide: 70)
        #expect(h.send(.relayUp(70)).lines == [])
        let asked = h.line(1, "blend", "NOTIFY_ATTACH=1")
        #expect(asked.lines == ["OK session=\(id)", "ATTACHED=1"])
        #expect(h.send(.relayEnded(70, reason: "IDE closed", bytesToHost: 1, bytesToIDE: 1)).lines == ["DETACHED=1"])
    }
}
