import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol
import AttachSystem

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command as a host session of a project, and exit with its status.",
        discussion: """
            Announces a session of NAME whose process is this attachctl (so the command and everything \
            it starts belong to it), then runs COMMAND with ATTACHD_PROJECT, ATTACHD_SESSION and \
            ATTACHD_RENDEZVOUS in its environment (the Python helper inside joins the session instead \
            of announcing a new one). The session is ready when the command's process tree listens on \
            --debug-port, or, without it, on the first loopback port it listens on; it ends when the \
            command exits. When attachd goes away while the command runs (a crash, a restart), the session \
            is announced again, with its id, as soon as attachd (or the next one) answers. SIGINT, SIGTERM, \
            SIGHUP and SIGQUIT are passed to the command. This is how \
            a host that is not Python becomes a session: gdbserver, `node --inspect=0`, a JVM with JDWP.

            Examples:
              attachctl run blend -- blender --python-expr "import attach_ready; attach_ready.start()"
              attachctl run native --debug-port 2345 -- gdbserver 127.0.0.1:2345 ./tool
              attachctl run web -- node --inspect=127.0.0.1:0 server.js

            Exit status: COMMAND's (128+N when it died of signal N, which attachctl then dies of too); \
            the usual attachctl codes when the session cannot be announced; 127 when COMMAND cannot \
            be started.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The project the host belongs to.", completion: ProjectCompletion.kind)
    var name: String

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "Port the command's debug server listens on (default: the project's, else discovered).", valueName: "port"))
    var debugPort: Int?

    @Option(name: .long, help: ArgumentHelp("Free text shown with the session.", valueName: "text"))
    var status: String?

    @Argument(
        parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        try validateProjectName(name)
        try validatePort(debugPort, option: "--debug-port")
        if command.isEmpty {
            throw ValidationError("give the command to run after --, e.g. attachctl run \(name) -- blender")
        }
    }

    func run() throws {
        let me = Int(ProcessHandle.currentPID)
        let parameters = AnnounceParameters(
            project: name, debugPort: debugPort, pid: me,
            status: status ?? "attachctl run \(command[0])")
        let (keeper, project) = try withClient(global) { client throws(ClientError) in
            let project = try client.getProject(name)
            return (try SessionKeeper(socketPath: global.socketPath, announcing: parameters), project)
        }
        guard let session = keeper.session else { throw ExitCode(ExitStatus.failure) }
        Output.err("attachctl run: starting \(command.joined(separator: " "))")
        var environment = ChildProcess.environment.filter {
            !["ATTACHD_PROJECT=", "ATTACHD_SESSION=", "ATTACHD_RENDEZVOUS=", "ATTACHD_HOST_PID="].contains(
                where: $0.hasPrefix)
        }
        // ATTACHD_HOST_PID marks processes that leave our tree (daemons, debugpy's adapter) as
        // the session's all the same.
        environment += [
            "ATTACHD_PROJECT=\(name)", "ATTACHD_SESSION=\(session.id)",
            "ATTACHD_RENDEZVOUS=\(project.rendezvousSocket)", "ATTACHD_HOST_PID=\(me)",
        ]
        let child: Int32
        do {
            child = try ChildProcess.spawn(command, environment: environment)
        } catch {
            Output.err("attachctl run: error: cannot start \(command[0]): \(error)")
            throw ExitCode(127)
        }
        ChildProcess.forwardSignals(to: child)
        let attach =
            project.attachPort.map { ", IDE attaches to " + Format.endpoint(host: "127.0.0.1", port: $0) } ?? ""
        Output.err("attachctl run: session \(session.id) (pid \(child)\(attach))")
        // While the command runs, attachd going away does not lose it: the keeper announces it
        // again to the next attachd (with the same id, which the helper inside joins again).
        if let exited = try? ProcessHandle.pidfdOpen(child) {
            keeper.keep(until: exited)
            exited.close()
        }
        keeper.close()
        switch try ChildProcess.wait(child) {
        case .exited(let code):
            throw ExitCode(code)
        case .signalled(let signal):
            ChildProcess.die(of: signal)
        }
    }
}
