import Testing

@testable import AttachProtocol

private func frame(_ body: String, header: String? = nil) -> [UInt8] {
    let bytes = Array(body.utf8)
    return Array((header ?? "Content-Length: \(bytes.count)\r\n\r\n").utf8) + bytes
}

/// Feeds `chunks` to a fresh framer and collects the messages.
private func messages(_ chunks: [[UInt8]]) throws(DAPFramingError) -> (messages: [DAPMessage], framer: DAPFramer) {
    var framer = DAPFramer()
    var result: [DAPMessage] = []
    for chunk in chunks {
        framer.append(chunk)
        while let message = try framer.next() { result.append(message) }
    }
    return (result, framer)
}

private let first =
    #"{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"python","clientName":"Ωmega"}}"#
private let second = #"{"seq":2,"type":"event","event":"output","body":{"output":"a\r\n\r\nb"}}"#
private let stream =
    frame(first) + frame(second, header: "content-length:\(Array(second.utf8).count)  \r\nX-Other: 1\r\n\r\n")
    + frame("")

@Suite("DAPFramer")
struct DAPFramerTests {
    @Test("a stream split in two at every byte gives the same messages, bodies as bytes, headers as sent")
    func everySplit() throws {
        let whole = try messages([stream]).messages
        #expect(whole.count == 3)
        #expect(whole[0].body == Array(first.utf8))
        #expect(whole[1].body == Array(second.utf8))
        #expect(whole[1].header == Array("content-length:\(Array(second.utf8).count)  \r\nX-Other: 1\r\n\r\n".utf8))
        #expect(whole[2].body.isEmpty)
        #expect(whole.flatMap(\.bytes) == stream)
        for cut in 0...stream.count {
            let (got, framer) = try messages([Array(stream[..<cut]), Array(stream[cut...])])
            #expect(got == whole, "split at \(cut)")
            #expect(framer.buffered == 0)
        }
    }

    @Test("a stream fed one byte at a time gives the same messages")
    func byteByByte() throws {
        let got = try messages(stream.map { [$0] }).messages
        #expect(got == (try messages([stream]).messages))
    }

    @Test("an unfinished message waits, and is given back by takeBuffered")
    func unfinished() throws {
        var framer = DAPFramer()
        framer.append(frame(first).dropLast(3))
        #expect(try framer.next() == nil)
        #expect(framer.buffered == frame(first).count - 3)
        #expect(framer.takeBuffered() == Array(frame(first).dropLast(3)))
        #expect(framer.buffered == 0)
    }

    @Test("the start of a large message is taken once its first bytes of body are in; the rest is the caller's")
    func messageStart() throws {
        let header = Array("Content-Length: 10000\r\n\r\n".utf8)
        let body = [UInt8](repeating: 120, count: 10000)
        var framer = DAPFramer()
        framer.append(header + body[0..<4095])
        #expect(try framer.next() == nil)
        var out: [UInt8] = [1]
        #expect(framer.takeMessageStart(ifBodyOver: 4096, into: &out) == nil)
        framer.append(body[4095..<5000])
        #expect(try framer.next() == nil)
        #expect(framer.takeMessageStart(ifBodyOver: 20000, into: &out) == nil)
        #expect(out == [1])
        let start = try #require(framer.takeMessageStart(ifBodyOver: 4096, into: &out))
        #expect(out == [1] + header + body[0..<5000])
        #expect(start.bodyStart == 1 + header.count && start.remaining == 5000)
        #expect(framer.buffered == 0)
        var whole = DAPFramer()
        whole.append(header + body)
        #expect(try whole.next() != nil)
        #expect(whole.takeMessageStart(ifBodyOver: 4096, into: &out) == nil)
    }

    @Test("headers that are not DAP are errors, with the bytes given back as they came")
    func errors() {
        var framer = DAPFramer()
        framer.append(Array("X-Length: 3\r\n\r\nabc".utf8))
        #expect(throws: DAPFramingError.missingContentLength) { try framer.next() }
        #expect(framer.takeBuffered() == Array("X-Length: 3\r\n\r\nabc".utf8))
        for bad in ["Content-Length: -1", "Content-Length: 12a", "Content-Length:", "Content-Length: 99999999999"] {
            var framer = DAPFramer()
            framer.append(Array("\(bad)\r\n\r\n".utf8))
            #expect(throws: DAPFramingError.self) { try framer.next() }
        }
        var long = DAPFramer()
        long.append([UInt8](repeating: 65, count: DAPFramer.headerLimit + 1))
        #expect(throws: DAPFramingError.headerTooLong(limit: DAPFramer.headerLimit)) { try long.next() }
    }

    @Test("DAP is recognised from its first bytes; gdb, HTTP and others are not")
    func recognition() {
        #expect(DAP.recognize(Array("Content-Length: 12\r\n".utf8)) == .dap)
        #expect(DAP.recognize(Array("content-length:".utf8)) == .dap)
        #expect(DAP.recognize(Array("CONTENT-LENGTH: 1".utf8)) == .dap)
        for partial in ["", "C", "Content-Le", "content-length"] {
            #expect(DAP.recognize(Array(partial.utf8)) == .undecided, "\(partial)")
        }
        for other in [
            "+$qSupported:multiprocess+#c9", "$qSupported#37", "GET /json/version HTTP/1.1\r\n", "Contents",
            "\u{16}\u{03}\u{01}",
        ] {
            #expect(DAP.recognize(Array(other.utf8)) == .other, "\(other)")
        }
    }
}
