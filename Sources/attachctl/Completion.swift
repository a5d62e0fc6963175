import ArgumentParser
import AttachClient
import AttachSystem

/// Shell completion of PROJECT arguments: the names of the running daemon's projects.
enum ProjectCompletion {
    /// For `@Argument(completion:)` wherever a project name is expected.
    static let kind = CompletionKind.custom { arguments, index, prefix in
        names(arguments: arguments, prefix: prefix)
    }

    /// The project names starting with `prefix`, asked from the daemon the command line points
    /// at (`--socket PATH` / `--socket=PATH` among `arguments`, else the default). A daemon that
    /// is not reachable completes nothing: completion must never print an error into the shell.
    static func names(arguments: [String], prefix: String) -> [String] {
        let socket = socketPath(in: arguments) ?? DefaultPaths.fromEnvironment().controlSocket
        guard let client = try? BrokerClient(socketPath: socket) else { return [] }
        defer { client.close() }
        guard let projects = try? client.listProjects() else { return [] }
        return projects.map(\.name).filter { $0.hasPrefix(prefix) }.sorted()
    }

    /// The value of the last `--socket` in `arguments`, if any.
    static func socketPath(in arguments: [String]) -> String? {
        var found: String?
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let word = arguments[index]
            if word == "--socket", index + 1 < arguments.endIndex {
                found = arguments[index + 1]
                index += 1
            } else if word.hasPrefix("--socket=") {
                found = String(word.dropFirst("--socket=".count))
            }
            index += 1
        }
        return found.flatMap { $0.isEmpty ? nil : $0 }
    }
}
