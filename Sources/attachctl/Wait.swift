import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachSystem

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until a host of the project has its debug server listening; print host:port.",
        discussion: """
            Returns at once if a session of the project is already ready, else as soon as one \
            becomes ready (its debug port is in LISTEN state, as the kernel reports it; the port is \
            never probed by connecting). This is what VS Code's preLaunchTask runs before attaching.
            Without --timeout, the project's ready timeout applies (`attachctl add --timeout`); \
            --timeout 0 checks once. While waiting on a terminal, a progress line shows the elapsed \
            time on stderr; nothing is shown when stderr is not a terminal.

            Prints HOST:PORT of the ready debug server (with --json, the Session object).

            Exit codes:
              0    a session is ready
              3    no such project, or it was removed while waiting
              64   usage error
              69   attachd is not running (nothing listens on the control socket)
              75   attachd went away while waiting (restarting?), or was too busy to take
                   the connection: run the wait again
              124  timeout: no session became ready in time (as timeout(1))
              1    the ready host's debug server listens on another port than the
                   project's --debug-port, which the IDE is told (it prints HOST:PORT
                   and says so), or any other error

            Example:
              attachctl wait maxtools
              attachctl wait maxtools --timeout 30 && echo attach now
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    @Argument(help: "The project to wait for.", completion: ProjectCompletion.kind)
    var name: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds to wait (default: the project's ready timeout; 0: check once).", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        try validateProjectName(name)
        try validateSeconds(timeout, option: "--timeout", allowZero: true)
    }

    func run() throws {
        try WaitRequest(socket: global.socket, json: output.json, name: name, timeout: timeout).run()
    }
}

/// What `attachctl wait` does once its arguments are parsed and validated (by ArgumentParser, or
/// by `QuickCommand` on the fast path).
struct WaitRequest: Equatable {
    /// `--socket`, if given.
    var socket: String?
    var json: Bool
    var name: String
    var timeout: Double?

    func run() throws {
        let showProgress = Output.stderrIsTerminal
        let started = Clock.monotonicSeconds()
        var drawn = false
        let project = name
        func draw() {
            Output.rawErr("\r\u{1B}[Kwaiting for \(project)… \(Format.elapsed(Clock.monotonicSeconds() - started))")
            drawn = true
        }
        func clear() {
            if drawn { Output.rawErr("\r\u{1B}[K") }
            drawn = false
        }
        if showProgress { TerminalLine.eraseOnInterrupt() }
        let (session, raw) = try withClient(
            socketPath: GlobalOptions.socketPath(socket), context: .waiting(project: name), cleanup: clear
        ) { client throws(ClientError) in
            if showProgress { draw() }
            let session = try client.wait(
                project: project, timeout: timeout, tickInterval: 0.1,
                tick: showProgress ? { draw() } : nil)
            return (session, json ? client.lastReply["session"] ?? .null : .null)
        }
        if json {
            Output.json(raw)
        } else {
            // What the IDE connects to: the attach port, where there is one.
            if let attach = session.attachPort {
                Output.out(Format.endpoint(host: "127.0.0.1", port: attach))
            } else {
                Output.out(Format.endpoint(host: session.debugHost, port: session.debugPort))
            }
        }
        // The IDE attaches to the project's port (no attach port relays it): a host listening
        // elsewhere is refused there, so this wait must not look like success.
        if let problem = Format.portMismatch(session) {
            throw fail("session \(session.id) is ready, but \(problem); \(Format.portMismatchFix(session))")
        }
    }
}
