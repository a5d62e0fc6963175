import AttachCtlKit
import AttachProtocol
import Testing

@Suite("watch's live view")
struct LiveViewTests {
    func session(_ id: String, _ project: String = "p", _ state: SessionState = .pending, status: String? = nil)
        -> SessionInfo
    {
        SessionInfo(
            id: id, project: project, state: state, origin: .lines, debugHost: "127.0.0.1", debugPort: 5678,
            pid: 42, status: status, startedAt: 100)
    }

    @Test("one line per session, replaced by its events, after a header; a status line last")
    func linesFollowEvents() {
        var view = LiveView(project: nil)
        #expect(view.lines(now: 100).first?.hasPrefix("no sessions") == true)
        view.load([session("1")])
        view.apply(BrokerEvent(kind: .sessionReady, session: session("1", "p", .ready, status: "loaded")), at: 101)
        view.apply(BrokerEvent(kind: .sessionStarted, session: session("2", "q")), at: 102)
        let lines = view.lines(now: 110)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("ID"))
        #expect(lines[1].contains("ready (loaded)") && lines[1].hasPrefix("1 "))
        #expect(lines[2].hasPrefix("2 ") && lines[2].contains("pending"))
        #expect(lines[3].contains("last event: sessionStarted"))
    }

    @Test("a project filter keeps other projects out; a removed project's sessions leave")
    func filterAndRemoval() {
        var view = LiveView(project: "p")
        view.load([session("1"), session("2", "other")])
        #expect(view.lines(now: 100).count == 3)
        view.apply(BrokerEvent(kind: .sessionStarted, session: session("3", "other")), at: 100)
        #expect(view.lines(now: 100).count == 3)
        view.apply(
            BrokerEvent(
                kind: .projectRemoved,
                project: ProjectInfo(
                    name: "p", debugHost: "127.0.0.1", debugPort: 1,
                    rendezvousPort: nil, rendezvousSocket: "/s",
                    readyTimeout: 1, allowRemote: false)), at: 100)
        #expect(view.lines(now: 100).first?.hasPrefix("no sessions of 'p'") == true)
    }

    @Test("a frame moves up over the previous one, erases each line, cuts to the width, clears below")
    func frame() {
        #expect(LiveView.frame(["a", "b"], replacing: 0, width: nil) == "\r\u{1B}[2Ka\n\u{1B}[2Kb\n\u{1B}[J")
        let next = LiveView.frame(["abcdef"], replacing: 2, width: 4)
        #expect(next == "\u{1B}[2A\r\u{1B}[2Kabc\n\u{1B}[J")
    }
}
