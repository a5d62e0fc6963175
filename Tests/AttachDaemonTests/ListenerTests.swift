import AttachSystem
import AttachSystemd
import Dispatch
import Testing

@testable import AttachDaemon

@Suite("Listener: accepting and closing")
struct ListenerTests {
    private let queue = DispatchQueue(label: "listener-test")

    private typealias Accepted = Recorder<FileDescriptor>

    private func listener(at path: String, accepted: Accepted) throws -> Listener {
        let fd = try Socket.listenUnix(path: path)
        return Listener(
            fd: fd, name: "unix.test", queue: queue, reserve: ReserveDescriptor(),
            onAccept: { client in accepted.record(client) },
            onExhausted: { error in Issue.record("unexpected accept failure \(error)") })
    }

    @Test("every waiting client is accepted and handed on, non-blocking")
    func acceptsEveryClient() throws {
        let directory = RoomDirectory()
        let path = directory.path + "/l.sock"
        let accepted = Accepted()
        let listener = try listener(at: path, accepted: accepted)
        defer { accepted.all.forEach { $0.close() } }
        // Connected before the source starts: they wait in the backlog and come in one wakeup.
        let clients = try (0..<3).map { _ in try Socket.connectUnix(path: path) }
        defer { clients.forEach { $0.close() } }
        listener.start()
        #expect(accepted.wait(for: 3).count == 3)
        let first = try #require(accepted.all.first)
        #expect(throws: Errno.wouldBlock) { _ = try first.read(upTo: 1) }
        queue.sync { listener.close() }
    }

    @Test("close() closes the socket: the path refuses connections and onClosed runs")
    func closeClosesTheSocket() throws {
        let directory = RoomDirectory()
        let path = directory.path + "/l.sock"
        let accepted = Accepted()
        let listener = try listener(at: path, accepted: accepted)
        let closed = DispatchSemaphore(value: 0)
        listener.onClosed = { closed.signal() }
        listener.start()
        queue.sync { listener.close() }
        #expect(closed.wait(timeout: .now() + 5) == .success)
        #expect(throws: Errno.connectionRefused) { try Socket.connectUnix(path: path).close() }
        #expect(accepted.all.isEmpty)
    }

    @Test("close(keepDescriptor: true) stops accepting but the socket still listens (for the fd store)")
    func closeKeepingTheDescriptor() throws {
        let directory = RoomDirectory()
        let path = directory.path + "/l.sock"
        let accepted = Accepted()
        let listener = try listener(at: path, accepted: accepted)
        let closed = DispatchSemaphore(value: 0)
        listener.onClosed = { closed.signal() }
        listener.start()
        queue.sync { listener.close(keepDescriptor: true) }
        #expect(closed.wait(timeout: .now() + 5) == .success)
        #expect(Socket.isListeningUnixStream(listener.fd, path: path))
        let client = try Socket.connectUnix(path: path)
        client.close()
        let queued = try Socket.accept(listener.fd)
        #expect(queued != nil, "the kept socket still queues clients")
        queued?.close()
        #expect(accepted.all.isEmpty, "but the closed listener hands none on")
        listener.fd.close()
    }
}
