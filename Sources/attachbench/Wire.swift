import AttachProtocol
import AttachSystem
import Foundation

/// A varlink connection reduced to bytes: the benchmark's own measuring client, so that what is
/// timed is the daemon and the socket, not JSON decoding in the client.
final class RawVarlink {
    let fd: FileDescriptor
    private var buffer: [UInt8] = []
    private var scanned = 0

    init(path: String) throws {
        do {
            fd = try Socket.connectUnix(path: path)
        } catch {
            throw BenchError("cannot connect to \(path): \(error)")
        }
    }

    init(fd: FileDescriptor) { self.fd = fd }

    deinit { fd.close() }

    /// `{"method":M,"parameters":P}` followed by NUL, written by attachctl's own call writer
    /// (`VarlinkCall.framedByHand`): the benchmark's every call goes through here.
    static func frame(_ method: VarlinkMethod, _ parameters: [String: Any]? = nil) -> [UInt8] {
        VarlinkCall(method: method.name, parameters: parameters.map { JSONValue(benchValue: $0) }).framedByHand
    }

    func send(_ bytes: [UInt8]) throws {
        do {
            try fd.writeAll(bytes)
        } catch {
            throw BenchError("cannot write to attachd: \(error)")
        }
    }

    /// The next reply (without its NUL), waiting at most `timeout` seconds; nil at end of file.
    func receive(timeout: Double = 10) throws -> [UInt8]? {
        let deadline = Clock.monotonicSeconds() + timeout
        while true {
            if let message = nextBuffered() { return message }
            let left = deadline - Clock.monotonicSeconds()
            guard left > 0 else { throw BenchError("no varlink reply within \(timeout) s") }
            guard try fd.waitReadable(timeoutMilliseconds: Int32(min(left * 1000, 60_000).rounded(.up))) else {
                continue
            }
            let chunk = try fd.read(upTo: 65536)
            if chunk.isEmpty { return nil }
            buffer += chunk
        }
    }

    /// Reads whatever is there without blocking; returns the complete replies now buffered and
    /// whether the peer closed.
    func drain() -> (replies: [[UInt8]], closed: Bool) {
        var closed = false
        while (try? fd.waitReadable(timeoutMilliseconds: 0)) == true {
            guard let chunk = try? fd.read(upTo: 65536), !chunk.isEmpty else {
                closed = true
                break
            }
            buffer += chunk
        }
        var replies: [[UInt8]] = []
        while let message = nextBuffered() { replies.append(message) }
        return (replies, closed)
    }

    private func nextBuffered() -> [UInt8]? {
        guard let end = buffer[scanned...].firstIndex(of: 0) else {
            scanned = buffer.count
            return nil
        }
        let message = Array(buffer[..<end])
        buffer.removeFirst(end + 1)
        scanned = 0
        return message
    }

    /// One call and its reply, decoded as a JSON object. Throws on a varlink error.
    func call(_ method: VarlinkMethod, _ parameters: [String: Any]? = nil, timeout: Double = 10) throws -> [String: Any]
    {
        try send(Self.frame(method, parameters))
        guard let reply = try receive(timeout: timeout) else {
            throw BenchError("attachd closed the connection during \(method)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any] else {
            throw BenchError("attachd's reply to \(method) is not a JSON object")
        }
        if let error = object["error"] as? String {
            throw BenchError("\(method) failed: \(error) \(object["parameters"].map { "\($0)" } ?? "")")
        }
        return object["parameters"] as? [String: Any] ?? [:]
    }
}

/// A line reader over a pipe, with deadlines.
final class LineReader {
    let fd: FileDescriptor
    private var buffer: [UInt8] = []

    init(fd: FileDescriptor) { self.fd = fd }

    func readLine(timeout: Double) throws -> String {
        let deadline = Clock.monotonicSeconds() + timeout
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeFirst(newline + 1)
                return line
            }
            let left = deadline - Clock.monotonicSeconds()
            guard left > 0 else { throw BenchError("no line within \(timeout) s") }
            guard try fd.waitReadable(timeoutMilliseconds: Int32(min(left * 1000, 60_000).rounded(.up))) else {
                continue
            }
            let chunk = try fd.read(upTo: 4096)
            if chunk.isEmpty { throw BenchError("end of file while waiting for a line") }
            buffer += chunk
        }
    }
}

extension JSONValue {
    /// A value as the benchmark writes parameters (String, Bool, Int, Double, arrays and
    /// dictionaries of them) as JSON; anything else is null.
    init(benchValue value: Any) {
        switch value {
        case let v as String: self = .string(v)
        case let v as Bool: self = .bool(v)
        case let v as Int: self = .number(Double(v))
        case let v as Int32: self = .number(Double(v))
        case let v as UInt16: self = .number(Double(v))
        case let v as Double: self = .number(v)
        case let v as [Any]: self = .array(v.map { JSONValue(benchValue: $0) })
        case let v as [String: Any]: self = .object(v.mapValues { JSONValue(benchValue: $0) })
        default: self = .null
        }
    }
}

/// An integer out of a JSONSerialization value (Int, NSNumber or Double).
func intValue(_ value: Any?) -> Int? {
    switch value {
    case let v as Int: return v
    case let v as Double: return Int(v)
    case let v as NSNumber: return v.intValue
    default: return nil
    }
}
