import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol
import AttachSystem

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Show sessions live on a terminal; stream project and session events, one line each, elsewhere.",
        discussion: """
        On a terminal (stdout), a live view: one line per session (ID, PROJECT, STATE with the \
        host's STATUS text, DEBUG host:port, PID, AGE, END REASON) redrawn in place on every \
        event, and a line naming the last event.

        When stdout is not a terminal (a pipe or a file), one line per event: time, event kind \
        (projectAdded, projectRemoved, projectChanged, sessionStarted, sessionReady, \
        sessionAttached, sessionPending, sessionEnded), project, session id and state. With \
        --json, one Event object per line (JSON lines), terminal or not.

        Runs until interrupted (Ctrl-C); exits 75 if attachd goes away.

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
        if !output.json && FileDescriptor.standardOutput.isTerminal {
            try runLive()
        } else {
            try runLines()
        }
        // The daemon closed the stream on purpose (it is stopping).
        throw fail("attachd ended the watch (is it stopping or restarting?); run `attachctl watch` again",
                   code: ExitStatus.tempFail)
    }

    /// One line per event, as ever (scripts read these).
    private func runLines() throws {
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
    }

    /// The live view. The sessions already there are listed once the subscription is in place,
    /// so no change falls between the list and the stream (events that arrive meanwhile wait in
    /// the socket and are applied after it).
    private func runLive() throws {
        var view = LiveView(project: name)
        var drawn = 0
        func draw() {
            let lines = view.lines(now: Clock.wallSeconds())
            Output.raw(LiveView.frame(lines, replacing: drawn, width: FileDescriptor.standardOutput.terminalColumns))
            drawn = lines.count
        }
        let socket = global.socketPath
        let project = name
        try withClient(global, context: .watching) { client throws(ClientError) in
            try client.watch(project: project, onAcknowledged: {
                if let lister = try? BrokerClient(socketPath: socket) {
                    if let sessions = try? lister.listSessions(project: project) { view.load(sessions) }
                    lister.close()
                }
                draw()
            }, onEvent: { event in
                view.apply(event, at: Clock.wallSeconds())
                draw()
                return true
            })
        }
    }
}
