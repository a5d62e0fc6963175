import AttachCore
import AttachProtocol
import Testing

@Suite("Projects")
struct ProjectRequestTests {
    @Test("adding a project opens its listeners, saves, and answers with the project")
    func addProject() {
        var h = Harness()
        let actions = h.add("maxtools", debugPort: 5678, rendezvousPort: 5678)
        #expect(actions.effects == [.openListeners(project: "maxtools"), .persistProjects])
        #expect(actions.eventKinds == [.projectAdded])
        guard case .success(.project(let info)) = actions.responses.values.first else {
            Issue.record("no project in \(actions)")
            return
        }
        #expect(info.rendezvousSocket == "/run/attachd/projects/maxtools.sock")
        #expect(info.debugHost == "127.0.0.1")
        #expect(info.readyTimeout == 120)
    }

    @Test(
        "invalid requests are refused with the error a client can act on",
        arguments: [
            (AddProjectParameters(name: "bad/name", debugPort: 5678), "io.attachd.Broker.InvalidProjectName"),
            (AddProjectParameters(name: "a\u{0}b", debugPort: 5678), "io.attachd.Broker.InvalidProjectName"),
            (
                AddProjectParameters(name: String(repeating: "x", count: 65), debugPort: 5678),
                "io.attachd.Broker.InvalidProjectName"
            ),
            (AddProjectParameters(name: "ok", debugPort: 0), "io.attachd.Broker.InvalidPort"),
            (AddProjectParameters(name: "ok", debugPort: 99999), "io.attachd.Broker.InvalidPort"),
            (AddProjectParameters(name: "ok", debugPort: 5678, rendezvousPort: 70000), "io.attachd.Broker.InvalidPort"),
            (
                AddProjectParameters(name: "ok", debugPort: 5678, debugHost: "example.com"),
                "org.varlink.service.InvalidParameter"
            ),
            (
                AddProjectParameters(name: "ok", debugPort: 5678, readyTimeout: -1),
                "org.varlink.service.InvalidParameter"
            ),
        ])
    func invalidAdd(params: AddProjectParameters, expected: String) {
        var h = Harness()
        let actions = h.request(.addProject(params))
        #expect(actions.count == 1)
        #expect(actions.responses.values.first?.errorName == expected)
        #expect(h.broker.projectConfigs.isEmpty)
    }

    @Test("a second project may not take a rendezvous port another one uses, nor an existing name")
    func conflicts() {
        var h = Harness()
        h.add("one", debugPort: 5678, rendezvousPort: 6000)
        #expect(
            h.add("two", debugPort: 5679, rendezvousPort: 6000).responses.values.first?.errorName
                == "io.attachd.Broker.AddressInUse")
        #expect(h.add("one", debugPort: 5679).responses.values.first?.errorName == "io.attachd.Broker.ProjectExists")
    }

    @Test(
        "a port another project uses, or the project itself, is refused with its owner, its role and the option to change",
        arguments: [
            // (new project, expected port, project, role, option)
            (AddProjectParameters(name: "maxtools", debugPort: 5678), 5678, "blend", "attach", "--debug-port"),
            (
                AddProjectParameters(name: "x", debugPort: 6001, rendezvousPort: 5678), 5678, "blend", "attach",
                "--rendezvous-port"
            ),
            (
                AddProjectParameters(name: "x", debugPort: 7000, attachPort: 6000), 6000, "article", "rendezvous",
                "--attach-port"
            ),
            (
                AddProjectParameters(name: "x", debugPort: nil, attachPort: 6001), 6001, "article", "debug",
                "--attach-port"
            ),
            (AddProjectParameters(name: "x", debugPort: 6000), 6000, "article", "rendezvous", "--debug-port"),
            (
                AddProjectParameters(name: "x", debugPort: 20013, attachPort: 20013), 20013, "x", "attach",
                "--debug-port"
            ),
            (
                AddProjectParameters(name: "x", debugPort: nil, rendezvousPort: 20014, attachPort: 20014), 20014, "x",
                "attach", "--rendezvous-port"
            ),
        ])
    func portClashes(params: AddProjectParameters, port: Int, project: String, role: String, option: String) {
        var h = Harness()
        _ = h.request(.addProject(AddProjectParameters(name: "blend", debugPort: nil, attachPort: 5678)))
        _ = h.send(.listenersOpened(project: "blend", error: nil))
        h.add("article", debugPort: 6001, rendezvousPort: 6000)
        let actions = h.request(.addProject(params))
        guard case .failure(let error) = actions.responses.values.first else {
            Issue.record("accepted: \(actions)")
            return
        }
        #expect(error.name == "io.attachd.Broker.AddressInUse")
        #expect(error.parameters["port"]?.doubleValue == Double(port))
        #expect(error.parameters["project"]?.stringValue == project)
        #expect(error.parameters["role"]?.stringValue == role)
        #expect(error.parameters["option"]?.stringValue == option)
        #expect(h.broker.projectConfigs.count == 2)
    }

    @Test("two projects may share a debug port: their hosts take turns")
    func sharedDebugPort() {
        var h = Harness()
        h.add("one", debugPort: 5678)
        #expect(h.add("two", debugPort: 5678).responses.values.first?.errorName == nil)
    }

    @Test("removing a project ends its sessions, fails its waiters, closes its listeners")
    func removeProject() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        _ = h.line(1, "maxtools", "READY=1")
        let waiter = h.token(connection: 50)
        #expect(h.request(.wait(WaitParameters(project: "maxtools")), token: waiter).isEmpty)
        let actions = h.request(.removeProject("maxtools"))
        #expect(actions.responses[waiter]?.errorName == "io.attachd.Broker.ProjectRemoved")
        #expect(actions.contains(.closeListeners(project: "maxtools")))
        #expect(actions.contains(.closeConnection(1)))
        #expect(actions.eventKinds == [.sessionEnded, .projectRemoved])
        #expect(h.broker.sessionInfos().first?.endReason == "project removed")
    }

    @Test("unknown projects are named in the error")
    func unknownProject() {
        var h = Harness()
        let result = h.request(.getProject("nope")).responses.values.first
        #expect(result == .failure(.projectNotFound("nope")))
        #expect(
            h.request(.wait(WaitParameters(project: "nope"))).responses.values.first?.errorName
                == "io.attachd.Broker.ProjectNotFound")
    }

    @Test("saved projects load, and broken entries are skipped by name")
    func load() {
        var h = Harness()
        let (actions, skipped) = h.load([
            ProjectConfig(name: "good", debugPort: 5678),
            ProjectConfig(name: "../evil", debugPort: 5678),
            ProjectConfig(name: "good", debugPort: 5679),
        ])
        #expect(actions == [.openListeners(project: "good")])
        #expect(skipped == ["../evil", "good"])
    }

    @Test("a failed listener shows on the project until it comes up")
    func listenerError() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678, rendezvousPort: 5678)
        #expect(
            h.send(.listenersOpened(project: "maxtools", error: "tcp port 5678: in use")).eventKinds == [
                .projectChanged
            ])
        #expect(h.broker.projectInfo("maxtools")?.error == "tcp port 5678: in use")
        #expect(h.send(.listenersOpened(project: "maxtools", error: "tcp port 5678: in use")).isEmpty)
        _ = h.send(.listenersOpened(project: "maxtools", error: nil))
        #expect(h.broker.projectInfo("maxtools")?.error == nil)
    }
}
