import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol
import AttachSystem

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "attachd's control socket (default: $ATTACHD_SOCKET, else $XDG_RUNTIME_DIR/attachd/control.sock).",
            valueName: "path"))
    var socket: String?

    /// The socket to use.
    var socketPath: String {
        Self.socketPath(socket)
    }

    /// `--socket`'s value, else $ATTACHD_SOCKET, else the default path.
    static func socketPath(_ option: String?) -> String {
        option ?? DefaultPaths.fromEnvironment().controlSocket
    }
}

/// `--json` of the listing and reporting commands.
struct JSONOption: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (the API's objects) instead of text.")
    var json = false
}

/// Writes straight to the file descriptors, unbuffered, so streamed lines (`watch`) reach a pipe at once.
enum Output {
    static func out(_ text: String) {
        write(FileDescriptor.standardOutput, text + "\n")
    }

    static func err(_ text: String) {
        write(FileDescriptor.standardError, text + "\n")
    }

    /// `text` on stdout as it is (no newline added).
    static func raw(_ text: String) {
        write(FileDescriptor.standardOutput, text)
    }

    static func rawErr(_ text: String) {
        write(FileDescriptor.standardError, text)
    }

    static func json(_ value: JSONValue) {
        out(JSONOutput.string(value))
    }

    private static func write(_ descriptor: FileDescriptor, _ text: String) {
        do {
            try descriptor.writeAll(Array(text.utf8))
        } catch {
            // stdout closed (e.g. `attachctl watch | head`): nothing more to say.
        }
    }

    static var stderrIsTerminal: Bool { FileDescriptor.standardError.isTerminal }
}

/// Runs `body` with a connected client; reports a ClientError on stderr (after `cleanup`) and
/// turns it into the documented exit code.
func withClient<T>(
    _ global: GlobalOptions, context: ErrorMessages.Context = .general,
    cleanup: () -> Void = {},
    _ body: (BrokerClient) throws(ClientError) -> T
) throws -> T {
    try withClient(socketPath: global.socketPath, context: context, cleanup: cleanup, body)
}

/// `withClient` for a socket path already chosen (`GlobalOptions.socketPath`).
func withClient<T>(
    socketPath: String, context: ErrorMessages.Context = .general,
    cleanup: () -> Void = {},
    _ body: (BrokerClient) throws(ClientError) -> T
) throws -> T {
    do {
        let client = try BrokerClient(socketPath: socketPath)
        defer { client.close() }
        let result = try body(client)
        cleanup()
        return result
    } catch {
        cleanup()
        Output.err("attachctl: " + ErrorMessages.describe(error, context: context))
        throw ExitCode(ExitStatus.code(for: error))
    }
}

/// Fails the command with a message and exit code 1 (or `code`).
func fail(_ message: String, code: Int32 = ExitStatus.failure) -> ExitCode {
    Output.err("attachctl: " + message)
    return ExitCode(code)
}

/// Validation shared by the commands that take a project name.
func validateProjectName(_ name: String) throws {
    if let problem = ProjectName.problem(with: name) {
        throw ValidationError("invalid project name '\(name)': \(problem)")
    }
}

func validatePort(_ port: Int?, option: String) throws {
    if let port, !(1...65535).contains(port) {
        throw ValidationError("\(option) \(port) is not a port number; use 1-65535")
    }
}

func validateSeconds(_ value: Double?, option: String, allowZero: Bool) throws {
    guard let value else { return }
    if !value.isFinite || value < 0 || (!allowZero && value == 0) {
        throw ValidationError(
            "\(option) \(value) is not a valid number of seconds; use a \(allowZero ? "non-negative" : "positive") number such as 30 or 0.5"
        )
    }
}
