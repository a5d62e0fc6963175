import AttachCore
import AttachProtocol
import Testing

@Suite("Readiness and waiters")
struct ReadinessTests {
    @Test("a bare connect becomes ready when its debug port listens, and every waiter is released")
    func bareConnect() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678, rendezvousPort: 7000)
        let w1 = h.token(connection: 50)
        let w2 = h.token(connection: 51)
        #expect(h.request(.wait(WaitParameters(project: "maxtools")), token: w1).isEmpty)
        #expect(h.request(.wait(WaitParameters(project: "maxtools")), token: w2).isEmpty)
        #expect(h.send(.hostConnected(1, project: "maxtools", viaTCP: true)).isEmpty)
        let closed = h.send(.hostClosed(1, project: "maxtools", receivedBytes: false))
        #expect(closed.eventKinds == [.sessionStarted])
        #expect(closed.effects == [.probeNow])
        #expect(h.broker.probeInterval == Broker.fastProbeInterval)
        #expect(h.tick([22, 80]).isEmpty)
        let ready = h.tick([5678])
        #expect(ready.eventKinds == [.sessionReady])
        #expect(ready.responses[w1]?.session?.state == .ready)
        #expect(ready.responses[w2]?.session?.debugPort == 5678)
        #expect(h.broker.probeInterval == Broker.slowProbeInterval)
        // A waiter after readiness is answered at once.
        #expect(h.request(.wait(WaitParameters(project: "maxtools"))).responses.values.first?.session?.state == .ready)
        let gone = h.tick([])
        #expect(gone.eventKinds == [.sessionEnded])
        #expect(h.broker.sessionInfos().first?.endReason == "debug port 5678 stopped listening")
        #expect(h.broker.probeInterval == nil)
        #expect(h.broker.nextDeadline == nil)
    }

    @Test(
        "handoff: the rendezvous port is given up at accept and taken back once the session ended and the port is free")
    func handoff() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678, rendezvousPort: 5678)
        #expect(h.send(.hostConnected(1, project: "maxtools", viaTCP: true)) == [.releaseTCPPort(project: "maxtools")])
        // A second connection on the Unix socket does not release anything.
        #expect(h.send(.hostConnected(2, project: "maxtools", viaTCP: false)).isEmpty)
        _ = h.send(.hostClosed(1, project: "maxtools", receivedBytes: false))
        #expect(!h.tick([]).contains(.reclaimTCPPort(project: "maxtools")))
        _ = h.tick([5678])
        let ended = h.tick([])
        #expect(ended.eventKinds == [.sessionEnded])
        #expect(ended.contains(.reclaimTCPPort(project: "maxtools")))
        _ = h.send(.listenersOpened(project: "maxtools", error: nil))
        #expect(h.broker.probeInterval == nil)
    }

    @Test("handoff waits while the released port is still listening after the session ended")
    func handoffPortStillBusy() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678, rendezvousPort: 5678)
        _ = h.send(.hostConnected(1, project: "maxtools", viaTCP: true))
        _ = h.line(1, "maxtools", "READY=1")
        _ = h.tick([5678])
        _ = h.send(.hostClosed(1, project: "maxtools", receivedBytes: true))
        #expect(h.broker.probeInterval == Broker.handoffProbeInterval)
        #expect(!h.tick([5678]).contains(.reclaimTCPPort(project: "maxtools")))
        #expect(h.tick([]).contains(.reclaimTCPPort(project: "maxtools")))
    }

    @Test("a host announcing on the Unix socket of a handoff project also gets the port released")
    func handoffForLinesHost() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678, rendezvousPort: 5678)
        #expect(h.send(.hostConnected(1, project: "maxtools", viaTCP: false)).isEmpty)
        let first = h.line(1, "maxtools", "MAINPID=10")
        #expect(first.contains(.releaseTCPPort(project: "maxtools")))
        #expect(!h.line(1, "maxtools", "READY=1").contains(.releaseTCPPort(project: "maxtools")))
        _ = h.tick([5678])
        let closed = h.send(.hostClosed(1, project: "maxtools", receivedBytes: true))
        #expect(closed.eventKinds == [.sessionEnded])
        #expect(h.tick([]).contains(.reclaimTCPPort(project: "maxtools")))
    }

    @Test("waiters time out with the project and seconds; a waiter that went away is forgotten")
    func waiterTimeout() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        let w1 = h.token(connection: 50)
        let w2 = h.token(connection: 51)
        _ = h.request(.wait(WaitParameters(project: "maxtools", timeout: 2)), token: w1)
        _ = h.request(.wait(WaitParameters(project: "maxtools", timeout: 5)), token: w2)
        #expect(h.broker.nextDeadline == h.clock + 2)
        h.send(.controlClosed(51))
        h.advance(2)
        let actions = h.tick(nil)
        #expect(actions.responses[w1] == .failure(.timeout(project: "maxtools", seconds: 2)))
        #expect(actions.responses[w2] == nil)
        #expect(h.broker.nextDeadline == nil)
        #expect(
            h.request(.wait(WaitParameters(project: "maxtools", timeout: 0))).responses.values.first?.errorName
                == "io.attachd.Broker.Timeout")
    }

    @Test("a pending session fails after the project's ready timeout")
    func readyTimeout() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678, timeout: 30)
        _ = h.send(.hostClosed(1, project: "maxtools", receivedBytes: false))
        h.advance(29.9)
        #expect(h.tick([]).isEmpty)
        h.advance(0.1)
        #expect(h.tick([]).eventKinds == [.sessionEnded])
        #expect(h.broker.sessionInfos().first?.endReason == "debug port 5678 did not listen within 30 s")
    }

    @Test("two projects at once never disturb each other")
    func twoProjects() {
        var h = Harness()
        h.add("maya", debugPort: 5001)
        h.add("blender", debugPort: 5002)
        let wMaya = h.token(connection: 50)
        let wBlender = h.token(connection: 51)
        _ = h.request(.wait(WaitParameters(project: "maya")), token: wMaya)
        _ = h.request(.wait(WaitParameters(project: "blender")), token: wBlender)
        _ = h.line(1, "maya", "READY=1")
        _ = h.line(2, "blender", "READY=1")
        let actions = h.tick([5002])
        #expect(actions.responses.keys.sorted { $0.connection < $1.connection } == [wBlender])
        #expect(h.tick([5001, 5002]).responses.keys.first == wMaya)
    }
}

@Suite("Attachment")
struct AttachmentTests {
    @Test("a client on the debug port makes a ready session attached, and ready again when it leaves")
    func attachAndDetach() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        _ = h.line(1, "maxtools", "READY=1")
        _ = h.tick([5678])
        #expect(h.broker.wantsConnectedPorts)
        #expect(h.broker.probeInterval == Broker.slowProbeInterval)
        let attached = h.send(.probed(listening: [5678], connected: [5678, 22]))
        #expect(attached.eventKinds == [.sessionAttached])
        #expect(h.broker.sessionInfos().first?.state == .attached)
        // Attached counts as ready: a waiter is answered at once.
        #expect(
            h.request(.wait(WaitParameters(project: "maxtools"))).responses.values.first?.session?.state == .attached)
        // Without a reading of connections, attachment stays as it was.
        #expect(h.tick([5678]).isEmpty)
        let left = h.send(.probed(listening: [5678], connected: [22]))
        #expect(left.eventKinds == [.sessionReady])
        #expect(h.broker.counts.ready == 1)
        // An attached session whose port goes away is pending again, like a ready one.
        _ = h.send(.probed(listening: [5678], connected: [5678]))
        #expect(h.tick([]).eventKinds == [.sessionPending])
        #expect(!h.broker.wantsConnectedPorts)
    }
}

@Suite("Waits on a ready session")
struct FreshLookTests {
    @Test("a Wait while a session is ready asks for a fresh reading, and is answered by it")
    func waitAsksForFreshLook() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        _ = h.line(1, "maxtools", "READY=1")
        _ = h.tick([5678])
        let t = h.token()
        let asked = h.send(.call(.wait(WaitParameters(project: "maxtools")), token: t))
        #expect(asked == [.probeNow])
        #expect(h.send(.probed(listening: [5678], connected: nil)).responses[t]?.session?.id == "maxtools-1")
    }

    @Test("a debug server gone since the last look is not handed out; the Wait waits for it to come back")
    func goneServerIsNotHandedOut() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        _ = h.line(1, "maxtools", "READY=1")
        _ = h.tick([5678])
        let t = h.token()
        _ = h.broker.handle(.call(.wait(WaitParameters(project: "maxtools", timeout: 5)), token: t), now: h.now)
        let fresh = h.send(.probed(listening: [], connected: nil))
        #expect(fresh.responses[t] == nil)
        #expect(fresh.eventKinds == [.sessionPending])
        #expect(h.tick([5678]).responses[t]?.session?.state == .ready)
    }

    @Test("when the kernel cannot be read, the last reading answers")
    func unreadableKernelUsesLastReading() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        _ = h.line(1, "maxtools", "READY=1")
        _ = h.tick([5678])
        let t = h.token()
        _ = h.broker.handle(.call(.wait(WaitParameters(project: "maxtools")), token: t), now: h.now)
        #expect(h.send(.probed(listening: nil, connected: nil)).responses[t]?.session?.state == .ready)
    }
}
