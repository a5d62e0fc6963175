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

            The live view follows the terminal's size (a resize redraws it within a quarter of a \
            second) and outlives attachd: when attachd goes away it says so and reconnects once it \
            is back. The line form runs until interrupted (Ctrl-C) and exits 75 if attachd goes \
            away, so that a script notices.

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
            return
        } else {
            try runLines()
        }
        // The daemon closed the stream on purpose (it is stopping).
        throw fail(
            "attachd ended the watch (is it stopping or restarting?); run `attachctl watch` again",
            code: ExitStatus.tempFail)
    }

    /// One line per event, as ever (scripts read these).
    private func runLines() throws {
        let json = output.json
        let interactive = Output.stderrIsTerminal
        try withClient(global, context: .watching) { client throws(ClientError) in
            try client.watch(
                project: name,
                onAcknowledged: {
                    if interactive {
                        Output.err("watching \(name.map { "'\($0)'" } ?? "all projects")… (Ctrl-C to stop)")
                    }
                },
                onEvent: { event in
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
    /// the socket and are applied after it). It runs until interrupted: a resize redraws it,
    /// and when attachd goes away it says so and subscribes again once attachd is back.
    private func runLive() throws {
        var view = LiveView(project: name)
        var drawn = 0
        var width = FileDescriptor.standardOutput.terminalColumns
        var notice: String?
        func draw() {
            let lines = view.lines(now: Clock.wallSeconds()) + (notice.map { [$0] } ?? [])
            Output.raw(LiveView.frame(lines, replacing: drawn, width: width))
            drawn = lines.count
        }
        // Between events: a terminal whose width changed (SIGWINCH's news, read directly) is redrawn.
        func followSize() {
            let now = FileDescriptor.standardOutput.terminalColumns
            if now != width {
                width = now
                draw()
            }
        }
        let socket = global.socketPath
        let project = name
        var connectedOnce = false
        let pause = try? Pipe.make()
        while true {
            do throws(ClientError) {
                let client = try BrokerClient(socketPath: socket)
                defer { client.close() }
                try client.watch(
                    project: project, tickInterval: 0.25, tick: followSize,
                    onAcknowledged: {
                        connectedOnce = true
                        notice = nil
                        view = LiveView(project: project)
                        if let lister = try? BrokerClient(socketPath: socket) {
                            if let sessions = try? lister.listSessions(project: project) { view.load(sessions) }
                            lister.close()
                        }
                        draw()
                    },
                    onEvent: { event in
                        view.apply(event, at: Clock.wallSeconds())
                        draw()
                        return true
                    })
            } catch {
                var gone = false
                switch error {
                case .connectionLost, .unreachable: gone = true
                case .remote(let remote): gone = remote.knownName == .shuttingDown
                default: break
                }
                // Before the first subscription, attachd missing is an error as for any command.
                guard gone && connectedOnce else {
                    Output.err("attachctl: " + ErrorMessages.describe(error, context: .watching))
                    throw ExitCode(ExitStatus.code(for: error))
                }
            }
            // Stream ended or attachd gone: say so, and try again a few times a second.
            if notice == nil {
                notice = "attachd went away (restarting?); reconnecting to \(socket) (Ctrl-C to stop)"
                draw()
            }
            _ = try? pause?.readEnd.waitReadable(timeoutMilliseconds: 250)
            followSize()
        }
    }
}
