import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol
import AttachSystem

struct Announce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "announce",
        abstract: "Announce a host session over the control socket (for shell-driven hosts); print its id.",
        discussion: """
            For hosts started from a shell script that cannot keep a rendezvous connection open. \
            The session becomes ready when the debug port is in LISTEN state. With --pid it ends \
            when that process exits; without, when the debug port stops listening after it was ready. \
            With --pid, a small background attachctl keeps the session while that process lives: \
            when attachd goes away (a crash, a restart), it announces the session again, with its id, \
            as soon as attachd (or the next one) answers.

            Example:
              myhost --debug-port 5678 & attachctl announce maxtools --debug-port 5678 --pid $!
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    @Argument(help: "The project the host belongs to.", completion: ProjectCompletion.kind)
    var name: String

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp("Port the host's debug server listens on (default: the project's).", valueName: "port"))
    var debugPort: Int?

    @Option(name: .long, help: ArgumentHelp("The host's process id; the session ends when it exits.", valueName: "pid"))
    var pid: Int?

    @Option(name: .long, help: ArgumentHelp("Free text shown with the session.", valueName: "text"))
    var status: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Keep this session while --pid lives (the background attachctl).",
            valueName: "id", visibility: .private))
    var keepSession: String?

    func validate() throws {
        try validateProjectName(name)
        try validatePort(debugPort, option: "--debug-port")
        if let pid, pid < 1 || pid > Int(Int32.max) {
            throw ValidationError("--pid \(pid) is not a process id; use a positive number")
        }
        if keepSession != nil && pid == nil { throw ValidationError("--keep-session needs --pid") }
    }

    func run() throws {
        var parameters = AnnounceParameters(project: name, debugPort: debugPort, pid: pid, status: status)
        if let keepSession, let pid {
            parameters.session = keepSession
            keep(parameters, pid: Int32(pid))
            return
        }
        let (session, raw) = try withClient(global) { client throws(ClientError) in
            let session = try client.announce(parameters)
            return (session, client.lastReply["session"] ?? .null)
        }
        if output.json {
            Output.json(raw)
        } else {
            Output.out(session.id)
        }
        if let pid { startKeeper(session: session.id, pid: pid) }
    }

    /// Starts `attachctl announce … --keep-session ID` in the background: in a session of its
    /// own, its standard descriptors on /dev/null (a shell's `$(attachctl announce …)` gets its
    /// end of file at once), not waited for.
    private func startKeeper(session: String, pid: Int) {
        guard let executable = ProcessHandle.executablePath, let null = try? FileDescriptor.openNullDevice() else {
            return
        }
        defer { null.close() }
        var arguments = [
            executable, "announce", name, "--socket", global.socketPath, "--pid", String(pid),
            "--keep-session", session,
        ]
        if let debugPort { arguments += ["--debug-port", String(debugPort)] }
        if let status { arguments += ["--status", status] }
        _ = try? ChildProcess.spawn(
            arguments, environment: ChildProcess.environment, standardInput: null,
            standardOutput: null, standardError: null)
    }

    /// The background attachctl: keeps the session while `pid` lives, and while attachd's
    /// runtime directory exists.
    private func keep(_ parameters: AnnounceParameters, pid: Int32) {
        guard let exited = try? ProcessHandle.pidfdOpen(pid) else { return }
        defer { exited.close() }
        let socketPath = global.socketPath
        let directory = Files.split(socketPath).directory
        let keeper = SessionKeeper(socketPath: socketPath, keeping: parameters)
        keeper.keep(until: exited, giveUp: { !Files.isDirectory(directory) })
        keeper.close()
    }
}
