import AttachProtocol

/// The VS Code files that make F5 attach through attachd; they need only the Python extension
/// (debugpy attach configurations and plain tasks) and hold nothing specific to one machine.
/// For a project with an attach port: a `launch.json` attach configuration on that port with no
/// preLaunchTask (attachd holds the IDE until a host is ready). Without an attach port: a
/// `tasks.json` task running `attachctl wait NAME` and an attach configuration on the debug port
/// using it as its `preLaunchTask`. With a host command, also a background task starting the
/// host through `attachctl run` and an attach configuration that runs it first (then, without
/// an attach port, the wait). Pure functions: no I/O.
public struct VSCodeFiles: Sendable {
    /// What to generate.
    public struct Options: Sendable, Equatable {
        /// The command the task runs (`attachctl`, or an absolute path to it).
        public var attachctl: String = "attachctl"
        /// Extra arguments put before `wait` (e.g. `--socket PATH`).
        public var attachctlArguments: [String] = []
        /// The host application to start, if any.
        public var hostCommand: String?
        public var hostArguments: [String] = []
        /// Prepended to the host's PYTHONPATH (where `attach_ready.py` or the bootstrap lives).
        public var pythonPath: String?

        public init(
            attachctl: String = "attachctl", attachctlArguments: [String] = [], hostCommand: String? = nil,
            hostArguments: [String] = [], pythonPath: String? = nil
        ) {
            self.attachctl = attachctl
            self.attachctlArguments = attachctlArguments
            self.hostCommand = hostCommand
            self.hostArguments = hostArguments
            self.pythonPath = pythonPath
        }
    }

    public var project: ProjectInfo
    public var options: Options

    public init(project: ProjectInfo, options: Options = Options()) {
        self.project = project
        self.options = options
    }

    // MARK: - Names

    /// `attachd: wait NAME`: the task's label and the attach configuration's preLaunchTask.
    public var taskLabel: String { "attachd: wait \(project.name)" }
    /// `attachd: attach NAME`.
    public var attachName: String { "attachd: attach \(project.name)" }
    /// `attachd: start NAME host`: what an earlier version called its cppdbg launch of the
    /// host, removed from launch.json on a merge.
    public var hostName: String { "attachd: start \(project.name) host" }
    /// `attachd: run NAME host, then wait`: the host's task, then the wait task (no attach port).
    public var runThenWaitLabel: String { "attachd: run \(project.name) host, then wait" }
    /// `attachd: NAME (host + attach)`.
    public var compoundName: String { "attachd: \(project.name) (host + attach)" }
    /// `attachd: run NAME host`: the background task of an attach-port project's host.
    public var runTaskLabel: String { "attachd: run \(project.name) host" }

    /// The project has an attach port: the IDE connects there and needs no wait task.
    public var usesAttachPort: Bool { project.attachPort != nil }

    /// Where the IDE connects: the attach port, else the debug port.
    public var connectHost: String { usesAttachPort ? "127.0.0.1" : project.debugHost }
    public var connectPort: Int { project.attachPort ?? project.debugPort ?? 0 }

    // MARK: - Entries

    /// The task running `attachctl wait NAME`.
    public var task: OrderedJSON {
        .object([
            ("label", .string(taskLabel)),
            ("type", .string("process")),
            ("command", .string(options.attachctl)),
            ("args", .array((options.attachctlArguments + ["wait", project.name]).map(OrderedJSON.string))),
            ("problemMatcher", .array([])),
            (
                "presentation",
                .object([
                    ("reveal", .string("silent")),
                    ("panel", .string("shared")),
                    ("showReuseMessage", .bool(false)),
                ])
            ),
            (
                "detail",
                .string(
                    "Waits until a host of attachd project '\(project.name)' has its debug server listening on \(project.debugHost.contains(":") ? "[\(project.debugHost)]" : project.debugHost):\(connectPort)."
                )
            ),
        ])
    }

    /// The background task starting the host through `attachctl run` (with a host command). It
    /// counts as started once attachctl says the session is announced.
    public var runTask: OrderedJSON? {
        guard let command = options.hostCommand else { return nil }
        let args = options.attachctlArguments + ["run", project.name, "--", command] + options.hostArguments
        let environment: [(String, OrderedJSON)] = hostEnvironment.map { ($0.0, .string($0.1)) }
        let taskOptions: [(String, OrderedJSON)] =
            environment.isEmpty ? [] : [("options", .object([("env", .object(environment))]))]
        return .object(
            [
                ("label", .string(runTaskLabel)),
                ("type", .string("process")),
                ("command", .string(options.attachctl)),
                ("args", .array(args.map(OrderedJSON.string))),
                ("isBackground", .bool(true)),
                (
                    "problemMatcher",
                    .object([
                        ("owner", .string("attachd")),
                        (
                            "pattern",
                            .object([("regexp", .string("^attachctl run: error: (.*)$")), ("message", .int(1))])
                        ),
                        (
                            "background",
                            .object([
                                ("activeBegins", .bool(true)),
                                ("beginsPattern", .string("^attachctl run: starting")),
                                ("endsPattern", .string("^attachctl run: session ")),
                            ])
                        ),
                    ])
                ),
            ] + taskOptions + [
                ("presentation", .object([("reveal", .string("always")), ("panel", .string("dedicated"))])),
                (
                    "detail",
                    .string(
                        "Starts the host of attachd project '\(project.name)' as a session; F5 attaches through \(usesAttachPort ? "127.0.0.1" : project.debugHost):\(connectPort)."
                    )
                ),
            ])
    }

    /// Without an attach port, with a host command: the host's task, then the wait task.
    public var runThenWaitTask: OrderedJSON? {
        guard !usesAttachPort, runTask != nil else { return nil }
        return .object([
            ("label", .string(runThenWaitLabel)),
            ("dependsOn", .array([.string(runTaskLabel), .string(taskLabel)])),
            ("dependsOrder", .string("sequence")),
            ("problemMatcher", .array([])),
        ])
    }

    /// The debugpy attach configuration: on the attach port with no preLaunchTask, or on the
    /// debug port after the wait task.
    public var attachConfiguration: OrderedJSON {
        attach(named: attachName, preLaunchTask: usesAttachPort ? nil : taskLabel)
    }

    /// With a host command: start the host (`attachctl run`; without an attach port, then the
    /// wait), then attach.
    public var runAndAttachConfiguration: OrderedJSON? {
        guard runTask != nil else { return nil }
        return attach(named: compoundName, preLaunchTask: usesAttachPort ? runTaskLabel : runThenWaitLabel)
    }

    private func attach(named name: String, preLaunchTask: String?) -> OrderedJSON {
        var entries: [(String, OrderedJSON)] = [
            ("name", .string(name)),
            ("type", .string("debugpy")),
            ("request", .string("attach")),
            (
                "connect",
                .object([
                    ("host", .string(connectHost)),
                    ("port", .int(connectPort)),
                ])
            ),
        ]
        if let preLaunchTask { entries.append(("preLaunchTask", .string(preLaunchTask))) }
        return .object(
            entries + [
                (
                    "pathMappings",
                    .array([
                        .object([
                            ("localRoot", .string("${workspaceFolder}")),
                            ("remoteRoot", .string("${workspaceFolder}")),
                        ])
                    ])
                ),
                ("justMyCode", .bool(true)),
            ])
    }

    /// The environment the host's task adds (`attachctl run` itself passes ATTACHD_PROJECT,
    /// ATTACHD_SESSION and ATTACHD_RENDEZVOUS): without an attach port, the project's
    /// PROJECT_DEBUG_HOST/PORT, which the article's unmodified bootstrap.py reads to know where
    /// its debug server listens; PYTHONPATH with `--python-path`.
    public var hostEnvironment: [(String, String)] {
        var environment: [(String, String)] = []
        if !usesAttachPort, let port = project.debugPort {
            environment += [("PROJECT_DEBUG_HOST", project.debugHost), ("PROJECT_DEBUG_PORT", String(port))]
        }
        if let path = options.pythonPath {
            environment.append(("PYTHONPATH", path + ":${env:PYTHONPATH}"))
        }
        return environment
    }

    // MARK: - Documents

    /// A fresh `tasks.json`.
    public var tasksDocument: OrderedJSON {
        merge(tasks: nil)
    }

    /// A fresh `launch.json`.
    public var launchDocument: OrderedJSON {
        merge(launch: nil)
    }

    /// `existing` (a parsed tasks.json, or nil for none) with this project's task added, or
    /// replacing the task of the same label in place. Other tasks and keys are kept.
    public func merge(tasks existing: OrderedJSON?) -> OrderedJSON {
        var document = existing.flatMap { $0.isObject ? $0 : nil } ?? .object([("version", .string("2.0.0"))])
        if document["version"] == nil { document["version"] = .string("2.0.0") }
        document["tasks"] = .array(Self.upsert(tasks, into: document["tasks"]?.arrayValue ?? [], key: "label"))
        return document
    }

    /// This project's tasks: the wait (no attach port), the host's (with a host command) and,
    /// with both, the one running them in turn. None for an attach-port project without a host.
    public var tasks: [OrderedJSON] {
        (usesAttachPort ? [] : [task]) + [runTask, runThenWaitTask].compactMap { $0 }
    }

    /// `existing` (a parsed launch.json, or nil for none) with this project's configurations
    /// (and compound) added, replacing entries of the same name in place. Others are kept.
    public func merge(launch existing: OrderedJSON?) -> OrderedJSON {
        var document = existing.flatMap { $0.isObject ? $0 : nil } ?? .object([("version", .string("0.2.0"))])
        if document["version"] == nil { document["version"] = .string("0.2.0") }
        var configurations = [attachConfiguration]
        if let runAndAttach = runAndAttachConfiguration { configurations.append(runAndAttach) }
        // What an earlier version wrote for the host (a cppdbg launch and a compound of the
        // name the run-and-attach configuration has now) goes.
        let earlier = (document["configurations"]?.arrayValue ?? []).filter { $0["name"]?.stringValue != hostName }
        document["configurations"] = .array(Self.upsert(configurations, into: earlier, key: "name"))
        if let compounds = document["compounds"]?.arrayValue {
            document["compounds"] = .array(compounds.filter { $0["name"]?.stringValue != compoundName })
        }
        return document
    }

    /// `entries` put into `list`: an entry whose `key` equals an existing one's replaces it
    /// where it is; the others are appended in order.
    public static func upsert(_ entries: [OrderedJSON], into list: [OrderedJSON], key: String) -> [OrderedJSON] {
        var result = list
        for entry in entries {
            let name = entry[key]?.stringValue
            if let name, let index = result.firstIndex(where: { $0[key]?.stringValue == name }) {
                result[index] = entry
                // Drop later duplicates of the same name, which VS Code would show twice.
                var later = index + 1
                while later < result.count {
                    if result[later][key]?.stringValue == name { result.remove(at: later) } else { later += 1 }
                }
            } else {
                result.append(entry)
            }
        }
        return result
    }

    /// Both documents in one object, as `attachctl vscode --json` prints them.
    public var combined: OrderedJSON {
        .object([("tasks.json", tasksDocument), ("launch.json", launchDocument)])
    }

    /// The human form: each document after a `// .vscode/NAME` heading line; tasks.json only
    /// when the project has a task.
    public var headedBlocks: String {
        (tasks.isEmpty ? "" : "// .vscode/tasks.json\n" + tasksDocument.serialized() + "\n\n")
            + "// .vscode/launch.json\n" + launchDocument.serialized() + "\n"
    }
}
