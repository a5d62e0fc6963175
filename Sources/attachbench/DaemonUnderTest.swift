import AttachProtocol
import AttachSystem
import Foundation

/// One project as written to `projects.json` before the daemon starts.
struct ProjectSpec {
    var name: String
    /// nil only with `attachPort`: each host then says its own.
    var debugPort: Int?
    var rendezvousPort: Int?
    var attachPort: Int? = nil
}

/// A temporary directory tree for one daemon: XDG_RUNTIME_DIR (0700), XDG_CONFIG_HOME, logs.
final class Sandbox {
    /// Logs, the config directory, the echo sockets.
    let root: String
    /// XDG_RUNTIME_DIR: on tmpfs (/dev/shm) when there is one, as /run/user/UID is on a real
    /// system. On ext4, binding 1,000 Unix sockets costs about half a second of inode
    /// allocation in the kernel (ext4_new_inode → recently_deleted), which is not attachd's.
    let runtimeRoot: String
    var runtimeDirectory: String { runtimeRoot + "/run" }
    var configDirectory: String { root + "/config" }
    var controlSocket: String { runtimeDirectory + "/attachd/control.sock" }
    var logPath: String { root + "/attachd.log" }

    init(label: String) throws {
        do {
            root = try Sys.makeTemporaryDirectory(prefix: "/tmp/attachbench-\(label)")
        } catch {
            throw BenchError("mkdtemp failed: \(error)")
        }
        let tmpfs = Sandbox.runtimeParent
        if tmpfs != "/tmp" {
            let name = String(root.split(separator: "/").last!)
            runtimeRoot = tmpfs + "/" + name
        } else {
            runtimeRoot = root
        }
        try Files.createDirectories(runtimeDirectory, mode: 0o700)
        try Files.createDirectories(configDirectory + "/attachd", mode: 0o700)
    }

    func rendezvousSocket(_ project: String) -> String { runtimeDirectory + "/attachd/projects/\(project).sock" }

    /// Set before the daemon starts, for it and every child started for it (ATTACHD_SSH_COMMAND).
    var extraEnvironment: [String: String] = [:]

    /// The environment every child started for this daemon gets.
    var environment: [String] {
        Processes.environment(
            extraEnvironment.merging(["XDG_RUNTIME_DIR": runtimeDirectory, "XDG_CONFIG_HOME": configDirectory]) { $1 })
    }

    /// Writes `projects.json` as attachd saves it (version 1).
    func writeProjects(_ projects: [ProjectSpec]) throws {
        let list: [[String: Any]] = projects.map { p in
            var entry: [String: Any] = [
                "name": p.name, "debugHost": "127.0.0.1", "readyTimeout": 120, "allowRemote": false,
            ]
            if let port = p.debugPort { entry["debugPort"] = port }
            if let port = p.rendezvousPort { entry["rendezvousPort"] = port }
            if let port = p.attachPort { entry["attachPort"] = port }
            return entry
        }
        let data = try JSONSerialization.data(withJSONObject: ["version": 1, "projects": list], options: [.sortedKeys])
        try Files.writeAtomically([UInt8](data), to: configDirectory + "/attachd/projects.json", mode: 0o600)
    }

    /// The last lines of the daemon's log, for error messages.
    func logTail(_ lines: Int = 15) -> String { Self.tail(logPath, lines) }

    /// The last `lines` lines of a file.
    static func tail(_ path: String, _ lines: Int = 15) -> String {
        guard let bytes = try? Files.read(path) else { return "(no \(path))" }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    func remove() {
        var paths = [root]
        if runtimeRoot != root { paths.append(runtimeRoot) }
        _ = Processes.output(of: ["rm", "-rf"] + paths, environment: Processes.environment(), timeout: 30)
    }

    /// Where runtime directories go: `--runtime-parent`, else /dev/shm when it is a writable
    /// tmpfs, else /tmp.
    nonisolated(unsafe) static var runtimeParent: String = {
        let mounts = (try? Files.read("/proc/mounts")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let tmpfs = mounts.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 2 && fields[1] == "/dev/shm" && fields[2] == "tmpfs"
        }
        return tmpfs && Sys.isWritable("/dev/shm") ? "/dev/shm" : "/tmp"
    }()
}

/// The release `attachd` the benchmark measures, started in a ``Sandbox``.
final class DaemonUnderTest {
    let sandbox: Sandbox
    let binary: String
    private(set) var pid: Int32 = 0
    private var pidfd: FileDescriptor?
    /// Seconds from posix_spawn to the first answered GetStatus.
    private(set) var startSeconds = 0.0
    /// A control connection kept open for status calls (opened first, so never refused).
    private(set) var control: RawVarlink!

    init(sandbox: Sandbox, binDirectory: String) {
        self.sandbox = sandbox
        self.binary = binDirectory + "/attachd"
    }

    /// Starts `attachd --socket PATH` and returns once it answers GetStatus (connect-retry with a
    /// deadline; the daemon accepts only after it has loaded its projects and opened their
    /// listeners, since start-up runs on its queue before anything is served).
    func start(timeout: Double = 30) throws {
        guard Sys.isExecutable(binary) else {
            throw BenchError("\(binary) is missing: build with `swift build -c release` or pass --bin-dir")
        }
        let started = Clock.monotonicSeconds()
        pid = try Processes.spawn(
            [binary, "--socket", sandbox.controlSocket, "--log-level", "warning"],
            environment: sandbox.environment, stderrPath: sandbox.logPath)
        pidfd = try? ProcessHandle.pidfdOpen(pid)
        let deadline = started + timeout
        while true {
            if let connection = try? RawVarlink(path: sandbox.controlSocket),
                (try? connection.call(.getStatus, timeout: max(0.1, deadline - Clock.monotonicSeconds()))) != nil
            {
                control = connection
                startSeconds = Clock.monotonicSeconds() - started
                return
            }
            if let exited = Processes.waitExit(pid, pidfd: nil, timeout: 0) {
                pid = 0
                throw BenchError(
                    "attachd exited with \(Processes.exitCode(exited.status)) while starting:\n\(sandbox.logTail())")
            }
            if Clock.monotonicSeconds() > deadline {
                throw BenchError("attachd did not answer within \(timeout) s:\n\(sandbox.logTail())")
            }
            Sys.sleep(0.001)
        }
    }

    func status() throws -> [String: Any] {
        try control.call(.getStatus)
    }

    func count(_ key: String) throws -> Int {
        intValue(try status()[key]) ?? -1
    }

    /// Polls GetStatus (every `interval` s) until `predicate` holds; throws after `timeout`.
    func waitFor(
        _ what: String, timeout: Double = 10, interval: Double = 0.0005,
        _ predicate: ([String: Any]) -> Bool
    ) throws {
        let deadline = Clock.monotonicSeconds() + timeout
        var last: [String: Any] = [:]
        while Clock.monotonicSeconds() < deadline {
            last = try status()
            if predicate(last) { return }
            Sys.sleep(interval)
        }
        throw BenchError("timed out after \(timeout) s waiting for \(what); status: \(last)")
    }

    func call(_ method: VarlinkMethod, _ parameters: [String: Any]? = nil) throws -> [String: Any] {
        try control.call(method, parameters)
    }

    /// Ends every live session of `project` (or all) through EndSession.
    func endSessions(project: String? = nil) throws {
        let parameters: [String: Any]? = project.map { ["project": $0] }
        let reply = try call(.listSessions, parameters)
        for session in reply["sessions"] as? [[String: Any]] ?? [] {
            guard let id = session["id"] as? String, (session["state"] as? String) != "ended" else { continue }
            _ = try? call(.endSession, ["id": id])
        }
    }

    func stop() {
        control = nil
        if pid > 0 { Processes.stop(pid) }
        pid = 0
        pidfd?.close()
        pidfd = nil
    }

    // MARK: /proc

    /// /proc/PID/status as name → value (first word of the value).
    func procStatus(task: String? = nil) -> [String: String] {
        let path = task.map { "/proc/\(pid)/task/\($0)/status" } ?? "/proc/\(pid)/status"
        guard let bytes = try? Files.read(path) else { return [:] }
        var fields: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            fields[String(line[..<colon])] = value.map(String.init) ?? ""
        }
        return fields
    }

    var rssKiB: Int { Int(procStatus()["VmRSS"] ?? "") ?? -1 }
    /// VmRSS split: anonymous (the daemon's own heap and stacks) and file-backed (mostly the
    /// pages of libswiftCore, Foundation, ICU, libc: shared with every Swift process).
    var rssAnonKiB: Int { Int(procStatus()["RssAnon"] ?? "") ?? -1 }
    var rssFileKiB: Int { Int(procStatus()["RssFile"] ?? "") ?? -1 }
    /// Pss from /proc/PID/smaps_rollup: shared pages divided among the processes mapping them.
    var pssKiB: Int {
        guard let bytes = try? Files.read("/proc/\(pid)/smaps_rollup") else { return -1 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Pss:") {
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? -1
        }
        return -1
    }
    var peakRSSKiB: Int { Int(procStatus()["VmHWM"] ?? "") ?? -1 }
    var threadCount: Int { Int(procStatus()["Threads"] ?? "") ?? -1 }

    /// Entries of /proc/PID/fd.
    var descriptorCount: Int {
        Sys.directoryEntries("/proc/\(pid)/fd")?.count ?? -1
    }

    private var taskIDs: [String] {
        Sys.directoryEntries("/proc/\(pid)/task") ?? []
    }

    /// Per-thread counters: voluntary and involuntary context switches (/proc/PID/task/T/status;
    /// /proc/PID/status alone counts only the main thread, parked in dispatchMain) and run time
    /// (/proc/PID/task/T/schedstat, nanoseconds).
    struct TaskCounters {
        var voluntary: Int
        var involuntary: Int
        var runSeconds: Double
    }

    func taskCounters() -> [String: TaskCounters] {
        var result: [String: TaskCounters] = [:]
        for task in taskIDs {
            let fields = procStatus(task: task)
            var run = 0.0
            if let bytes = try? Files.read("/proc/\(pid)/task/\(task)/schedstat"),
                let first = String(decoding: bytes, as: UTF8.self).split(separator: " ").first,
                let value = Double(first)
            {
                run = value / 1e9
            }
            result[task] = TaskCounters(
                voluntary: Int(fields["voluntary_ctxt_switches"] ?? "") ?? 0,
                involuntary: Int(fields["nonvoluntary_ctxt_switches"] ?? "") ?? 0,
                runSeconds: run)
        }
        return result
    }

    /// What happened between two ``taskCounters()`` snapshots: threads alive at both count their
    /// difference, threads born in between count in full; threads that died are reported.
    static func delta(_ before: [String: TaskCounters], _ after: [String: TaskCounters])
        -> (voluntary: Int, involuntary: Int, runSeconds: Double, threadsGone: Int, threadsNew: Int)
    {
        var voluntary = 0
        var involuntary = 0
        var run = 0.0
        var born = 0
        for (task, now) in after {
            let then = before[task] ?? TaskCounters(voluntary: 0, involuntary: 0, runSeconds: 0)
            if before[task] == nil { born += 1 }
            voluntary += now.voluntary - then.voluntary
            involuntary += now.involuntary - then.involuntary
            run += now.runSeconds - then.runSeconds
        }
        let gone = before.keys.filter { after[$0] == nil }.count
        return (voluntary, involuntary, run, gone, born)
    }

    /// utime + stime of the whole process (dead threads included), in seconds.
    var cpuTickSeconds: Double { Processes.cpuSeconds(pid) }
}
