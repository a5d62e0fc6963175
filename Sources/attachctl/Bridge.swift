import ArgumentParser
import AttachCtlKit
import AttachSystem

struct Bridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Join standard input and output to attachd's control socket (for ssh).",
        discussion: """
            What another machine's attachd runs through ssh to reach this one, for a project added \
            there with `attachctl add NAME --remote THIS-HOST --attach-port PORT`: \
            `ssh THIS-HOST attachctl bridge [--socket PATH]`. Bytes are copied both ways unchanged \
            (varlink, as on the socket), like systemd-stdio-bridge; nothing is read or decided here. \
            It ends when the daemon closes the connection, or when its input ends and the daemon has \
            answered.

            Exits 69 (and says why on stderr, which ssh carries back) when attachd does not listen \
            on the socket.

            Example:
              ssh render42 attachctl bridge
            """)

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let path = global.socketPath
        let socket: FileDescriptor
        do {
            socket = try Socket.connectUnix(path: path)
        } catch {
            Output.err(
                "attachctl bridge: attachd is not running on \(Self.hostName()): cannot connect to \(path): \(error)")
            throw ExitCode(ExitStatus.unavailable)
        }
        defer { socket.close() }
        ProcessHandle.ignoreSIGPIPE()
        _ = StdioBridge.run(socket: socket)
    }

    /// This machine's name, for the message the other side shows.
    static func hostName() -> String {
        (try? Files.read("/proc/sys/kernel/hostname")).flatMap { String(validating: $0, as: UTF8.self) }?
            .split(separator: "\n").first.map(String.init) ?? "this machine"
    }
}
