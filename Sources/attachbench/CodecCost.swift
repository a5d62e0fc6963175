import AttachProtocol
import AttachSystem

/// What attachd's control path spends in AttachProtocol's VarlinkCodec for one GetStatus,
/// timed in this process with the daemon's own code: decoding the call envelope, and framing
/// the typed StatusReply in one encoder pass (`frameReply`), as the daemon does.
struct CodecCost: Codable {
    var iterations: Int
    var decodeCallMicros: Double
    var frameReplyMicros: Double
    var totalMicros: Double

    static func measure(iterations: Int) -> CodecCost {
        let codec = VarlinkCodec()
        let call = Array(RawVarlink.frame(.getStatus).dropLast())
        let status = StatusReply(
            version: "0.1.0", pid: 4242, uptime: 12.345678, projects: 1000, sessions: 0, pending: 0,
            ready: 0, waiters: 0, connections: 1, probe: "sock_diag")
        func time(_ body: () -> Void) -> Double {
            for _ in 0..<max(10, iterations / 10) { body() }
            let start = Clock.monotonicSeconds()
            for _ in 0..<iterations { body() }
            return (Clock.monotonicSeconds() - start) / Double(iterations) * 1e6
        }
        var sink = 0
        let decode = time { sink &+= ((try? codec.decode(VarlinkCall.self, from: call))?.method.utf8.count ?? 0) }
        let frame = time { sink &+= codec.frameReply(status).count }
        if sink == 42 { print("") }  // keeps the work observable
        return CodecCost(
            iterations: iterations, decodeCallMicros: decode, frameReplyMicros: frame, totalMicros: decode + frame)
    }
}
