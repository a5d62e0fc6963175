import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachSystem

struct Sessions: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List host sessions (live, then the last ended ones), of one project or all.",
        discussion: """
            Live sessions come first, oldest first; then the 5 that ended last (all of them, up to \
            the 200 attachd keeps, with --all). \
            Columns: ID; PROJECT; STATE (pending: the host announced itself, its debug port is not \
            listening yet; ready: it is; ended) with the host's STATUS text (its first 40 \
            characters; a debug server on another port than the project's, which the IDE is told, \
            is said too) (and, when attach_ready \
            found no Python for debugpy's adapter in an embedded interpreter, that); ORIGIN (connect: bare \
            connection to the rendezvous, lines: sd_notify-style lines, control: `attachctl announce`); \
            DEBUG host:port; PID; AGE; END REASON (its first 60 characters).
            With --json: every session (ended ones included), as Session objects exactly as the \
            API's ListSessions returns them \
            (executable and python: what attach_ready found in an embedded interpreter, "" for None \
            or none found).

            Example:
              attachctl sessions
              attachctl sessions maxtools --json
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    @Argument(help: "Only this project's sessions.", completion: ProjectCompletion.kind)
    var name: String?

    @Flag(name: .long, help: "Show every ended session attachd keeps, not only the last 5.")
    var all = false

    func validate() throws {
        if let name { try validateProjectName(name) }
    }

    func run() throws {
        let (sessions, raw) = try withClient(global) { client throws(ClientError) in
            let sessions = try client.listSessions(project: name)
            return (sessions, client.lastReply["sessions"] ?? .array([]))
        }
        if output.json {
            Output.json(raw)
            return
        }
        if sessions.isEmpty {
            Output.err(
                name.map {
                    "no sessions of '\($0)'; a host appears here once it announces itself on the project's rendezvous"
                }
                    ?? "no sessions; a host appears here once it announces itself on its project's rendezvous")
            return
        }
        let (shown, hidden) = Format.sessionsToShow(sessions, all: all)
        Output.out(Format.sessionTable(shown, now: Clock.wallSeconds()))
        if hidden > 0 {
            Output.out("(\(hidden) older ended session\(hidden == 1 ? "" : "s") not shown; --all shows them)")
        }
    }
}
