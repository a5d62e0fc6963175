import AttachProtocol
import AttachSystem

/// Release latency while one relay of the same attachd moves bulk bytes (issue 17: p99 while
/// one relay moves 1 GiB ≤ 1.5× the idle p99). The release is the `release` phase's READY=1
/// measurement (`attachctl wait` held, listen() → exit) on one project; the relay is one IDE
/// connection through a second project's attach port to relay_host.py's bulk sink.
struct RelayLoadResult: Codable {
    /// Blocks of launches per condition, alternating idle and under bulk (ABBA order).
    var blocks: Int
    var failures: Int
    var failureExamples: [String]
    /// listen() → `attachctl wait` exits while the relay's connection is open and quiet.
    var idle: Summary?
    /// The same while the relay moves bulk bytes from before the block's first launch to
    /// after its last.
    var underBulk: Summary?
    /// underBulk / idle, at p99 (the target) and p50.
    var ratioP99: Double
    var ratioP50: Double
    /// Bytes of each bulk transfer (looped while under bulk); transfers acknowledged in all.
    var bulkBytesPerTransfer: Int
    var transfersCompleted: Int
    /// Bytes the host's sink read during the under-bulk blocks, their seconds and rate (10^6 B/s).
    var bytesMovedUnderBulk: Int
    var secondsUnderBulk: Double
    var underBulkMBps: Double
}

enum RelayLoad {
    /// `launches` measured launches per condition in blocks of `blockSize`, after `warmup` idle
    /// ones. Before an idle block the bulk load is paused and the sink has read every byte sent;
    /// an under-bulk block starts once bytes move and the load stays on until it ends.
    static func run(
        _ daemon: DaemonUnderTest, context: ReleaseLatency.Context, relayHost: HostDriver, launches: Int,
        blockSize: Int, warmup: Int, bulkBytes: Int, progress: (String) -> Void
    ) throws -> RelayLoadResult {
        let project = "bench-load"
        let port = try AttachBench.freePort()
        _ = try daemon.call(.addProject, ["name": project, "debugPort": port])
        let relayProject = "bench-load-relay"
        let attachPort = try AttachBench.freePort()
        _ = try daemon.call(.addProject, ["name": relayProject, "attachPort": attachPort])

        let hostPort = try RelayBench.openPorts(relayHost, 1)[0]
        _ = try relayHost.launchAnswer(command: "listen", timeout: 10)
        let session = try RelayBench.announce(daemon, project: relayProject, port: hostPort, pid: relayHost.pid)
        _ = try daemon.call(.wait, ["project": relayProject, "timeout": 10])
        let ide = try RelayBench.connect(attachPort)
        let load: BulkLoad
        do {
            load = try BulkLoad(fd: ide, bytesPerTransfer: bulkBytes)
        } catch {
            ide.close()
            throw error
        }
        defer {
            load.stop()
            ide.close()
            _ = try? daemon.call(.endSession, ["id": session])
            try? relayHost.closeHost()
        }
        var c = context
        c.otherSessions = 1
        let measured = c
        func launchSamples(_ n: Int, warmup: Int = 0) throws -> ReleaseLatency.Samples {
            try ReleaseLatency.samples(
                .lines, project: project, port: port, launches: n, warmup: warmup, context: measured,
                progress: { _ in })
        }

        var idle = ReleaseLatency.Samples()
        var underBulk = ReleaseLatency.Samples()
        var moved = 0
        var seconds = 0.0
        func idleBlock(_ n: Int) throws {
            try load.pause()
            let sent = load.sent
            try waitUntil("the relay to deliver the \(sent) bulk bytes sent", timeout: 60) {
                (try? received(relayHost)) == sent
            }
            let s = try launchSamples(n)
            idle.listenToRelease += s.listenToRelease
            idle.handshakeToRelease += s.handshakeToRelease
            idle.failures += s.failures
        }
        func bulkBlock(_ n: Int) throws {
            let before = try received(relayHost)
            try load.resume()
            try waitUntil("bulk bytes to move through the relay", timeout: 30) {
                ((try? received(relayHost)) ?? before) > before
            }
            let startBytes = try received(relayHost)
            let started = Clock.monotonicSeconds()
            let s = try launchSamples(n)
            moved += try received(relayHost) - startBytes
            seconds += Clock.monotonicSeconds() - started
            // Throws if the load broke off during the block.
            try load.pause()
            underBulk.listenToRelease += s.listenToRelease
            underBulk.handshakeToRelease += s.handshakeToRelease
            underBulk.failures += s.failures
        }

        _ = try launchSamples(0, warmup: warmup)
        let size = max(1, blockSize)
        let blocks = (launches + size - 1) / size
        progress("  relayload: \(blocks) blocks of \(size) launches idle and as many under bulk, alternating")
        for block in 0..<blocks {
            let n = min(size, launches - block * size)
            if block % 2 == 0 {
                try idleBlock(n)
                try bulkBlock(n)
            } else {
                try bulkBlock(n)
                try idleBlock(n)
            }
            if (block + 1) % 5 == 0 { progress("  relayload: \(block + 1)/\(blocks) blocks") }
        }
        let idleSummary = Summary(seconds: idle.listenToRelease)
        let bulkSummary = Summary(seconds: underBulk.listenToRelease)
        let failures = idle.failures + underBulk.failures
        return RelayLoadResult(
            blocks: blocks, failures: failures.count, failureExamples: Array(failures.prefix(3)),
            idle: idleSummary, underBulk: bulkSummary,
            ratioP99: (bulkSummary?.p99Ms ?? .nan) / (idleSummary?.p99Ms ?? .nan),
            ratioP50: (bulkSummary?.p50Ms ?? .nan) / (idleSummary?.p50Ms ?? .nan),
            bulkBytesPerTransfer: bulkBytes, transfersCompleted: load.transfers,
            bytesMovedUnderBulk: moved, secondsUnderBulk: seconds,
            underBulkMBps: Double(moved) / 1e6 / seconds)
    }

    /// The bulk bytes relay_host.py's sink has read in all (its `received` command).
    static func received(_ host: HostDriver) throws -> Int {
        try host.send("received")
        let line = try host.answer(timeout: 10)
        guard line.hasPrefix("RECEIVED "), let n = Int(line.dropFirst("RECEIVED ".count)) else {
            throw BenchError("relay host: \(line)")
        }
        return n
    }
}
