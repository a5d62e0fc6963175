import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachSystem

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream project and session events, one line each.",
        discussion: """
        Each line: time, event kind (projectAdded, projectRemoved, projectChanged, sessionStarted, \
        sessionReady, sessionAttached, sessionPending, sessionEnded), project, session id and state. With --json, one Event object \
        per line (JSON lines). Runs until interrupted (Ctrl-C); exits 75 if attachd goes away.

        Example:
          attachctl watch
          attachctl watch maxtools --json | jq -c 'select(.kind == "sessionReady")'
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    @Argument(help: "Only this project's events.", completion: ProjectCompletion.kind)
    var name: String?

    func validate() throws {
        if let name { try validateProjectName(name) }
    }

    func run() throws {
        let json = output.json
        let interactive = Output.stderrIsTerminal
        try withClient(global, context: .watching) { client throws(ClientError) in
            try client.watch(project: name, onAcknowledged: {
                if interactive { Output.err("watching \(name.map { "'\($0)'" } ?? "all projects")… (Ctrl-C to stop)") }
            }, onEvent: { event in
                if json {
                    Output.out(JSONOutput.line(client.lastReply["event"] ?? .null))
                } else {
                    Output.out(Format.eventLine(event, at: Clock.wallSeconds()))
                }
                return true
            })
        }
        // The daemon closed the stream on purpose (it is stopping).
        throw fail("attachd ended the watch (is it stopping or restarting?); run `attachctl watch` again",
                   code: ExitStatus.tempFail)
    }
}
