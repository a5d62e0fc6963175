import ArgumentParser
import AttachProtocol
import AttachSystem
import Foundation

struct AttachBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attachbench",
        abstract:
            "Benchmark the release attachd: release latency, scale, memory, control round trip, idle cost, cold start.",
        discussion: """
            Starts the real attachd (from the directory of this executable, or --bin-dir) with a \
            temporary XDG_RUNTIME_DIR and XDG_CONFIG_HOME, measures, prints a Markdown table and \
            writes JSON. Figures are reported against the targets; nothing fails on a slow machine.
            Loopback only. Every wait is bounded; --max-seconds kills everything if a run hangs.
            The relay phase also measures a reference C relay (bench/c_relay.c: epoll + splice, \
            staying awake 200 µs after a message like attachd), compiled with cc -O2 at run time \
            and run beside attachd's relay, so that the report tells any relay's cost from \
            attachd's; without a C compiler those rows say "skipped: no C compiler".

              swift run -c release attachbench                 # full run, a few minutes
              swift run -c release attachbench --quick         # smoke test, under a minute
              swift run -c release attachbench --busy 2        # relay beside 2 busy CPUs
            """)

    @Option(help: "Launches per mode for the release latency (after the warm-up).")
    var launches: Int?
    @Option(help: "Unmeasured launches per mode first.")
    var warmup: Int = 5
    @Option(help: "Launches of the article's own handshake (about 1 s each).")
    var baselineLaunches: Int?
    @Option(help: "Projects (and waiters, and hosts) for the scale and idle measurements.")
    var projects: Int?
    @Option(help: "Control connections carrying the scale waiters (one Wait each when equal to --projects).")
    var waiterConnections: Int?
    @Option(help: "Seconds of idle measurement.")
    var idleSeconds: Double?
    @Option(help: "GetStatus calls (and echo round trips) measured.")
    var roundTrips: Int?
    @Option(help: "Cold starts under systemd-socket-activate.")
    var coldStarts: Int?
    @Flag(help: "Smoke test: 30 launches, 2 article launches, 100 projects, 2 s idle, fewer calls.")
    var quick = false
    @Option(
        help:
            "Comma-separated phases: release,baseline,roundtrip,scale,idle,coldstart,relay,relayload,relayscale,many,debugpy,client,remote."
    )
    var phases: String =
        "release,baseline,roundtrip,scale,idle,coldstart,relay,relayload,relayscale,many,debugpy,client,remote"
    @OptionGroup var attach: AttachOptions
    @Option(help: "Directory holding attachd and attachctl (default: this executable's directory).")
    var binDir: String?
    @Option(
        help:
            "Directory holding host_driver.py and article_bootstrap.py (default: ./bench, else found from the executable)."
    )
    var benchDir: String?
    @Option(help: "Python interpreter for the host side.")
    var python: String = "python3"
    @Option(help: "Where to write the JSON results (default: BENCH_DIR/results.json).")
    var jsonOut: String?
    @Option(help: "First TCP port of the scale projects' ranges (2 × projects consecutive ports below 32768).")
    var portBase: Int = 23000
    @Option(
        help:
            "Parent of the temporary XDG_RUNTIME_DIR (default: /dev/shm when it is a tmpfs, like /run/user/UID; else /tmp)."
    )
    var runtimeParent: String?
    @Option(help: "Kill everything and exit 2 after this many seconds.")
    var maxSeconds: UInt32 = 900

    func run() throws {
        let wallStart = Clock.monotonicSeconds()
        ChildRegistry.installHandlers(maxSeconds: maxSeconds)
        if let runtimeParent { Sandbox.runtimeParent = runtimeParent }
        ProcessHandle.ignoreSIGPIPE()
        let launches = self.launches ?? (quick ? 30 : 200)
        let baselineLaunches = self.baselineLaunches ?? (quick ? 2 : 10)
        let projects = max(1, self.projects ?? (quick ? 100 : 1000))
        let waiterConnections = self.waiterConnections ?? projects
        let idleSeconds = self.idleSeconds ?? (quick ? 2 : 10)
        let roundTrips = self.roundTrips ?? (quick ? 2000 : 20000)
        let coldStarts = self.coldStarts ?? (quick ? 3 : 20)
        let phases = Set(self.phases.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let binDirectory = binDir ?? Self.executableDirectory()
        let benchDirectory = try benchDir ?? Self.findBenchDirectory(from: binDirectory)
        let jsonPath = jsonOut ?? benchDirectory + "/results.json"
        try Self.checkBinaries(binDirectory, repository: String(benchDirectory.dropLast("/bench".count)))
        let fileLimit = (try? ProcessHandle.raiseOpenFileLimit()) ?? 0
        let needed = UInt64(3 * projects + 200)
        if fileLimit < needed {
            log(
                "warning: RLIMIT_NOFILE is \(fileLimit); \(projects) projects need about \(needed) descriptors in attachd and here"
            )
        }
        log(
            "attachbench: attachd from \(binDirectory), host scripts from \(benchDirectory), runtime dirs in \(Sandbox.runtimeParent), open-file limit \(fileLimit) (attachd inherits it)"
        )

        var results = Results(
            machine: MachineInfo.collect(python: "?", attachdVersion: "?", openFileLimit: fileLimit),
            settings: .init(
                quick: quick, launches: launches, warmupLaunches: warmup, baselineLaunches: baselineLaunches,
                projects: projects, waiterConnections: waiterConnections, idleSeconds: idleSeconds,
                roundTrips: roundTrips, coldStarts: coldStarts, phases: phases.sorted(),
                attach: attach.settings(quick: quick, roundTrips: roundTrips)))
        let attachSettings = results.settings.attach!

        // A: one daemon, a few projects: release latency, the article's handshake, round trips.
        if !phases.isDisjoint(with: ["release", "baseline", "roundtrip", "relay", "relayload", "debugpy", "client"]) {
            let sandbox = try Sandbox(label: "latency")
            let daemon = DaemonUnderTest(sandbox: sandbox, binDirectory: binDirectory)
            defer {
                daemon.stop()
                sandbox.remove()
            }
            try daemon.start()
            results.machine.attachdVersion = (try? daemon.status()["version"] as? String) ?? "?"
            let host = try HostDriver(
                python: python, script: benchDirectory + "/host_driver.py",
                environment: Processes.environment())
            defer { host.quit() }
            results.machine.python = host.pythonVersion
            let context = ReleaseLatency.Context(
                daemon: daemon, host: host, attachctl: binDirectory + "/attachctl",
                python: python, articleScript: benchDirectory + "/article_bootstrap.py")
            if phases.contains("release") {
                let linesPort = try Self.freePort()
                let barePort = try Self.freePort()
                _ = try daemon.call(.addProject, ["name": "bench-lines", "debugPort": linesPort])
                _ = try daemon.call(
                    .addProject, ["name": "bench-bare", "debugPort": barePort, "rendezvousPort": barePort])
                log("release latency: \(launches) launches announcing with READY=1 lines")
                results.releaseLines = try ReleaseLatency.measure(
                    .lines, project: "bench-lines", port: linesPort, launches: launches,
                    warmup: warmup, context: context, progress: log)
                log("release latency: \(launches) launches, READY=1 lines, raw varlink Wait instead of attachctl")
                results.releaseRaw = try ReleaseLatency.measure(
                    .linesRaw, project: "bench-lines", port: linesPort, launches: launches,
                    warmup: warmup, context: context, progress: log)
                log("release latency: \(launches) launches with the article's bare connect and handoff")
                results.releaseBare = try ReleaseLatency.measure(
                    .bare, project: "bench-bare", port: barePort, launches: launches,
                    warmup: warmup, context: context, progress: log)
            }
            if phases.contains("baseline") {
                log("baseline: \(baselineLaunches) launches of the article's _listen/_connect handshake")
                results.baseline = try ReleaseLatency.baseline(
                    port: try Self.freePort(), launches: baselineLaunches,
                    context: context, progress: log)
            }
            if phases.contains("roundtrip") {
                log("control round trip: \(roundTrips) GetStatus calls and as many echo round trips")
                results.roundTrip = try RoundTrip.run(daemon, calls: roundTrips, progress: log)
            }
            try AttachPhases.onLatencyDaemon(
                daemon, context: context, phases: phases, settings: attachSettings, warmup: warmup,
                python: python, benchDirectory: benchDirectory, binDirectory: binDirectory,
                staticAttachctl: attach.staticAttachctl ?? Self.defaultStaticAttachctl(benchDirectory),
                results: &results)
        }
        if let article = results.baseline?.handshakeToAttachable?.p50Ms {
            results.speedupLines = results.releaseLines?.handshakeToRelease.map { article / $0.p50Ms }
            results.speedupBare = results.releaseBare?.handshakeToRelease.map { article / $0.p50Ms }
        }

        // B: a daemon with many projects: idle cost, then scale.
        let rendezvousBase = try Scale.freeRange(from: portBase, count: 2 * projects)
        let specs = (0..<projects).map {
            ProjectSpec(
                name: Scale.name($0), debugPort: rendezvousBase + projects + $0, rendezvousPort: rendezvousBase + $0)
        }
        if !phases.isDisjoint(with: ["scale", "idle"]) {
            let sandbox = try Sandbox(label: "scale")
            let daemon = DaemonUnderTest(sandbox: sandbox, binDirectory: binDirectory)
            defer {
                daemon.stop()
                sandbox.remove()
            }
            try sandbox.writeProjects(specs)
            log(
                "scale: starting attachd with \(projects) projects (TCP \(rendezvousBase)…, debug ports \(rendezvousBase + projects)…)"
            )
            try daemon.start(timeout: 60)
            if results.machine.attachdVersion == "?" {
                results.machine.attachdVersion = (try? daemon.status()["version"] as? String) ?? "?"
            }
            let loaded = try daemon.count("projects")
            guard loaded == projects else {
                throw BenchError("attachd loaded \(loaded) projects, not \(projects):\n\(sandbox.logTail())")
            }
            let problems = try daemon.call(.listProjects)["projects"] as? [[String: Any]] ?? []
            let broken = problems.filter { $0["error"] is String }
            if !broken.isEmpty { log("warning: \(broken.count) projects report listener errors, e.g. \(broken[0])") }
            let rssAfterStart = daemon.rssKiB
            let fdsAfterStart = daemon.descriptorCount
            let anonAfterStart = daemon.rssAnonKiB
            if phases.contains("idle") {
                sleepSeconds(0.5)
                log("idle: \(idleSeconds) s with \(projects) projects and no session")
                results.idle = Scale.idle(daemon, projects: projects, seconds: idleSeconds)
            }
            if phases.contains("scale") {
                log("scale: \(projects) waiters, \(projects) hosts ready together")
                results.scale = try Scale.run(
                    daemon, projects: projects, rendezvousBase: rendezvousBase,
                    debugBase: rendezvousBase + projects, waiterConnections: waiterConnections,
                    idleAfterSeconds: phases.contains("idle") ? min(idleSeconds, 5) : 0,
                    startSeconds: daemon.startSeconds, rssAfterStart: rssAfterStart, rssAnonAfterStart: anonAfterStart,
                    descriptorsAfterStart: fdsAfterStart, progress: log)
            }
        }

        try AttachPhases.onOwnDaemons(
            phases: phases, settings: attachSettings, python: python, benchDirectory: benchDirectory,
            binDirectory: binDirectory, portBase: portBase + 2 * projects, idleSeconds: idleSeconds,
            quick: quick, warmup: warmup, results: &results)

        // C: cold starts under socket activation, empty and with the projects.
        if phases.contains("coldstart") {
            log("cold start: \(coldStarts) × systemd-socket-activate, no projects")
            results.coldStart = try ColdStart.run(
                binDirectory: binDirectory, projects: [], starts: coldStarts, progress: log)
            let withProjects = max(1, coldStarts / 4)
            log("cold start: \(withProjects) × with \(projects) projects")
            results.coldStartWithProjects = try ColdStart.run(
                binDirectory: binDirectory, projects: specs, starts: withProjects,
                progress: log)
        }

        if let lines = results.releaseLines?.listenToRelease?.p50Ms,
            let raw = results.releaseRaw?.listenToRelease?.p50Ms
        {
            results.attachctlShareMs = lines - raw
        }
        results.wallSeconds = Clock.monotonicSeconds() - wallStart
        results.machine.loadAtEnd = MachineInfo.loadAverage()
        results.targets = Report.targets(results)
        print(Report.table(results))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = try encoder.encode(results)
        try Files.writeAtomically([UInt8](data) + [10], to: jsonPath, mode: 0o644)
        print("\nJSON written to \(jsonPath)")
    }
}
