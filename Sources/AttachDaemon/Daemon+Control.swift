import AttachCore
import AttachProtocol
import AttachSystem
import Dispatch

extension Daemon {
    /// A client connected to the control socket: only our own user may talk to us.
    func acceptControl(_ fd: FileDescriptor) {
        let id = makeConnectionID()
        let connection = Connection(id: id, fd: fd, queue: queue, outputLimit: options.maxPendingOutput)
        let credentials = try? Socket.peerCredentials(fd)
        guard let credentials, credentials.uid == ProcessHandle.currentUID else {
            logger.warning("refused a control connection from another user",
                           metadata: ["uid": "\(credentials.map { String($0.uid) } ?? "unknown")",
                                      "pid": "\(credentials.map { String($0.pid) } ?? "unknown")"])
            refuse(connection, with: .permissionDenied(uid: credentials?.uid ?? UInt32.max))
            return
        }
        guard controls.count < options.maxControlConnections else {
            logger.warning("too many control connections; refusing one", metadata: ["limit": "\(options.maxControlConnections)"])
            refuse(connection, with: VarlinkError("io.attachd.Broker.TooManyConnections",
                                                  ["limit": .number(Double(options.maxControlConnections))]))
            return
        }
        let client = ControlClient(connection: connection, maxMessageSize: options.maxMessageSize)
        controls[id] = client
        connection.onClose = { [self] in controlClosed(id) }
        connection.start { [self] in controlReadable(client) }
    }

    /// Answers a connection we will not serve with one error (see `sendLastAndDrain`).
    private func refuse(_ connection: Connection, with error: VarlinkError) {
        connection.sendLastAndDrain(codec.frame(VarlinkReply(error: error)))
    }

    private func controlClosed(_ id: ConnectionID) {
        guard controls.removeValue(forKey: id) != nil else { return }
        watchers = watchers.filter { $0.key.connection != id }
        apply { broker, _ in
            broker.controlConnectionClosed(id)
            return []
        }
    }

    private func controlReadable(_ client: ControlClient) {
        let connection = client.connection
        guard let bytes = connection.readOrClose() else { return }
        client.framer.append(bytes)
        while !connection.isClosed {
            let message: [UInt8]
            do {
                guard let next = try client.framer.next() else { break }
                message = next
            } catch {
                logger.warning("control message too large; closing the connection", metadata: ["limit": "\(options.maxMessageSize)"])
                let token = client.nextToken(expectsReply: true)
                client.reply(token.serial, codec.frame(VarlinkReply(error: .messageTooLarge(limit: options.maxMessageSize))), final: true)
                connection.closeWhenFlushed()
                return
            }
            handleMessage(message, from: client)
        }
    }

    private func handleMessage(_ message: [UInt8], from client: ControlClient) {
        guard let call = try? codec.decode(VarlinkCall.self, from: message) else {
            let token = client.nextToken(expectsReply: true)
            let reason = String(validating: message, as: UTF8.self) == nil ? "message is not UTF-8" : "message is not a varlink call object"
            logger.debug("bad control message", metadata: ["reason": "\(reason)"])
            client.reply(token.serial, codec.frame(VarlinkReply(error: .invalidParameter(reason))), final: true)
            client.connection.closeWhenFlushed()
            return
        }
        let token = client.nextToken(expectsReply: call.oneway != true)
        if shuttingDown {
            sendError(token, .shuttingDown())
            return
        }
        do {
            try dispatch(call, token: token)
        } catch {
            sendError(token, error)
        }
    }

    private func dispatch(_ call: VarlinkCall, token: RequestToken) throws(VarlinkError) {
        switch call.method {
        case "org.varlink.service.GetInfo":
            let info = ServiceInfoReply(vendor: "attachd", product: "attachd", version: options.version,
                                        url: "https://varlink.org", interfaces: [InterfaceDescriptions.serviceName,
                                                                                  InterfaceDescriptions.brokerName])
            sendReply(token, info)
        case "org.varlink.service.GetInterfaceDescription":
            let p = try codec.parameters(InterfaceDescriptionParameters.self, of: call)
            guard let text = InterfaceDescriptions.description(of: p.interface) else { throw .interfaceNotFound(p.interface) }
            sendReply(token, InterfaceDescriptionReply(description: text))
        case "io.attachd.Broker.GetStatus":
            sendReply(token, status())
        case "io.attachd.Broker.Watch":
            let p = try codec.parameters(WatchParameters.self, of: call)
            guard call.more == true else { throw .expectedMore() }
            if let project = p.project, broker.projectInfo(project) == nil { throw .projectNotFound(project) }
            watchers[token] = p.project
            sendStream(token, codec.frameReply(WatchReply(), continues: true))
        default:
            let request = try brokerRequest(call)
            if case .wait(let p) = request, broker.wantsFreshProbe(forWaitOn: p.project) {
                // Never hand out a session whose debug server went away since the last look.
                perform(broker.tick(now: instant(), listening: readListening()))
            }
            apply { broker, now in broker.handle(request, token: token, now: now) }
        }
    }

    private func brokerRequest(_ call: VarlinkCall) throws(VarlinkError) -> BrokerRequest {
        guard call.interface == InterfaceDescriptions.brokerName else {
            if call.interface == InterfaceDescriptions.serviceName { throw .methodNotFound(call.method) }
            throw .interfaceNotFound(call.interface)
        }
        switch call.member {
        case "AddProject": return .addProject(try codec.parameters(AddProjectParameters.self, of: call))
        case "RemoveProject": return .removeProject(try codec.parameters(ProjectNameParameters.self, of: call).name)
        case "GetProject": return .getProject(try codec.parameters(ProjectNameParameters.self, of: call).name)
        case "ListProjects": return .listProjects
        case "ListSessions": return .listSessions(project: try codec.parameters(ListSessionsParameters.self, of: call).project)
        case "EndSession": return .endSession(id: try codec.parameters(EndSessionParameters.self, of: call).id)
        case "Announce": return .announce(try codec.parameters(AnnounceParameters.self, of: call))
        case "Wait": return .wait(try codec.parameters(WaitParameters.self, of: call))
        default: throw .methodNotFound(call.method)
        }
    }

    func status() -> StatusReply {
        let c = broker.counts
        return StatusReply(version: options.version, pid: Int(ProcessHandle.currentPID),
                           uptime: Clock.monotonicSeconds() - startedAt, projects: c.projects,
                           sessions: c.pending + c.ready, pending: c.pending, ready: c.ready, waiters: c.waiters,
                           connections: controls.count + hosts.count, probe: probe.method == .sockDiag ? "sock_diag" : "proc")
    }

    /// Answers a broker request.
    func respond(_ token: RequestToken, _ result: Result<BrokerResponse, VarlinkError>) {
        switch result {
        case .failure(let error):
            sendError(token, error)
        case .success(.project(let info)):
            // Built after the listeners were tried, so it carries their error.
            sendReply(token, ProjectReply(project: broker.projectInfo(info.name) ?? info))
        case .success(.projects(let list)): sendReply(token, ListProjectsReply(projects: list))
        case .success(.session(let info)): sendReply(token, SessionReply(session: info))
        case .success(.sessions(let list)): sendReply(token, ListSessionsReply(sessions: list))
        case .success(.empty): sendReply(token, EmptyReply())
        }
    }

    /// Sends the final, successful reply of a call.
    func sendReply<P: Encodable>(_ token: RequestToken, _ parameters: P) {
        guard let client = controls[token.connection] else { return }
        client.reply(token.serial, codec.frameReply(parameters), final: true)
    }

    /// Sends an error as the final reply of a call.
    func sendError(_ token: RequestToken, _ error: VarlinkError) {
        guard let client = controls[token.connection] else { return }
        client.reply(token.serial, codec.frame(VarlinkReply(error: error)), final: true)
    }

    /// Sends one reply of a stream that continues.
    func sendStream(_ token: RequestToken, _ bytes: [UInt8]) {
        guard let client = controls[token.connection] else { return }
        client.reply(token.serial, bytes, final: false)
    }

    /// Tells every watcher interested in this event.
    func emit(_ event: BrokerEvent) {
        guard !watchers.isEmpty else { return }
        let bytes = codec.frameReply(WatchReply(event: event), continues: true)
        for (token, filter) in watchers where filter == nil || filter == event.projectName {
            sendStream(token, bytes)
        }
    }
}
