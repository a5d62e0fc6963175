import AttachProtocol
import AttachSystem
import Foundation

/// What attachd's control path spends in AttachProtocol's VarlinkCodec for one GetStatus,
/// timed in this process with the daemon's own code: decoding the call, turning the typed
/// StatusReply into a JSONValue (`value(_:)`: JSONEncoder then JSONDecoder), framing the reply
/// (JSONEncoder again). And the single encoder pass that could replace the last two.
struct CodecCost: Codable {
    var iterations: Int
    var decodeCallMicros: Double
    var valueOfStatusMicros: Double
    var frameReplyMicros: Double
    var totalMicros: Double
    /// One JSONEncoder pass over `{"parameters": StatusReply}`: the proposed replacement of
    /// value + frame.
    var directFrameMicros: Double

    private struct Envelope<P: Encodable>: Encodable {
        var parameters: P
    }

    static func measure(iterations: Int) -> CodecCost {
        let codec = VarlinkCodec()
        let call = Array(#"{"method":"io.attachd.Broker.GetStatus"}"#.utf8)
        let status = StatusReply(version: "0.1.0", pid: 4242, uptime: 12.345678, projects: 1000, sessions: 0, pending: 0,
                                 ready: 0, waiters: 0, connections: 1, probe: "sock_diag")
        func time(_ body: () -> Void) -> Double {
            for _ in 0..<max(10, iterations / 10) { body() }
            let start = Clock.monotonicSeconds()
            for _ in 0..<iterations { body() }
            return (Clock.monotonicSeconds() - start) / Double(iterations) * 1e6
        }
        var sink = 0
        let decode = time { sink &+= ((try? codec.decode(VarlinkCall.self, from: call))?.method.utf8.count ?? 0) }
        let value = time { if case .object(let o) = codec.value(status) { sink &+= o.count } }
        let json = codec.value(status)
        let frame = time { sink &+= codec.frame(VarlinkReply(parameters: json)).count }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let direct = time { sink &+= ((try? encoder.encode(Envelope(parameters: status)))?.count ?? 0) }
        if sink == 42 { print("") }  // keeps the work observable
        return CodecCost(iterations: iterations, decodeCallMicros: decode, valueOfStatusMicros: value, frameReplyMicros: frame,
                         totalMicros: decode + value + frame, directFrameMicros: direct)
    }
}
