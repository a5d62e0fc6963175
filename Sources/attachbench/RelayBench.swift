import AttachProtocol
import AttachSystem

/// The attach endpoint, one project: attachd relaying IDE connections from the project's attach
/// port to a debug server of the host (bench/relay_host.py, announced with its pid), against
/// the same server reached directly and through a reference C relay (bench/c_relay.c), in the
/// same run.
struct RelayResult: Codable {
    var roundTrips: Int
    /// CPU-bound processes running beside the round trips (`--busy`); 0 on a quiet run.
    var busyProcesses: Int
    /// CPU seconds those processes used in all, and the seconds they ran (0 without `--busy`).
    var busyCPUSeconds: Double
    var busySeconds: Double
    /// 1-byte ping-pong through the attach port.
    var relay: Summary?
    /// The same ping-pong, straight to the host's port.
    var direct: Summary?
    /// relay p50 − direct p50, in microseconds.
    var overheadP50Micros: Double
    /// The same ping-pong through the reference C relay (bench/c_relay.c: epoll + splice,
    /// `--spin cRelaySpinMicros` like attachd), interleaved with the other two; nil when skipped.
    var cRelay: Summary?
    /// Why there is no C relay figure ("no C compiler"…); nil when measured.
    var cRelaySkipped: String?
    var cRelaySpinMicros: Int
    /// attachd's relay − the C relay, at p50 and p99, in microseconds.
    var relayVsCRelayP50Micros: Double?
    var relayVsCRelayP99Micros: Double?
    var bulkBytes: Int
    var bulkRounds: Int
    /// Bulk transfer IDE → host, MB/s (10^6 bytes), the median of the rounds.
    var relayMBps: Double
    var directMBps: Double
    /// relay / direct.
    var bulkRatio: Double
    /// Bulk through the C relay, MB/s (median), and attachd's relay / the C relay.
    var cRelayMBps: Double?
    var bulkRatioToCRelay: Double?
    /// Held connection: from the host's listen() to the IDE's first answered request.
    var held: Summary?
    var heldLaunches: Int
    var failures: Int
    var failureExamples: [String]
}

enum RelayBench {
    /// a (round trip), b (bulk) and c (held connection) on one daemon and one relay host; the
    /// round trips with `busy` CPU-bound processes beside them (none when 0). Round trips and
    /// bulk also go through the C relay built from `cRelaySource` (skipped without a compiler).
    static func run(
        _ daemon: DaemonUnderTest, host: HostDriver, roundTrips: Int, bulkBytes: Int, bulkRounds: Int,
        heldLaunches: Int, warmup: Int, busy: Int, python: String, cRelaySource: String,
        progress: (String) -> Void
    ) throws -> RelayResult {
        let project = "bench-relay"
        let attachPort = try AttachBench.freePort()
        _ = try daemon.call(.addProject, ["name": project, "attachPort": attachPort])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: UInt8(ascii: "d"))

        // The host listens, then announces: the session is ready at once.
        let port = try openPorts(host, 1)[0]
        _ = try host.launchAnswer(command: "listen", timeout: 10)
        let session = try announce(daemon, project: project, port: port, pid: host.pid)
        _ = try daemon.call(.wait, ["project": project, "timeout": 10])
        let relayed = try connect(attachPort)
        let direct = try connect(port)
        // The reference relay to the same host port: a child of the bench, stopped on every exit.
        let (cRelayBinary, cRelaySkipped) = CRelay.build(source: cRelaySource, into: daemon.sandbox.root)
        let cRelay = try cRelayBinary.map {
            try CRelay(binary: $0, target: port, logPath: daemon.sandbox.root + "/c_relay.log")
        }
        defer { cRelay?.stop() }
        let throughC = try cRelay.map { try connect($0.port) }
        // Every path in turn, in blocks, so that a noisy neighbour slows them alike.
        let paths = [relayed, direct] + (throughC.map { [$0] } ?? [])
        let also = throughC != nil ? " and through a C relay" : " (C relay skipped: \(cRelaySkipped ?? "?"))"

        progress(
            "  relay: \(roundTrips) 1-byte round trips through the attach port and as many directly\(also)"
                + (busy > 0 ? ", \(busy) busy processes beside them" : ""))
        var times: [[Double]] = Array(repeating: [], count: paths.count)
        var busyUsage = (cpuSeconds: 0.0, seconds: 0.0)
        do {
            let busyProcesses = try BusyProcesses(count: busy, python: python)
            defer { busyProcesses.stop() }
            for fd in paths { _ = try pingPong(fd, count: warmup * 40 + 100, buffer: buffer) }
            var done = 0
            while done < roundTrips {
                let n = min(250, roundTrips - done)
                for (index, fd) in paths.enumerated() { times[index] += try pingPong(fd, count: n, buffer: buffer) }
                done += n
            }
            busyUsage = busyProcesses.usage()
        }

        progress("  relay: \(bulkRounds) × \(bulkBytes >> 20) MiB through the attach port and as many directly\(also)")
        var rates: [[Double]] = Array(repeating: [], count: paths.count)
        for _ in 0..<bulkRounds {
            for (index, fd) in paths.enumerated() {
                rates[index].append(Double(bulkBytes) / 1e6 / (try bulk(fd, bytes: bulkBytes, buffer: buffer)))
            }
        }
        relayed.close()
        direct.close()
        throughC?.close()
        cRelay?.stop()
        _ = try? daemon.call(.endSession, ["id": session])
        try host.closeHost()

        progress("  relay: \(heldLaunches) held connections: the IDE connects and asks before the host listens")
        var held: [Double] = []
        var failures: [String] = []
        for index in 0..<(warmup + heldLaunches) {
            do {
                let seconds = try heldConnection(
                    daemon, host: host, project: project, attachPort: attachPort, buffer: buffer)
                if index >= warmup { held.append(seconds) }
            } catch {
                failures.append("\(error)")
                try? host.closeHost()
                if failures.count > 5 { break }
            }
        }
        let relaySummary = Summary(seconds: times[0])
        let directSummary = Summary(seconds: times[1])
        let cSummary = paths.count > 2 ? Summary(seconds: times[2]) : nil
        let relayRate = median(rates[0])
        let directRate = median(rates[1])
        let cRate = paths.count > 2 ? median(rates[2]) : nil
        return RelayResult(
            roundTrips: roundTrips, busyProcesses: busy, busyCPUSeconds: busyUsage.cpuSeconds,
            busySeconds: busyUsage.seconds, relay: relaySummary, direct: directSummary,
            overheadP50Micros: ((relaySummary?.p50Ms ?? .nan) - (directSummary?.p50Ms ?? .nan)) * 1000,
            cRelay: cSummary, cRelaySkipped: cRelaySkipped, cRelaySpinMicros: CRelay.spinMicroseconds,
            relayVsCRelayP50Micros: cSummary.map { ((relaySummary?.p50Ms ?? .nan) - $0.p50Ms) * 1000 },
            relayVsCRelayP99Micros: cSummary.map { ((relaySummary?.p99Ms ?? .nan) - $0.p99Ms) * 1000 },
            bulkBytes: bulkBytes, bulkRounds: bulkRounds, relayMBps: relayRate, directMBps: directRate,
            bulkRatio: relayRate / directRate, cRelayMBps: cRate, bulkRatioToCRelay: cRate.map { relayRate / $0 },
            held: Summary(seconds: held), heldLaunches: held.count,
            failures: failures.count, failureExamples: Array(failures.prefix(3)))
    }

    /// One held launch: the host's socket is bound, the session announced (pending), the IDE
    /// connects to the attach port and sends one byte; once attachd holds the connection the
    /// host listens, and the IDE's answer is timed from the host's listen().
    static func heldConnection(
        _ daemon: DaemonUnderTest, host: HostDriver, project: String, attachPort: Int,
        buffer: UnsafeMutableRawBufferPointer
    ) throws -> Double {
        let port = try openPorts(host, 1)[0]
        let session = try announce(daemon, project: project, port: port, pid: host.pid)
        defer { _ = try? daemon.call(.endSession, ["id": session]) }
        let connections = try daemon.count("connections")
        let ide = try connect(attachPort)
        defer { ide.close() }
        _ = try Socket.sendNoSignal(ide, UnsafeRawBufferPointer(rebasing: buffer[0..<1]))
        try daemon.waitFor("attachd to hold the IDE connection", timeout: 10) {
            intValue($0["connections"]) == connections + 1
        }
        try host.send("listen")
        guard try ide.waitReadable(timeoutMilliseconds: 10_000) else {
            throw BenchError("no answer through the held connection in 10 s")
        }
        let answered = Clock.wallSeconds()
        guard try ide.read(into: buffer) == 1 else { throw BenchError("the held connection closed without an answer") }
        let launch = try host.launchAnswer(timeout: 10)
        try host.closeHost()
        return answered - launch.listened
    }

    static func openPorts(_ host: HostDriver, _ count: Int) throws -> [Int] {
        try host.send("open \(count)")
        let line = try host.answer(timeout: 30)
        let words = line.split(separator: " ")
        guard words.first == "PORTS", words.count == count + 1 else { throw BenchError("relay host: \(line)") }
        return words.dropFirst().compactMap { Int($0) }
    }

    /// Announce with the host's pid: readiness is then the host's own listener.
    static func announce(_ daemon: DaemonUnderTest, project: String, port: Int, pid: Int32) throws -> String {
        let reply = try daemon.call(.announce, ["project": project, "debugPort": port, "pid": Int(pid)])
        guard let id = (reply["session"] as? [String: Any])?["id"] as? String else {
            throw BenchError("Announce: no session id in \(reply)")
        }
        return id
    }

    static func connect(_ port: Int) throws -> FileDescriptor {
        let fd = try Socket.connectTCP(host: "127.0.0.1", port: UInt16(port))
        try Socket.setNoDelay(fd)
        return fd
    }

    /// `count` sequential 1-byte round trips; each read is bounded by a 10 s poll(2).
    static func pingPong(_ fd: FileDescriptor, count: Int, buffer: UnsafeMutableRawBufferPointer) throws -> [Double] {
        var times: [Double] = []
        times.reserveCapacity(count)
        let one = UnsafeRawBufferPointer(rebasing: buffer[0..<1])
        let into = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<1])
        for _ in 0..<count {
            let t0 = Clock.monotonicSeconds()
            guard try Socket.sendNoSignal(fd, one) == 1 else { throw BenchError("ping not sent") }
            guard try fd.waitReadable(timeoutMilliseconds: 10_000), try fd.read(into: into) == 1 else {
                throw BenchError("no pong within 10 s")
            }
            times.append(Clock.monotonicSeconds() - t0)
        }
        return times
    }

    /// `bytes` to the host's bulk sink (``bulkHeader(_:)``, the bytes), timed until its "K"
    /// comes back. Seconds.
    static func bulk(_ fd: FileDescriptor, bytes: Int, buffer: UnsafeMutableRawBufferPointer) throws -> Double {
        buffer.initializeMemory(as: UInt8.self, repeating: UInt8(ascii: "d"))
        let started = Clock.monotonicSeconds()
        try fd.writeAll(bulkHeader(bytes))
        var left = bytes
        while left > 0 {
            let n = try Socket.sendNoSignal(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<min(left, buffer.count)]))
            left -= n
        }
        try acknowledgement(fd, buffer: buffer)
        return Clock.monotonicSeconds() - started
    }

    /// What starts a bulk transfer to relay_host.py's sink: "B", then `bytes` as 8 big-endian bytes.
    static func bulkHeader(_ bytes: Int) -> [UInt8] {
        var header: [UInt8] = [UInt8(ascii: "B")]
        for shift in stride(from: 56, through: 0, by: -8) {
            header.append(UInt8(truncatingIfNeeded: UInt64(bytes) >> UInt64(shift)))
        }
        return header
    }

    /// Reads the sink's "K" that ends a transfer (within 120 s); `buffer` is scratch.
    static func acknowledgement(_ fd: FileDescriptor, buffer: UnsafeMutableRawBufferPointer) throws {
        guard try fd.waitReadable(timeoutMilliseconds: 120_000) else {
            throw BenchError("bulk: no acknowledgement in 120 s")
        }
        let answer = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<1])
        guard try fd.read(into: answer) == 1, answer[0] == UInt8(ascii: "K") else {
            throw BenchError("bulk: bad acknowledgement")
        }
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

extension HostDriver {
    /// Sends `command` and reads its `LISTENED T0 T EXTRA` answer.
    func launchAnswer(command: String, timeout: Double) throws -> Launch {
        try send(command)
        return try launchAnswer(timeout: timeout)
    }
}
