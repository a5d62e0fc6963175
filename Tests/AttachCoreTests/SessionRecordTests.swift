import AttachProtocol
import Testing

@testable import AttachCore

@Suite("SessionRecord: the lifecycle as transitions that check the state they leave")
struct SessionRecordTests {
    private let project = ProjectConfig(name: "maxtools", debugPort: 5678)
    private let start = Instant(monotonic: 1000, wall: 1_700_001_000)

    private func later(_ seconds: Double) -> Instant {
        Instant(monotonic: start.monotonic + seconds, wall: start.wall + seconds)
    }

    private func session(origin: SessionOrigin = .lines) -> SessionRecord {
        SessionRecord(
            id: "maxtools-1", project: project, origin: origin, now: start, readyTimeout: 30,
            debugPort: project.debugPort, readyClaimed: true)
    }

    @Test("the one constructor: pending, started now, its deadline the ready timeout away, the project's host and port")
    func constructor() {
        let record = session()
        #expect(record.info.state == .pending)
        #expect(record.info.startedAt == start.wall)
        #expect(record.readyDeadline == start.monotonic + 30)
        #expect(record.info.debugHost == project.debugHost)
        #expect(record.info.debugPort == 5678)
    }

    @Test("pending → ready once, with the time; a second becomeReady emits nothing")
    func ready() {
        var record = session()
        #expect(record.becomeReady(now: later(1))?.kind == .sessionReady)
        #expect(record.info.readyAt == later(1).wall)
        #expect(record.becomeReady(now: later(2)) == nil)
        #expect(record.info.readyAt == later(1).wall)
    }

    @Test("ready ⇄ attached emits only on a change, and never from pending")
    func attachment() {
        var record = session()
        #expect(record.attached(true) == nil, "a pending session is not attached")
        _ = record.becomeReady(now: later(1))
        #expect(record.attached(false) == nil)
        #expect(record.attached(true)?.kind == .sessionAttached)
        #expect(record.attached(true) == nil)
        #expect(record.attached(false)?.kind == .sessionReady)
    }

    @Test("falling back to pending renews the deadline and keeps the problem unless one is given")
    func fallBack() {
        var record = session()
        #expect(record.fallBack(now: later(1), readyTimeout: 30) == nil, "already pending")
        _ = record.becomeReady(now: later(1))
        let event = record.fallBack(now: later(5), readyTimeout: 30, problem: "refused")
        #expect(event?.kind == .sessionPending)
        #expect(record.info.state == .pending && record.info.readyAt == nil)
        #expect(record.readyDeadline == later(5).monotonic + 30)
        #expect(record.info.problem == "refused")
    }

    @Test("refusals double the wait up to the limit; a relay that goes through forgets them")
    func refusals() {
        var record = session()
        record.refused(now: later(0))
        #expect(record.refusedUntil == later(0).monotonic + Broker.relayRetryDelay)
        record.refused(now: later(1))
        #expect(record.refusedUntil == later(1).monotonic + 2 * Broker.relayRetryDelay)
        for _ in 0..<10 { record.refused(now: later(2)) }
        #expect(record.refusedUntil == later(2).monotonic + Broker.relayRetryMaxDelay)
        record.relayed()
        #expect(record.refusedUntil == nil && record.refusals == Backoff.relayRefused)
    }

    @Test("only a mirror becomes unreachable, once")
    func unreachable() {
        var local = session()
        #expect(local.becomeUnreachable(problem: "gone") == nil)
        var mirror = session(origin: .remote)
        #expect(mirror.becomeUnreachable(problem: "gone")?.kind == .sessionPending)
        #expect(mirror.becomeUnreachable(problem: "gone") == nil)
        #expect(mirror.info.problem == "gone")
    }

    @Test("ended: the info keeps what it was, with the end's time and reason")
    func ended() {
        var record = session()
        _ = record.becomeReady(now: later(1))
        let info = record.ended(reason: "process 42 exited", now: later(3))
        #expect(info.state == .ended && info.endedAt == later(3).wall && info.endReason == "process 42 exited")
        #expect(info.readyAt == later(1).wall)
    }
}
