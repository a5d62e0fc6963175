import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol

struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract:
            "Add a project: a name, where the IDE attaches, where its host's debug server listens, and rendezvous endpoints.",
        discussion: """
            attachd opens the project's rendezvous endpoints at once and keeps them open: a Unix \
            socket at $XDG_RUNTIME_DIR/attachd/projects/NAME.sock, and a TCP port on loopback with \
            --rendezvous-port. A host announces itself there (attach_ready.start(), or the article's \
            bootstrap connecting to the TCP port); `attachctl wait NAME` then returns as soon as the \
            debug port is in LISTEN state. Projects persist across daemon restarts.

            With --attach-port, attachd listens there for the IDE and relays each connection to the \
            newest ready session of the project (an IDE that connects first is held until one is \
            ready); --debug-port is then optional, since each host says (or shows) its own. An \
            IDE's DAP session there follows the project's hosts: when its host ends, the IDE is told \
            to restart and its new connection is held until the next host is ready (one F5 a day); \
            --no-follow turns that off (`attachctl follow NAME off` later).

            With --remote, the hosts run on another machine, reached through OpenSSH: attachd \
            watches the project there (`ssh DEST attachctl bridge`; attachd must run on that machine \
            too, with the project added), mirrors its sessions here (marked remote), and relays the \
            IDE's connections on --attach-port over ssh to the remote debug server, which keeps \
            listening on the remote loopback only. ssh runs with your ssh config, keys and agent, \
            BatchMode=yes and strict host key checking, one shared connection per host; \
            $ATTACHD_SSH_COMMAND (as GIT_SSH_COMMAND) or --ssh-command replaces `ssh`.

            Example:
              attachctl add farm --remote render42 --attach-port 5678
              attachctl add blend --attach-port 5678
              attachctl add maxtools --debug-port 5678
              attachctl add blender --debug-port 5679 --rendezvous-port 5680 --timeout 300
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    @Argument(help: "Project name: 1-64 characters of A-Z a-z 0-9 . _ -")
    var name: String

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "Port the host's debug server (debugpy/ptvsd) listens on; optional with --attach-port (each host says its own).",
            valueName: "port"))
    var debugPort: Int?

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "Port attachd listens on for the IDE (loopback), relaying it to a ready session.", valueName: "port"))
    var attachPort: Int?

    @Option(name: .long, help: ArgumentHelp("Host the debug server listens on.", valueName: "host"))
    var debugHost: String = "127.0.0.1"

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp(
            "Also accept rendezvous on this TCP port (loopback). May equal --debug-port: attachd then hands the port over to the debug server (the article's setup).",
            valueName: "port"))
    var rendezvousPort: Int?

    @Option(
        name: .long, parsing: .unconditional,
        help: ArgumentHelp("Default seconds `attachctl wait` waits for a host to become ready.", valueName: "seconds"))
    var timeout: Double = 120

    @Flag(
        name: .long,
        help:
            "Listen on every address, not only loopback, with the TCP rendezvous and the attach port (hosts and IDEs on other machines)."
    )
    var allowRemote = false

    @Flag(
        name: .long,
        help:
            "With --attach-port: the IDE's session ends with its host, instead of restarting and waiting for the next host."
    )
    var noFollow = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The hosts run on this machine, reached with ssh: [user@]host[:port] or a Host alias (needs --attach-port).",
            valueName: "destination"))
    var remote: String?

    @Option(
        name: .long,
        help: ArgumentHelp("The project's name on the remote machine (default: the same name).", valueName: "name"))
    var remoteProject: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The remote attachd's control socket (default: the remote user's $XDG_RUNTIME_DIR/attachd/control.sock).",
            valueName: "path"))
    var remoteSocket: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The ssh command for this project, e.g. \"ssh -F ~/.ssh/farm\" (default: $ATTACHD_SSH_COMMAND, else ssh).",
            valueName: "command"))
    var sshCommand: String?

    func validate() throws {
        if remote == nil, remoteProject != nil || remoteSocket != nil || sshCommand != nil {
            throw ValidationError("--remote-project, --remote-socket and --ssh-command go with --remote DESTINATION")
        }
        if let remote {
            if remote.isEmpty || remote.hasPrefix("-") {
                throw ValidationError(
                    "--remote '\(remote)' is not an ssh destination; use [user@]host[:port] or a Host alias")
            }
            if attachPort == nil {
                throw ValidationError("--remote needs --attach-port: where the IDE connects on this machine")
            }
            if let remoteProject { try validateProjectName(remoteProject) }
            if let remoteSocket, !remoteSocket.hasPrefix("/") {
                throw ValidationError("--remote-socket must be an absolute path on the remote machine")
            }
        }
        try validateProjectName(name)
        if noFollow && attachPort == nil {
            throw ValidationError("--no-follow goes with --attach-port: only relayed IDE sessions follow their hosts")
        }
        try validatePort(debugPort, option: "--debug-port")
        try validatePort(attachPort, option: "--attach-port")
        if debugPort == nil && attachPort == nil {
            throw ValidationError(
                "give --debug-port (where the host's debug server listens) or --attach-port (where the IDE attaches), or both"
            )
        }
        try validatePort(rendezvousPort, option: "--rendezvous-port")
        try validateSeconds(timeout, option: "--timeout", allowZero: false)
        if timeout > 86_400 {
            throw ValidationError(
                "--timeout \(Format.seconds(timeout)) is longer than attachd allows; use more than 0 and at most 86400 seconds (a day)"
            )
        }
        if debugHost.isEmpty { throw ValidationError("--debug-host must not be empty; use e.g. 127.0.0.1") }
        if !Self.isNumericHost(debugHost) {
            throw ValidationError(
                "--debug-host '\(debugHost)' is not a numeric address, and attachd does not resolve host names; give one such as 127.0.0.1, ::1 or 192.168.1.20 (localhost is taken as 127.0.0.1)"
            )
        }
        if let attachPort, attachPort == debugPort {
            throw ValidationError(
                "--attach-port and --debug-port are both \(attachPort): attachd listens on the attach port itself, so the debug server cannot; choose another --debug-port, or leave it out (with --attach-port each host says its own)"
            )
        }
        if let attachPort, attachPort == rendezvousPort {
            throw ValidationError(
                "--attach-port and --rendezvous-port are both \(attachPort): attachd listens on each for a different purpose; choose another --rendezvous-port"
            )
        }
    }

    /// What attachd takes as a debug host: a dotted IPv4 address, something shaped like an
    /// IPv6 one, or localhost (the same rule as attachd's, which never resolves names).
    static func isNumericHost(_ host: String) -> Bool {
        if host == "localhost" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4,
            parts.allSatisfy({
                $0.count >= 1 && $0.count <= 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } && Int($0)! <= 255
            })
        {
            return true
        }
        return host.contains(":") && host.count <= 45
            && host.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." }
    }

    func run() throws {
        let parameters = AddProjectParameters(
            name: name, debugPort: debugPort, debugHost: debugHost,
            rendezvousPort: rendezvousPort, readyTimeout: timeout,
            allowRemote: allowRemote ? true : nil, attachPort: attachPort,
            remote: remote, remoteProject: remoteProject, remoteSocket: remoteSocket,
            sshCommand: sshCommand, follow: noFollow ? false : nil)
        let (project, raw) = try withClient(global) { client throws(ClientError) in
            let project = try client.addProject(parameters)
            return (project, client.lastReply["project"] ?? .null)
        }
        if output.json {
            Output.json(raw)
            return
        }
        Output.out("added project '\(project.name)'")
        Output.out(describe(project))
        if let error = project.error {
            Output.err("attachctl: warning: a rendezvous endpoint of '\(project.name)' is not listening: \(error)")
        }
        Output.out(
            """

            next: make the host announce itself (in its startup script: \
            `import attach_ready; attach_ready.start(project="\(project.name)"\(project.debugPort.map { ", port=\($0)" } ?? ""))`\
            \(project.attachPort == nil ? "" : ", or start it with `attachctl run \(project.name) -- COMMAND`")), \
            then `attachctl vscode \(project.name) --write .` for F5\(project.attachPort == nil ? ", or `attachctl wait \(project.name)` by hand" : "").
            """)
    }
}

/// The key/value block describing a project, as `add` prints it.
func describe(_ project: ProjectInfo) -> String {
    var rows: [[String]] = []
    if let attach = project.attachPort {
        rows.append(["  attach (IDE):", Format.endpoint(host: "127.0.0.1", port: attach)])
    }
    rows += [
        ["  debug server:", Format.endpoint(host: project.debugHost, port: project.debugPort)],
        ["  rendezvous (unix):", project.rendezvousSocket],
    ]
    if let port = project.rendezvousPort {
        rows.append([
            "  rendezvous (tcp):",
            Format.endpoint(host: "127.0.0.1", port: port)
                + (port == project.debugPort ? " (handed over to the debug server)" : ""),
        ])
    } else {
        rows.append(["  rendezvous (tcp):", "none (add one with --rendezvous-port)"])
    }
    rows.append(["  ready timeout:", Format.seconds(project.readyTimeout)])
    if let remote = project.remote {
        rows.append(["  remote:", "project '\(remote.project)' on \(remote.destination) (\(remote.state.rawValue))"])
    }
    if let follow = project.follow {
        rows.append([
            "  IDE session:",
            follow ? "follows the hosts (restarts when its host ends)" : "ends with its host (--no-follow)",
        ])
    }
    if project.allowRemote { rows.append(["  remote hosts:", "allowed"]) }
    return Table.render(headers: [], rows: rows)
}
