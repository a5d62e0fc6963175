import AttachClient
import AttachProtocol

/// One thing `attachctl doctor` found that keeps a wait from returning or an attach from
/// working, with what to do about it; or, as a note, something worth knowing that needs nothing
/// done.
public struct Finding: Sendable, Equatable {
    public enum Severity: String, Sendable {
        /// A wait will not return, or the attach will fail.
        case problem
        /// It may work, but probably not as meant.
        case warning
        /// Nothing is wrong, but it explains how the session works (no fix; doctor still exits 0).
        case note

        /// A problem or a warning: something to act on (doctor exits 1).
        public var needsAction: Bool { self != .note }
    }

    /// A stable name of the kind of finding (`daemon-unreachable`, `no-host`, …), for scripts.
    public var check: String
    public var severity: Severity
    /// The project (or session id) it is about, if any.
    public var subject: String?
    /// What is wrong.
    public var summary: String
    /// What to do about it; empty for a note.
    public var fix: String

    public init(check: String, severity: Severity = .problem, subject: String? = nil, summary: String, fix: String) {
        self.check = check
        self.severity = severity
        self.subject = subject
        self.summary = summary
        self.fix = fix
    }
}

/// Everything doctor looks at, gathered by the command in one go: the checks are pure
/// functions of it.
public struct DoctorSnapshot: Sendable {
    /// Whether the daemon answered `GetStatus`, and if not, why.
    public enum Daemon: Sendable {
        case reachable(StatusReply)
        case unreachable(ClientError)
    }

    public var socketPath: String
    public var daemon: Daemon
    /// The project asked about; nil for all.
    public var project: String?
    public var projects: [ProjectInfo]
    public var sessions: [SessionInfo]
    /// Local projects whose Unix rendezvous socket is not on disk (looked at by the command).
    public var missingRendezvousSockets: Set<String>
    /// Epoch seconds, for ages.
    public var now: Double
    /// Who listens on a project's debug port while it has no live host, by port: "pid 4242
    /// (python3)", "attachd itself (…)"; gathered only for ports something listens on.
    public var portHolders: [Int: String]
    /// sys.executable paths attach_ready reported that do not exist on this machine.
    public var missingExecutables: Set<String>

    public init(
        socketPath: String, daemon: Daemon, project: String? = nil, projects: [ProjectInfo] = [],
        sessions: [SessionInfo] = [], missingRendezvousSockets: Set<String> = [], now: Double,
        portHolders: [Int: String] = [:], missingExecutables: Set<String> = []
    ) {
        self.missingRendezvousSockets = missingRendezvousSockets
        self.portHolders = portHolders
        self.missingExecutables = missingExecutables
        self.socketPath = socketPath
        self.daemon = daemon
        self.project = project
        self.projects = projects
        self.sessions = sessions
        self.now = now
    }

    public var isReachable: Bool {
        if case .reachable = daemon { return true }
        return false
    }

    /// The projects the checks are about: the one asked about (if it exists), or all.
    public var projectsInScope: [ProjectInfo] {
        guard let project else { return projects }
        return projects.filter { $0.name == project }
    }

    /// Sessions of `project`, oldest first.
    public func sessions(of project: String) -> [SessionInfo] {
        sessions.filter { $0.project == project }.sorted { $0.startedAt < $1.startedAt }
    }
}

/// The checks of `attachctl doctor`. Each is one function from the snapshot to its findings;
/// a new check (say, from a new SessionInfo field) is one more function in ``checks``.
public enum Doctor {
    public typealias Check = @Sendable (DoctorSnapshot) -> [Finding]

    /// Every check, in the order their findings are shown.
    public static let checks: [Check] = [
        DoctorChecks.daemonUnreachable,
        DoctorChecks.projectMissing,
        DoctorChecks.listenerError,
        DoctorChecks.rendezvousSocketMissing,
        DoctorChecks.remoteUnreachable,
        DoctorChecks.debugPortHeldBeforeHost,
        DoctorChecks.noHost,
        DoctorChecks.portHeldByOther,
        DoctorChecks.debugPortMismatch,
        DoctorChecks.neverListened,
        DoctorChecks.sessionEnded,
        DoctorChecks.embeddedPython,
        DoctorChecks.remoteDebugHost,
    ]

    /// All findings about `snapshot`; empty when all is well.
    public static func findings(_ snapshot: DoctorSnapshot) -> [Finding] {
        checks.flatMap { $0(snapshot) }
    }

    /// doctor's exit status: 1 when a finding is a problem or a warning, 0 when all is well
    /// (notes alone included).
    public static func exitStatus(_ findings: [Finding]) -> Int32 {
        findings.contains { $0.severity.needsAction } ? ExitStatus.failure : ExitStatus.success
    }

    /// The findings as text for people: each as `problem: SUMMARY` then `  fix: FIX` (a note
    /// has no fix line); when nothing needs action, one last line saying all is well.
    public static func report(_ findings: [Finding], snapshot: DoctorSnapshot) -> String {
        var lines = findings.map { finding in
            let subject = finding.subject.map { "\($0): " } ?? ""
            let fix = finding.fix.isEmpty ? "" : "\n  fix: \(finding.fix)"
            return "\(finding.severity.rawValue): \(subject)\(finding.summary)\(fix)"
        }
        if exitStatus(findings) == ExitStatus.success {
            let scope =
                snapshot.project.map { "project '\($0)'" }
                ?? "\(snapshot.projects.count) project\(snapshot.projects.count == 1 ? "" : "s")"
            var line = "all well: attachd answers on \(snapshot.socketPath)"
            if case .reachable(let status) = snapshot.daemon { line += " (\(status.version), pid \(status.pid))" }
            lines.append(line + "; \(scope) checked, nothing in the way")
        }
        return lines.joined(separator: "\n")
    }

    /// The findings as the API's kind of JSON (`--json`).
    public static func json(_ findings: [Finding]) -> JSONValue {
        .array(
            findings.map { finding in
                var members: [String: JSONValue] = [
                    "check": .string(finding.check), "severity": .string(finding.severity.rawValue),
                    "summary": .string(finding.summary), "fix": .string(finding.fix),
                ]
                if let subject = finding.subject { members["subject"] = .string(subject) }
                return .object(members)
            })
    }
}
