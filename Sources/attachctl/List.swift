import ArgumentParser
import AttachClient
import AttachCtlKit

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List projects.",
        discussion: """
            Columns: NAME; DEBUG, where the host's debug server listens; RENDEZVOUS, the TCP port \
            (if any) and Unix socket hosts announce themselves on; TIMEOUT, the default wait; \
            STATE/ERROR, whether the rendezvous endpoints are listening.
            With --json: a list of Project objects, as the API's ListProjects returns them.

            Example:
              attachctl list
              attachctl list --json | jq '.[].name'
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    func run() throws {
        let (projects, raw) = try withClient(global) { client throws(ClientError) in
            let projects = try client.listProjects()
            return (projects, client.lastReply["projects"] ?? .array([]))
        }
        if output.json {
            Output.json(raw)
            return
        }
        if projects.isEmpty {
            Output.err("no projects; add one with `attachctl add NAME --debug-port N`")
            return
        }
        Output.out(Format.projectTable(projects))
    }
}
