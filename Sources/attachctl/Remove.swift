import ArgumentParser
import AttachClient
import AttachCtlKit

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a project: close its rendezvous endpoints, end its sessions.",
        discussion: """
        Waiters on the project fail (their `attachctl wait` exits 3). Hosts already running keep \
        their debug server; only attachd forgets them.

        Example:
          attachctl remove maxtools
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The project to remove.", completion: ProjectCompletion.kind)
    var name: String

    func validate() throws {
        try validateProjectName(name)
    }

    func run() throws {
        try withClient(global) { client throws(ClientError) in
            try client.removeProject(name)
        }
        Output.out("removed project '\(name)'")
    }
}
