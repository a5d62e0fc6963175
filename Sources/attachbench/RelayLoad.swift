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
    /// The same launches while the same transfers go straight to the host's port, not through
    /// attachd: what any bulk transfer on this machine costs a release, the relay's part aside.
    var underDirectBulk: Summary?
    var directRatioP99: Double?
    var directMBps: Double?
}

enum RelayLoad {
    /// `launches` measured launches per condition in blocks of `blockSize`, after `warmup` idle
    /// ones. Before an idle block the bulk load is paused and the sink has read every byte sent;
    /// an under-bulk block starts once bytes move and the load stays on until it ends.
    static func run(
        _ daemon: DaemonUnderTest, context: ReleaseLatency.Context, relayHost: HostDriver, directSink: HostDriver,
        launches: Int,
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
        defer {
            _ = try? daemon.call(.endSession, ["id": session])
            try? relayHost.closeHost()
        }
        let ide = try RelayBench.connect(attachPort)
        defer { ide.close() }
        let load = try BulkLoad(fd: ide, bytesPerTransfer: bulkBytes)
        defer { load.stop() }
        let sinkPort = try RelayBench.openPorts(directSink, 1)[0]
        _ = try directSink.launchAnswer(command: "listen", timeout: 10)
        let straight = try RelayBench.connect(sinkPort)
        defer { straight.close() }
        let direct = try BulkLoad(fd: straight, bytesPerTransfer: bulkBytes)
        defer { direct.stop() }
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
        var underDirect = ReleaseLatency.Samples()
        var moved = (relayed: 0, direct: 0)
        var seconds = (relayed: 0.0, direct: 0.0)
        func idleBlock(_ n: Int) throws {
            try load.pause()
            try direct.pause()
            let (sent, sentDirect) = (load.sent, direct.sent)
            try waitUntil("the hosts to read the \(sent + sentDirect) bulk bytes sent", timeout: 60) {
                (try? received(relayHost)) == sent && (try? received(directSink)) == sentDirect
            }
            idle.add(try launchSamples(n))
        }
        func bulkBlock(_ n: Int, relayed: Bool) throws {
            let (sender, sink) = relayed ? (load, relayHost) : (direct, directSink)
            let before = try received(sink)
            try sender.resume()
            try waitUntil("bulk bytes to move", timeout: 30) {
                ((try? received(sink)) ?? before) > before
            }
            let startBytes = try received(sink)
            let started = Clock.monotonicSeconds()
            let s = try launchSamples(n)
            let bytes = try received(sink) - startBytes
            let elapsed = Clock.monotonicSeconds() - started
            // Throws if the load broke off during the block.
            try sender.pause()
            if relayed {
                moved.relayed += bytes
                seconds.relayed += elapsed
                underBulk.add(s)
            } else {
                moved.direct += bytes
                seconds.direct += elapsed
                underDirect.add(s)
            }
        }

        _ = try launchSamples(0, warmup: warmup)
        let size = max(1, blockSize)
        let blocks = (launches + size - 1) / size
        progress(
            "  relayload: \(blocks) blocks of \(size) launches idle, as many beside a relayed bulk transfer and as many "
                + "beside a direct one, in turn")
        for block in 0..<blocks {
            let n = min(size, launches - block * size)
            // Each condition first, second and last in turn, so that drift touches all alike.
            let conditions: [() throws -> Void] = [
                { try idleBlock(n) }, { try bulkBlock(n, relayed: true) }, { try bulkBlock(n, relayed: false) },
            ]
            for i in 0..<3 { try conditions[(i + block) % 3]() }
            if (block + 1) % 5 == 0 { progress("  relayload: \(block + 1)/\(blocks) blocks") }
        }
        let idleSummary = Summary(seconds: idle.listenToRelease)
        let bulkSummary = Summary(seconds: underBulk.listenToRelease)
        let directSummary = Summary(seconds: underDirect.listenToRelease)
        let failures = idle.failures + underBulk.failures + underDirect.failures
        let idleP99: Double = idleSummary?.p99Ms ?? .nan
        let directRatio: Double? = directSummary.map { $0.p99Ms / idleP99 }
        let directRate: Double = Double(moved.direct) / 1e6 / seconds.direct
        let relayedRate: Double = Double(moved.relayed) / 1e6 / seconds.relayed
        let ratioP99: Double = (bulkSummary?.p99Ms ?? .nan) / idleP99
        let ratioP50: Double = (bulkSummary?.p50Ms ?? .nan) / (idleSummary?.p50Ms ?? .nan)
        return RelayLoadResult(
            blocks: blocks, failures: failures.count, failureExamples: Array(failures.prefix(3)),
            idle: idleSummary, underBulk: bulkSummary,
            ratioP99: ratioP99, ratioP50: ratioP50,
            bulkBytesPerTransfer: bulkBytes, transfersCompleted: load.transfers,
            bytesMovedUnderBulk: moved.relayed, secondsUnderBulk: seconds.relayed,
            underBulkMBps: relayedRate, underDirectBulk: directSummary, directRatioP99: directRatio,
            directMBps: directRate)
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

extension ReleaseLatency.Samples {
    mutating func add(_ other: Self) {
        listenToRelease += other.listenToRelease
        handshakeToRelease += other.handshakeToRelease
        failures += other.failures
    }
}
