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

    @Test("a look now asks only about hosts not yet seen listening, by their ports; else the full probe")
    func lookNowAtTheUnseen() throws {
        let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let port = try Socket.localPort(listener)
        let me = ProcessHandle.currentPID
        let readiness = probe()
        let asked = OwnershipQuery(session: "s-1", pid: me, port: port)
        let schedule = ProbeSchedule(interval: nil, deadline: nil, connectedInterval: nil, queries: [asked])
        queue.sync { readiness.reschedule(schedule) }
        // This process is the host and listens on the port: seen at once, by a look at it alone.
        #expect(queue.sync { readiness.lookNow() } == .lookedAt(hosts: ["s-1": .listening(port: port)]))
        // Seen listening already: asked again, the probe reads everything.
        guard case .probed(let listening?, _, let hosts) = queue.sync(execute: { readiness.lookNow() }) else {
            Issue.record("expected the full probe")
            return
        }
        #expect(listening.contains(port) && hosts == ["s-1": .listening(port: port)])
        // A host whose port is to be discovered needs every listener: the full probe too.
        let discovering = OwnershipQuery(session: "s-2", pid: me, port: nil)
        queue.sync {
            readiness.reschedule(
                ProbeSchedule(interval: nil, deadline: nil, connectedInterval: nil, queries: [asked, discovering]))
        }
        guard case .probed = queue.sync(execute: { readiness.lookNow() }) else {
            Issue.record("expected the full probe for discovery")
            return
        }
        // A port nothing listens on: looked at, not listening.
        let closed = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        let freed = try Socket.localPort(closed)
        closed.close()
        let unheard = OwnershipQuery(session: "s-3", pid: me, port: freed)
        queue.sync {
            readiness.reschedule(
                ProbeSchedule(interval: nil, deadline: nil, connectedInterval: nil, queries: [asked, unheard]))
        }
        #expect(queue.sync { readiness.lookNow() } == .lookedAt(hosts: ["s-3": .notListening]))
    }
}
