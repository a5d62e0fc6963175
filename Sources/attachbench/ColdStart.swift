import AttachProtocol
import AttachSystem

struct ColdStartResult: Codable {
    var skipped: String?
    var projects: Int
    var starts: Int
    var failures: Int
    var failureExamples: [String]
    /// From connect(2) on the activated socket to the first GetStatus answer, exec included.
    var connectToAnswer: Summary?
}

enum ColdStart {
    /// `systemd-socket-activate -l PATH --fdname=control attachd`: the daemon is exec'd on the
    /// first connection, so connect → answer includes process start, library loading, loading
    /// projects.json and opening every project's listeners.
    static func run(binDirectory: String, projects: [ProjectSpec], starts: Int, progress: (String) -> Void) throws
        -> ColdStartResult
    {
        guard let activator = which("systemd-socket-activate") else {
            return ColdStartResult(
                skipped: "systemd-socket-activate not found (Debian package systemd)", projects: projects.count,
                starts: 0, failures: 0, failureExamples: [], connectToAnswer: nil)
        }
        let sandbox = try Sandbox(label: "cold")
        defer { sandbox.remove() }
        if !projects.isEmpty { try sandbox.writeProjects(projects) }
        try Files.createDirectories(sandbox.runtimeDirectory + "/attachd", mode: 0o700)
        let path = sandbox.controlSocket
        var times: [Double] = []
        var failures: [String] = []
        for _ in 0..<starts {
            if Files.exists(path) { try? Files.unlink(path) }
            // systemd-socket-activate passes only LISTEN_* and the -E variables: without them
            // attachd would use ~/.config and /tmp/attachd-UID.
            let pid = try Processes.spawn(
                [
                    activator, "-l", path, "--fdname=control",
                    "-E", "XDG_RUNTIME_DIR", "-E", "XDG_CONFIG_HOME", "-E", "HOME",
                    binDirectory + "/attachd",
                    "--socket", path, "--log-level", "warning",
                ],
                environment: sandbox.environment, stderrPath: sandbox.logPath)
            defer { Processes.stop(pid) }
            do {
                try waitUntil("systemd-socket-activate to listen on \(path)", timeout: 10) { Files.isSocket(path) }
                // The file exists once bound; listen(2) follows at once. Connect-retry briefly.
                var connection: RawVarlink?
                var t0 = 0.0
                let deadline = Clock.monotonicSeconds() + 5
                while connection == nil {
                    t0 = Clock.monotonicSeconds()
                    connection = try? RawVarlink(path: path)
                    if connection == nil {
                        if Clock.monotonicSeconds() > deadline { throw BenchError("cannot connect to \(path)") }
                        Sys.sleep(0.0002)
                    }
                }
                let reply = try connection!.call(.getStatus, timeout: 10)
                let t1 = Clock.monotonicSeconds()
                guard intValue(reply["pid"]) == Int(pid) else {
                    throw BenchError("answered by pid \(reply["pid"] ?? "?"), not the activated \(pid)")
                }
                guard intValue(reply["projects"]) == projects.count else {
                    throw BenchError("the daemon has \(reply["projects"] ?? "?") projects, expected \(projects.count)")
                }
                times.append(t1 - t0)
            } catch {
                failures.append("\(error)")
            }
        }
        if !failures.isEmpty { progress("  cold start failures: \(failures.first!)\n\(sandbox.logTail())") }
        return ColdStartResult(
            skipped: nil, projects: projects.count, starts: times.count, failures: failures.count,
            failureExamples: Array(failures.prefix(3)), connectToAnswer: Summary(seconds: times))
    }

    /// The first executable `name` in PATH.
    static func which(_ name: String) -> String? {
        let path = Environment.get("PATH") ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if Sys.isExecutable(candidate) { return candidate }
        }
        return nil
    }
}
