import Testing

@testable import AttachProtocol

/// Feeds `chunks` to a fresh framer, calling `next()` after each, and collects the lines.
private func lines(_ chunks: [[UInt8]], limit: Int = LineFramer.defaultLimit) throws(FramingError) -> (
    lines: [String], framer: LineFramer
) {
    var framer = LineFramer(maxLineLength: limit)
    var result: [String] = []
    for chunk in chunks {
        framer.append(chunk)
        while let line = try framer.next() { result.append(line) }
    }
    return (result, framer)
}

private let announcement = "DEBUG_PORT=5678\nMAINPID=4242\nSTATUS=Blender 4.1 — ready\n\nREADY=1\n"
private let announcementLines = ["DEBUG_PORT=5678", "MAINPID=4242", "STATUS=Blender 4.1 — ready", "", "READY=1"]

@Suite("LineFramer")
struct LineFramerTests {
    @Test("lines split in two at every byte position come out exactly, multi-byte UTF-8 included")
    func everySplit() throws {
        let bytes = Array(announcement.utf8)
        for cut in 0...bytes.count {
            let (got, framer) = try lines([Array(bytes[..<cut]), Array(bytes[cut...])])
            #expect(got == announcementLines, "split at \(cut)")
            #expect(!framer.hasPartialLine)
        }
    }

    @Test("lines fed one byte at a time come out exactly")
    func byteByByte() throws {
        let (got, _) = try lines(Array(announcement.utf8).map { [$0] })
        #expect(got == announcementLines)
    }

    @Test("CRLF line endings lose their \\r, split anywhere")
    func crlf() throws {
        let bytes = Array("READY=1\r\nSTATUS=a\rb\r\n".utf8)
        for cut in 0...bytes.count {
            let (got, _) = try lines([Array(bytes[..<cut]), Array(bytes[cut...])])
            #expect(got == ["READY=1", "STATUS=a\rb"], "split at \(cut)")
        }
    }

    @Test("an unterminated last line is kept and reported as partial")
    func partialLine() throws {
        var framer = LineFramer()
        #expect(!framer.hasPartialLine)
        framer.append(Array("READY=1\nSTAT".utf8))
        #expect(try framer.next() == "READY=1")
        #expect(try framer.next() == nil)
        #expect(framer.hasPartialLine)
        #expect(framer.bufferedByteCount == 4)
        framer.append(Array("US=x\n".utf8))
        #expect(try framer.next() == "STATUS=x")
        #expect(!framer.hasPartialLine)
        #expect(framer.bufferedByteCount == 0)
    }

    @Test("a line exactly at the limit passes, with LF or CRLF")
    func exactlyAtLimit() throws {
        let line = String(repeating: "a", count: 16)
        #expect(try lines([Array((line + "\n").utf8)], limit: 16).lines == [line])
        #expect(try lines(Array((line + "\r\n").utf8).map { [$0] }, limit: 16).lines == [line])
    }

    @Test("a complete line over the limit throws lineTooLong")
    func tooLongComplete() {
        #expect(throws: FramingError.lineTooLong(limit: 16)) {
            try lines([Array((String(repeating: "a", count: 17) + "\n").utf8)], limit: 16)
        }
    }

    @Test("a partial line throws lineTooLong as soon as it exceeds the limit")
    func tooLongPartial() throws {
        var framer = LineFramer(maxLineLength: 16)
        framer.append([UInt8](repeating: 0x61, count: 16))
        #expect(try framer.next() == nil)
        framer.append([0x61])
        #expect(throws: FramingError.lineTooLong(limit: 16)) { try framer.next() }
        framer.append(Array("\nREADY=1\n".utf8))
        #expect(framer.bufferedByteCount == 0)
        #expect(throws: FramingError.lineTooLong(limit: 16)) { try framer.next() }
    }

    @Test("a line that never ends throws once past the default limit")
    func endlessLine() {
        var framer = LineFramer()
        var thrownAfter: Int?
        for index in 0..<100 {
            framer.append([UInt8](repeating: 0x61, count: 100))
            do { _ = try framer.next() } catch {
                #expect(error == .lineTooLong(limit: LineFramer.defaultLimit))
                thrownAfter = (index + 1) * 100
                break
            }
        }
        #expect(thrownAfter == 4100)
    }

    @Test("invalid UTF-8 throws invalidUTF8 for that line only; the next line still comes")
    func invalidUTF8() throws {
        var framer = LineFramer()
        framer.append([0x53, 0xFF, 0xFE, 0x0A] + Array("READY=1\n".utf8))
        #expect(throws: FramingError.invalidUTF8) { try framer.next() }
        #expect(try framer.next() == "READY=1")
    }

    @Test(
        "a truncated multi-byte sequence and an overlong encoding are invalid UTF-8",
        arguments: [[0xC3, 0x0A] as [UInt8], [0xC0, 0xAF, 0x0A], [0xED, 0xA0, 0x80, 0x0A]])
    func invalidSequences(bytes: [UInt8]) {
        var framer = LineFramer()
        framer.append(bytes)
        #expect(throws: FramingError.invalidUTF8) { try framer.next() }
    }

    @Test("a NUL inside a line is passed through for the parser to judge")
    func nulPassesThrough() throws {
        var framer = LineFramer()
        framer.append(Array("STATUS=a\0b\n".utf8))
        #expect(try framer.next() == "STATUS=a\0b")
    }
}
