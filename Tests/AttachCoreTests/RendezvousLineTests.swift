import AttachCore
import AttachProtocol
import Testing

@Suite("Hosts that speak")
struct HostLineTests {
    @Test("each line is answered; READY=1 asks for a probe; the port listening makes it ready")
    func linesSession() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        let first = h.line(1, "maxtools", "DEBUG_PORT=6001")
        #expect(first.lines == ["OK session=maxtools-1"])
        #expect(first.eventKinds == [.sessionStarted])
        #expect(
            h.line(1, "maxtools", "MAINPID=4242").effects == [
                .watchProcess(session: "maxtools-1", pid: 4242),
                .sendLine(1, .ok(session: "maxtools-1")),
            ])
        // Not ready before READY=1, even when the port listens.
        #expect(h.tick([6001]).isEmpty)
        #expect(h.broker.probeInterval == nil)
        #expect(h.line(1, "maxtools", "READY=1").effects == [.probeNow, .sendLine(1, .ok(session: "maxtools-1"))])
        let ready = h.tick([6001])
        #expect(ready.eventKinds == [.sessionReady])
        // Lines sessions end with their connection, not with their port: a port that stops
        // listening makes the session pending again, and waiters wait for it to come back.
        #expect(h.tick([]).eventKinds == [.sessionPending])
        let waiter = h.token(connection: 60)
        #expect(h.request(.wait(WaitParameters(project: "maxtools")), token: waiter).isEmpty)
        #expect(h.broker.probeInterval == Broker.fastProbeInterval)
        #expect(h.tick([6001]).responses[waiter]?.session?.state == .ready)
        let closed = h.send(.hostClosed(1, project: "maxtools", receivedBytes: true))
        #expect(closed.eventKinds == [.sessionEnded])
        #expect(closed.contains(.unwatchProcess(session: "maxtools-1")))
        #expect(h.broker.sessionInfos().first?.endReason == "host closed the rendezvous connection")
    }

    @Test(
        "bad lines get a precise error and change nothing",
        arguments: [
            ("DEBUG_PORT=99999", "ERROR DEBUG_PORT=99999: expected a port number 1-65535"),
            ("MAINPID=-5", "ERROR MAINPID=-5: expected a positive process ID (1-2147483647)"),
            (
                "FOO=1",
                "ERROR unknown key \"FOO\": expected one of READY, STOPPING, DEBUG_PORT, MAINPID, STATUS, SESSION, EXECUTABLE, PYTHON"
            ),
        ])
    func badLine(text: String, reply: String) {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        #expect(h.line(1, "maxtools", text).lines == [reply])
        #expect(h.broker.sessionInfos().isEmpty)
    }

    @Test("EXECUTABLE= and PYTHON= are kept on the session, answered OK, with no event; kept once ended")
    func embeddedInterpreter() {
        var h = Harness()
        h.add("blender", debugPort: 5678)
        _ = h.line(1, "blender", "DEBUG_PORT=5678")
        #expect(h.broker.session("blender-1")?.executable == nil)
        #expect(h.broker.session("blender-1")?.python == nil)
        let exe = h.line(1, "blender", "EXECUTABLE=/opt/blender/blender")
        #expect(exe.lines == ["OK session=blender-1"])
        #expect(exe.eventKinds.isEmpty)
        #expect(h.line(1, "blender", "PYTHON=/usr/bin/python3.11").effects == [.sendLine(1, .ok(session: "blender-1"))])
        #expect(h.broker.session("blender-1")?.executable == "/opt/blender/blender")
        #expect(h.broker.session("blender-1")?.python == "/usr/bin/python3.11")
        // None found: an empty value, not the absence of one.
        _ = h.line(1, "blender", "PYTHON=")
        #expect(h.broker.session("blender-1")?.python == "")
        #expect(h.line(1, "blender", "PYTHON=a\0b").lines == [#"ERROR PYTHON=a\0b: expected text without NUL bytes"#])
        #expect(h.broker.session("blender-1")?.python == "")
        _ = h.send(.hostClosed(1, project: "blender", receivedBytes: true))
        let ended = h.broker.sessionInfos().first
        #expect(ended?.state == .ended)
        #expect(ended?.executable == "/opt/blender/blender")
        #expect(ended?.python == "")
        // A host that reports nothing has neither.
        _ = h.line(2, "blender", "READY=1")
        #expect(h.broker.session("blender-2")?.executable == nil)
        #expect(h.broker.session("blender-2")?.python == nil)
    }

    @Test("STOPPING=1 ends the session; the pid exiting ends it too")
    func stoppingAndExit() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        _ = h.line(1, "maxtools", "READY=1")
        let stop = h.line(1, "maxtools", "STOPPING=1")
        #expect(stop.eventKinds == [.sessionEnded])
        #expect(stop.contains(.closeConnection(1)))
        _ = h.line(2, "maxtools", "MAINPID=77")
        let exit = h.send(.processExited(session: "maxtools-2"))
        #expect(exit.eventKinds == [.sessionEnded])
        #expect(h.broker.session("maxtools-2")?.endReason == "process 77 exited")
    }

    @Test("Announce from the control socket: ready with its port, ended when its pid exits")
    func announce() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        let actions = h.request(.announce(AnnounceParameters(project: "maxtools", debugPort: 6100, pid: 99)))
        #expect(actions.effects == [.watchProcess(session: "maxtools-1", pid: 99), .probeNow])
        #expect(h.tick([6100]).eventKinds == [.sessionReady])
        // With a pid, the port going away does not end it (it is pending again); the pid does.
        #expect(h.tick([]).eventKinds == [.sessionPending])
        #expect(h.send(.processExited(session: "maxtools-1")).eventKinds == [.sessionEnded])
        #expect(
            h.request(.announce(AnnounceParameters(project: "maxtools", pid: -1))).responses.values.first?.errorName
                == "org.varlink.service.InvalidParameter")
    }

    @Test("EndSession ends a live session and tells its host")
    func endSession() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678)
        _ = h.line(1, "maxtools", "READY=1")
        let actions = h.request(.endSession(id: "maxtools-1"))
        #expect(actions.responses.values.first?.session?.state == .ended)
        #expect(actions.lines == ["ERROR session maxtools-1 ended: ended by EndSession"])
        #expect(
            h.request(.endSession(id: "nope")).responses.values.first?.errorName == "io.attachd.Broker.SessionNotFound")
    }
}
