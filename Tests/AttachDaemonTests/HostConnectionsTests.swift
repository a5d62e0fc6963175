import AttachCore
import AttachProtocol
import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

@Suite("HostConnections: a host's lines in, its replies out")
struct HostConnectionsTests {
    private let queue = DispatchQueue(label: "hosts-test")
    private let recorder = InputRecorder()
    private let directory = RoomDirectory()

    private func room(
        _ adjust: (inout DaemonOptions) -> Void = { _ in },
        peerOwner: @escaping (FileDescriptor) -> PeerOwner = { _ in .unknown }
    ) -> HostConnections {
        var options = directory.options
        adjust(&options)
        return HostConnections(
            queue: queue, logger: quietLogger, options: options, ids: ConnectionIDs(),
            peerOwner: peerOwner, deliver: recorder.deliver)
    }

    /// A host on a socket pair, accepted for `project`; returns the host's end.
    private func connect(_ hosts: HostConnections, project: String = "maxtools", viaTCP: Bool = false) throws
        -> FileDescriptor
    {
        let (room, peer) = try roomPair()
        queue.sync { hosts.accept(room, project: project, viaTCP: viaTCP) }
        return peer
    }

    @Test("a host's three lines arrive as .hostConnected then three .hostLine inputs in order")
    func threeLinesInOrder() throws {
        let hosts = room()
        let peer = try connect(hosts)
        defer { peer.close() }
        try peer.send("DEBUG_PORT=5678\nMAINPID=4242\nREADY=1\n")
        #expect(
            recorder.wait(for: 4) == [
                .hostConnected(1, project: "maxtools", viaTCP: false),
                .hostLine(1, project: "maxtools", .success(.debugPort(5678))),
                .hostLine(1, project: "maxtools", .success(.mainPID(4242))),
                .hostLine(1, project: "maxtools", .success(.ready)),
            ])
        #expect(queue.sync { hosts.count } == 1)
    }

    @Test("RendezvousReply.ok is written back as OK session=ID and a newline")
    func okReplyOnTheWire() throws {
        let hosts = room()
        let peer = try connect(hosts)
        defer { peer.close() }
        queue.sync {
            hosts.send(.ok(session: "s-17"), to: 1)
            hosts.send(.sessionGone("s-9"), to: 1)
        }
        #expect(try peer.readLine() == "OK session=s-17\n")
        #expect(try peer.readLine() == "ERROR session s-9 has ended\n")
    }

    @Test("lines sent together with end-of-file are delivered, then .hostClosed(receivedBytes: true)")
    func linesThenEndOfFile() throws {
        let hosts = room()
        // Written and shut down before the accept, so the first read finds lines and
        // end-of-file together (the read source does not fire again for the end-of-file).
        let (room, peer) = try roomPair()
        defer { peer.close() }
        try peer.send("DEBUG_PORT=5678\nREADY=1\n")
        Socket.shutdownWrite(peer)
        queue.sync { hosts.accept(room, project: "maxtools", viaTCP: false) }
        #expect(
            recorder.wait(for: 4) == [
                .hostConnected(1, project: "maxtools", viaTCP: false),
                .hostLine(1, project: "maxtools", .success(.debugPort(5678))),
                .hostLine(1, project: "maxtools", .success(.ready)),
                .hostClosed(1, project: "maxtools", receivedBytes: true),
            ])
        #expect(queue.sync { hosts.count } == 0)
        #expect(try peer.seesEndOfFile())
    }

    @Test("a bare connect that closes is .hostClosed(receivedBytes: false)")
    func bareConnect() throws {
        let hosts = room()
        let peer = try connect(hosts, viaTCP: true)
        peer.close()
        #expect(
            recorder.wait(for: 2) == [
                .hostConnected(1, project: "maxtools", viaTCP: true),
                .hostClosed(1, project: "maxtools", receivedBytes: false),
            ])
    }

    @Test("a bad assignment is delivered as a failure; a non-UTF-8 line is answered here and skipped")
    func badLines() throws {
        let hosts = room()
        let peer = try connect(hosts)
        defer { peer.close() }
        try peer.writeAll(Array("NOPE=1\n".utf8) + [0xff, 0xfe, 0x0a] + Array("READY=1\n".utf8))
        #expect(
            recorder.wait(for: 3) == [
                .hostConnected(1, project: "maxtools", viaTCP: false),
                .hostLine(1, project: "maxtools", .failure(.unknownKey("NOPE"))),
                .hostLine(1, project: "maxtools", .success(.ready)),
            ])
        #expect(try peer.readLine() == "ERROR line is not valid UTF-8\n")
    }

    @Test("a line over maxLineLength is answered with an ERROR, then the host is dropped and Core told")
    func lineTooLong() throws {
        let hosts = room { $0.maxLineLength = 16 }
        let peer = try connect(hosts)
        defer { peer.close() }
        try peer.send("STATUS=" + String(repeating: "x", count: 40))
        #expect(try peer.readLine() == "ERROR line longer than 16 bytes\n")
        #expect(try peer.seesEndOfFile())
        #expect(
            recorder.wait(for: 2) == [
                .hostConnected(1, project: "maxtools", viaTCP: false),
                .hostClosed(1, project: "maxtools", receivedBytes: true),
            ])
    }

    @Test("a partial line left alone for partialLineTimeout is answered with an ERROR and dropped")
    func partialLineTimesOut() throws {
        let hosts = room { $0.partialLineTimeout = 1 }
        let peer = try connect(hosts)
        defer { peer.close() }
        try peer.send("DEBUG_PORT=12")
        #expect(try peer.readLine(within: 10) == "ERROR incomplete line: no newline within 1 s\n")
        #expect(try peer.seesEndOfFile())
        #expect(recorder.wait(for: 2).last == .hostClosed(1, project: "maxtools", receivedBytes: true))
    }

    @Test("over the per-project limit a host is told ERROR too many connections and Core never hears of it")
    func perProjectLimit() throws {
        let hosts = room { $0.maxRendezvousPerProject = 1 }
        let first = try connect(hosts)
        defer { first.close() }
        let other = try connect(hosts, project: "other")
        defer { other.close() }
        let refused = try connect(hosts)
        defer { refused.close() }
        #expect(try refused.readLine() == "ERROR too many connections\n")
        #expect(try refused.seesEndOfFile())
        queue.sync {}
        #expect(
            recorder.inputs == [
                .hostConnected(1, project: "maxtools", viaTCP: false),
                .hostConnected(2, project: "other", viaTCP: false),
            ])
    }

    @Test("a TCP peer whose socket belongs to another user is refused at accept")
    func foreignTCPPeer() throws {
        let stranger = ProcessHandle.currentUID &+ 1
        let hosts = room(peerOwner: { _ in .user(stranger) })
        let peer = try connect(hosts, viaTCP: true)
        defer { peer.close() }
        #expect(try peer.readLine() == "ERROR permission denied: uid \(stranger) is not the user attachd serves\n")
        #expect(try peer.seesEndOfFile())
        queue.sync {}
        #expect(recorder.inputs.isEmpty)
        #expect(queue.sync { hosts.count } == 0)
    }

    @Test("a TCP peer of our own user (or unknown) is served")
    func ownTCPPeer() throws {
        let hosts = room(peerOwner: { _ in .user(ProcessHandle.currentUID) })
        let peer = try connect(hosts, viaTCP: true)
        defer { peer.close() }
        try peer.send("READY=1\n")
        #expect(
            recorder.wait(for: 2) == [
                .hostConnected(1, project: "maxtools", viaTCP: true),
                .hostLine(1, project: "maxtools", .success(.ready)),
            ])
    }

    @Test("close(id) writes the last reply first and does not report the close back to Core")
    func closeByCore() throws {
        let hosts = room()
        let peer = try connect(hosts)
        defer { peer.close() }
        queue.sync {
            hosts.send(.sessionEnded(session: "s-1", reason: "stopping"), to: 1)
            hosts.close(1)
        }
        #expect(try peer.readLine() == "ERROR session s-1 ended: stopping\n")
        #expect(try peer.seesEndOfFile())
        queue.sync {}
        #expect(recorder.inputs == [.hostConnected(1, project: "maxtools", viaTCP: false)])
    }

    @Test("closeAll(of:) closes that project's hosts only")
    func closeAllOfAProject() throws {
        let hosts = room()
        let gone = try connect(hosts, project: "gone")
        defer { gone.close() }
        let kept = try connect(hosts, project: "kept")
        defer { kept.close() }
        queue.sync { hosts.closeAll(of: "gone") }
        #expect(try gone.seesEndOfFile())
        #expect(!kept.hasInput)
        #expect(queue.sync { hosts.count } == 1)
    }
}
