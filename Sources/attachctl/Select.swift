import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol

struct Select: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select",
        abstract: "Pin a project's new IDE connections to one session (attach-port projects).",
        discussion: """
            By default a new IDE connection on the attach port goes to the newest ready session \
            that has no IDE yet, else to the newest ready session. `attachctl select NAME SESSION` \
            sends every new connection to SESSION until it ends; `--clear` goes back to the default. \
            `attachctl sessions NAME` lists the session ids.

            Example:
              attachctl select blend blend-1732
              attachctl select blend --clear
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    @Argument(help: "The project.", completion: ProjectCompletion.kind)
    var name: String

    @Argument(help: "The session new IDE connections go to.")
    var session: String?

    @Flag(name: .long, help: "Remove the pin: new connections go to the newest ready session again.")
    var clear = false

    func validate() throws {
        try validateProjectName(name)
        if clear == (session != nil) {
            throw ValidationError("give a SESSION to pin, or --clear to remove the pin")
        }
    }

    func run() throws {
        let answer = try withClient(global) { client throws(ClientError) -> (ProjectInfo, JSONValue)? in
            do throws(ClientError) {
                let project = try client.selectSession(project: name, session: session)
                return (project, client.lastReply["project"] ?? .null)
            } catch .remote(let error) where error.knownName == BrokerErrorName.sessionNotFound {
                // `sessions` lists ended sessions too: say that this one ended, not that it is unknown.
                if let session,
                    (try? client.listSessions(project: name))?.contains(where: {
                        $0.id == session && $0.state == .ended
                    }) == true
                {
                    return nil
                }
                throw .remote(error)
            }
        }
        guard let (project, raw) = answer else {
            throw fail(
                "session \(session ?? "") of '\(name)' has ended; only a live session can be pinned (see `attachctl sessions \(name)`)"
            )
        }
        if output.json {
            Output.json(raw)
        } else if let pinned = project.selectedSession {
            Output.out("new IDE connections of '\(project.name)' go to \(pinned)")
        } else {
            Output.out("new IDE connections of '\(project.name)' go to its newest ready session")
        }
    }
}
