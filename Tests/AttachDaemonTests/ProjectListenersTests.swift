import AttachCore
import AttachProtocol
import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

@Suite("ProjectListeners: binding, refusing, handing off, closing")
struct ProjectListenersTests {
    private let queue = DispatchQueue(label: "listeners-test")
    private let recorder = InputRecorder()
    private let directory = RoomDirectory()
    /// What the listeners handed on: (project, viaTCP) per accepted host.
    private let accepted = Recorder<String>()

    private func room(fdStore: FDStore = FDStore(enabled: false, logger: quietLogger)) -> ProjectListeners {
        ProjectListeners(
            queue: queue, logger: quietLogger, paths: directory.paths, fdStore: fdStore,
            reserve: ReserveDescriptor(),
            onAccept: { [accepted] socket in
                socket.fd.close()
                accepted.record("\(socket.project) \(socket.kind)")
            },
            deliver: recorder.deliver)
    }

    private func project(_ name: String = "maxtools", port: UInt16? = nil, attachPort: UInt16? = nil) -> ProjectInfo {
        var info = ProjectInfo(
            name: name, debugHost: "127.0.0.1", debugPort: 5678, rendezvousPort: port.map(Int.init),
            rendezvousSocket: directory.paths.rendezvousSocket(for: name), readyTimeout: 5, allowRemote: false)
        info.attachPort = attachPort.map(Int.init)
        return info
    }

    private func waitAccepted(_ count: Int) -> [String] { accepted.wait(for: count) }

    /// A TCP port nobody listens on right now (the kernel's pick, released again).
    private func freePort() throws -> UInt16 {
        let probe = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { probe.close() }
        return try Socket.localPort(probe)
    }

    @Test("open binds the project's socket file with mode 0600, returns nil, and hands hosts on")
    func opensTheUnixSocket() throws {
        let listeners = room()
        let info = project()
        #expect(queue.sync { listeners.open(info) } == nil)
        #expect(Files.isSocket(info.rendezvousSocket))
        #expect(Files.permissions(info.rendezvousSocket) == 0o600)
        #expect(Files.permissions(directory.paths.rendezvousDirectory) == 0o700)
        let host = try Socket.connectUnix(path: info.rendezvousSocket)
        defer { host.close() }
        #expect(waitAccepted(1) == ["maxtools unix"])
        queue.sync { listeners.close("maxtools") }
    }

    @Test("open binds the TCP rendezvous port on loopback and hands its hosts on as TCP")
    func opensTheTCPPort() throws {
        let listeners = room()
        let port = try freePort()
        #expect(queue.sync { listeners.open(project(port: port)) } == nil)
        let host = try Socket.connectTCP(host: "127.0.0.1", port: port)
        defer { host.close() }
        #expect(waitAccepted(1) == ["maxtools tcp"])
        queue.sync { listeners.close("maxtools") }
        // Dispatch closes the descriptor once the source's cancellation has run: soon, not at once.
        let probe = ListenProbe()
        #expect(
            eventually(on: queue) { (try? probe.listeningPorts())?.contains(port) == false },
            "port \(port) still in LISTEN after close")
    }

    @Test("open returns the problem for a TCP port in use, keeps the Unix socket, and rebinds by itself later")
    func portInUse() throws {
        let info = project(port: nil)
        let holder = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        let port = try Socket.localPort(holder)
        var withPort = info
        withPort.rendezvousPort = Int(port)
        let listeners = room()
        let problem = queue.sync { listeners.open(withPort) }
        #expect(problem == "tcp port \(port): \(Errno.addressInUse)")
        #expect(Files.isSocket(info.rendezvousSocket), "the Unix socket is up all the same")
        // The port comes free; the rebind timer (1 s) opens it and tells Core.
        holder.close()
        #expect(recorder.wait(for: 1, within: 10) == [.listenersOpened(project: "maxtools", error: nil)])
        let host = try Socket.connectTCP(host: "127.0.0.1", port: port)
        defer { host.close() }
        #expect(waitAccepted(1) == ["maxtools tcp"])
        queue.sync { listeners.close("maxtools") }
    }

    @Test("close removes the socket file and the path refuses connections")
    func closeRemovesTheFile() throws {
        let listeners = room()
        let info = project()
        #expect(queue.sync { listeners.open(info) } == nil)
        queue.sync { listeners.close("maxtools") }
        #expect(!Files.exists(info.rendezvousSocket))
        #expect(throws: Errno.noSuchFile) { try Socket.connectUnix(path: info.rendezvousSocket).close() }
    }

    @Test("releaseTCP gives the port up: it is among closingPorts until really closed, then free to bind")
    func handoffReleasesThePort() throws {
        let listeners = room()
        let port = try freePort()
        #expect(queue.sync { listeners.open(project(port: port)) } == nil)
        let closingAtOnce = queue.sync {
            listeners.releaseTCP("maxtools", port: Int(port))
            return listeners.closingPorts
        }
        #expect(closingAtOnce == [port])
        #expect(eventually(on: queue) { listeners.closingPorts.isEmpty })
        let debugServer = try Socket.listenTCP(host: "127.0.0.1", port: port)
        debugServer.close()
        #expect(Files.isSocket(project().rendezvousSocket), "the Unix socket stays")
        queue.sync { listeners.close("maxtools") }
    }

    @Test("an inherited fd-store listener is adopted instead of bound again")
    func adoptsAnInheritedListener() throws {
        let store = FDStore(enabled: false, logger: quietLogger)
        let info = project()
        try Files.createDirectories(directory.paths.rendezvousDirectory)
        let inherited = try Socket.listenUnix(path: info.rendezvousSocket)
        store.keepInherited(inherited, name: FDStore.unixName("maxtools"))
        let listeners = room(fdStore: store)
        #expect(queue.sync { listeners.open(info) } == nil)
        #expect(store.inheritedCount == 0, "the fd store's copy was taken")
        let host = try Socket.connectUnix(path: info.rendezvousSocket)
        defer { host.close() }
        #expect(waitAccepted(1) == ["maxtools unix"])
        queue.sync { listeners.close("maxtools") }
    }

    @Test("an inherited descriptor that is not a listener is closed and the socket bound afresh")
    func dropsAStaleInheritedDescriptor() throws {
        let store = FDStore(enabled: false, logger: quietLogger)
        let (stale, other) = try Socket.pair()
        defer { other.close() }
        store.keepInherited(stale, name: FDStore.unixName("maxtools"))
        let listeners = room(fdStore: store)
        let info = project()
        #expect(queue.sync { listeners.open(info) } == nil)
        #expect(try other.seesEndOfFile(), "the stale descriptor was closed")
        let host = try Socket.connectUnix(path: info.rendezvousSocket)
        defer { host.close() }
        #expect(waitAccepted(1) == ["maxtools unix"])
        queue.sync { listeners.close("maxtools") }
    }

    @Test("an attach port in use keeps its error, alone, until a retry binds it; then IDEs are handed on")
    func attachPortInUse() throws {
        let holder = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        let port = try Socket.localPort(holder)
        let listeners = room()
        let problem = queue.sync { listeners.open(project(attachPort: port)) }
        #expect(problem == "attach port \(port): \(Errno.addressInUse)")
        #expect(Files.isSocket(project().rendezvousSocket), "the rendezvous socket is up all the same")
        // A second open (Core asking again) binds nothing new and still reports the attach port.
        #expect(queue.sync { listeners.open(project(attachPort: port)) } == problem)
        holder.close()
        #expect(recorder.wait(for: 1, within: 10) == [.listenersOpened(project: "maxtools", error: nil)])
        #expect(queue.sync { listeners.problem("maxtools") } == nil)
        let ide = try Socket.connectTCP(host: "127.0.0.1", port: port)
        defer { ide.close() }
        #expect(waitAccepted(1) == ["maxtools attach"])
        queue.sync { listeners.close("maxtools") }
    }

    @Test("a retry that still fails reports every listener still down, and the one that came up no more")
    func retryReportsWhatIsStillDown() throws {
        let rendezvousHolder = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        let attachHolder = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { attachHolder.close() }
        let (port, attach) = (try Socket.localPort(rendezvousHolder), try Socket.localPort(attachHolder))
        let listeners = room()
        let both = queue.sync { listeners.open(project(port: port, attachPort: attach)) }
        #expect(both == "tcp port \(port): \(Errno.addressInUse); attach port \(attach): \(Errno.addressInUse)")
        rendezvousHolder.close()
        #expect(
            recorder.wait(for: 1, within: 10)
                == [.listenersOpened(project: "maxtools", error: "attach port \(attach): \(Errno.addressInUse)")])
        queue.sync { listeners.close("maxtools") }
    }
}
