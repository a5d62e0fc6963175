import ArgumentParser
import AttachSystem

/// The options of the attach-endpoint and client measurements.
struct AttachOptions: ParsableArguments {
    @Option(
        help:
            "1-byte round trips through the attach port (and as many directly and through the C relay bench/c_relay.c); default --round-trips."
    )
    var relayRoundTrips: Int?
    @Option(help: "MiB per bulk transfer through the attach port, directly and through the C relay (1024; quick: 64).")
    var bulkMib: Int?
    @Option(help: "Bulk transfers each way (2; quick: 1).")
    var bulkRounds: Int?
    @Option(help: "Held-connection launches: the IDE connects and asks before the host listens (100; quick: 10).")
    var heldLaunches: Int?
    @Option(help: "Concurrent relays, one project each, for the relay scale (1000; quick: 100).")
    var relays: Int?
    @Option(help: "Projects for the many-projects start-up (10000; quick: 1000).")
    var manyProjects: Int?
    @Option(help: "Launches of a real debugpy host (20; quick: 1, no warm-up).")
    var debugpyLaunches: Int?
    @Option(help: "Runs of `attachctl status` and of the C program (50; quick: 5).")
    var clientRuns: Int?
    @Option(help: "The static attachctl to weigh (default: .build-static/release/attachctl).")
    var staticAttachctl: String?
    @Option(help: "Launches of a host on the ssh side of the remote phase (50; quick: 5).")
    var remoteLaunches: Int?
    @Option(help: "1-byte round trips per path through ssh in the remote phase (5000; quick: 1000).")
    var remoteRoundTrips: Int?
    @Option(help: "DAP evaluate requests per path to debugpy hosts on the ssh side (100; quick: 20; 0: none).")
    var remoteDapRequests: Int?
    @Option(
        help:
            "relayload: release launches idle and as many under bulk, in alternating blocks of 20 (200; quick: 10, blocks of 5)."
    )
    var loadLaunches: Int?
    @Option(
        help:
            "CPU-bound processes (`python3 -c 'while True: pass'`) running beside the relay phase's round trips."
    )
    var busy: Int = 0

    func settings(quick: Bool, roundTrips: Int) -> AttachSettings {
        AttachSettings(
            relayRoundTrips: relayRoundTrips ?? roundTrips, bulkBytes: (bulkMib ?? (quick ? 64 : 1024)) << 20,
            bulkRounds: bulkRounds ?? (quick ? 1 : 2), heldLaunches: heldLaunches ?? (quick ? 10 : 100),
            relays: relays ?? (quick ? 100 : 1000), manyProjects: manyProjects ?? (quick ? 1000 : 10000),
            debugpyLaunches: debugpyLaunches ?? (quick ? 1 : 20), clientRuns: clientRuns ?? (quick ? 5 : 50),
            remoteLaunches: remoteLaunches ?? (quick ? 5 : 50),
            remoteRoundTrips: remoteRoundTrips ?? (quick ? 1000 : 5000),
            remoteNewConnections: quick ? 3 : 20, remoteDapRequests: remoteDapRequests ?? (quick ? 20 : 100),
            loadLaunches: loadLaunches ?? (quick ? 10 : 200), loadBlock: quick ? 5 : 20, busy: max(0, busy))
    }
}

struct AttachSettings: Codable {
    var relayRoundTrips: Int
    var bulkBytes: Int
    var bulkRounds: Int
    var heldLaunches: Int
    var relays: Int
    var manyProjects: Int
    var debugpyLaunches: Int
    var clientRuns: Int
    var remoteLaunches: Int
    var remoteRoundTrips: Int
    var remoteNewConnections: Int
    var remoteDapRequests: Int
    var loadLaunches: Int
    var loadBlock: Int
    /// CPU-bound processes beside the relay round trips.
    var busy: Int
}

enum AttachPhases {
    /// relay (a, b, c), relayload, debugpy (f) and client (g), on the latency phases' daemon.
    static func onLatencyDaemon(
        _ daemon: DaemonUnderTest, context: ReleaseLatency.Context, phases: Set<String>, settings: AttachSettings,
        warmup: Int, python: String, benchDirectory: String, binDirectory: String, staticAttachctl: String,
        results: inout Results
    ) throws {
        if phases.contains("relay") {
            log("relay: round trip, bulk and held connections through a project's attach port")
            let host = try HostDriver(
                python: python, script: benchDirectory + "/relay_host.py", environment: Processes.environment())
            defer { host.quit() }
            results.relay = try RelayBench.run(
                daemon, host: host, roundTrips: settings.relayRoundTrips, bulkBytes: settings.bulkBytes,
                bulkRounds: settings.bulkRounds, heldLaunches: settings.heldLaunches,
                warmup: warmup, busy: settings.busy, python: python, cRelaySource: benchDirectory + "/c_relay.c",
                progress: log)
        }
        if phases.contains("relayload") {
            log(
                "relayload: \(settings.loadLaunches) release launches idle and \(settings.loadLaunches) while a relay moves \(settings.bulkBytes >> 20) MiB transfers"
            )
            let host = try HostDriver(
                python: python, script: benchDirectory + "/relay_host.py", environment: Processes.environment())
            defer { host.quit() }
            // The direct transfers' sink: a host of its own, since a sink reads one transfer at a time.
            let sink = try HostDriver(
                python: python, script: benchDirectory + "/relay_host.py", environment: Processes.environment())
            defer { sink.quit() }
            results.relayLoad = try RelayLoad.run(
                daemon, context: context, relayHost: host, directSink: sink, launches: settings.loadLaunches,
                blockSize: settings.loadBlock, warmup: warmup, bulkBytes: settings.bulkBytes, progress: log)
        }
        if phases.contains("debugpy") {
            log("debugpy: \(settings.debugpyLaunches) launches of a real debugpy host")
            results.debugpy = try DebugpyBench.run(
                daemon, python: python, script: benchDirectory + "/debugpy_host.py",
                attachctl: binDirectory + "/attachctl", launches: settings.debugpyLaunches,
                warmup: settings.debugpyLaunches > 1 ? min(warmup, 1) : 0, progress: log)
        }
        if phases.contains("client") {
            log("client: attachctl status vs a C program; the static attachctl's size")
            results.client = try ClientCost.run(
                daemon, attachctl: binDirectory + "/attachctl", staticBinary: staticAttachctl,
                runs: settings.clientRuns, progress: log)
        }
    }

    /// relayscale (d), many (e) and remote, each on daemons of their own.
    static func onOwnDaemons(
        phases: Set<String>, settings: AttachSettings, python: String, benchDirectory: String,
        binDirectory: String, portBase: Int, idleSeconds: Double, quick: Bool, warmup: Int,
        results: inout Results
    ) throws {
        let idle = quick ? 1 : min(max(idleSeconds, 5), 10)
        if phases.contains("relayscale") {
            let n = settings.relays
            let attachBase = try Scale.freeRange(from: portBase, count: n)
            log("relay scale: \(n) projects with an attach port (\(attachBase)…), \(n) sessions, \(n) relays")
            let host = try HostDriver(
                python: python, script: benchDirectory + "/relay_host.py", environment: Processes.environment())
            defer { host.quit() }
            results.relayScale = try RelayScale.run(
                binDirectory: binDirectory, host: host, relays: n, attachBase: attachBase,
                idleSeconds: idle, progress: log)
        }
        if phases.contains("many") {
            let n = settings.manyProjects
            let tcpBase = try Scale.freeRange(from: portBase, count: (n + 1) / 2)
            log("many projects: \(n) (Unix rendezvous each, \(n / 2) TCP from \(tcpBase))")
            results.manyProjects = try RelayScale.manyProjects(
                binDirectory: binDirectory, projects: n, tcpBase: tcpBase,
                idleSeconds: idle, progress: log)
        }
        if phases.contains("remote") {
            log("remote: a loopback sshd, a remote attachd, the local attachd through `ssh … attachctl bridge`")
            let remote = RemoteBench.Settings(
                launches: settings.remoteLaunches, warmup: warmup, roundTrips: settings.remoteRoundTrips,
                newConnections: settings.remoteNewConnections, dapRequests: settings.remoteDapRequests)
            results.remote = try RemoteBench.run(
                binDirectory: binDirectory, python: python, benchDirectory: benchDirectory,
                settings: remote, progress: log)
            if let skipped = results.remote?.skipped { log("remote: skipped: \(skipped)") }
            if results.machine.attachdVersion == "?" {
                results.machine.attachdVersion = results.remote?.attachdVersion ?? "?"
            }
            if results.machine.python == "?" { results.machine.python = results.remote?.python ?? "?" }
        }
    }
}
