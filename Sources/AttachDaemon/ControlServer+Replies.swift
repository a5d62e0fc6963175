import AttachCore
import AttachProtocol
import AttachSystem

extension ControlServer {
    /// Answers a broker request with its typed reply.
    func respond(_ token: RequestToken, _ result: Result<BrokerResponse, VarlinkError>) {
        switch result {
        case .failure(let error): sendError(token, error)
        case .success(.project(let info)): sendReply(token, ProjectReply(project: info))
        case .success(.projects(let list)): sendReply(token, ListProjectsReply(projects: list))
        case .success(.session(let info)): sendReply(token, SessionReply(session: withRelayCounts(info)))
        case .success(.sessions(let list)): sendReply(token, ListSessionsReply(sessions: list.map(withRelayCounts)))
        case .success(.empty): sendReply(token, EmptyReply())
        }
    }

    /// The byte counts live where the bytes move (the relay room); Core knows the rest.
    private func withRelayCounts(_ session: SessionInfo) -> SessionInfo {
        guard let relays = session.relays else { return session }
        var session = session
        session.relays = relays.map { relay in
            var relay = relay
            if let counts = readings.relayCounts(relay.id) {
                relay.bytesToHost = counts.toHost
                relay.bytesToIDE = counts.toIDE
            }
            return relay
        }
        return session
    }

    /// Sends the final, successful reply of a call.
    func sendReply<P: Encodable>(_ token: RequestToken, _ parameters: P) {
        client(token)?.reply(token.serial, codec.frameReply(parameters), final: true)
    }

    /// Sends an error as the final reply of a call.
    func sendError(_ token: RequestToken, _ error: VarlinkError) {
        client(token)?.reply(token.serial, codec.frame(VarlinkReply(error: error)), final: true)
    }

    /// Sends one reply of a stream that continues.
    func sendStream(_ token: RequestToken, _ bytes: [UInt8]) {
        client(token)?.reply(token.serial, bytes, final: false)
    }

    /// Tells every watcher interested in this event.
    func emit(_ event: BrokerEvent) {
        guard hasWatchers else { return }
        let bytes = codec.frameReply(WatchReply(event: event), continues: true)
        for token in watchers(of: event.projectName) {
            sendStream(token, bytes)
        }
    }
}

/// Turns a call for `io.attachd.Broker` into Core's request, decoding its parameters once.
enum BrokerCalls {
    static func request(_ call: VarlinkCallHeader, _ message: [UInt8], codec: VarlinkCodec) throws(VarlinkError)
        -> BrokerRequest
    {
        guard call.interface == InterfaceDescriptions.brokerName else {
            if call.interface == InterfaceDescriptions.serviceName { throw .methodNotFound(call.method) }
            throw .interfaceNotFound(call.interface)
        }
        switch VarlinkMethod(call.method) {
        case .addProject: return .addProject(try codec.parameters(AddProjectParameters.self, in: message))
        case .removeProject: return .removeProject(try codec.parameters(ProjectNameParameters.self, in: message).name)
        case .getProject: return .getProject(try codec.parameters(ProjectNameParameters.self, in: message).name)
        case .listProjects: return .listProjects
        case .listSessions:
            return .listSessions(project: try codec.parameters(ListSessionsParameters.self, in: message).project)
        case .endSession: return .endSession(id: try codec.parameters(EndSessionParameters.self, in: message).id)
        case .announce: return .announce(try codec.parameters(AnnounceParameters.self, in: message))
        case .wait: return .wait(try codec.parameters(WaitParameters.self, in: message))
        case .selectSession: return .selectSession(try codec.parameters(SelectSessionParameters.self, in: message))
        case .setFollow: return .setFollow(try codec.parameters(SetFollowParameters.self, in: message))
        case .ideAttached: return .ideAttached(try codec.parameters(IDEAttachedParameters.self, in: message))
        case .getInfo, .getInterfaceDescription, .getStatus, .watch, nil: throw .methodNotFound(call.method)
        }
    }
}
