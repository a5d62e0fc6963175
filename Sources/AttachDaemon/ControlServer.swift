import AttachCore
import AttachProtocol
import AttachSystem
import Dispatch
import Logging

/// The control socket: accepting clients of our own user only, framing their varlink
/// messages, answering the calls that need no broker (`GetInfo`, `GetInterfaceDescription`,
/// `GetStatus`, `Watch`), passing the others to Core, and sending replies in call order.
final class ControlServer {
    private let queue: DispatchQueue
    private let logger: Logger
    private let options: DaemonOptions
    private let ids: ConnectionIDs
    private let reserve: ReserveDescriptor
    let codec = VarlinkCodec()
    private let deliver: (BrokerInput) -> Void
    /// `GetStatus`'s figures, projects for `Watch`, relays' byte counts for `ListSessions`.
    let readings: any DaemonReadings

    private var listener: Listener?
    private var clients: [ConnectionID: ControlClient] = [:]
    /// `Watch` calls in flight, with the project they follow (nil: all).
    private var watchers: [RequestToken: String?] = [:]
    /// Calls after this are answered `ShuttingDown`.
    private(set) var isStopping = false

    init(
        queue: DispatchQueue, logger: Logger, options: DaemonOptions, ids: ConnectionIDs, reserve: ReserveDescriptor,
        readings: any DaemonReadings, deliver: @escaping (BrokerInput) -> Void
    ) {
        self.readings = readings
        self.queue = queue
        self.logger = logger
        self.options = options
        self.ids = ids
        self.reserve = reserve
        self.deliver = deliver
    }

    var count: Int { clients.count }

    /// The client a call came from, while it is connected.
    func client(_ token: RequestToken) -> ControlClient? { clients[token.connection] }

    var hasWatchers: Bool { !watchers.isEmpty }

    /// The `Watch` calls that follow `project` (or everything).
    func watchers(of project: String?) -> [RequestToken] {
        watchers.compactMap { token, filter in filter == nil || filter == project ? token : nil }
    }

    /// Stops serving (shutdown): the given calls are answered `ShuttingDown`, the control
    /// socket closes (kept open when systemd owns it), and clients close once their replies
    /// are written.
    func stop(answering waiting: (ConnectionID) -> [RequestToken], keepDescriptor: Bool) {
        isStopping = true
        for token in clients.keys.sorted().flatMap(waiting) { sendError(token, .shuttingDown()) }
        listener?.close(keepDescriptor: keepDescriptor)
        for client in Array(clients.values) { client.connection.closeWhenFlushed() }
    }

    /// Starts accepting on the control socket.
    func start(_ fd: FileDescriptor) {
        let listener = Listener(
            fd: fd, name: "control", queue: queue, reserve: reserve,
            onAccept: { [self] client in accept(client) },
            onExhausted: { [self] error in
                logger.warning(
                    "control accept failed; turning clients away until descriptors are free",
                    metadata: ["error": "\(error)"])
            })
        listener.start()
        self.listener = listener
    }

    /// A client connected: only our own user may talk to us.
    private func accept(_ fd: FileDescriptor) {
        let id = ids.next()
        let connection = Connection(id: id, fd: fd, queue: queue, outputLimit: options.maxPendingOutput)
        let credentials = try? Socket.peerCredentials(fd)
        guard let credentials, credentials.uid == ProcessHandle.currentUID else {
            logger.warning(
                "refused a control connection from another user",
                metadata: [
                    "uid": "\(credentials.map { String($0.uid) } ?? "unknown")",
                    "pid": "\(credentials.map { String($0.pid) } ?? "unknown")",
                ])
            refuse(connection, with: .permissionDenied(uid: credentials?.uid ?? UInt32.max))
            return
        }
        guard clients.count < options.maxControlConnections else {
            logger.warning(
                "too many control connections; refusing one", metadata: ["limit": "\(options.maxControlConnections)"])
            refuse(connection, with: .tooManyConnections(limit: options.maxControlConnections))
            return
        }
        let client = ControlClient(connection: connection, maxMessageSize: options.maxMessageSize)
        clients[id] = client
        connection.onClose = { [self] in closed(id) }
        connection.start { [self] in readable(client) }
    }

    /// Answers a connection we will not serve with one error (see `sendLastAndDrain`).
    private func refuse(_ connection: Connection, with error: VarlinkError) {
        connection.sendLastAndDrain(codec.frame(VarlinkReply(error: error)))
    }

    private func closed(_ id: ConnectionID) {
        guard clients.removeValue(forKey: id) != nil else { return }
        watchers = watchers.filter { $0.key.connection != id }
        deliver(.controlClosed(id))
    }

    private func readable(_ client: ControlClient) {
        let connection = client.connection
        guard case .bytes(let bytes, let peerClosed) = connection.readAvailable() else { return }
        // Calls that came with the client's end-of-file are taken first, then dropped with
        // the connection (their waiters and watches go too).
        defer { if peerClosed { connection.close() } }
        client.framer.append(bytes)
        while !connection.isClosed {
            let message: [UInt8]
            do {
                guard let next = try client.framer.next() else { break }
                message = next
            } catch {
                logger.warning(
                    "control message too large; closing the connection",
                    metadata: ["limit": "\(options.maxMessageSize)"])
                let token = client.nextToken(expectsReply: true)
                client.reply(
                    token.serial, codec.frame(VarlinkReply(error: .messageTooLarge(limit: options.maxMessageSize))),
                    final: true)
                connection.closeWhenFlushed()
                return
            }
            handle(message, from: client)
        }
    }

    private func handle(_ message: [UInt8], from client: ControlClient) {
        guard let call = try? codec.decode(VarlinkCallHeader.self, from: message) else {
            let token = client.nextToken(expectsReply: true)
            let reason =
                String(validating: message, as: UTF8.self) == nil
                ? "message is not UTF-8" : "message is not a varlink call object"
            logger.debug("bad control message", metadata: ["reason": "\(reason)"])
            client.reply(token.serial, codec.frame(VarlinkReply(error: .invalidParameter(reason))), final: true)
            client.connection.closeWhenFlushed()
            return
        }
        let token = client.nextToken(expectsReply: call.oneway != true)
        if isStopping {
            sendError(token, .shuttingDown())
            return
        }
        do {
            try dispatch(call, message, token: token)
        } catch {
            sendError(token, error)
        }
    }

    private func dispatch(_ call: VarlinkCallHeader, _ message: [UInt8], token: RequestToken) throws(VarlinkError) {
        switch VarlinkMethod(call.method) {
        case .getInfo:
            sendReply(
                token,
                ServiceInfoReply(
                    vendor: "attachd", product: "attachd", version: options.version,
                    url: "https://varlink.org",
                    interfaces: [InterfaceDescriptions.serviceName, InterfaceDescriptions.brokerName]))
        case .getInterfaceDescription:
            let p = try codec.parameters(InterfaceDescriptionParameters.self, in: message)
            guard let text = InterfaceDescriptions.description(of: p.interface) else {
                throw .interfaceNotFound(p.interface)
            }
            sendReply(token, InterfaceDescriptionReply(description: text))
        case .getStatus:
            sendReply(token, readings.status())
        case .watch:
            let p = try codec.parameters(WatchParameters.self, in: message)
            guard call.more == true else { throw .expectedMore() }
            if let project = p.project, !readings.projectExists(project) { throw .projectNotFound(project) }
            watchers[token] = p.project
            sendStream(token, codec.frameReply(WatchReply(), continues: true))
        default:
            deliver(.call(try BrokerCalls.request(call, message, codec: codec), token: token))
        }
    }
}
