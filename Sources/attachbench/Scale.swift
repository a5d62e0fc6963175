import AttachProtocol
import AttachSystem
import Foundation

struct ScaleResult: Codable {
    var projects: Int
    var waiters: Int
    var waiterConnectionsAsked: Int
    var waiterConnectionsAccepted: Int
    var waiterConnectionsRefused: Int
    var waitsPerConnection: Double
    var daemonStartSeconds: Double
    var rssAfterStartKiB: Int
    var descriptorsAfterStart: Int
    var announceSeconds: Double
    /// 1,000 listen() calls in a tight loop.
    var listenLoopMs: Double
    var firstReleaseMs: Double
    /// From the first listen() to the last waiter released.
    var allReleasedMs: Double
    /// From the last listen() to the last waiter released.
    var allReleasedAfterLastListenMs: Double
    /// Per waiter: from its port's listen() to its reply arriving.
    var perWaiter: Summary?
    var released: Int
    var errors: Int
    var peakRSSKiB: Int
    var rssKiB: Int
    var rssAnonKiB: Int
    var rssFileKiB: Int
    var pssKiB: Int
    var rssAnonAfterStartKiB: Int
    var descriptors: Int
    var threads: Int
    var controlConnections: Int
    var cpuDuringReleaseMs: Double
    var idleAfterLoad: IdleResult?
}

enum Scale {
    /// Finds `count` consecutive ports from `base` (moving up) with nothing listening and
    /// bindable on 127.0.0.1.
    static func freeRange(from base: Int, count: Int) throws -> Int {
        let listening = (try? ListenProbe().listeningPorts()) ?? []
        var start = base
        while start + count < 32768 {
            if !(start..<(start + count)).contains(where: { listening.contains(UInt16($0)) }) { return start }
            start += count
        }
        throw BenchError("no \(count) free ports from \(base) below 32768 (pass --port-base)")
    }

    /// A TCP socket bound to 127.0.0.1:port with SO_REUSEADDR, not yet listening.
    static func boundSocket(port: Int) throws -> FileDescriptor {
        do {
            return try Sys.boundTCPSocket(port: port)
        } catch {
            throw BenchError("bind 127.0.0.1:\(port): \(error)")
        }
    }

    /// 1,000 waiters (raw varlink Wait calls from this process), 1,000 hosts announcing
    /// themselves with the article's bare connect to their TCP rendezvous, then 1,000 debug
    /// ports listening in a tight loop: how long until every waiter is released.
    static func run(
        _ daemon: DaemonUnderTest, projects n: Int, rendezvousBase: Int, debugBase: Int,
        waiterConnections: Int, idleAfterSeconds: Double, startSeconds: Double, rssAfterStart: Int,
        rssAnonAfterStart: Int,
        descriptorsAfterStart: Int, progress: (String) -> Void
    ) throws -> ScaleResult {
        let socketPath = daemon.sandbox.controlSocket
        let asked = max(1, min(waiterConnections, n))

        // 1. Waiters: project i waits on connection i % asked.
        var connections: [RawVarlink] = []
        for _ in 0..<asked { connections.append(try RawVarlink(path: socketPath)) }
        var assignment: [[Int]] = Array(repeating: [], count: asked)
        for i in 0..<n {
            assignment[i % asked].append(i)
            try? connections[i % asked].send(
                RawVarlink.frame(
                    .wait,
                    ["project": name(i), "timeout": 120]))
        }
        // Wait until the daemon holds them all, or the count stops growing.
        var last = -1
        var stableSince = Clock.monotonicSeconds()
        let deadline = Clock.monotonicSeconds() + 30
        while Clock.monotonicSeconds() < deadline {
            let waiters = try daemon.count("waiters")
            if waiters == n { break }
            if waiters != last {
                last = waiters
                stableSince = Clock.monotonicSeconds()
            }
            if Clock.monotonicSeconds() - stableSince > 1.0 { break }
            Sys.sleep(0.002)
        }
        // Connections the daemon refused (closed at once): their waits go to accepted ones.
        var refused: [Int] = []
        for (index, connection) in connections.enumerated() where connection.drain().closed { refused.append(index) }
        let accepted = (0..<asked).filter { !refused.contains($0) }
        if !refused.isEmpty {
            guard !accepted.isEmpty else { throw BenchError("attachd refused every waiter connection") }
            progress(
                "  attachd refused \(refused.count) of \(asked) control connections; pipelining their waits on the \(accepted.count) accepted"
            )
            var next = 0
            for index in refused {
                for project in assignment[index] {
                    let target = accepted[next % accepted.count]
                    next += 1
                    assignment[target].append(project)
                    try connections[target].send(RawVarlink.frame(.wait, ["project": name(project), "timeout": 120]))
                }
                assignment[index] = []
            }
        }
        try daemon.waitFor("\(n) waiters", timeout: 30, interval: 0.002) { intValue($0["waiters"]) == n }
        let controlConnections = try daemon.count("connections")

        // 2. Hosts announce: the article's bare connect + close on each TCP rendezvous.
        progress("  \(n) waiters held; \(n) hosts announce")
        let announceStart = Clock.monotonicSeconds()
        for i in 0..<n {
            let fd = try Socket.connectTCP(host: "127.0.0.1", port: UInt16(rendezvousBase + i))
            fd.close()
        }
        try daemon.waitFor("\(n) pending sessions", timeout: 60, interval: 0.002) { intValue($0["pending"]) == n }
        let announceSeconds = Clock.monotonicSeconds() - announceStart

        // 3. Debug ports: bound beforehand, listen() in a tight loop.
        var debugSockets: [FileDescriptor] = []
        defer { for fd in debugSockets { fd.close() } }
        for i in 0..<n { debugSockets.append(try boundSocket(port: debugBase + i)) }
        let collector = ReleaseCollector(
            connections: accepted.map { (connections[$0].fd.rawValue, assignment[$0]) }, expected: n)
        let thread = Thread { collector.run(timeout: 30) }
        thread.start()
        collector.started.wait()
        let cpuBefore = daemon.cpuTickSeconds
        var listenTimes = [Double](repeating: 0, count: n)
        for i in 0..<n {
            do { try Sys.listen(debugSockets[i]) } catch { throw BenchError("listen: \(error)") }
            listenTimes[i] = Clock.wallSeconds()
        }
        guard collector.done.wait(timeout: .now() + 40) == .success else {
            throw BenchError("the release collector did not finish")
        }
        let cpuAfter = daemon.cpuTickSeconds
        let firstListen = listenTimes[0]
        let lastListen = listenTimes[n - 1]
        let releases = collector.releaseTimes
        let releasedTimes = releases.compactMap { $0 }
        let perWaiter = (0..<n).compactMap { i in releases[i].map { $0 - listenTimes[i] } }
        let lastRelease = releasedTimes.max() ?? .nan
        var result = ScaleResult(
            projects: n, waiters: n, waiterConnectionsAsked: asked, waiterConnectionsAccepted: accepted.count,
            waiterConnectionsRefused: refused.count, waitsPerConnection: Double(n) / Double(max(1, accepted.count)),
            daemonStartSeconds: startSeconds, rssAfterStartKiB: rssAfterStart,
            descriptorsAfterStart: descriptorsAfterStart,
            announceSeconds: announceSeconds, listenLoopMs: (lastListen - firstListen) * 1000,
            firstReleaseMs: ((releasedTimes.min() ?? .nan) - firstListen) * 1000,
            allReleasedMs: (lastRelease - firstListen) * 1000,
            allReleasedAfterLastListenMs: (lastRelease - lastListen) * 1000,
            perWaiter: Summary(seconds: perWaiter), released: releasedTimes.count, errors: collector.errors,
            peakRSSKiB: daemon.peakRSSKiB, rssKiB: daemon.rssKiB, rssAnonKiB: daemon.rssAnonKiB,
            rssFileKiB: daemon.rssFileKiB, pssKiB: daemon.pssKiB, rssAnonAfterStartKiB: rssAnonAfterStart,
            descriptors: daemon.descriptorCount,
            threads: daemon.threadCount, controlConnections: controlConnections,
            cpuDuringReleaseMs: (cpuAfter - cpuBefore) * 1000, idleAfterLoad: nil)

        // 4. Hosts go away; the sessions end (the daemon re-checks ready ports once a second);
        //    then the daemon should fall asleep again.
        for fd in debugSockets { fd.close() }
        debugSockets = []
        connections = []
        if idleAfterSeconds > 0 {
            try daemon.waitFor("sessions to end after the hosts left", timeout: 15, interval: 0.01) {
                intValue($0["sessions"]) == 0 && intValue($0["waiters"]) == 0
            }
            sleepSeconds(0.3)
            result.idleAfterLoad = idle(daemon, projects: n, seconds: idleAfterSeconds)
        }
        return result
    }

    static func name(_ i: Int) -> String { String(format: "s%04d", i) }
}

/// Reads the Wait replies on its own thread while the main thread calls listen(), and notes
/// when each one arrived.
final class ReleaseCollector: @unchecked Sendable {
    private let connections: [(fd: Int32, projects: [Int])]
    private let expected: Int
    let started = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
    /// Indexed by project number.
    private(set) var releaseTimes: [Double?]
    private(set) var errors = 0

    init(connections: [(fd: Int32, projects: [Int])], expected: Int) {
        self.connections = connections
        self.expected = expected
        self.releaseTimes = Array(repeating: nil, count: expected)
    }

    func run(timeout: Double) {
        defer { done.signal() }
        var fds = connections.map { $0.fd }
        var received = [Int](repeating: 0, count: connections.count)
        var partial = [[UInt8]](repeating: [], count: connections.count)
        var count = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        let deadline = Clock.monotonicSeconds() + timeout
        started.signal()
        while count < expected, Clock.monotonicSeconds() < deadline {
            let ready = Sys.readable(fds, timeoutMilliseconds: 100)
            if ready.isEmpty { continue }
            let now = Clock.wallSeconds()
            for index in ready {
                let n = (try? FileDescriptor(rawValue: fds[index]).read(into: buffer)) ?? 0
                if n <= 0 {
                    fds[index] = -1  // closed: poll ignores negative descriptors
                    continue
                }
                for byte in buffer[..<n] {
                    if byte == 0 {
                        let message = partial[index]
                        partial[index] = []
                        let projects = connections[index].projects
                        if received[index] < projects.count {
                            if Self.isError(message) {
                                errors += 1
                            } else {
                                releaseTimes[projects[received[index]]] = now
                            }
                        }
                        received[index] += 1
                        count += 1
                    } else {
                        partial[index].append(byte)
                    }
                }
            }
        }
    }

    private static func isError(_ message: [UInt8]) -> Bool {
        // A varlink error reply carries "error":"io.attachd...". Replies are small.
        String(decoding: message, as: UTF8.self).contains("\"error\"")
    }
}

func sleepSeconds(_ seconds: Double) {
    Sys.sleep(seconds)
}
