import AttachCore
import AttachProtocol
import Testing

extension Harness {
    /// The door as the daemon sees it: every action, `.reschedule` included.
    mutating func raw(_ input: BrokerInput) -> [BrokerAction] {
        broker.handle(input, now: now)
    }

    /// A rendezvous line through the raw door.
    mutating func rawLine(_ connection: ConnectionID, _ project: String, _ text: String) -> [BrokerAction] {
        guard let parsed = RendezvousLine.parse(text) else { return [] }
        return raw(.hostLine(connection, project: project, parsed))
    }
}

extension Array where Element == BrokerAction {
    /// The schedules Core said in these actions, in order.
    var reschedules: [ProbeSchedule] {
        compactMap { if case .reschedule(let schedule) = $0 { return schedule } else { return nil } }
    }

    /// The schedule said at the end of the batch; nil when the batch says none (or not last).
    var said: ProbeSchedule? {
        if case .reschedule(let schedule)? = last { return schedule }
        return nil
    }
}

@Suite("Core says its schedule: .reschedule ends each batch that changes it, and every tick")
struct RescheduleTests {
    @Test("the first batch says the schedule, even an idle one; a batch that changes nothing says nothing")
    func firstBatchThenOnlyChanges() {
        var h = Harness()
        let first = h.raw(.loadProjects([ProjectConfig(name: "maxtools", debugPort: 5678)]))
        #expect(first == [.openListeners(project: "maxtools"), .reschedule(.idle)])
        #expect(h.raw(.listenersOpened(project: "maxtools", error: nil)).reschedules.isEmpty)
        let listed = h.raw(.call(.listProjects, token: h.token()))
        #expect(listed.responses.count == 1)
        #expect(listed.reschedules.isEmpty)
    }

    @Test("a waiter with a timeout says its deadline, once; when it times out the schedule goes idle")
    func waiterDeadlineThenIdle() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        let w = h.token()
        let waiting = ProbeSchedule(interval: nil, deadline: h.clock + 2, connectedInterval: nil, queries: [])
        #expect(h.raw(.call(.wait(WaitParameters(project: "maxtools", timeout: 2)), token: w)).said == waiting)
        #expect(h.raw(.call(.listSessions(project: nil), token: h.token())).reschedules.isEmpty)
        // The timer woke early (the clock alone moved): the deadline stays where it was, and the
        // tick says it again for the one-shot timer.
        h.advance(1)
        #expect(h.raw(.probed(listening: nil, connected: nil)).said == waiting)
        h.advance(1)
        let timedOut = h.raw(.probed(listening: nil, connected: nil))
        #expect(timedOut.responses[w] == .failure(.timeout(project: "maxtools", seconds: 2)))
        #expect(timedOut.said == .idle)
    }

    @Test("a waiter that goes with its control connection takes its deadline along: idle")
    func waiterGoneIsIdle() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        let w = h.token(connection: 50)
        let asked = h.raw(.call(.wait(WaitParameters(project: "maxtools", timeout: 5)), token: w))
        #expect(asked.said?.deadline == h.clock + 5)
        #expect(h.raw(.controlClosed(50)) == [.reschedule(.idle)])
    }

    @Test("a pending session is probed fast; every tick restates it, other unchanged batches do not")
    func tickRestatesTheInterval() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678, timeout: 30)
        let pending = ProbeSchedule(
            interval: Broker.fastProbeInterval, deadline: h.clock + 30, connectedInterval: nil, queries: [])
        #expect(h.rawLine(1, "maxtools", "READY=1").said == pending)
        h.advance(Broker.fastProbeInterval)
        #expect(h.raw(.probed(listening: [], connected: nil)).said == pending)
        #expect(h.raw(.call(.listProjects, token: h.token())).reschedules.isEmpty)
        h.advance(Broker.fastProbeInterval)
        // Ready: watched slowly, for its port and for attachment.
        let ready = h.raw(.probed(listening: [5678], connected: nil))
        #expect(ready.eventKinds == [.sessionReady])
        #expect(
            ready.said
                == ProbeSchedule(
                    interval: Broker.slowProbeInterval, deadline: nil,
                    connectedInterval: Broker.slowProbeInterval, queries: []))
    }

    @Test("a host with a pid puts its ownership query in the schedule; it goes with the session")
    func ownershipQueryInTheAction() {
        var h = Harness()
        h.addAttach("blend", timeout: 30)
        _ = h.rawLine(1, "blend", "MAINPID=4242")
        let claimed = h.rawLine(1, "blend", "READY=1")
        let id = h.broker.sessionInfos(project: "blend").last!.id
        #expect(
            claimed.said
                == ProbeSchedule(
                    interval: Broker.fastProbeInterval, deadline: h.clock + 30, connectedInterval: nil,
                    queries: [OwnershipQuery(session: id, pid: 4242, port: nil)]))
        let ended = h.raw(.processExited(session: id))
        #expect(ended.eventKinds.contains(.sessionEnded))
        #expect(ended.said == .idle)
    }
}
