import AttachCore
import AttachProtocol
import Testing

@Suite("Core schedules: the next probe and wake-up, and loading as an input")
struct ScheduleTests {
    @Test(
        "idle without projects' sessions; fast while a claimed session is pending, with its deadline; slow with attachment once ready"
    )
    func followsTheSessions() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678, timeout: 30)
        #expect(h.broker.schedule == .idle)
        _ = h.line(1, "maxtools", "READY=1")
        #expect(
            h.broker.schedule
                == ProbeSchedule(
                    interval: Broker.fastProbeInterval, deadline: h.clock + 30,
                    connectedInterval: nil, queries: []))
        _ = h.tick([5678])
        // A lines host without a pid on a project without an attach port: watched slowly, for
        // attachment too.
        #expect(
            h.broker.schedule
                == ProbeSchedule(
                    interval: Broker.slowProbeInterval, deadline: nil,
                    connectedInterval: Broker.slowProbeInterval, queries: []))
    }

    @Test("a waiter's deadline is a wake-up without a probe")
    func waiterDeadline() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        _ = h.request(.wait(WaitParameters(project: "maxtools", timeout: 2)))
        #expect(
            h.broker.schedule
                == ProbeSchedule(interval: nil, deadline: h.clock + 2, connectedInterval: nil, queries: []))
    }

    @Test("loading is an input: valid projects open their listeners, invalid ones come back skipped, in order")
    func loading() {
        var h = Harness()
        let actions = h.send(
            .loadProjects([
                ProjectConfig(name: "good", debugPort: 5678),
                ProjectConfig(name: "../evil", debugPort: 5678),
            ]))
        #expect(actions == [.openListeners(project: "good"), .savedProjectSkipped("../evil")])
        #expect(h.broker.projectNames == ["good"])
    }
}
