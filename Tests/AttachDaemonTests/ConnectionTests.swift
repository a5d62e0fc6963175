import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

@Suite("Connection: reading to the last byte, writing, closing")
struct ConnectionTests {
    private let queue = DispatchQueue(label: "connection-test")

    private func connection(outputLimit: Int = 1 << 20) throws -> (Connection, FileDescriptor) {
        let (room, peer) = try roomPair()
        return (Connection(id: 7, fd: room, queue: queue, outputLimit: outputLimit), peer)
    }

    @Test("bytes that arrive together with end-of-file are reported with peerClosed: true")
    func bytesWithEndOfFile() throws {
        let (connection, peer) = try connection()
        try peer.send("READY=1\n")
        peer.close()
        let input = queue.sync { connection.readAvailable() }
        guard case .bytes(let bytes, let peerClosed) = input else {
            Issue.record("expected bytes, got \(input)")
            return
        }
        #expect(String(decoding: bytes, as: UTF8.self) == "READY=1\n")
        #expect(peerClosed)
        // The handler closes after handling them; readAvailable leaves that to it.
        #expect(queue.sync { !connection.isClosed })
        queue.sync { connection.close() }
    }

    @Test("a hang-up behind more unread bytes than one read takes is reported with the bytes read")
    func hangUpBehindUnreadBytes() throws {
        let (connection, peer) = try connection()
        try peer.writeAll([UInt8](repeating: 0x78, count: 20000))
        peer.close()
        // Dispatch reports the hang-up once, as the read source's last event: the rest would
        // never be read, so the peer's POLLRDHUP is what says it went.
        let input = queue.sync { connection.readAvailable(max: 8192) }
        guard case .bytes(let bytes, true) = input else {
            Issue.record("expected bytes with peerClosed, got \(input)")
            return
        }
        #expect(bytes.count == 8192)
        queue.sync { connection.close() }
    }

    @Test("more unread bytes than one read takes, from a peer still there: peerClosed is false")
    func moreUnreadBytesFromALivePeer() throws {
        let (connection, peer) = try connection()
        defer { peer.close() }
        try peer.writeAll([UInt8](repeating: 0x78, count: 20000))
        let input = queue.sync { connection.readAvailable(max: 8192) }
        guard case .bytes(let bytes, false) = input else {
            Issue.record("expected bytes without peerClosed, got \(input)")
            return
        }
        #expect(bytes.count == 8192)
        #expect(queue.sync { !connection.isClosed })
        queue.sync { connection.close() }
    }

    @Test("bytes without end-of-file are reported with peerClosed: false and the connection stays open")
    func bytesAlone() throws {
        let (connection, peer) = try connection()
        defer { peer.close() }
        try peer.send("DEBUG_PORT=5678\n")
        let input = queue.sync { connection.readAvailable() }
        guard case .bytes(let bytes, false) = input else {
            Issue.record("expected bytes without end-of-file, got \(input)")
            return
        }
        #expect(bytes == Array("DEBUG_PORT=5678\n".utf8))
        #expect(queue.sync { !connection.isClosed })
        queue.sync { connection.close() }
    }

    @Test("end-of-file alone closes the connection, runs onClose, and reports nothing")
    func endOfFileAlone() throws {
        let (connection, peer) = try connection()
        let closed = DispatchSemaphore(value: 0)
        connection.onClose = { closed.signal() }
        peer.close()
        let input = queue.sync { connection.readAvailable() }
        guard case .nothing = input else {
            Issue.record("expected nothing, got \(input)")
            return
        }
        #expect(queue.sync { connection.isClosed })
        #expect(closed.wait(timeout: .now()) == .success)
    }

    @Test("nothing ready (EAGAIN) reports nothing and keeps the connection open")
    func nothingReady() throws {
        let (connection, peer) = try connection()
        defer { peer.close() }
        let input = queue.sync { connection.readAvailable() }
        guard case .nothing = input else {
            Issue.record("expected nothing, got \(input)")
            return
        }
        #expect(queue.sync { !connection.isClosed })
        queue.sync { connection.close() }
    }

    @Test("readAvailable takes at most max bytes; the rest waits for the next call")
    func boundedByMax() throws {
        let (connection, peer) = try connection()
        defer { peer.close() }
        try peer.writeAll(Array(repeating: UInt8(ascii: "x"), count: 100))
        let first = queue.sync { connection.readAvailable(max: 60) }
        let second = queue.sync { connection.readAvailable(max: 60) }
        guard case .bytes(let a, false) = first, case .bytes(let b, false) = second else {
            Issue.record("expected two reads of bytes, got \(first) and \(second)")
            return
        }
        #expect(a.count == 60)
        #expect(b.count == 40)
        queue.sync { connection.close() }
    }

    @Test("closeWhenFlushed writes what was queued, then the peer sees end-of-file")
    func closeAfterOutput() throws {
        let (connection, peer) = try connection()
        defer { peer.close() }
        queue.sync {
            #expect(connection.send(Array("OK session=s-1\n".utf8)))
            connection.closeWhenFlushed()
        }
        #expect(try peer.readLine() == "OK session=s-1\n")
        #expect(try peer.seesEndOfFile())
        #expect(queue.sync { connection.isClosed })
    }

    @Test("a peer that does not read is dropped once its queued output passes the limit")
    func stuckPeerIsDropped() throws {
        let (connection, peer) = try connection(outputLimit: 4096)
        defer { peer.close() }
        // Far more than the kernel buffers of a socket pair, so most of it must queue.
        let flood = [UInt8](repeating: 1, count: 16 << 20)
        let accepted = queue.sync { connection.send(flood) }
        #expect(!accepted)
        #expect(queue.sync { connection.isClosed })
        #expect(queue.sync { !connection.send([1]) })
    }

    @Test("sendLastAndDrain writes its message, then closes as soon as the peer closes")
    func lastMessageThenDrain() throws {
        let (connection, peer) = try connection()
        let closed = DispatchSemaphore(value: 0)
        connection.onClose = { closed.signal() }
        // A drain window far longer than the wait below: only the peer's close can end it.
        queue.sync { connection.sendLastAndDrain(Array("ERROR too many connections\n".utf8), within: 60) }
        #expect(try peer.readLine() == "ERROR too many connections\n")
        #expect(try peer.seesEndOfFile(), "the write side is shut down after the message")
        try peer.send("ignored\n")
        peer.close()
        #expect(closed.wait(timeout: .now() + 5) == .success)
        #expect(queue.sync { connection.isClosed })
    }
}
