import AttachClient
import AttachCtlKit
import AttachProtocol
import Testing

@Suite("doctor's checks")
struct DoctorTests {
    static let status = StatusReply(
        version: "0.2.0", pid: 1, uptime: 1, projects: 1, sessions: 0, pending: 0,
        ready: 0, waiters: 0, connections: 1, probe: "sock_diag")

    func project(_ name: String, host: String = "127.0.0.1", error: String? = nil) -> ProjectInfo {
        ProjectInfo(
            name: name, debugHost: host, debugPort: 5678, rendezvousPort: 5679,
            rendezvousSocket: "/run/p.sock", readyTimeout: 120, allowRemote: host != "127.0.0.1", error: error)
    }

    func snapshot(_ name: String? = "p", projects: [ProjectInfo], sessions: [SessionInfo] = []) -> DoctorSnapshot {
        DoctorSnapshot(
            socketPath: "/run/c.sock", daemon: .reachable(Self.status), project: name,
            projects: projects, sessions: sessions, now: 1000)
    }

    func checks(_ s: DoctorSnapshot) -> [String] { Doctor.findings(s).map(\.check) }

    @Test("all well: a ready session of a loopback project")
    func allWell() {
        let ready = SessionInfo(
            id: "1", project: "p", state: .ready, origin: .lines, debugHost: "127.0.0.1",
            debugPort: 5678, startedAt: 990)
        let s = snapshot(projects: [project("p")], sessions: [ready])
        #expect(Doctor.findings(s).isEmpty)
        #expect(Doctor.report([], snapshot: s).hasPrefix("all well"))
    }

    @Test("an unreachable daemon is the only finding, with how to start it")
    func unreachable() {
        let s = DoctorSnapshot(
            socketPath: "/run/c.sock", daemon: .unreachable(.unreachable(path: "/run/c.sock", .noSuchFile)),
            project: "p", now: 0)
        let findings = Doctor.findings(s)
        #expect(findings.map(\.check) == ["daemon-unreachable"])
        #expect(findings[0].fix.contains("systemctl --user start attachd.socket"))
        #expect(findings[0].fix.contains("attachd &"))
    }

    @Test("a missing project, no projects at all")
    func missing() {
        #expect(checks(snapshot(projects: [project("q")])) == ["project-missing"])
        #expect(checks(snapshot(nil, projects: [])) == ["no-projects"])
    }

    @Test("a listener error and no host")
    func listenerAndNoHost() {
        let findings = Doctor.findings(snapshot(projects: [project("p", error: "tcp 127.0.0.1:5679: address in use")]))
        #expect(findings.map(\.check) == ["listener-error", "no-host"])
        #expect(findings[0].summary.contains("address in use"))
        #expect(findings[0].fix.contains("sport = :5679"))
    }

    @Test("a rendezvous socket file another process removed")
    func rendezvousSocketMissing() {
        var s = snapshot(projects: [project("p")])
        s.missingRendezvousSockets = ["p"]
        let findings = Doctor.findings(s)
        #expect(findings.map(\.check) == ["rendezvous-socket-missing", "no-host"])
        #expect(findings[0].summary.contains("is not there"))
        #expect(findings[0].fix.contains("attachctl remove p"))
        // A listener that is down says so itself.
        s.projects = [project("p", error: "unix socket: EACCES")]
        #expect(Doctor.findings(s).map(\.check) == ["listener-error", "no-host"])
    }

    @Test("a pending session names the host's last STATUS")
    func pending() {
        let pending = SessionInfo(
            id: "4", project: "p", state: .pending, origin: .lines, debugHost: "127.0.0.1",
            debugPort: 5678, status: "loading scene", startedAt: 900)
        let findings = Doctor.findings(snapshot(projects: [project("p")], sessions: [pending]))
        #expect(findings.map(\.check) == ["not-listening"])
        #expect(findings[0].summary.contains("loading scene"))
        #expect(findings[0].summary.contains("1m40s"))
    }

    @Test("an ended last session gives its reason; a remote debug host warns")
    func endedAndRemote() {
        let ended = SessionInfo(
            id: "5", project: "p", state: .ended, origin: .connect, debugHost: "10.1.2.3",
            debugPort: 5678, startedAt: 800, endedAt: 920,
            endReason: "debug port 5678 did not listen within 120 s")
        let findings = Doctor.findings(snapshot(projects: [project("p", host: "10.1.2.3")], sessions: [ended]))
        #expect(findings.map(\.check) == ["session-ended", "remote-debug-host"])
        #expect(findings[0].summary.contains("did not listen within 120 s"))
        #expect(findings[0].fix.contains("--timeout"))
        #expect(findings[1].severity == .warning)
    }

    func embedded(
        _ state: SessionState, python: String?, executable: String? = "/opt/blender/blender",
        readyAt: Double? = nil
    ) -> SessionInfo {
        var session = SessionInfo(
            id: "7", project: "p", state: state, origin: .lines, debugHost: "127.0.0.1",
            debugPort: 5678, startedAt: 990, readyAt: readyAt, endedAt: state == .ended ? 995 : nil,
            endReason: state == .ended ? "host closed the rendezvous connection" : nil)
        session.executable = executable
        session.python = python
        return session
    }

    @Test("an embedded interpreter whose adapter ran with another Python is a note: exit 0, all well")
    func embeddedPythonNote() throws {
        let s = snapshot(projects: [project("p")], sessions: [embedded(.ready, python: "/usr/bin/python3.11")])
        let findings = Doctor.findings(s)
        #expect(findings.map(\.check) == ["embedded-python"])
        let note = try #require(findings.first)
        #expect(note.severity == .note)
        #expect(
            note.summary
                == "host session 7: the host's sys.executable is /opt/blender/blender (the application, not Python); attach_ready ran debugpy's adapter with /usr/bin/python3.11"
        )
        #expect(note.fix.isEmpty)
        #expect(Doctor.exitStatus(findings) == ExitStatus.success)
        let report = Doctor.report(findings, snapshot: s)
        #expect(report.hasPrefix("note: p: host session 7: the host's sys.executable is /opt/blender/blender"))
        #expect(!report.contains("fix:"))
        #expect(report.split(separator: "\n").last?.hasPrefix("all well") == true)
        // None is shown as None.
        let none = Doctor.findings(
            snapshot(
                projects: [project("p")], sessions: [embedded(.attached, python: "/usr/bin/python3", executable: "")]))
        #expect(none.first?.summary.contains("sys.executable is None; attach_ready ran") == true)
        // A Python of another version (a host that took the first python3.Y on PATH).
        let other = Doctor.findings(
            snapshot(
                projects: [project("p")],
                sessions: [embedded(.ready, python: "/usr/bin/python3.11", executable: "/usr/bin/python3.12")]))
        #expect(
            other.first?.summary.contains(
                "sys.executable is /usr/bin/python3.12, not a Python of the host's own version;") == true)
        #expect(
            DoctorChecks.describe(executable: #"C:\Program Files\Autodesk\3ds Max 2024\3dsmax.exe"#)
                == #"C:\Program Files\Autodesk\3ds Max 2024\3dsmax.exe (the application, not Python)"#)
        #expect(
            DoctorChecks.describe(executable: #"C:\Python310\python.exe"#)
                == #"C:\Python310\python.exe, not a Python of the host's own version"#)
    }

    @Test("no interpreter found for a host whose debug server does not listen is a problem, with the fix")
    func embeddedPythonMissing() throws {
        for session in [embedded(.pending, python: ""), embedded(.ended, python: "")] {
            let findings = Doctor.findings(snapshot(projects: [project("p")], sessions: [session]))
            let finding = try #require(findings.first { $0.check == "no-adapter-python" })
            #expect(finding.severity == .problem)
            #expect(finding.summary.contains("attach_ready found no Python for debugpy's adapter"))
            #expect(finding.fix.contains("ATTACHD_PYTHON=/path/to/python3.X"))
            #expect(finding.fix.contains("python=\"/path/to/python3.X\" to attach_ready.start()"))
            #expect(finding.fix.contains("attach_ready.check(\"p\")"))
            #expect(Doctor.exitStatus(findings) == ExitStatus.failure)
        }
        // It worked anyway (sys.executable was a Python under another name): a note.
        let worked = Doctor.findings(
            snapshot(projects: [project("p")], sessions: [embedded(.ready, python: "", executable: "/usr/bin/mayapy")]))
        #expect(worked.map(\.severity) == [.note])
        #expect(worked.first?.summary.contains("debugpy's adapter runs with that one") == true)
        // An ended session that had been ready is no sign of a missing interpreter.
        let wasReady = Doctor.findings(
            snapshot(projects: [project("p")], sessions: [embedded(.ended, python: "", readyAt: 992)]))
        #expect(wasReady.map(\.check) == ["session-ended", "embedded-python"])
        #expect(wasReady.last?.severity == .note)
        // The helper's STATUS= about the failed start is in the ended finding, with the fix that fits.
        var failed = embedded(.ended, python: "")
        failed.status = "debug server did not start: RuntimeError: error spawning debug adapter"
        let ended = try #require(Doctor.findings(snapshot(projects: [project("p")], sessions: [failed])).first)
        #expect(ended.check == "session-ended")
        #expect(
            ended.summary.hasSuffix(
                "; the host's last STATUS: debug server did not start: RuntimeError: error spawning debug adapter"))
        #expect(ended.fix.contains("restart the host application"))
    }

    @Test("an interpreter chosen for a host that does not listen is a warning; old sessions are left out")
    func embeddedPythonWarning() throws {
        let findings = Doctor.findings(
            snapshot(projects: [project("p")], sessions: [embedded(.pending, python: "/opt/py/bin/python3")]))
        #expect(findings.map(\.check) == ["not-listening", "embedded-python"])
        #expect(findings[1].severity == .warning)
        #expect(findings[1].fix.contains("`/opt/py/bin/python3 -c 'import sys; print(sys.version)'`"))
        // An ended session with a live one after it says nothing; nor does a session that reported nothing.
        var live = SessionInfo(
            id: "8", project: "p", state: .ready, origin: .lines, debugHost: "127.0.0.1",
            debugPort: 5678, startedAt: 999)
        #expect(checks(snapshot(projects: [project("p")], sessions: [embedded(.ended, python: ""), live])).isEmpty)
        live.state = .pending
        #expect(checks(snapshot(projects: [project("p")], sessions: [live])) == ["not-listening"])
        // Another project's session is out of scope.
        #expect(
            checks(snapshot("q", projects: [project("p"), project("q")], sessions: [embedded(.pending, python: "")]))
                == ["no-host"])
    }

    @Test("loopback addresses")
    func loopback() {
        #expect(DoctorChecks.isLoopback("127.0.0.1") && DoctorChecks.isLoopback("127.1.2.3"))
        #expect(DoctorChecks.isLoopback("::1") && DoctorChecks.isLoopback("localhost"))
        #expect(!DoctorChecks.isLoopback("10.0.0.1") && !DoctorChecks.isLoopback("127.0.0.1.example.com"))
    }
}
