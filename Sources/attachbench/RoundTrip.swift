import AttachClient
import AttachProtocol
import AttachSystem
import Foundation

struct RoundTripResult: Codable {
    var calls: Int
    var callBytes: Int
    var replyBytes: Int
    var getStatus: Summary?
    var getStatusPerSecond: Double
    var echo: Summary?
    var echoPerSecond: Double
    /// GetStatus p50 over echo p50.
    var ratioP50: Double
    /// Echo throughput over GetStatus throughput.
    var ratioThroughput: Double
    /// The same call through AttachClient's typed BrokerClient (JSON decoding included).
    var typedClient: Summary?
    var typedClientPerSecond: Double
    /// The echo served through a DispatchSourceRead on a serial queue, as attachd serves.
    var dispatchEcho: Summary?
    var dispatchEchoPerSecond: Double
    /// The daemon's VarlinkCodec work for one GetStatus, timed in this process.
    var codec: CodecCost
}

enum RoundTrip {
    /// `count` sequential calls on one connection: latencies and calls per second.
    static func loop(_ connection: RawVarlink, call: [UInt8], count: Int) throws -> (
        latencies: [Double], perSecond: Double, reply: Int
    ) {
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        var replySize = 0
        let started = Clock.monotonicSeconds()
        for _ in 0..<count {
            let t0 = Clock.monotonicSeconds()
            try connection.send(call)
            guard let reply = try connection.receive(timeout: 10) else { throw BenchError("connection closed") }
            latencies.append(Clock.monotonicSeconds() - t0)
            replySize = reply.count + 1
        }
        return (latencies, Double(count) / (Clock.monotonicSeconds() - started), replySize)
    }

    static func run(_ daemon: DaemonUnderTest, calls: Int, progress: (String) -> Void) throws -> RoundTripResult {
        let call = RawVarlink.frame(.getStatus)
        let warmup = min(500, calls / 4 + 1)
        let connection = try RawVarlink(path: daemon.sandbox.controlSocket)
        let replySize = try loop(connection, call: call, count: warmup).reply

        // A bare echo: a thread that reads up to the NUL and answers with as many bytes as
        // attachd's reply had.
        let path = daemon.sandbox.root + "/echo.sock"
        let listener = try Socket.listenUnix(path: path)
        try listener.setNonBlocking(false)
        let server = EchoServer(listener: listener, replySize: replySize)
        let thread = Thread { server.serve() }
        thread.start()
        let echoConnection = try RawVarlink(path: path)
        _ = try loop(echoConnection, call: call, count: warmup)

        // The echo again, served through a DispatchSource like attachd's connections.
        let dispatchPath = daemon.sandbox.root + "/echo-dispatch.sock"
        let dispatchListener = try Socket.listenUnix(path: dispatchPath)
        let dispatchServer = DispatchEchoServer(listener: dispatchListener, replySize: replySize)
        dispatchServer.start()
        let dispatchConnection = try RawVarlink(path: dispatchPath)
        _ = try loop(dispatchConnection, call: call, count: warmup)

        // Interleaved blocks, so that a noisy neighbour slows all three alike.
        var varlink: [Double] = []
        var echo: [Double] = []
        var dispatchEcho: [Double] = []
        var varlinkTime = 0.0
        var echoTime = 0.0
        var dispatchTime = 0.0
        let block = 250
        var done = 0
        while done < calls {
            let n = min(block, calls - done)
            for (target, connectionToUse) in [(0, connection), (1, echoConnection), (2, dispatchConnection)] {
                let started = Clock.monotonicSeconds()
                let result = try loop(connectionToUse, call: call, count: n)
                let elapsed = Clock.monotonicSeconds() - started
                switch target {
                case 0:
                    varlink += result.latencies
                    varlinkTime += elapsed
                case 1:
                    echo += result.latencies
                    echoTime += elapsed
                default:
                    dispatchEcho += result.latencies
                    dispatchTime += elapsed
                }
            }
            done += n
        }
        echoConnection.fd.close()
        _ = server.finished.wait(timeout: .now() + 5)
        listener.close()
        try? Files.unlink(path)
        dispatchConnection.fd.close()
        dispatchServer.stop()
        dispatchListener.close()
        try? Files.unlink(dispatchPath)
        let varlinkPerSecond = Double(calls) / varlinkTime
        let echoPerSecond = Double(calls) / echoTime

        // The typed client, for what attachctl itself pays.
        let typedCount = max(100, calls / 4)
        let client = try BrokerClient(socketPath: daemon.sandbox.controlSocket)
        var typed: [Double] = []
        let typedStart = Clock.monotonicSeconds()
        for _ in 0..<typedCount {
            let t0 = Clock.monotonicSeconds()
            _ = try client.status()
            typed.append(Clock.monotonicSeconds() - t0)
        }
        let typedPerSecond = Double(typedCount) / (Clock.monotonicSeconds() - typedStart)
        client.close()

        let statusSummary = Summary(seconds: varlink)
        let echoSummary = Summary(seconds: echo)
        return RoundTripResult(
            calls: calls, callBytes: call.count, replyBytes: replySize,
            getStatus: statusSummary, getStatusPerSecond: varlinkPerSecond,
            echo: echoSummary, echoPerSecond: echoPerSecond,
            ratioP50: (statusSummary?.p50Ms ?? .nan) / (echoSummary?.p50Ms ?? .nan),
            ratioThroughput: echoPerSecond / varlinkPerSecond,
            typedClient: Summary(seconds: typed), typedClientPerSecond: typedPerSecond,
            dispatchEcho: Summary(seconds: dispatchEcho), dispatchEchoPerSecond: Double(calls) / dispatchTime,
            codec: CodecCost.measure(iterations: max(1000, calls / 4)))
    }
}

final class EchoServer: @unchecked Sendable {
    let listener: FileDescriptor
    let reply: [UInt8]
    let finished = DispatchSemaphore(value: 0)

    init(listener: FileDescriptor, replySize: Int) {
        self.listener = listener
        var reply = [UInt8](repeating: UInt8(ascii: "x"), count: max(1, replySize - 1))
        reply.append(0)
        self.reply = reply
    }

    func serve() {
        defer { finished.signal() }
        guard (try? listener.waitReadable(timeoutMilliseconds: 10_000)) == true,
            let client = try? Socket.accept(listener)
        else { return }
        defer { client.close() }
        try? client.setNonBlocking(false)
        while true {
            guard let chunk = try? client.read(upTo: 65536), !chunk.isEmpty else { return }
            // One call per reply: the client sends the next only after reading this one.
            if chunk.last == 0 {
                guard (try? client.writeAll(reply)) != nil else { return }
            }
        }
    }
}

/// The same echo, served the way attachd serves its control socket: a non-blocking socket
/// watched by a DispatchSourceRead on a serial queue (no JSON). Tells Dispatch's share of the
/// round trip from the daemon's own work.
final class DispatchEchoServer: @unchecked Sendable {
    let listener: FileDescriptor
    let reply: [UInt8]
    let queue = DispatchQueue(label: "attachbench.echo")
    private var acceptSource: DispatchSourceRead?
    private var clientSource: DispatchSourceRead?
    private var client: FileDescriptor?

    init(listener: FileDescriptor, replySize: Int) {
        self.listener = listener
        var reply = [UInt8](repeating: UInt8(ascii: "y"), count: max(1, replySize - 1))
        reply.append(0)
        self.reply = reply
    }

    func start() {
        queue.sync {
            let source = DispatchSource.makeReadSource(fileDescriptor: listener.rawValue, queue: queue)
            source.setEventHandler { [self] in accept() }
            acceptSource = source
            source.resume()
        }
    }

    private func accept() {
        guard client == nil, let fd = try? Socket.accept(listener) else { return }
        client = fd
        let source = DispatchSource.makeReadSource(fileDescriptor: fd.rawValue, queue: queue)
        source.setEventHandler { [self] in readable() }
        source.setCancelHandler { fd.close() }
        clientSource = source
        source.resume()
    }

    private func readable() {
        guard let client else { return }
        do {
            let chunk = try client.read(upTo: 65536)
            if chunk.isEmpty {
                stopClient()
                return
            }
            if chunk.last == 0 { _ = try client.write(reply[...]) }
        } catch .wouldBlock {
            return
        } catch {
            stopClient()
        }
    }

    private func stopClient() {
        clientSource?.cancel()
        clientSource = nil
    }

    func stop() {
        queue.sync {
            stopClient()
            acceptSource?.cancel()
            acceptSource = nil
        }
    }
}
