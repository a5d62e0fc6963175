import AttachClient
import AttachProtocol

/// The checks of ``Doctor``, one function per finding.
public enum DoctorChecks {
    static let startFix =
        "start it: `systemctl --user start attachd.socket` (installed as a user service; `scripts/install` installs it), or run `attachd &`"

    /// attachd does not answer on the control socket: nothing else can be checked.
    public static func daemonUnreachable(_ s: DoctorSnapshot) -> [Finding] {
        guard case .unreachable(let error) = s.daemon else { return [] }
        switch error {
        case .unreachable(_, let errno) where errno == .permissionDenied || errno == .notPermitted:
            return [
                Finding(
                    check: "daemon-unreachable",
                    summary: "the control socket \(s.socketPath) belongs to another user (permission denied)",
                    fix:
                        "run attachctl as the daemon's user, or point --socket / ATTACHD_SOCKET at your own attachd (\(startFix))"
                )
            ]
        case .unreachable(_, let errno):
            let why =
                errno == .noSuchFile
                ? "no such socket" : errno == .connectionRefused ? "connection refused" : errno.description
            return [
                Finding(
                    check: "daemon-unreachable",
                    summary: "attachd is not running: nothing listens on \(s.socketPath) (\(why))",
                    fix: startFix + "; if it runs with another socket, give that with --socket PATH or ATTACHD_SOCKET")
            ]
        default:
            return [
                Finding(
                    check: "daemon-unreachable",
                    summary: "attachd on \(s.socketPath) did not answer: \(ErrorMessages.describe(error))",
                    fix:
                        "see `journalctl --user -u attachd`; restart it with `systemctl --user restart attachd` (or run `attachd &` again)"
                )
            ]
        }
    }

    /// The project asked about does not exist (a wait exits 3 at once).
    public static func projectMissing(_ s: DoctorSnapshot) -> [Finding] {
        guard s.isReachable else { return [] }
        guard let name = s.project else {
            if s.projects.isEmpty {
                return [
                    Finding(
                        check: "no-projects", summary: "attachd has no projects, so every wait fails",
                        fix: "add one: `attachctl add NAME --debug-port PORT`")
                ]
            }
            return []
        }
        guard !s.projects.contains(where: { $0.name == name }) else { return [] }
        let known = s.projects.map(\.name).sorted()
        let others = known.isEmpty ? "attachd has no projects" : "known: " + known.joined(separator: ", ")
        return [
            Finding(
                check: "project-missing", subject: name, summary: "no such project (\(others))",
                fix: "add it: `attachctl add \(name) --debug-port PORT` (the port the host's debug server listens on)")
        ]
    }

    /// A rendezvous listener is down (e.g. its TCP port is taken): hosts cannot announce themselves.
    public static func listenerError(_ s: DoctorSnapshot) -> [Finding] {
        s.projectsInScope.compactMap { project in
            guard let error = project.error else { return nil }
            let portHint = project.rendezvousPort.map { " (find what holds it: `ss -ltnp 'sport = :\($0)'`)" } ?? ""
            return Finding(
                check: "listener-error", subject: project.name,
                summary: "a rendezvous endpoint is not listening, so hosts cannot announce themselves: \(error)",
                fix:
                    "free the port\(portHint), then `attachctl remove \(project.name)` and add it again; or add it with another --rendezvous-port"
            )
        }
    }

    /// A project's rendezvous socket file is gone while attachd listens on it (someone removed
    /// it): hosts that look for the file find nothing.
    public static func rendezvousSocketMissing(_ s: DoctorSnapshot) -> [Finding] {
        s.projectsInScope.compactMap { project in
            guard project.error == nil, s.missingRendezvousSockets.contains(project.name) else { return nil }
            return Finding(
                check: "rendezvous-socket-missing", subject: project.name,
                summary:
                    "its rendezvous socket \(project.rendezvousSocket) is not there (another process removed it), so hosts cannot announce themselves through it",
                fix:
                    "restart attachd (`systemctl --user restart attachd`), or `attachctl remove \(project.name)` and add it again"
            )
        }
    }

    /// A project with no live host whose debug port something already listens on: the host's
    /// debug server will not be able to (`DoctorSnapshot.portHolders` says who holds it).
    public static func debugPortHeldBeforeHost(_ s: DoctorSnapshot) -> [Finding] {
        s.projectsInScope.compactMap { project in
            guard let port = project.debugPort, let holder = s.portHolders[port],
                !s.sessions(of: project.name).contains(where: { $0.state != .ended })
            else { return nil }
            return Finding(
                check: "port-held", subject: project.name,
                summary:
                    "the debug port \(port) is already held by \(holder), before any host announced itself: the host's debug server cannot listen there",
                fix:
                    "stop that process (a debug server left from an earlier run, another project's host), or give the project another --debug-port (`attachctl remove \(project.name)`, then add it again)"
            )
        }
    }

    /// Nobody has announced a host for the project asked about.
    public static func noHost(_ s: DoctorSnapshot) -> [Finding] {
        guard let name = s.project, let project = s.projectsInScope.first, s.sessions(of: name).isEmpty else {
            return []
        }
        var via = "its Unix socket \(project.rendezvousSocket)"
        if let port = project.rendezvousPort { via += " or TCP 127.0.0.1:\(port)" }
        return [
            Finding(
                check: "no-host", subject: name,
                summary: "no host has announced itself, so a wait blocks until one does",
                fix:
                    "start the host application with `import attach_ready; attach_ready.start(project=\"\(name)\"\(project.debugPort.map { ", port=\($0)" } ?? ""))` in its start-up script (or a bootstrap that connects to \(via)); for a shell-started host, `attachctl announce \(name) --pid PID`"
            )
        ]
    }

    /// A pending session whose port is held by another process or user: attachd waits for the
    /// host's own listener, which cannot bind there.
    public static func portHeldByOther(_ s: DoctorSnapshot) -> [Finding] {
        s.sessions.filter { $0.state == .pending && $0.problem != nil && s.inScope($0) }.map { session in
            Finding(
                check: "port-held", subject: session.project,
                summary: "host session \(session.id) is not ready: \(session.problem!)",
                fix:
                    "stop that process (a debug server left from an earlier run, another user's server, a container's published port), or give the host another port (DEBUG_PORT=N, or `attachctl add --attach-port` so each host picks a free one)"
            )
        }
    }

    /// A live session whose debug server listens on another port than the project's, which the
    /// IDE is told (no attach port relays it): the IDE's attach is refused.
    public static func debugPortMismatch(_ s: DoctorSnapshot) -> [Finding] {
        s.sessions.filter { $0.state != .ended && $0.debugPortMismatch != nil && s.inScope($0) }.map { session in
            Finding(
                check: "port-mismatch", subject: session.project,
                summary: "host session \(session.id): \(Format.portMismatch(session)!), so the IDE's attach is refused",
                fix: Format.portMismatchFix(session))
        }
    }

    /// A host announced itself but its debug server is not listening (yet): the session is pending.
    public static func neverListened(_ s: DoctorSnapshot) -> [Finding] {
        s.sessions.filter { $0.state == .pending && $0.problem == nil && s.inScope($0) }.map { session in
            let endpoint = Format.endpoint(host: session.debugHost, port: session.debugPort)
            var summary =
                "host session \(session.id) announced itself \(Format.age(s.now - session.startedAt)) ago, but nothing listens on its debug port \(endpoint)"
            if session.origin == .lines { summary += " (or the host has not said READY=1)" }
            summary += session.status.map { "; the host's last STATUS: \($0)" } ?? "; the host sent no STATUS="
            return Finding(
                check: "not-listening", subject: session.project, summary: summary,
                fix: session.debugPort.map { port in
                    "check that the host starts its debug server on port \(port) (debugpy.listen((\"\(session.debugHost)\", \(port)))) and look at its log; if it listens on another port, announce that one (DEBUG_PORT=N) or re-add the project with that --debug-port"
                }
                    ?? "check that the host starts its debug server (attachd looks for the first loopback port its process tree listens on) and look at its log; or say the port (DEBUG_PORT=N, `attachctl run --debug-port N`)"
            )
        }
    }

    /// The last session of a project ended and none is live: its end reason says why.
    public static func sessionEnded(_ s: DoctorSnapshot) -> [Finding] {
        s.projectsInScope.compactMap { project in
            let sessions = s.sessions(of: project.name)
            guard let last = sessions.last, !sessions.contains(where: { $0.state != .ended }) else { return nil }
            let reason = last.endReason ?? "no reason given"
            let ago = last.endedAt.map { " \(Format.age(s.now - $0)) ago" } ?? ""
            let fix: String
            if let status = last.status, status.hasPrefix("debug server did not start") {
                // attach_ready's last word before it closed the rendezvous: the host lives on.
                fix =
                    "the host's debug server did not start (attach_ready said why in STATUS=, and the host's log has the rest); fix that and restart the host application"
            } else if reason.contains("did not listen within") || reason.contains("did not send READY=1") {
                fix =
                    "the host took longer than the project's ready timeout (\(Format.seconds(project.readyTimeout))): check that its debug server starts\(project.debugPort.map { " on port \($0)" } ?? ""), or give it longer with `attachctl add --timeout` (remove and add again)"
            } else if reason.contains("exited") || reason.contains("closed the rendezvous")
                || reason.contains("STOPPING")
            {
                fix = "the host application is gone; start it again (a wait returns once its debug server listens)"
            } else {
                fix = "start the host again; `attachctl sessions \(project.name)` shows its sessions"
            }
            return Finding(
                check: "session-ended", subject: project.name,
                summary: "no live host: the last session \(last.id) ended\(ago): \(reason)"
                    + (last.status.flatMap { $0.isEmpty ? nil : "; the host's last STATUS: \($0)" } ?? ""), fix: fix)
        }
    }

    /// A debug host the IDE may not reach: not a loopback address.
    public static func remoteDebugHost(_ s: DoctorSnapshot) -> [Finding] {
        var findings = s.projectsInScope.filter { !isLoopback($0.debugHost) }.map { project in
            Finding(
                check: "remote-debug-host", severity: .warning, subject: project.name,
                summary:
                    "the debug host \(project.debugHost) is not a loopback address; VS Code attaches to \(Format.endpoint(host: project.debugHost, port: project.debugPort)) and may not reach it",
                fix:
                    "make sure the debug server listens on that address and no firewall is in the way (`nc -z \(project.debugHost) \(project.debugPort.map(String.init) ?? "PORT")` from where VS Code runs), or use 127.0.0.1 with an ssh tunnel"
            )
        }
        let projectHosts = Dictionary(s.projects.map { ($0.name, $0.debugHost) }, uniquingKeysWith: { a, _ in a })
        for session in s.sessions
        where session.state != .ended && s.inScope(session) && !isLoopback(session.debugHost)
            && projectHosts[session.project] != session.debugHost
        {
            findings.append(
                Finding(
                    check: "remote-debug-host", severity: .warning, subject: session.project,
                    summary:
                        "host session \(session.id) has its debug server on \(Format.endpoint(host: session.debugHost, port: session.debugPort)), not a loopback address; the IDE may not reach it",
                    fix: "make sure that address is reachable from where VS Code runs"))
        }
        return findings
    }

    /// 127.0.0.0/8, ::1 and localhost.
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "::1" || h == "[::1]" || h == "0:0:0:0:0:0:0:1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

extension DoctorSnapshot {
    func inScope(_ session: SessionInfo) -> Bool {
        project == nil || session.project == project
    }
}
