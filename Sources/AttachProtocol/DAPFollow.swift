/// What a DAP relay of a following project changes in what the host (its debug adapter) sends
/// the IDE: nothing, until the host ends on its own. Then the IDE is told why, in an `output`
/// event, and to restart, in a `terminated` event with `"restart": true` (the adapter's own
/// `terminated` rewritten, or one added when the host ended before sending one), so that the
/// IDE starts the same configuration again and lands on the attach port, held until the next
/// host is ready. When the IDE asked for the end first (`disconnect` or `terminate`), nothing
/// is changed. No I/O: the relay feeds it framed messages and writes what it gives back.
public struct DAPFollow: Sendable {
    /// The project named in the `output` event.
    public let project: String
    /// The highest `seq` the adapter used so far (events added go above it).
    public private(set) var highestSeq = 0
    /// The IDE sent `disconnect` or `terminate`: the end is its own.
    public private(set) var ideAskedToEnd = false
    /// The IDE was told to restart: nothing more goes to it.
    public private(set) var farewellSaid = false

    public init(project: String) {
        self.project = project
    }

    /// The words of the `output` event.
    public var notice: String { "attachd: the host ended; waiting for the next host of \(project)\n" }

    /// A message from the IDE to the host: only looked at for `disconnect` and `terminate`.
    public mutating func fromIDE(_ body: [UInt8]) {
        guard !ideAskedToEnd, body.count <= Self.scanLimit,
            Self.contains(body, Self.disconnectWord) || Self.contains(body, Self.terminateWord),
            let message = try? JSONValue.parse(body), message["type"]?.stringValue == "request",
            let command = message["command"]?.stringValue
        else { return }
        if command == "disconnect" || command == "terminate" { ideAskedToEnd = true }
    }

    /// A message from the host to the IDE: returns the bytes to pass on (the message as it came,
    /// the farewell in place of a `terminated` event, or nothing once the farewell was said).
    public mutating func fromHost(_ message: DAPMessage) -> [UInt8] {
        replacement(for: message) ?? message.bytes
    }

    /// What to pass on instead of `message`, nil to pass it on as it came. Bodies over
    /// `scanLimit` (variables, sources) are looked at only at both ends for their `seq`, and are
    /// never a `terminated` event.
    public mutating func replacement(for message: DAPMessage) -> [UInt8]? {
        guard !farewellSaid else { return [] }
        let body = message.body
        if body.count <= Self.scanLimit {
            highestSeq = max(highestSeq, Self.highestSeq(in: body))
        } else {
            let head = Array(body[..<Self.scanLimit])
            let tail = Array(body[(body.count - Self.scanLimit)...])
            highestSeq = max(highestSeq, Self.highestSeq(in: head), Self.highestSeq(in: tail))
            return nil
        }
        guard !ideAskedToEnd, Self.contains(body, Self.terminatedWord),
            let value = try? JSONValue.parse(message.body), value["type"]?.stringValue == "event",
            value["event"]?.stringValue == "terminated"
        else { return nil }
        var terminatedBody: [String: JSONValue] = [:]
        if case .object(let members)? = value["body"] { terminatedBody = members }
        return farewell(terminatedBody: terminatedBody)
    }

    /// A message whose body is over `scanLimit` was passed on as it came, without being held
    /// (`replacement(for:)` would have returned nil): its first and last `scanLimit` bytes, looked
    /// at for their `seq` only.
    public mutating func passedOn(largeBodyHead head: [UInt8], tail: [UInt8]) {
        highestSeq = max(highestSeq, Self.highestSeq(in: head), Self.highestSeq(in: tail))
    }

    /// The host ended (its connection closed, or its session ended): the farewell, unless the
    /// IDE asked for the end or was told already.
    public mutating func hostEnded() -> [UInt8]? {
        guard !ideAskedToEnd, !farewellSaid else { return nil }
        return farewell(terminatedBody: [:])
    }

    private mutating func farewell(terminatedBody: [String: JSONValue]) -> [UInt8] {
        farewellSaid = true
        var body = terminatedBody
        body["restart"] = .bool(true)
        let output = JSONValue.object([
            "seq": .number(Double(highestSeq + 1)), "type": .string("event"), "event": .string("output"),
            "body": .object(["category": .string("console"), "output": .string(notice)]),
        ])
        let terminated = JSONValue.object([
            "seq": .number(Double(highestSeq + 2)), "type": .string("event"), "event": .string("terminated"),
            "body": .object(body),
        ])
        return DAPMessage(body: Array(output.compactText.utf8)).bytes
            + DAPMessage(body: Array(terminated.compactText.utf8)).bytes
    }

    /// The body size up to which every byte is looked at.
    public static let scanLimit = 4096
    static let seqKey = Array("\"seq\"".utf8)
    static let terminatedWord = Array("\"terminated\"".utf8)
    static let disconnectWord = Array("\"disconnect\"".utf8)
    static let terminateWord = Array("\"terminate\"".utf8)

    /// The largest number that follows a `"seq"` key anywhere in the body (the message's own
    /// is among them; a larger one elsewhere only puts added events higher).
    static func highestSeq(in body: [UInt8]) -> Int {
        var highest = 0
        var i = 0
        while let found = firstIndex(of: seqKey, in: body, from: i) {
            var j = found + seqKey.count
            while j < body.count, body[j] == 32 || body[j] == 9 || body[j] == 10 || body[j] == 13 { j += 1 }
            i = j
            guard j < body.count, body[j] == UInt8(ascii: ":") else { continue }
            j += 1
            while j < body.count, body[j] == 32 || body[j] == 9 || body[j] == 10 || body[j] == 13 { j += 1 }
            var number = 0
            while j < body.count, body[j] >= 48, body[j] <= 57, number < 1 << 40 {
                number = number * 10 + Int(body[j] - 48)
                j += 1
            }
            highest = max(highest, number)
            i = j
        }
        return highest
    }

    static func contains(_ body: [UInt8], _ word: [UInt8]) -> Bool {
        firstIndex(of: word, in: body, from: 0) != nil
    }

    static func firstIndex(of word: [UInt8], in body: [UInt8], from: Int) -> Int? {
        guard let first = word.first, body.count >= word.count else { return nil }
        var i = from
        let last = body.count - word.count
        while i <= last {
            if body[i] == first {
                var k = 1
                while k < word.count, body[i + k] == word[k] { k += 1 }
                if k == word.count { return i }
            }
            i += 1
        }
        return nil
    }
}
