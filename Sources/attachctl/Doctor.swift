import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol
import AttachSystem

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Explain why a wait does not return or an attach fails, each finding with its fix.",
        discussion: """
            Checks, in order: that attachd answers on the control socket (and how to start it if \
            not); that the project exists; that its rendezvous endpoints listen (a TCP port in use \
            shows here); that a host has announced itself; that each announced host's debug server \
            listens (with the host's last STATUS= text); why the last session ended; which Python \
            debugpy's adapter runs with when attach_ready reported an embedded interpreter (the \
            host's sys.executable is the application itself, or None): a note when it found one, a \
            problem when it found none (set ATTACHD_PYTHON or pass python= to attach_ready.start()); \
            and that the debug host is a loopback address the IDE can reach.
            Without NAME, every project is checked (except for "no host has announced itself", \
            which is only reported for the project named).

            Prints each finding as `problem: TEXT` or `warning: TEXT` followed by `  fix: TEXT`, or \
            as `note: TEXT` (nothing to fix); with --json, a list of {check, severity, subject, summary, \
            fix} objects (severity problem, warning or note; fix empty for a note).

            Exit codes: 0 all is well (notes alone included); 1 there are problems or warnings; \
            64 usage error.

            Example:
              attachctl doctor maxtools
              attachctl doctor --json | jq -r '.[].fix'
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    @Argument(help: "The project to check (default: all).", completion: ProjectCompletion.kind)
    var name: String?

    func validate() throws {
        if let name { try validateProjectName(name) }
    }

    func run() throws {
        let snapshot = gather()
        let findings = Doctor.findings(snapshot)
        if output.json {
            Output.json(Doctor.json(findings))
        } else {
            Output.out(Doctor.report(findings, snapshot: snapshot))
        }
        let status = Doctor.exitStatus(findings)
        if status != ExitStatus.success { throw ExitCode(status) }
    }

    /// Who listens on the debug port of each local project that has no live session, by port:
    /// nothing should until a host starts. Read from the kernel (sock_diag) as attachd reads it.
    static func holders(projects: [ProjectInfo], sessions: [SessionInfo], daemonPID: Int) -> [Int: String] {
        let live = Set(sessions.filter { $0.state != .ended }.map(\.project))
        let ports = Set(projects.filter { $0.remote == nil && !live.contains($0.name) }.compactMap(\.debugPort))
        guard !ports.isEmpty else { return [:] }
        let probe = HostListenProbe(entersNamespaces: false)
        var holders: [Int: String] = [:]
        for port in ports.sorted() {
            // This process holds nothing: any listener on the port is "another's".
            guard
                case .heldByOther(_, let pid, let command, let uid) = probe.verdict(
                    pid: ProcessHandle.currentPID, port: UInt16(port))
            else { continue }
            if let pid, Int(pid) == daemonPID {
                let mine = projects.first {
                    $0.attachPort == port || ($0.rendezvousPort == port && $0.rendezvousPort != $0.debugPort)
                }
                holders[port] =
                    "attachd itself"
                    + (mine.map {
                        " (the \($0.attachPort == port ? "attach" : "rendezvous") port of project '\($0.name)')"
                    } ?? "")
            } else if let pid {
                holders[port] = "pid \(pid)" + (command.map { " (\($0))" } ?? "")
            } else {
                holders[port] = "a process of uid \(uid)"
            }
        }
        return holders
    }

    /// Asks the daemon for its status, projects and sessions; a daemon that cannot be reached
    /// (or fails half-way) is itself what the snapshot records.
    private func gather() -> DoctorSnapshot {
        let socket = global.socketPath
        let now = Clock.wallSeconds()
        do throws(ClientError) {
            let client = try BrokerClient(socketPath: socket)
            defer { client.close() }
            let status = try client.status()
            let projects = try client.listProjects()
            let sessions = try client.listSessions()
            let missing = Set(
                sessions.compactMap { session in
                    session.executable.flatMap {
                        $0.hasPrefix("/") && session.remote == nil && !Files.exists($0) ? $0 : nil
                    }
                })
            let missingSockets = projects.filter {
                $0.remote == nil && !Files.isSocket($0.rendezvousSocket, followingLinks: true)
            }
            return DoctorSnapshot(
                socketPath: socket, daemon: .reachable(status), project: name,
                projects: projects, sessions: sessions,
                missingRendezvousSockets: Set(missingSockets.map(\.name)), now: now,
                portHolders: Self.holders(projects: projects, sessions: sessions, daemonPID: status.pid),
                missingExecutables: missing)
        } catch {
            return DoctorSnapshot(socketPath: socket, daemon: .unreachable(error), project: name, now: now)
        }
    }
}
