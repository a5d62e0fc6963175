/// One Debug Adapter Protocol message as it travels: a header block (`Content-Length: N`,
/// each line ended by `\r\n`, the block by an empty line) and N bytes of JSON body, kept as
/// bytes (never decoded here).
public struct DAPMessage: Sendable, Equatable {
    /// The header block as received, its closing `\r\n\r\n` included.
    public var header: [UInt8]
    /// The body, exactly `Content-Length` bytes.
    public var body: [UInt8]

    public init(header: [UInt8], body: [UInt8]) {
        self.header = header
        self.body = body
    }

    /// A message with the usual header for `body`.
    public init(body: [UInt8]) {
        self.init(header: Array("Content-Length: \(body.count)\r\n\r\n".utf8), body: body)
    }

    /// The message as it goes on the wire.
    public var bytes: [UInt8] { header + body }
}

/// Why a byte stream is not (or no longer) framed DAP.
public enum DAPFramingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No empty line within `limit` bytes of header.
    case headerTooLong(limit: Int)
    /// A header block without a `Content-Length` field.
    case missingContentLength
    /// `Content-Length` is not a decimal number up to the body limit.
    case invalidContentLength(String)

    public var description: String {
        switch self {
        case .headerTooLong(let limit): "DAP header longer than \(limit) bytes"
        case .missingContentLength: "DAP header without Content-Length"
        case .invalidContentLength(let value):
            "DAP Content-Length \"\(value)\" is not a length up to \(DAPFramer.bodyLimit)"
        }
    }
}

/// Frames a Debug Adapter Protocol byte stream into messages: fed chunks as they arrive (split
/// anywhere), gives back each complete message. No I/O. After an error the stream is not DAP:
/// `takeBuffered()` gives back the bytes not yet framed, so that a relay passes them on as
/// they came.
public struct DAPFramer: Sendable {
    /// The longest header block accepted.
    public static let headerLimit = 4096
    /// The largest body accepted.
    public static let bodyLimit = 1 << 30

    private var buffer: [UInt8] = []
    /// Where the unframed bytes start in `buffer`.
    private var start = 0
    /// Where to go on looking for the header's end (a `\r\n\r\n` already ruled out before).
    private var scanned = 0
    /// The current message's header end (index after `\r\n\r\n`) and body length, once known.
    private var pending: (headerEnd: Int, length: Int)?

    public init() {}

    /// Bytes received and not yet given back as messages.
    public var buffered: Int { buffer.count - start }

    /// Adds received bytes.
    public mutating func append<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            scanned -= start
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message, nil when more bytes are needed.
    public mutating func next() throws(DAPFramingError) -> DAPMessage? {
        if pending == nil {
            guard let headerEnd = findHeaderEnd() else {
                if buffer.count - start > Self.headerLimit { throw .headerTooLong(limit: Self.headerLimit) }
                return nil
            }
            pending = (headerEnd, try Self.contentLength(buffer[start..<headerEnd]))
        }
        guard let (headerEnd, length) = pending, buffer.count - headerEnd >= length else { return nil }
        let message = DAPMessage(
            header: Array(buffer[start..<headerEnd]), body: Array(buffer[headerEnd..<headerEnd + length]))
        start = headerEnd + length
        scanned = start
        pending = nil
        compact()
        return message
    }

    /// For a message whose body is over `threshold` bytes, once its header and at least
    /// `threshold` bytes of its body are buffered (and not all of it): takes the buffered part of
    /// the message, header included, appending it to `out`, so that the caller passes the rest
    /// of the body on without framing it. Returns where in `out` the body starts and the body
    /// bytes still to come; nil otherwise (then nothing is taken).
    public mutating func takeMessageStart(ifBodyOver threshold: Int, into out: inout [UInt8]) -> (
        bodyStart: Int, remaining: Int
    )? {
        guard let (headerEnd, length) = pending, length > threshold else { return nil }
        let bodyBuffered = buffer.count - headerEnd
        guard bodyBuffered >= threshold, bodyBuffered < length else { return nil }
        let taken = (bodyStart: out.count + headerEnd - start, remaining: length - bodyBuffered)
        out += buffer[start...]
        buffer.removeAll(keepingCapacity: true)
        start = 0
        scanned = 0
        pending = nil
        return taken
    }

    /// Gives back every byte not framed yet (after an error, or at the end of the stream).
    public mutating func takeBuffered() -> [UInt8] {
        let rest = Array(buffer[start...])
        buffer.removeAll()
        start = 0
        scanned = 0
        pending = nil
        return rest
    }

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
            scanned = 0
        } else if start > 64 << 10 && start > buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            scanned -= start
            start = 0
        }
    }

    private mutating func findHeaderEnd() -> Int? {
        var i = max(scanned, start)
        let limit = min(buffer.count, start + Self.headerLimit + 4)
        while i + 3 < limit {
            if buffer[i] == 13, buffer[i + 1] == 10, buffer[i + 2] == 13, buffer[i + 3] == 10 { return i + 4 }
            i += 1
        }
        scanned = max(start, limit - 3)
        return nil
    }

    /// The `Content-Length` of a header block (its field name in any case; other fields ignored).
    static func contentLength(_ header: ArraySlice<UInt8>) throws(DAPFramingError) -> Int {
        var length: Int?
        for line in header.split(separator: 10, omittingEmptySubsequences: true) {
            let text = line.last == 13 ? line.dropLast() : line
            guard let colon = text.firstIndex(of: UInt8(ascii: ":")) else { continue }
            guard DAP.equalsIgnoringCase(text[..<colon], DAP.contentLengthName) else { continue }
            let value = text[text.index(after: colon)...].drop { $0 == 32 || $0 == 9 }
            let digits = value.reversed().drop { $0 == 32 || $0 == 9 }.reversed()
            var number = 0
            for byte in digits {
                guard byte >= 48, byte <= 57, number <= Self.bodyLimit else {
                    throw .invalidContentLength(String(decoding: value, as: UTF8.self))
                }
                number = number * 10 + Int(byte - 48)
            }
            guard !digits.isEmpty, number <= Self.bodyLimit else {
                throw .invalidContentLength(String(decoding: value, as: UTF8.self))
            }
            length = number
        }
        guard let length else { throw .missingContentLength }
        return length
    }
}
