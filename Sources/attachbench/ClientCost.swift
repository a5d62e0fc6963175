import AttachSystem

/// What `attachctl` itself costs (g): a whole `attachctl status` process against a C program
/// that prints one line (both spawned and reaped the same way, interleaved), and the size of
/// the static release binary.
struct ClientCostResult: Codable {
    var skipped: String?
    var runs: Int
    /// posix_spawn → waitpid of `attachctl status --socket S` (output to /dev/null).
    var attachctl: Summary?
    /// The same for a C program that prints one line (compiled here with cc -O2).
    var cProgram: Summary?
    var ratioP50: Double
    /// The same `attachctl status`, static build, when there is one.
    var staticAttachctl: Summary?
    /// The static attachctl measured (`swift build -c release --product attachctl -Xswiftc
    /// -static-executable --scratch-path .build-static`), its size unstripped and stripped; nil
    /// when not built.
    var staticBinary: String?
    var staticBytes: Int?
    var staticStrippedBytes: Int?
    var staticNote: String?
    /// The dynamically linked release attachctl the rest of the benchmark runs.
    var dynamicBytes: Int?
    /// attachctl's share of a release, measured directly (`ClientShare`).
    var share: ClientShareResult?
    var shareSkipped: String?
}

enum ClientCost {
    static let helloSource = """
        #include <stdio.h>
        int main(void) { puts("attachd 0.1.0: 1 project, 0 sessions"); return 0; }

        """

    static func run(
        _ daemon: DaemonUnderTest, attachctl: String, staticBinary: String?, runs: Int,
        progress: (String) -> Void
    ) throws -> ClientCostResult {
        let sizes = binarySizes(staticBinary, scratch: daemon.sandbox.root)
        var result = ClientCostResult(
            skipped: nil, runs: 0, attachctl: nil, cProgram: nil, ratioP50: .nan, staticAttachctl: nil,
            staticBinary: staticBinary, staticBytes: sizes.unstripped, staticStrippedBytes: sizes.stripped,
            staticNote: sizes.note, dynamicBytes: try? Files.read(attachctl)?.count)
        let source = daemon.sandbox.root + "/hello.c"
        let hello = daemon.sandbox.root + "/hello"
        try Files.writeAtomically(Array(helloSource.utf8), to: source, mode: 0o644)
        guard let cc = ColdStart.which("cc") ?? ColdStart.which("gcc"),
            Processes.output(of: [cc, "-O2", "-o", hello, source], environment: Processes.environment(), timeout: 60)
                != nil,
            Sys.isExecutable(hello)
        else {
            result.skipped = "no C compiler (cc) to build the comparison program"
            return result
        }
        progress("  attachctl status vs a C program: \(runs) runs each, interleaved")
        var commands = [[attachctl, "status", "--socket", daemon.sandbox.controlSocket], [hello]]
        if sizes.unstripped != nil, let staticBinary {
            commands.append([staticBinary, "status", "--socket", daemon.sandbox.controlSocket])
        }
        var times: [[Double]] = Array(repeating: [], count: commands.count)
        for index in 0..<(runs + 3) {
            for (which, argv) in commands.enumerated() {
                let seconds = try timeProcess(argv, environment: daemon.sandbox.environment)
                if index >= 3 { times[which].append(seconds) }
            }
        }
        result.runs = runs
        result.attachctl = Summary(seconds: times[0])
        result.cProgram = Summary(seconds: times[1])
        if commands.count > 2 { result.staticAttachctl = Summary(seconds: times[2]) }
        result.ratioP50 = (result.attachctl?.p50Ms ?? .nan) / (result.cProgram?.p50Ms ?? .nan)
        let shareSource = daemon.sandbox.root + "/share.c"
        let shareProgram = daemon.sandbox.root + "/share"
        try Files.writeAtomically(Array(ClientShare.cSource.utf8), to: shareSource, mode: 0o644)
        if Processes.output(
            of: [cc, "-O2", "-o", shareProgram, shareSource], environment: Processes.environment(), timeout: 60) != nil,
            Sys.isExecutable(shareProgram)
        {
            let reply = try ClientShare.capturedWaitReply(daemon)
            result.share = try ClientShare.measure(
                attachctl: sizes.unstripped != nil ? staticBinary! : attachctl, cProgram: shareProgram,
                reply: reply, runs: runs, sandbox: daemon.sandbox, progress: progress)
        } else {
            result.shareSkipped = "the C comparison program did not build"
        }
        return result
    }

    /// Spawn → reaped, in seconds; throws when the program fails.
    static func timeProcess(_ argv: [String], environment: [String]) throws -> Double {
        let started = Clock.monotonicSeconds()
        let pid = try Processes.spawn(argv, environment: environment)
        let pidfd = try? ProcessHandle.pidfdOpen(pid)
        defer { pidfd?.close() }
        guard let exit = Processes.waitExit(pid, pidfd: pidfd, timeout: 10) else {
            Processes.stop(pid, grace: 1)
            throw BenchError("\(argv[0]) did not exit within 10 s")
        }
        let seconds = Clock.monotonicSeconds() - started
        guard Processes.exitCode(exit.status) == 0 else {
            throw BenchError("\(argv.joined(separator: " ")) exited \(Processes.exitCode(exit.status))")
        }
        return seconds
    }

    /// Sizes of the static attachctl as built and after `strip`.
    static func binarySizes(_ path: String?, scratch: String) -> (unstripped: Int?, stripped: Int?, note: String?) {
        guard let path, Files.exists(path) else {
            return (
                nil, nil,
                "not built: swift build -c release --product attachctl --scratch-path .build-static -Xswiftc -static-executable -Xswiftc -Osize"
            )
        }
        guard let bytes = try? Files.read(path) else { return (nil, nil, "cannot read \(path)") }
        let copy = scratch + "/attachctl.stripped"
        guard
            Processes.output(of: ["strip", "-o", copy, path], environment: Processes.environment(), timeout: 60) != nil,
            let stripped = try? Files.read(copy)
        else {
            return (bytes.count, nil, "strip failed")
        }
        return (bytes.count, stripped.count, nil)
    }
}
