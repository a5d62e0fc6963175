import ArgumentParser
import AttachCtlKit
import AttachProtocol
import AttachSystem

/// The two commands every F5 runs, `attachctl wait NAME` and `attachctl status`, parsed by hand.
///
/// ArgumentParser builds its command tree by reflection (Mirror over every option group, type
/// names demangled, protocol conformances looked up one by one), which costs about 10 million
/// instructions a run here: several times what the call to attachd and the output cost. This
/// parser recognises only the plain forms of those two commands, each argument once:
///
///     attachctl [--socket PATH] [--json] wait NAME [--timeout SECONDS] [--socket PATH] [--json]
///     attachctl [--socket PATH] [--json] status [--socket PATH] [--json]
///
/// (`--socket=PATH` and `--timeout=SECONDS` too). Anything else (help, version, completion
/// scripts, another subcommand, an unknown, repeated or invalid argument, `--`) returns nil and
/// goes to ArgumentParser, which then parses and reports exactly as it always does. A unit test
/// checks, for a corpus of command lines, that whatever this accepts ArgumentParser parses to
/// the same request.
enum QuickCommand: Equatable {
    case wait(WaitRequest)
    case status(StatusRequest)

    /// The command for `arguments` (without the program name), or nil for ArgumentParser.
    static func parse(_ arguments: [String]) -> QuickCommand? {
        var socket: String?
        var json = false
        var positionals: [String] = []
        var timeout: Double?
        var seen: Set<String> = []
        var index = 0
        // Which subcommand, once reached; options before it are the global ones, which the
        // subcommand takes as well.
        var subcommand: String?
        func value(_ option: String, _ argument: String) -> String? {
            if argument.hasPrefix(option + "=") { return String(argument.dropFirst(option.count + 1)) }
            index += 1
            guard index < arguments.count, !arguments[index].hasPrefix("-") else { return nil }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            let option = argument.hasPrefix("--") ? String(argument.prefix { $0 != "=" }) : argument
            guard !seen.contains(option) else { return nil }
            switch option {
            case "--socket":
                guard let path = value(option, argument), !path.isEmpty else { return nil }
                socket = path
                seen.insert(option)
            case "--json" where argument == option:
                json = true
                seen.insert(option)
            case "--timeout" where subcommand == "wait":
                guard let text = value(option, argument), let seconds = Double(text) else { return nil }
                timeout = seconds
                seen.insert(option)
            default:
                guard !argument.hasPrefix("-") else { return nil }
                if subcommand == nil {
                    guard argument == "wait" || argument == "status" else { return nil }
                    subcommand = argument
                } else {
                    positionals.append(argument)
                }
            }
            index += 1
        }
        switch subcommand {
        case "wait":
            guard positionals.count == 1, ProjectName.problem(with: positionals[0]) == nil,
                (try? validateSeconds(timeout, option: "--timeout", allowZero: true)) != nil
            else { return nil }
            return .wait(WaitRequest(socket: socket, json: json, name: positionals[0], timeout: timeout))
        case "status":
            guard positionals.isEmpty else { return nil }
            return .status(StatusRequest(socket: socket, json: json))
        default:
            return nil
        }
    }

    /// Runs the command and exits the process with its status, as ArgumentParser's `main` would.
    func runAndExit() -> Never {
        do {
            switch self {
            case .wait(let request): try request.run()
            case .status(let request): try request.run()
            }
        } catch let exit as ExitCode {
            ProcessHandle.exit(exit.rawValue)
        } catch {
            AttachCtl.exit(withError: error)
        }
        ProcessHandle.exit(0)
    }
}
