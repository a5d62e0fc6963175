import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol

struct Announce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "announce",
        abstract: "Announce a host session over the control socket (for shell-driven hosts); print its id.",
        discussion: """
        For hosts started from a shell script that cannot keep a rendezvous connection open. \
        The session becomes ready when the debug port is in LISTEN state. With --pid it ends \
        when that process exits; without, when the debug port stops listening after it was ready.

        Example:
          myhost --debug-port 5678 & attachctl announce maxtools --debug-port 5678 --pid $!
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    @Argument(help: "The project the host belongs to.", completion: ProjectCompletion.kind)
    var name: String

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Port the host's debug server listens on (default: the project's).", valueName: "port"))
    var debugPort: Int?

    @Option(name: .long, help: ArgumentHelp("The host's process id; the session ends when it exits.", valueName: "pid"))
    var pid: Int?

    @Option(name: .long, help: ArgumentHelp("Free text shown with the session.", valueName: "text"))
    var status: String?

    func validate() throws {
        try validateProjectName(name)
        try validatePort(debugPort, option: "--debug-port")
        if let pid, pid < 1 || pid > Int(Int32.max) {
            throw ValidationError("--pid \(pid) is not a process id; use a positive number")
        }
    }

    func run() throws {
        let parameters = AnnounceParameters(project: name, debugPort: debugPort, pid: pid, status: status)
        let (session, raw) = try withClient(global) { client throws(ClientError) in
            let session = try client.announce(parameters)
            return (session, client.lastReply["session"] ?? .null)
        }
        if output.json {
            Output.json(raw)
        } else {
            Output.out(session.id)
        }
    }
}
