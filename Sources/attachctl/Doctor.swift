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

        Prints each finding as `problem: …` or `warning: …` followed by `  fix: …`, or as \
        `note: …` (nothing to fix); with --json, a list of {check, severity, subject, summary, \
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
            let missing = projects.filter { $0.remote == nil && !Files.isSocket($0.rendezvousSocket, followingLinks: true) }
            return DoctorSnapshot(socketPath: socket, daemon: .reachable(status), project: name,
                                  projects: projects, sessions: try client.listSessions(),
                                  missingRendezvousSockets: Set(missing.map(\.name)), now: now)
        } catch {
            return DoctorSnapshot(socketPath: socket, daemon: .unreachable(error), project: name, now: now)
        }
    }
}
