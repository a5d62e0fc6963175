import ArgumentParser
import AttachDaemon
import AttachProtocol
import AttachSystem
import AttachSystemd
import Logging

/// `attachd`: the daemon. Everything it does lives in AttachDaemon; this only reads flags.
@main
struct AttachDCommand: ParsableCommand {
    static let version = AttachdVersion.current

    static let configuration = CommandConfiguration(
        commandName: "attachd",
        abstract: "Brokers readiness between a host application's debug server and your IDE.",
        discussion: """
            attachd keeps a rendezvous socket open for every project. A host application (Blender, \
            Maya, 3ds Max and the like) announces itself there when it starts its debug server \
            (debugpy or ptvsd); `attachctl wait PROJECT` in the IDE returns the moment that server \
            is listening.

            Run it from a shell, or as a systemd user service (the attachd.socket user unit). It speaks \
            varlink on its control socket: $XDG_RUNTIME_DIR/attachd/control.sock by default \
            (/tmp/attachd-UID/control.sock without XDG_RUNTIME_DIR), or ATTACHD_SOCKET, or --socket.
            Projects are kept in $XDG_CONFIG_HOME/attachd/projects.json (~/.config/attachd/).

            One attachd serves one user configuration: it holds attachd.lock beside projects.json \
            and in its runtime directory until it exits, and a second one for the same \
            configuration or runtime directory (even with another --socket) exits at once, naming \
            the first's pid and control socket. It removes only socket files it created itself.

            Exit codes: 0 clean stop (SIGTERM, SIGINT); 1 cannot start; 3 another attachd already \
            serves the socket, this configuration or this runtime directory.
            """,
        version: version
    )

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Control socket to listen on (default: ATTACHD_SOCKET or $XDG_RUNTIME_DIR/attachd/control.sock).",
            valueName: "path"))
    var socket: String?

    @Option(name: .long, help: "Least severe messages to log: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Control connections served at once; more are told TooManyConnections and closed.", valueName: "n"))
    var maxConnections: Int = 2048

    func validate() throws {
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
    }

    func run() throws {
        let level = logLevel
        let journal = Systemd.stderrIsJournal
        LoggingSystem.bootstrap { label in DaemonLogHandler(label: label, level: level, journal: journal) }
        let logger = Logger(label: "attachd")
        var options = DaemonOptions.defaults(controlSocket: socket, version: Self.version)
        options.maxControlConnections = maxConnections
        do {
            try Daemon(options: options, logger: logger).run()
        } catch {
            logger.critical("\(error.description)")
            throw ExitCode(error.exitCode)
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
