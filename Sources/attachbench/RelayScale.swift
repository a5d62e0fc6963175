import AttachProtocol
import AttachSystem

/// Many relays at once (d): N projects with an attach port each, one session each (all of one
/// relay host process, announced with its pid), one IDE connection relayed on each; then the
/// daemon's memory and its wakeups while every relay is idle.
struct RelayScaleResult: Codable {
    var projects: Int
    var relays: Int
    /// Relays that answered a 1-byte ping before the idle window, and after it.
    var answeredBefore: Int
    var answeredAfter: Int
    var setupSeconds: Double
    var readySeconds: Double
    var rssKiB: Int
    var peakRSSKiB: Int
    var rssAnonKiB: Int
    var rssFileKiB: Int
    var descriptors: Int
    var threads: Int
    var idle: IdleResult
}

/// Many projects, no session (e): start-up, memory and idle cost.
struct ManyProjectsResult: Codable {
    var projects: Int
    var tcpRendezvous: Int
    var startSeconds: Double
    var rssKiB: Int
    var peakRSSKiB: Int
    var rssAnonKiB: Int
    var descriptors: Int
    var threads: Int
    var openFileLimit: UInt64
    var idle: IdleResult?
}

enum RelayScale {
    static func name(_ i: Int) -> String { "r\(i)" }

    static func run(
        binDirectory: String, host: HostDriver, relays n: Int, attachBase: Int, idleSeconds: Double,
        progress: (String) -> Void
    ) throws -> RelayScaleResult {
        let sandbox = try Sandbox(label: "relays")
        defer { sandbox.remove() }
        let configs = (0..<n).map {
            ProjectSpec(name: name($0), debugPort: nil, rendezvousPort: nil, attachPort: attachBase + $0)
        }
        try sandbox.writeProjects(configs)
        let daemon = DaemonUnderTest(sandbox: sandbox, binDirectory: binDirectory)
        defer { daemon.stop() }
        try daemon.start(timeout: 60)
        let loaded = try daemon.count("projects")
        guard loaded == n else {
            throw BenchError("attachd loaded \(loaded) projects, not \(n):\n\(sandbox.logTail())")
        }

        let setupStart = Clock.monotonicSeconds()
        let ports = try RelayBench.openPorts(host, n)
        _ = try host.launchAnswer(command: "listen", timeout: 30)
        defer { try? host.closeHost() }
        let portsOpen = Clock.monotonicSeconds()
        for i in 0..<n {
            _ = try daemon.call(.announce, ["project": name(i), "debugPort": ports[i], "pid": Int(host.pid)])
        }
        let announced = Clock.monotonicSeconds()
        try daemon.waitFor("\(n) sessions ready", timeout: 120, interval: 0.01) { intValue($0["ready"]) == n }
        let readySeconds = Clock.monotonicSeconds() - setupStart
        progress(
            "  \(n) sessions ready in \(Fmt.ms(readySeconds * 1000)) (host listening after "
                + "\(Fmt.ms((portsOpen - setupStart) * 1000)), announced after \(Fmt.ms((announced - setupStart) * 1000)));"
                + " \(n) IDE connections")
        var ides: [FileDescriptor] = []
        defer { for fd in ides { fd.close() } }
        for i in 0..<n { ides.append(try RelayBench.connect(attachBase + i)) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: UInt8(ascii: "p"))
        let before = ping(ides, buffer: buffer)
        let setupSeconds = Clock.monotonicSeconds() - setupStart
        sleepSeconds(0.3)
        progress("  \(before)/\(n) relays answered; idle \(idleSeconds) s")
        let idle = Scale.idle(daemon, projects: n, seconds: idleSeconds)
        let after = ping(ides, buffer: buffer)
        return RelayScaleResult(
            projects: n, relays: n, answeredBefore: before, answeredAfter: after,
            setupSeconds: setupSeconds, readySeconds: readySeconds,
            rssKiB: daemon.rssKiB, peakRSSKiB: daemon.peakRSSKiB, rssAnonKiB: daemon.rssAnonKiB,
            rssFileKiB: daemon.rssFileKiB, descriptors: daemon.descriptorCount,
            threads: daemon.threadCount, idle: idle)
    }

    /// One byte on every connection, then every echo collected: how many answered (5 s bound).
    static func ping(_ fds: [FileDescriptor], buffer: UnsafeMutableRawBufferPointer) -> Int {
        for fd in fds { _ = try? Socket.sendNoSignal(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<1])) }
        var waiting = fds.map(\.rawValue)
        var answered = 0
        let deadline = Clock.monotonicSeconds() + 5
        while answered < fds.count, Clock.monotonicSeconds() < deadline {
            for index in Sys.readable(waiting, timeoutMilliseconds: 100) {
                if (try? FileDescriptor(rawValue: waiting[index]).read(into: buffer)) == 1 { answered += 1 }
                waiting[index] = -1
            }
        }
        return answered
    }

    /// e: `n` projects, each with its Unix rendezvous and every other one a TCP rendezvous too,
    /// in projects.json before the daemon starts.
    static func manyProjects(
        binDirectory: String, projects n: Int, tcpBase: Int, idleSeconds: Double,
        progress: (String) -> Void
    ) throws -> ManyProjectsResult {
        let sandbox = try Sandbox(label: "many")
        defer { sandbox.remove() }
        let tcp = n / 2
        let specs = (0..<n).map { i in
            ProjectSpec(name: "m\(i)", debugPort: 40000 + i % 20000, rendezvousPort: i % 2 == 0 ? tcpBase + i / 2 : nil)
        }
        try sandbox.writeProjects(specs)
        let limit = ProcessHandle.openFileLimit()
        let daemon = DaemonUnderTest(sandbox: sandbox, binDirectory: binDirectory)
        defer { daemon.stop() }
        try daemon.start(timeout: 120)
        let loaded = try daemon.count("projects")
        guard loaded == n else {
            throw BenchError("attachd loaded \(loaded) projects, not \(n):\n\(sandbox.logTail())")
        }
        let broken = (try daemon.call(.listProjects)["projects"] as? [[String: Any]] ?? []).filter {
            $0["error"] is String
        }
        if !broken.isEmpty { progress("  warning: \(broken.count) projects report listener errors, e.g. \(broken[0])") }
        progress("  attachd serving \(n) projects after \(Fmt.ms(daemon.startSeconds * 1000)); idle \(idleSeconds) s")
        var result = ManyProjectsResult(
            projects: n, tcpRendezvous: tcp, startSeconds: daemon.startSeconds,
            rssKiB: daemon.rssKiB, peakRSSKiB: daemon.peakRSSKiB, rssAnonKiB: daemon.rssAnonKiB,
            descriptors: daemon.descriptorCount, threads: daemon.threadCount,
            openFileLimit: limit.hard, idle: nil)
        if idleSeconds > 0 {
            sleepSeconds(0.3)
            result.idle = Scale.idle(daemon, projects: n, seconds: idleSeconds)
        }
        return result
    }
}
