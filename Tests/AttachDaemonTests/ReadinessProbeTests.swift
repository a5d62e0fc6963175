import AttachCore
import AttachSystem
import Dispatch
import Synchronization
import Testing

@testable import AttachDaemon

@Suite("ReadinessProbe: the LISTEN table through sock_diag, and the one timer")
struct ReadinessProbeTests {
    private let queue = DispatchQueue(label: "probe-test")
    private let recorder = InputRecorder()

    private func probe(excluding excluded: Set<UInt16> = []) -> ReadinessProbe {
        ReadinessProbe(queue: queue, logger: quietLogger, excludedPorts: { excluded }, deliver: recorder.deliver)
    }

    @Test("readListening sees a port we listen on, through sock_diag, and not after it closes")
    func seesOurListener() throws {
        let readiness = probe()
        #expect(readiness.methodName == "sock_diag")
        let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        let port = try Socket.localPort(listener)
        #expect(queue.sync { readiness.readListening() }?.contains(port) == true)
        listener.close()
        #expect(queue.sync { readiness.readListening() }?.contains(port) == false)
    }

    @Test("readListening leaves out excludedPorts (our own closing listeners) and keeps the rest")
    func leavesOutExcludedPorts() throws {
        let ours = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { ours.close() }
        let host = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { host.close() }
        let excluded = try Socket.localPort(ours)
        let kept = try Socket.localPort(host)
        let readiness = probe(excluding: [excluded])
        let listening = try #require(queue.sync { readiness.readListening() })
        #expect(!listening.contains(excluded))
        #expect(listening.contains(kept))
    }

    @Test("a probe interval makes the timer deliver .probed with the LISTEN table")
    func intervalDeliversAReading() throws {
        let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let port = try Socket.localPort(listener)
        let readiness = probe()
        queue.sync { readiness.reschedule(interval: 0.002, deadline: nil, wantsConnected: false) }
        let inputs = recorder.wait(for: 1)
        guard case .probed(let listening, let connected, _)? = inputs.first else {
            Issue.record("expected .probed, got \(inputs)")
            return
        }
        #expect(listening?.contains(port) == true)
        #expect(connected == nil, "attachment is read only when Core wants it")
    }

    @Test("a deadline alone wakes Core without reading the LISTEN table")
    func deadlineAlone() throws {
        let readiness = probe()
        queue.sync {
            readiness.reschedule(interval: nil, deadline: Clock.monotonicSeconds() + 0.01, wantsConnected: false)
        }
        #expect(recorder.wait(for: 1) == [.probed(listening: nil, connected: nil)])
    }

    @Test("wantsConnected adds the ports of established connections to the reading")
    func connectedPorts() throws {
        let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let port = try Socket.localPort(listener)
        let client = try Socket.connectTCP(host: "127.0.0.1", port: port)
        defer { client.close() }
        let readiness = probe()
        queue.sync { readiness.reschedule(interval: 0.002, deadline: nil, wantsConnected: true) }
        let inputs = recorder.wait(for: 1)
        guard case .probed(_, let connected, _)? = inputs.first else {
            Issue.record("expected .probed, got \(inputs)")
            return
        }
        #expect(connected?.contains(port) == true, "the listener's side of the connection is on \(port)")
    }
}
