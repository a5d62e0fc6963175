import AttachClient
import AttachCtlKit
import AttachProtocol
import Testing

/// Issue 20: checks that passed when they should not, and tables that grew without bound.
@Suite("A new user's first hour")
struct FirstHourTests {
    static let status = StatusReply(
        version: "0.2.0", pid: 77, uptime: 1, projects: 1, sessions: 1, pending: 0,
        ready: 1, waiters: 0, connections: 1, probe: "sock_diag")
    static let project = ProjectInfo(
        name: "maxtools", debugHost: "127.0.0.1", debugPort: 5678, rendezvousPort: nil,
        rendezvousSocket: "/run/p.sock", readyTimeout: 120, allowRemote: false)

    func session(
        _ id: String, state: SessionState = .ready, port: Int = 20001, started: Double = 10,
        ended: Double? = nil
    ) -> SessionInfo {
        var s = SessionInfo(
            id: id, project: "maxtools", state: state, origin: .lines, debugHost: "127.0.0.1",
            debugPort: port, startedAt: started, endedAt: ended)
        s.projectDebugPort = 5678
        return s
    }

    @Test("a host listening elsewhere than the project's port is a problem doctor names, with both ports")
    func portMismatch() {
        let snapshot = DoctorSnapshot(
            socketPath: "/c", daemon: .reachable(Self.status), project: "maxtools",
            projects: [Self.project], sessions: [session("maxtools-1")], now: 20)
        let findings = Doctor.findings(snapshot)
        #expect(findings.map(\.check) == ["port-mismatch"])
        #expect(findings[0].summary.contains("listens on 20001, but the IDE is told the project's port 5678"))
        #expect(findings[0].fix.contains("port=5678") && findings[0].fix.contains("--attach-port"))
        #expect(Doctor.exitStatus(findings) == 1)
        #expect(Format.sessionTable([session("maxtools-1")], now: 20).contains("listens on 20001"))
        // The project's own port, or an attach port that relays to any: nothing to say.
        #expect(Format.portMismatch(session("maxtools-2", port: 5678)) == nil)
        var relayed = session("maxtools-3")
        relayed.attachPort = 15678
        #expect(Format.portMismatch(relayed) == nil)
    }

    @Test("a debug port held before any host announced itself: doctor names who holds it")
    func heldBeforeAnyHost() {
        let snapshot = DoctorSnapshot(
            socketPath: "/c", daemon: .reachable(Self.status), project: "maxtools",
            projects: [Self.project], now: 20, portHolders: [5678: "pid 4242 (python3)"])
        let findings = Doctor.findings(snapshot)
        #expect(findings.map(\.check) == ["port-held", "no-host"])
        #expect(findings[0].summary.contains("already held by pid 4242 (python3)"))
    }

    @Test("a sys.executable that does not exist is said so")
    func missingExecutable() {
        #expect(
            DoctorChecks.describe(executable: "/usr/bin/python", missing: true)
                == "/usr/bin/python, which does not exist")
        #expect(DoctorChecks.describe(executable: "/usr/bin/python") != "/usr/bin/python, which does not exist")
    }

    @Test("sessions: live first, then the last ended ones; the host's STATUS is cut")
    func sessionsOrder() {
        let ended = (1...7).map {
            session("maxtools-\($0)", state: .ended, started: Double($0), ended: Double($0) + 0.5)
        }
        let live = session("maxtools-9", started: 9)
        let (shown, hidden) = Format.sessionsToShow(ended + [live], all: false)
        #expect(
            shown.map(\.id) == ["maxtools-9", "maxtools-3", "maxtools-4", "maxtools-5", "maxtools-6", "maxtools-7"])
        #expect(hidden == 2)
        #expect(Format.sessionsToShow(ended + [live], all: true).shown.count == 8)
        var noisy = session("maxtools-10", port: 5678)
        noisy.status = String(repeating: "x", count: 230)
        let table = Format.sessionTable([noisy], now: 20)
        #expect(table.split(separator: "\n").allSatisfy { $0.count < 160 })
        #expect(table.contains(String(repeating: "x", count: 39) + "…"))
    }
}
