/// Why a framer refused its input.
public enum FramingError: Error, Equatable, Sendable {
    /// A varlink message (complete or still arriving) is longer than `limit` bytes.
    case messageTooLarge(limit: Int)
    /// A line (complete or still arriving) is longer than `limit` bytes.
    case lineTooLong(limit: Int)
    /// A complete line is not valid UTF-8.
    case invalidUTF8
}

/// Splits a byte stream into NUL-terminated varlink messages.
///
/// Feed it whatever the socket delivered with ``append(_:)``, then call ``next()`` until it
/// returns nil. It does no I/O. Each byte is searched for the NUL once, however small the
/// chunks a large message arrives in, and consumed bytes are dropped lazily, so the cost of
/// framing is linear in the bytes received.
///
/// A size error is final: the framer drops what it buffered, ignores further input and throws
/// the same error from every later ``next()``. A stream that broke its framing cannot be
/// resynchronised; close the connection (after replying, if you like).
public struct VarlinkFramer: Sendable {
    /// The default largest message, without its NUL: 1 MiB.
    public static let defaultLimit = 1 << 20

    /// The largest message accepted, in bytes, without its NUL.
    public let maxMessageSize: Int
    private var buffer: DelimitedBuffer
    private var failure: FramingError?

    /// A framer accepting messages of up to `maxMessageSize` bytes (without the NUL).
    public init(maxMessageSize: Int = VarlinkFramer.defaultLimit) {
        precondition(maxMessageSize >= 0, "maxMessageSize must not be negative")
        self.maxMessageSize = maxMessageSize
        self.buffer = DelimitedBuffer(delimiter: 0)
    }

    /// Adds bytes received from the stream. Ignored once the framer has failed.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard failure == nil else { return }
        buffer.append(bytes)
    }

    /// `append` for an array, the usual case: not generic, so a caller in another module does
    /// not look up `Collection`'s associated types at run time.
    public mutating func append(_ bytes: [UInt8]) {
        guard failure == nil else { return }
        buffer.append(bytes)
    }

    /// The next complete message without its NUL, or nil when none is complete yet.
    /// Throws messageTooLarge as soon as the buffered incomplete message exceeds the limit
    /// (don't wait for the NUL) or a complete one does.
    public mutating func next() throws(FramingError) -> [UInt8]? {
        if let failure { throw failure }
        if let range = buffer.nextDelimited() {
            if range.count > maxMessageSize { throw fail(.messageTooLarge(limit: maxMessageSize)) }
            return buffer.take(range)
        }
        if buffer.count > maxMessageSize { throw fail(.messageTooLarge(limit: maxMessageSize)) }
        return nil
    }

    /// Bytes received and not yet returned as messages (0 after a failure).
    public var bufferedByteCount: Int { buffer.count }

    private mutating func fail(_ error: FramingError) -> FramingError {
        failure = error
        buffer.removeAll()
        return error
    }
}

/// A byte buffer split at a delimiter byte, shared by ``VarlinkFramer`` and ``LineFramer``.
///
/// `start` is where unconsumed bytes begin; `scanned` is where the delimiter search stopped
/// (no delimiter lies in `start..<scanned`), so bytes are never searched twice. Consumed bytes
/// are removed only when they are at least half the storage, which keeps compaction amortised
/// O(1) per byte.
struct DelimitedBuffer: Sendable {
    /// Consumed bytes below this are never worth moving the rest for.
    private static let compactionThreshold = 4096

    let delimiter: UInt8
    private var storage: [UInt8] = []
    private var start = 0
    private var scanned = 0

    init(delimiter: UInt8) {
        self.delimiter = delimiter
    }

    /// Unconsumed bytes.
    var count: Int { storage.count - start }

    /// The last unconsumed byte, if any.
    var last: UInt8? { start < storage.count ? storage[storage.count - 1] : nil }

    mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        compactIfWorthwhile()
        storage.append(contentsOf: bytes)
    }

    mutating func append(_ bytes: [UInt8]) {
        compactIfWorthwhile()
        storage.append(contentsOf: bytes)
    }

    /// The storage range of the next delimited record (without its delimiter), if one is
    /// complete. The record stays buffered until ``take(_:)``.
    mutating func nextDelimited() -> Range<Int>? {
        let end = storage.count
        let found: Int? = storage.withUnsafeBufferPointer { pointer in
            var index = scanned
            while index < end {
                if pointer[index] == delimiter { return index }
                index += 1
            }
            return nil
        }
        guard let found else {
            scanned = end
            return nil
        }
        scanned = found
        return start..<found
    }

    /// Returns the record `range` (from ``nextDelimited()``) and consumes it and its delimiter.
    mutating func take(_ range: Range<Int>) -> [UInt8] {
        let record = Array(storage[range])
        discard(range)
        return record
    }

    /// Consumes the record `range` (from ``nextDelimited()``) and its delimiter.
    mutating func discard(_ range: Range<Int>) {
        precondition(range.lowerBound == start && range.upperBound < storage.count)
        start = range.upperBound + 1
        scanned = start
    }

    /// Calls `body` with the bytes of `range` without copying them.
    func withBytes<R>(in range: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer { pointer in
            try body(UnsafeBufferPointer(rebasing: pointer[range]))
        }
    }

    mutating func removeAll() {
        storage = []
        start = 0
        scanned = 0
    }

    private mutating func compactIfWorthwhile() {
        if start == 0 { return }
        if start == storage.count {
            storage.removeAll(keepingCapacity: true)
        } else if start >= Self.compactionThreshold && start * 2 >= storage.count {
            storage.removeSubrange(0..<start)
        } else {
            return
        }
        scanned -= start
        start = 0
    }
}
