import AttachCore
import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

@Suite("Replies leave in call order")
struct ControlClientOrderTests {
    /// A ControlClient on one end of a socket pair; the test reads the other end.
    private func pair() throws -> (ControlClient, FileDescriptor, DispatchQueue) {
        let (ours, theirs) = try Socket.pair()
        try ours.setNonBlocking(true)
        let queue = DispatchQueue(label: "test")
        let connection = Connection(id: 1, fd: ours, queue: queue, outputLimit: 1 << 20)
        return (ControlClient(connection: connection, maxMessageSize: 1 << 20), theirs, queue)
    }

    private func read(_ fd: FileDescriptor, count: Int) throws -> String {
        var bytes: [UInt8] = []
        while bytes.count < count {
            #expect(try fd.waitReadable(timeoutMilliseconds: 5000))
            let chunk = try fd.read(upTo: count - bytes.count)
            if chunk.isEmpty { break }
            bytes += chunk
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("a later call answered first waits for the earlier one")
    func heldBack() throws {
        let (client, peer, queue) = try pair()
        defer { peer.close() }
        queue.sync {
            let wait = client.nextToken(expectsReply: true)
            let status = client.nextToken(expectsReply: true)
            let info = client.nextToken(expectsReply: true)
            client.reply(info.serial, Array("C".utf8), final: true)
            client.reply(status.serial, Array("B".utf8), final: true)
            #expect(client.openCalls == 3)
            client.reply(wait.serial, Array("A".utf8), final: true)
            #expect(client.openCalls == 0)
        }
        #expect(try read(peer, count: 3) == "ABC")
        queue.sync { client.connection.close() }
    }

    @Test("a stream's replies flow while it is first; one-way calls are never answered")
    func streamsAndOneWay() throws {
        let (client, peer, queue) = try pair()
        defer { peer.close() }
        queue.sync {
            let oneway = client.nextToken(expectsReply: false)
            let watch = client.nextToken(expectsReply: true)
            let later = client.nextToken(expectsReply: true)
            client.reply(oneway.serial, Array("X".utf8), final: true)
            client.reply(later.serial, Array("L".utf8), final: true)
            client.reply(watch.serial, Array("1".utf8), final: false)
            client.reply(watch.serial, Array("2".utf8), final: false)
            client.reply(watch.serial, Array("3".utf8), final: true)
        }
        #expect(try read(peer, count: 4) == "123L")
        queue.sync { client.connection.close() }
    }
}
