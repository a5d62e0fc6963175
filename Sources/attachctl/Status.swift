import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether attachd runs, its version, uptime and counts.",
        discussion: """
            Exits 69 when no attachd listens on the control socket, so `attachctl status` doubles \
            as a liveness check. The probe is how attachd reads LISTEN state: sock_diag (netlink) \
            or proc (/proc/net/tcp, the fallback).

            Example:
              attachctl status
              attachctl status --json
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    func run() throws {
        try StatusRequest(socket: global.socket, json: output.json).run()
    }
}

/// What `attachctl status` does once its arguments are parsed (by ArgumentParser, or by
/// `QuickCommand` on the fast path).
struct StatusRequest: Equatable {
    /// `--socket`, if given.
    var socket: String?
    var json: Bool

    func run() throws {
        let socketPath = GlobalOptions.socketPath(socket)
        let (status, raw, projects) = try withClient(socketPath: socketPath) { client throws(ClientError) in
            let status = try client.status()
            // Decoding the reply a second time, as it was sent, costs as much as the call.
            let raw = json ? client.lastReply : .null
            return (status, raw, try client.listProjects())
        }
        if json {
            Output.json(raw)
            return
        }
        // Listener problems belong on the status page too: a project whose rendezvous is down
        // makes every launch of it wait for nothing.
        let problems =
            projects.filter { $0.error != nil }.map { ["problem:", "\($0.name): \($0.error!)"] }
            + projects.compactMap { p in
                p.remote?.error.map { ["problem:", "\(p.name): remote \(p.remote!.destination): \($0)"] }
            }
        Output.out(
            Table.render(
                headers: [],
                rows: [
                    ["attachd:", "\(status.version) (pid \(status.pid)), up \(Format.age(status.uptime))"],
                    ["socket:", socketPath],
                    ["projects:", "\(status.projects)"],
                    ["sessions:", "\(status.sessions) live (\(status.pending) pending, \(status.ready) ready)"],
                    ["waiters:", "\(status.waiters)"],
                    ["connections:", "\(status.connections)"],
                    ["probe:", status.probe],
                ] + problems))
    }
}
