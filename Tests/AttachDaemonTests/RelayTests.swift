import AttachProtocol
import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// The relay engine on real sockets (socketpairs and loopback TCP), for both copy paths:
/// splice(2) through a pipe, and read(2)/write(2) through a buffer.
@Suite("Relay")
struct RelayTests {
    static let paths: [(RelayRig.Kind, Bool)] = RelayRig.Kind.allCases.flatMap { kind in [(kind, true), (kind, false)] }

    @Test("bytes go both ways, exactly, and are counted", arguments: paths)
    func bothWays(kind: RelayRig.Kind, splice: Bool) throws {
        let rig = try RelayRig(kind, splice: splice)
        let up = pattern(3 << 20, seed: 1)
        let down = pattern(2 << 20, seed: 2)
        let writer = DispatchQueue(label: "writer")
        writer.async { try? rig.ide.writeAll(up) }
        writer.async { try? rig.host.writeAll(down) }
        #expect(read(rig.host, count: up.count) == up)
        #expect(read(rig.ide, count: down.count) == down)
        writer.sync {}
        #expect(
            eventually(on: rig.loop) {
                rig.relay.bytesFromIDE == UInt64(up.count) && rig.relay.bytesFromHost == UInt64(down.count)
            })
        #expect(rig.onLoop { !rig.relay.isDAP })
    }

    @Test(
        "half-close passes on: the IDE's end of file reaches the host, which still answers; then the relay ends once",
        arguments: paths)
    func halfClose(kind: RelayRig.Kind, splice: Bool) throws {
        let rig = try RelayRig(kind, splice: splice)
        try rig.ide.writeAll(Array("last words".utf8))
        Socket.shutdownWrite(rig.ide)
        #expect(read(rig.host, count: 10) == Array("last words".utf8))
        #expect(readsEndOfFile(rig.host))
        #expect(rig.ended.all.isEmpty)
        try rig.host.writeAll(Array("answer".utf8))
        #expect(read(rig.ide, count: 6) == Array("answer".utf8))
        Socket.shutdownWrite(rig.host)
        #expect(readsEndOfFile(rig.ide))
        #expect(rig.ended.wait(for: 1) == ["IDE closed"])
        #expect(rig.onLoop { rig.relay.isEnded })
    }

    @Test("backpressure: a host that does not read holds the IDE back; nothing is lost once it reads", arguments: paths)
    func backpressure(kind: RelayRig.Kind, splice: Bool) throws {
        let rig = try RelayRig(kind, splice: splice)
        try rig.ide.setNonBlocking(true)
        // Far more than every buffer on the way can hold (loopback TCP autotunes up to some
        // 20 MiB over both connections, plus the relay's pipe).
        let block = pattern(1 << 20, seed: 3)
        var data: [UInt8] = []
        data.reserveCapacity(64 << 20)
        for _ in 0..<64 { data.append(contentsOf: block) }  // (`joined()` takes a minute in a debug build)
        var sent = 0
        // Write until the IDE's socket is full: the relay must stop reading once the host's
        // socket and its own pipe or buffer are full, long before 64 MiB.
        var stalls = 0
        while sent < data.count, stalls < 50 {
            if let written = try? rig.ide.write(data[sent..<min(data.count, sent + 65536)]) {
                sent += written
                stalls = 0
            } else {
                stalls += 1
                _ = try? rig.ide.waitWritable(timeoutMilliseconds: 10)
            }
        }
        #expect(sent < 48 << 20, "the IDE was never held back: \(sent) bytes taken")
        let moved = rig.onLoop { rig.relay.bytesFromIDE }
        #expect(moved <= UInt64(sent))
        try rig.ide.setNonBlocking(false)
        #expect(read(rig.host, count: sent) == Array(data[0..<sent]))
    }

    @Test("a host that resets its connection ends the relay at once, and the IDE sees the end")
    func resetPeer() throws {
        for splice in [true, false] {
            let rig = try RelayRig(.tcp, splice: splice)
            try rig.ide.writeAll(Array("hello".utf8))
            #expect(read(rig.host, count: 5) == Array("hello".utf8))
            try rig.ide.writeAll(Array("unread".utf8))
            #expect(read(rig.host, count: 6) == Array("unread".utf8))
            rig.resetHost()
            let reason = rig.ended.wait(for: 1).first
            #expect(reason == "host reset the connection")
            #expect(readsEndOfFile(rig.ide))
        }
    }

    @Test("a relay handed over keeps its bytes and counters, and the adopting relay goes on", arguments: paths)
    func handOverAndAdopt(kind: RelayRig.Kind, splice: Bool) throws {
        let rig = try RelayRig(kind, splice: splice)
        try rig.ide.writeAll(Array("before".utf8))
        #expect(read(rig.host, count: 6) == Array("before".utf8))
        try rig.host.writeAll(Array("reply".utf8))
        #expect(read(rig.ide, count: 5) == Array("reply".utf8))
        let handed = try #require(rig.onLoop { rig.relay.handOver(timeoutMilliseconds: 500) })
        #expect(handed.undeliveredBytes == 0)
        #expect(handed.bytesFromIDE == 6 && handed.bytesFromHost == 5)
        #expect(rig.ended.all.isEmpty)
        // Bytes sent while no relay runs wait in the kernel for the next one.
        try rig.ide.writeAll(Array("during".utf8))
        let ended = Recorder<String>()
        let adopted = RelayHandle(Relay(adopting: handed, options: Relay.Options(splice: splice)), loop: rig.loop)
        adopted.start { ended.record($0) }
        #expect(read(rig.host, count: 6) == Array("during".utf8))
        try rig.host.writeAll(Array("after".utf8))
        #expect(read(rig.ide, count: 5) == Array("after".utf8))
        #expect(eventually(on: rig.loop) { adopted.bytesFromIDE == 12 && adopted.bytesFromHost == 10 })
        #expect(rig.onLoop { adopted.startedAt == rig.relay.startedAt })
        Socket.shutdownWrite(rig.ide)
        Socket.shutdownWrite(rig.host)
        #expect(ended.wait(for: 1).count == 1)
    }
}
