/// Splits a byte stream into `\n`-terminated UTF-8 lines, such as the `sd_notify`-style lines a
/// host sends on a rendezvous connection.
///
/// Feed it whatever the socket delivered with ``append(_:)``, then call ``next()`` until it
/// returns nil. It does no I/O, and searches each byte for the newline once.
///
/// A line is at most ``maxLineLength`` bytes, not counting its `\n` nor a `\r` right before it.
/// - ``FramingError/lineTooLong(limit:)`` is final: the framer drops what it buffered, ignores
///   further input and throws the same error from every later ``next()``.
/// - ``FramingError/invalidUTF8`` is not: the offending line is consumed, and the next call
///   goes on with the following line.
public struct LineFramer: Sendable {
    /// The default longest line: 4096 bytes.
    public static let defaultLimit = 4096

    private static let newline = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")

    /// The longest line accepted, in bytes, without its line ending.
    public let maxLineLength: Int
    private var buffer = DelimitedBuffer(delimiter: LineFramer.newline)
    private var failure: FramingError?

    /// A framer accepting lines of up to `maxLineLength` bytes (without `\n` or `\r\n`).
    public init(maxLineLength: Int = LineFramer.defaultLimit) {
        precondition(maxLineLength >= 0, "maxLineLength must not be negative")
        self.maxLineLength = maxLineLength
    }

    /// Adds bytes received from the stream. Ignored once the framer has failed.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard failure == nil else { return }
        buffer.append(bytes)
    }

    /// `append` for an array, not generic (see `VarlinkFramer.append(_:)`).
    public mutating func append(_ bytes: [UInt8]) {
        guard failure == nil else { return }
        buffer.append(bytes)
    }

    /// The next complete line without its `\n` (and without a `\r` right before it), or nil when
    /// none is complete yet. Throws `lineTooLong` as soon as the partial line exceeds the limit,
    /// and `invalidUTF8` for a complete line that is not UTF-8 (that line is skipped).
    public mutating func next() throws(FramingError) -> String? {
        if let failure { throw failure }
        guard var range = buffer.nextDelimited() else {
            if partialLineExceedsLimit { throw fail(.lineTooLong(limit: maxLineLength)) }
            return nil
        }
        let delimited = range
        if !range.isEmpty, buffer.withBytes(in: range, { $0.last }) == Self.carriageReturn {
            range = range.lowerBound..<(range.upperBound - 1)
        }
        if range.count > maxLineLength { throw fail(.lineTooLong(limit: maxLineLength)) }
        let line = buffer.withBytes(in: range) { String(validating: $0, as: UTF8.self) }
        buffer.discard(delimited)
        guard let line else { throw .invalidUTF8 }
        return line
    }

    /// Bytes received and not yet returned as lines (0 after a failure).
    public var bufferedByteCount: Int { buffer.count }

    /// Bytes are buffered that no `\n` ends yet: at end of stream, the peer stopped mid-line.
    public var hasPartialLine: Bool {
        guard let last = buffer.last else { return false }
        return last != Self.newline
    }

    /// Whether the unterminated rest of the buffer is already too long to become a valid line.
    /// (Called after a search found no newline, so the whole buffer is one partial line.) One
    /// byte over the limit is still fine if it is the `\r` of a `\r\n` that is on its way.
    private var partialLineExceedsLimit: Bool {
        let count = buffer.count
        if count <= maxLineLength { return false }
        return !(count == maxLineLength + 1 && buffer.last == Self.carriageReturn)
    }

    private mutating func fail(_ error: FramingError) -> FramingError {
        failure = error
        buffer.removeAll()
        return error
    }
}
