import ArgumentParser
import AttachClient
import AttachCtlKit
import AttachProtocol
import AttachSystem

struct VSCode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vscode",
        abstract: "Print (or write into DIR/.vscode/) the tasks.json and launch.json entries for F5.",
        discussion: """
            Generates, for the project's real debug host and port (asked from attachd), entries that \
            need only VS Code's Python extension and hold nothing specific to this machine:
              launch.json  a debugpy attach configuration "attachd: attach NAME": on the attach port \
            (no preLaunchTask: attachd holds the IDE until a host is ready), or, without one, on the \
            debug port with the task below as its preLaunchTask
              tasks.json   without an attach port, a task "attachd: wait NAME" running \
            `attachctl wait NAME`, so F5 attaches the moment the host's debug server listens
            With --host-command, also a background task "attachd: run NAME host" starting the host \
            application with `attachctl run NAME -- CMD ARGS` (without an attach port, with \
            PROJECT_DEBUG_HOST/PORT in its environment, which the article's bootstrap.py reads; \
            then a task "attachd: run NAME host, then wait" running both in turn), and an attach \
            configuration "attachd: NAME (host + attach)" that runs it first.

            Output: without --write, the documents each after a `// .vscode/FILE` heading line \
            (each block is valid JSON; tasks.json only when there is a task); with --json, one JSON \
            object {"tasks.json": {...}, "launch.json": {...}}.
            With --write DIR, merges into DIR/.vscode/tasks.json (only when there is a task) and \
            launch.json: entries with the \
            same label/name are replaced in place, all others are kept. Existing files may contain \
            comments and trailing commas (as VS Code allows); the rewritten files are plain JSON, so \
            a file whose comments would be lost is first copied to FILE.bak.

            --host-args takes all remaining arguments: put it last.

            Example:
              attachctl vscode maxtools
              attachctl vscode maxtools --write . --host-command /opt/max/3dsmax --host-args -U PythonHost bootstrap.py
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: JSONOption

    @Argument(help: "The project.", completion: ProjectCompletion.kind)
    var name: String

    @Option(
        name: .long, help: ArgumentHelp("Merge the files into DIR/.vscode/ instead of printing them.", valueName: "dir")
    )
    var write: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Also generate a configuration starting this host application, and a compound.", valueName: "cmd"))
    var hostCommand: String?

    @Option(
        name: .long, parsing: .remaining,
        help: ArgumentHelp("Arguments of the host application (all remaining arguments).", valueName: "args"))
    var hostArgs: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Prepend this directory to the host's PYTHONPATH (where attach_ready.py or the bootstrap lives).",
            valueName: "path"))
    var pythonPath: String?

    @Option(
        name: .long,
        help: ArgumentHelp("The attachctl the task runs (default: attachctl, found on PATH).", valueName: "path"))
    var attachctl: String = "attachctl"

    func validate() throws {
        try validateProjectName(name)
        if !hostArgs.isEmpty && hostCommand == nil {
            throw ValidationError("--host-args needs --host-command CMD (the host application to start)")
        }
        if let write, write.isEmpty { throw ValidationError("--write needs a directory, e.g. --write .") }
    }

    func run() throws {
        let project = try withClient(global) { client throws(ClientError) in
            try client.getProject(name)
        }
        var options = VSCodeFiles.Options(
            attachctl: attachctl, hostCommand: hostCommand,
            hostArguments: hostArgs, pythonPath: pythonPath)
        if let socket = global.socket { options.attachctlArguments = ["--socket", socket] }
        let files = VSCodeFiles(project: project, options: options)

        guard let directory = write else {
            if output.json {
                Output.out(files.combined.serialized())
            } else {
                Output.out(
                    files.headedBlocks.hasSuffix("\n") ? String(files.headedBlocks.dropLast()) : files.headedBlocks)
            }
            return
        }
        try writeFiles(files, into: directory)
    }

    private func writeFiles(_ files: VSCodeFiles, into directory: String) throws {
        let vscodeDirectory = (directory.hasSuffix("/") ? String(directory.dropLast()) : directory) + "/.vscode"
        let tasksPath = vscodeDirectory + "/tasks.json"
        let launchPath = vscodeDirectory + "/launch.json"

        // Read and parse both before writing either: a broken file changes nothing.
        let existingTasks = try readJSONC(tasksPath)
        let existingLaunch = try readJSONC(launchPath)
        let tasks = files.merge(tasks: existingTasks?.json)
        let launch = files.merge(launch: existingLaunch?.json)

        do {
            try Files.createDirectories(vscodeDirectory, mode: 0o755)
        } catch {
            throw fail("cannot create \(vscodeDirectory): \(error); check the directory given to --write")
        }
        var backups: [String] = []
        // An attach-port project without a host command has no task: tasks.json is left alone.
        let documents =
            (files.tasks.isEmpty ? [] : [(tasksPath, existingTasks, tasks)]) + [(launchPath, existingLaunch, launch)]
        for (path, existing, document) in documents {
            if let existing, existing.hadComments {
                let backup = path + ".bak"
                try writeFile(existing.bytes, to: backup)
                backups.append(backup)
            }
            try writeFile(Array((document.serialized() + "\n").utf8), to: path)
        }

        if output.json {
            var result: OrderedJSON = .object(
                documents.map { path, _, _ in (String(path.split(separator: "/").last!), .string(path)) })
            result["backups"] = .array(backups.map(OrderedJSON.string))
            Output.out(result.serialized())
            return
        }
        func quoted(_ entries: [OrderedJSON], _ key: String) -> String {
            entries.compactMap { $0[key]?.stringValue }.map { "'\($0)'" }.joined(separator: ", ")
        }
        if !files.tasks.isEmpty {
            Output.out("wrote \(tasksPath): task\(files.tasks.count == 1 ? "" : "s") \(quoted(files.tasks, "label"))")
        }
        let configurations = [files.attachConfiguration] + [files.runAndAttachConfiguration].compactMap { $0 }
        Output.out(
            "wrote \(launchPath): configuration\(configurations.count == 1 ? "" : "s") \(quoted(configurations, "name"))"
        )
        for backup in backups {
            Output.out("the comments of \(String(backup.dropLast(4))) are not kept; the original is saved as \(backup)")
        }
        let entry = files.runAndAttachConfiguration != nil ? files.compoundName : files.attachName
        Output.out("next: in VS Code, choose '\(entry)' in Run and Debug and press F5")
    }

    private struct Existing {
        var bytes: [UInt8]
        var json: OrderedJSON
        var hadComments: Bool
    }

    private func readJSONC(_ path: String) throws -> Existing? {
        let bytes: [UInt8]?
        do {
            bytes = try Files.read(path)
        } catch {
            throw fail("cannot read \(path): \(error)")
        }
        guard let bytes else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        if text.allSatisfy({ $0.isWhitespace }) {
            return Existing(bytes: bytes, json: .object([]), hadComments: false)
        }
        do {
            let json = try OrderedJSON.parse(jsonc: text)
            guard json.isObject else {
                throw fail("\(path) is not a JSON object; fix it or move it away, then run this again")
            }
            return Existing(bytes: bytes, json: json, hadComments: JSONC.hasComments(text))
        } catch let error as JSONParseError {
            throw fail(
                "cannot parse \(path) (\(error)); fix it or move it away, then run this again (nothing was written)")
        }
    }

    private func writeFile(_ bytes: [UInt8], to path: String) throws {
        do {
            try Files.writeAtomically(bytes, to: path, mode: 0o644)
        } catch {
            throw fail("cannot write \(path): \(error)")
        }
    }
}
