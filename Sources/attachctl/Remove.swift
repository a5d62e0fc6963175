import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol
import AttachSystem

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a project: close its rendezvous endpoints, end its sessions.",
        discussion: """
            Waiters on the project fail (their `attachctl wait` exits 3). Hosts already running keep \
            their debug server; only attachd forgets them (a host that announced itself through the \
            helper, `attachctl run` or `attachctl announce --pid` announces itself again once the \
            project is added back). When the project has live host sessions or IDE connections, \
            remove says what it would end and asks (y/N) when standard input is a terminal; \
            otherwise it refuses without --force (exit status 1).

            Example:
              attachctl remove maxtools
              attachctl remove maxtools --force
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The project to remove.", completion: ProjectCompletion.kind)
    var name: String

    @Flag(name: .long, help: "Remove the project even when it has live hosts or IDE connections, without asking.")
    var force = false

    func validate() throws {
        try validateProjectName(name)
    }

    func run() throws {
        let ends =
            force
            ? nil
            : try withClient(global) { client throws(ClientError) in
                RemovalCost(try client.listSessions(project: name))
            }
        if let ends, !ends.isEmpty {
            Output.err("project '\(name)' has \(ends.description); removing it ends them")
            guard FileDescriptor.standardInput.isTerminal else {
                Output.err("attachctl remove: not removed: give --force to remove it anyway")
                throw ExitCode(ExitStatus.failure)
            }
            Output.rawErr("Remove project '\(name)'? [y/N] ")
            guard Self.answeredYes() else {
                Output.err("Abort.")
                throw ExitCode(ExitStatus.failure)
            }
        }
        try withClient(global) { client throws(ClientError) in
            try client.removeProject(name)
        }
        Output.out("removed project '\(name)'")
    }

    /// One line from the terminal: "y" or "yes" (any case).
    private static func answeredYes() -> Bool {
        var line: [UInt8] = []
        while let byte = try? FileDescriptor.standardInput.read(upTo: 1), let first = byte.first, first != 10 {
            line.append(first)
        }
        let answer = String(decoding: line, as: UTF8.self).lowercased().filter { $0 != " " && $0 != "\t" && $0 != "\r" }
        return answer == "y" || answer == "yes"
    }
}

/// What removing a project ends: its live local host sessions (a remote project's mirrors are
/// hosts on another machine, which removal does not touch) and the IDE connections relayed to
/// its sessions.
struct RemovalCost {
    var hosts: [String] = []
    var ides = 0

    init(_ sessions: [SessionInfo]) {
        for session in sessions where session.state != .ended {
            if session.origin != .remote { hosts.append(session.id) }
            ides += session.relays?.count ?? 0
        }
    }

    var isEmpty: Bool { hosts.isEmpty && ides == 0 }

    /// "1 live host session (maxtools-12) and 2 IDE connections"
    var description: String {
        var parts: [String] = []
        if !hosts.isEmpty {
            parts.append(
                "\(hosts.count) live host session\(hosts.count == 1 ? "" : "s") (\(hosts.joined(separator: ", ")))")
        }
        if ides > 0 { parts.append("\(ides) IDE connection\(ides == 1 ? "" : "s")") }
        return parts.joined(separator: " and ")
    }
}
