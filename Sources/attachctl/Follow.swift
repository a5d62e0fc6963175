import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol

struct Follow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Turn following the hosts on or off for a project with an attach port.",
        discussion: """
            On (the default), an IDE's DAP session on the attach port outlives its host: when the \
            host ends on its own (it exits or crashes, its session ends, its debug server closes \
            the connection) and the IDE did not ask for it, attachd sends the IDE an output event \
            saying so and a terminated event with "restart": true. VS Code then starts the same \
            configuration again; the new connection is held until the project's next host is ready, \
            and the IDE sets its breakpoints again. Off, the IDE's session ends with its host. \
            Relays running keep what they had; other protocols (gdb, node) are never changed.

            Example:
              attachctl follow blend off
              attachctl follow blend on
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    @Argument(help: "The project.", completion: ProjectCompletion.kind)
    var name: String

    @Argument(help: ArgumentHelp("on or off.", valueName: "on|off"))
    var setting: String

    func validate() throws {
        try validateProjectName(name)
        guard setting == "on" || setting == "off" else { throw ValidationError("say on or off, not '\(setting)'") }
    }

    func run() throws {
        let (project, raw) = try withClient(global) { client throws(ClientError) in
            let project = try client.setFollow(project: name, setting == "on")
            return (project, client.lastReply["project"] ?? .null)
        }
        if output.json {
            Output.json(raw)
        } else if project.follow == true {
            Output.out("IDE sessions of '\(project.name)' follow its hosts")
        } else {
            Output.out("IDE sessions of '\(project.name)' end with their host")
        }
    }
}
