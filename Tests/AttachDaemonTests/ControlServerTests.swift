import AttachCore
import AttachProtocol
import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

@Suite("ControlServer: calls in, replies out in call order")
struct ControlServerTests {
    private let queue = DispatchQueue(label: "control-test")
    private let recorder = InputRecorder()
    private let directory = RoomDirectory()

    /// A control server listening on a Unix socket in the test's directory.
    private func server(
        readings: StubReadings = StubReadings(),
        _ adjust: (inout DaemonOptions) -> Void = { _ in }
    ) throws -> ControlServer {
        var options = directory.options
        adjust(&options)
        let server = ControlServer(
            queue: queue, logger: quietLogger, options: options, ids: ConnectionIDs(),
            reserve: ReserveDescriptor(), readings: readings, deliver: recorder.deliver)
        let fd = try Socket.listenUnix(path: options.paths.controlSocket)
        queue.sync { server.start(fd) }
        return server
    }

    private func client() throws -> FileDescriptor {
        try Socket.connectUnix(path: directory.paths.controlSocket)
    }

    private func stop(_ server: ControlServer) {
        queue.sync { server.stop(answering: { _ in [] }, keepDescriptor: false) }
    }

    @Test("a broker call is delivered as .call with its decoded request and token")
    func callIsDelivered() throws {
        let server = try server()
        defer { stop(server) }
        let peer = try client()
        defer { peer.close() }
        try peer.writeAll(
            varlinkCall(#"{"method":"io.attachd.Broker.GetProject","parameters":{"name":"maxtools"}}"#)
                + varlinkCall(#"{"method":"io.attachd.Broker.Wait","parameters":{"project":"maxtools","timeout":5}}"#))
        #expect(
            recorder.wait(for: 2) == [
                .call(.getProject("maxtools"), token: RequestToken(connection: 1, serial: 0)),
                .call(
                    .wait(WaitParameters(project: "maxtools", timeout: 5)),
                    token: RequestToken(connection: 1, serial: 1)),
            ])
    }

    @Test("GetInfo is answered by the server itself, without reaching Core")
    func getInfoStaysHere() throws {
        let server = try server()
        defer { stop(server) }
        let peer = try client()
        defer { peer.close() }
        try peer.writeAll(varlinkCall(#"{"method":"org.varlink.service.GetInfo"}"#))
        let reply = try peer.readReply()
        #expect(reply.error == nil)
        #expect(reply.parameters?["vendor"]?.stringValue == "attachd")
        #expect(reply.parameters?["version"]?.stringValue == "0.0-test")
        #expect(
            reply.parameters?["interfaces"] == .array([.string("org.varlink.service"), .string("io.attachd.Broker")]))
        queue.sync {}
        #expect(recorder.inputs.isEmpty)
    }

    @Test("an unknown method is answered MethodNotFound, without reaching Core")
    func unknownMethod() throws {
        let server = try server()
        defer { stop(server) }
        let peer = try client()
        defer { peer.close() }
        try peer.writeAll(varlinkCall(#"{"method":"io.attachd.Broker.Fly","parameters":{}}"#))
        let reply = try peer.readReply()
        #expect(reply.error == "org.varlink.service.MethodNotFound")
        #expect(reply.parameters?["method"]?.stringValue == "io.attachd.Broker.Fly")
        queue.sync {}
        #expect(recorder.inputs.isEmpty)
    }

    @Test("a reply to a later call waits until the earlier call (a Wait) is answered")
    func repliesInCallOrder() throws {
        let server = try server()
        defer { stop(server) }
        let peer = try client()
        defer { peer.close() }
        try peer.writeAll(
            varlinkCall(#"{"method":"io.attachd.Broker.Wait","parameters":{"project":"p"}}"#)
                + varlinkCall(#"{"method":"org.varlink.service.GetInfo"}"#))
        let inputs = recorder.wait(for: 1)
        #expect(inputs == [.call(.wait(WaitParameters(project: "p")), token: RequestToken(connection: 1, serial: 0))])
        // Both calls came in one read, so GetInfo has been answered (and held back) by now.
        queue.sync {}
        #expect(!peer.hasInput, "GetInfo's reply must not overtake the open Wait")
        queue.sync {
            server.respond(RequestToken(connection: 1, serial: 0), .failure(.timeout(project: "p", seconds: 5)))
        }
        let first = try peer.readReply()
        let second = try peer.readReply()
        #expect(first.error == "io.attachd.Broker.Timeout")
        #expect(second.error == nil)
        #expect(second.parameters?["vendor"]?.stringValue == "attachd")
    }

    @Test("a Wait sent and closed in one write is delivered, then .controlClosed")
    func waitSentAndClosed() throws {
        let server = try server()
        defer { stop(server) }
        // The queue is held while the client connects, writes and shuts down, so the server's
        // first read finds the call and end-of-file together.
        let held = DispatchSemaphore(value: 0)
        queue.async { held.wait() }
        let peer = try client()
        defer { peer.close() }
        try peer.writeAll(
            varlinkCall(#"{"method":"io.attachd.Broker.Wait","parameters":{"project":"p","timeout":30}}"#))
        Socket.shutdownWrite(peer)
        held.signal()
        #expect(
            recorder.wait(for: 2) == [
                .call(.wait(WaitParameters(project: "p", timeout: 30)), token: RequestToken(connection: 1, serial: 0)),
                .controlClosed(1),
            ])
        #expect(queue.sync { server.count } == 0)
    }

    @Test("a message over maxMessageSize is answered MessageTooLarge and the connection closes")
    func messageTooLarge() throws {
        let server = try server { $0.maxMessageSize = 64 }
        defer { stop(server) }
        let peer = try client()
        defer { peer.close() }
        try peer.writeAll(Array(repeating: UInt8(ascii: " "), count: 65))
        let reply = try peer.readReply()
        #expect(reply.error == "io.attachd.Broker.MessageTooLarge")
        #expect(reply.parameters?["limit"]?.intValue == 64)
        #expect(try peer.seesEndOfFile())
        #expect(recorder.wait(for: 1) == [.controlClosed(1)])
    }

    @Test("over maxControlConnections a client is told TooManyConnections and closed")
    func tooManyConnections() throws {
        let server = try server { $0.maxControlConnections = 1 }
        defer { stop(server) }
        let first = try client()
        defer { first.close() }
        // The first is served (it gets an answer) before the second connects.
        try first.writeAll(varlinkCall(#"{"method":"org.varlink.service.GetInfo"}"#))
        #expect(try first.readReply().error == nil)
        let second = try client()
        defer { second.close() }
        let reply = try second.readReply()
        #expect(reply.error == "io.attachd.Broker.TooManyConnections")
        #expect(reply.parameters?["limit"]?.intValue == 1)
        #expect(try second.seesEndOfFile())
    }

    @Test("Watch answers at once with continues, then streams only its project's events")
    func watchStreams() throws {
        let server = try server(readings: StubReadings(projects: ["maxtools"]))
        defer { stop(server) }
        let peer = try client()
        defer { peer.close() }
        try peer.writeAll(
            varlinkCall(#"{"method":"io.attachd.Broker.Watch","parameters":{"project":"maxtools"},"more":true}"#))
        let opening = try peer.readReply()
        #expect(opening.continues == true)
        #expect(opening.error == nil)
        func project(_ name: String) -> ProjectInfo {
            ProjectInfo(
                name: name, debugHost: "127.0.0.1", debugPort: 5678, rendezvousPort: nil,
                rendezvousSocket: "/nonexistent", readyTimeout: 5, allowRemote: false)
        }
        queue.sync {
            server.emit(BrokerEvent(kind: .projectChanged, project: project("other")))
            server.emit(BrokerEvent(kind: .projectRemoved, project: project("maxtools")))
        }
        let event = try peer.readReply()
        #expect(event.continues == true)
        #expect(event.parameters?["event"]?["kind"]?.stringValue == "projectRemoved")
        #expect(event.parameters?["event"]?["project"]?["name"]?.stringValue == "maxtools")
        queue.sync {}
        #expect(!peer.hasInput, "the other project's event is not sent")
        #expect(recorder.inputs.isEmpty)
    }

    @Test("Watch of a project that does not exist is answered ProjectNotFound")
    func watchUnknownProject() throws {
        let server = try server()
        defer { stop(server) }
        let peer = try client()
        defer { peer.close() }
        try peer.writeAll(
            varlinkCall(#"{"method":"io.attachd.Broker.Watch","parameters":{"project":"nope"},"more":true}"#))
        let reply = try peer.readReply()
        #expect(reply.error == "io.attachd.Broker.ProjectNotFound")
        #expect(reply.continues == nil)
    }
}

/// The daemon's read-only view as a control server test sets it: these projects exist.
final class StubReadings: DaemonReadings {
    let projects: Set<String>

    init(projects: Set<String> = []) { self.projects = projects }

    func status() -> StatusReply {
        StatusReply(
            version: "test", pid: 1, uptime: 0, projects: projects.count, sessions: 0, pending: 0, ready: 0,
            waiters: 0, connections: 0, probe: "sock_diag")
    }

    func projectExists(_ name: String) -> Bool { projects.contains(name) }

    func relayCounts(_ id: Int) -> (toHost: Int, toIDE: Int)? { nil }
}
