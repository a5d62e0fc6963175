import Testing

@testable import AttachProtocol

/// Feeds `chunks` to a fresh framer, calling `next()` after each, and collects the messages.
private func frame(_ chunks: [[UInt8]], limit: Int = VarlinkFramer.defaultLimit) throws(FramingError) -> (
    messages: [String], framer: VarlinkFramer
) {
    var framer = VarlinkFramer(maxMessageSize: limit)
    var messages: [String] = []
    for chunk in chunks {
        framer.append(chunk)
        while let message = try framer.next() {
            messages.append(String(decoding: message, as: UTF8.self))
        }
    }
    return (messages, framer)
}

private func wire(_ messages: [String]) -> [UInt8] {
    messages.flatMap { Array($0.utf8) + [0] }
}

private let oneCall = [#"{"method":"io.attachd.Broker.Wait","parameters":{"project":"maxtools","timeout":5}}"#]
private let pipelined = [
    #"{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.attachd.Broker"}}"#,
    #"{"method":"io.attachd.Broker.ListProjects"}"#,
    #"{"method":"io.attachd.Broker.Watch","parameters":{},"more":true}"#,
    #"{"method":"io.attachd.Broker.GetStatus","oneway":true}"#,
]

@Suite("VarlinkFramer")
struct VarlinkFramerTests {
    @Test(
        "a stream split in two at every byte position yields exactly its messages",
        arguments: [oneCall, pipelined])
    func everySplit(messages: [String]) throws {
        let bytes = wire(messages)
        for cut in 0...bytes.count {
            let (got, framer) = try frame([Array(bytes[..<cut]), Array(bytes[cut...])])
            #expect(got == messages, "split at \(cut)")
            #expect(framer.bufferedByteCount == 0)
        }
    }

    @Test("a stream fed one byte at a time yields exactly its messages", arguments: [oneCall, pipelined])
    func byteByByte(messages: [String]) throws {
        let bytes = wire(messages)
        let (got, framer) = try frame(bytes.map { [$0] })
        #expect(got == messages)
        #expect(framer.bufferedByteCount == 0)
    }

    @Test("a stream fed all at once yields every pipelined message in order")
    func allAtOnce() throws {
        let (got, _) = try frame([wire(pipelined)])
        #expect(got == pipelined)
    }

    @Test("next returns nil until the NUL arrives")
    func nilUntilComplete() throws {
        var framer = VarlinkFramer()
        framer.append(Array(#"{"method":"a.b.C"}"#.utf8))
        #expect(try framer.next() == nil)
        #expect(try framer.next() == nil)
        framer.append([0])
        #expect(try framer.next() == Array(#"{"method":"a.b.C"}"#.utf8))
        #expect(try framer.next() == nil)
    }

    @Test("an empty message between two NULs is returned as empty")
    func emptyMessage() throws {
        var framer = VarlinkFramer()
        framer.append([0, 0x41, 0])
        #expect(try framer.next() == [])
        #expect(try framer.next() == [0x41])
    }

    @Test("partial bytes after the complete messages stay buffered")
    func leftoverIsKept() throws {
        var framer = VarlinkFramer()
        framer.append(wire(pipelined) + Array(#"{"method":"io.att"#.utf8))
        var count = 0
        while try framer.next() != nil { count += 1 }
        #expect(count == pipelined.count)
        #expect(framer.bufferedByteCount == #"{"method":"io.att"#.utf8.count)
        framer.append(Array(#"achd.Broker.GetStatus"}"#.utf8) + [0])
        #expect(try framer.next() == Array(#"{"method":"io.attachd.Broker.GetStatus"}"#.utf8))
        #expect(framer.bufferedByteCount == 0)
    }

    @Test("a message exactly at the limit passes, in one chunk and byte by byte")
    func exactlyAtLimit() throws {
        let message = String(repeating: "x", count: 100)
        #expect(try frame([wire([message])], limit: 100).messages == [message])
        #expect(try frame(wire([message]).map { [$0] }, limit: 100).messages == [message])
    }

    @Test("a complete message over the limit arriving in one chunk throws messageTooLarge")
    func overLimitOneChunk() {
        let message = String(repeating: "x", count: 101)
        #expect(throws: FramingError.messageTooLarge(limit: 100)) {
            try frame([wire([message])], limit: 100)
        }
    }

    @Test("an incomplete message throws as soon as it exceeds the limit, before its NUL")
    func overLimitGradually() throws {
        var framer = VarlinkFramer(maxMessageSize: 100)
        for _ in 0..<100 {
            framer.append([0x78])
            #expect(try framer.next() == nil)
        }
        framer.append([0x78])
        #expect(throws: FramingError.messageTooLarge(limit: 100)) { try framer.next() }
    }

    @Test("a large message arriving in chunks throws before its end")
    func overLimitInChunks() {
        var framer = VarlinkFramer(maxMessageSize: 1000)
        var thrownAfter: Int?
        for index in 0..<100 {
            framer.append([UInt8](repeating: 0x78, count: 64))
            do { _ = try framer.next() } catch {
                #expect(error == .messageTooLarge(limit: 1000))
                thrownAfter = (index + 1) * 64
                break
            }
        }
        #expect(thrownAfter == 1024)
    }

    @Test("messages before an oversized one are still delivered")
    func goodThenOversized() throws {
        var framer = VarlinkFramer(maxMessageSize: 10)
        framer.append(Array("ok".utf8) + [0] + [UInt8](repeating: 0x78, count: 20))
        #expect(try framer.next() == Array("ok".utf8))
        #expect(throws: FramingError.messageTooLarge(limit: 10)) { try framer.next() }
    }

    @Test("after messageTooLarge the framer keeps failing and buffers nothing more")
    func failureIsFinal() {
        var framer = VarlinkFramer(maxMessageSize: 4)
        framer.append(Array("toolong".utf8) + [0])
        #expect(throws: FramingError.messageTooLarge(limit: 4)) { try framer.next() }
        framer.append(Array("ok".utf8) + [0])
        #expect(framer.bufferedByteCount == 0)
        #expect(throws: FramingError.messageTooLarge(limit: 4)) { try framer.next() }
    }

    @Test("a 1 MiB message in 256-byte chunks frames in linear time and keeps its bytes")
    func largeMessageInSmallChunks() throws {
        let size = VarlinkFramer.defaultLimit
        let payload = (0..<size).map { UInt8(0x20 + $0 % 90) }
        var framer = VarlinkFramer()
        var result: [UInt8]?
        var offset = 0
        while offset < size {
            let end = min(offset + 256, size)
            framer.append(payload[offset..<end])
            #expect(try framer.next() == nil)
            offset = end
        }
        framer.append([0, 0x7B])
        result = try framer.next()
        #expect(result == payload)
        #expect(framer.bufferedByteCount == 1)
    }

    @Test("20,000 small messages split across chunks all come through whole")
    func compaction() throws {
        var framer = VarlinkFramer()
        let message = Array(#"{"method":"io.attachd.Broker.GetStatus"}"#.utf8) + [0]
        for _ in 0..<20_000 {
            framer.append(message + message[..<5])
            #expect(try framer.next() == Array(message.dropLast()))
            #expect(try framer.next() == nil)
            framer.append(message[5...])
            #expect(try framer.next() == Array(message.dropLast()))
        }
        #expect(framer.bufferedByteCount == 0)
    }
}
