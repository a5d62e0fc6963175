import AttachProtocol

/// Everything that can happen to the broker: the one kind of input its one door,
/// `Broker.handle(_:now:)`, takes. The daemon turns sockets, timers and processes into these.
public enum BrokerInput: Sendable, Equatable {
    /// The projects read from `projects.json` at start: each valid one is added and its
    /// listeners opened; each invalid one comes back as `savedProjectSkipped`.
    case loadProjects([ProjectConfig])
    /// A control call arrived.
    case call(BrokerRequest, token: RequestToken)
    /// A control connection closed: its waiters go.
    case controlClosed(ConnectionID)
    /// A host connected to a project's rendezvous listener.
    case hostConnected(ConnectionID, project: String, viaTCP: Bool)
    /// A complete line arrived on a rendezvous connection (already parsed).
    case hostLine(ConnectionID, project: String, Result<RendezvousAssignment, RendezvousLineError>)
    /// A rendezvous connection reached end-of-file, failed, or was dropped for bad input.
    /// `receivedBytes` tells a bare connect (the article's bootstrap: nothing said) from a host
    /// that spoke.
    case hostClosed(ConnectionID, project: String, receivedBytes: Bool)
    /// A watched process exited.
    case processExited(session: String)
    /// An IDE connected to a project's attach port (`peer`: its address, for people).
    case ideConnected(ConnectionID, project: String, peer: String)
    /// The relay of an IDE connection reached the session's debug server.
    case relayUp(ConnectionID)
    /// A relay handed over by the attachd before this one runs again (after a restart); it
    /// belongs to no session any more, and ends with `relayEnded`.
    case relayAdopted(ConnectionID, project: String, peer: String)
    /// The session's debug server refused the relay's connection (or did not answer).
    case relayFailed(ConnectionID, reason: String)
    /// An IDE connection (held or relayed) is closed, by either side or as Core asked.
    case relayEnded(ConnectionID, reason: String, bytesToHost: Int, bytesToIDE: Int)
    /// The daemon tried to open a project's listeners: `error` is nil when all are up.
    case listenersOpened(project: String, error: String?)
    /// A remote project's link is up: the remote attachd answered `GetInfo` with `version`.
    case remoteConnected(project: String, version: String)
    /// All live sessions of a remote project on its machine (`ListSessions` there).
    case remoteSessions(project: String, [SessionInfo])
    /// One session of a remote project changed on its machine (a `Watch` event there).
    case remoteSession(project: String, SessionInfo)
    /// A remote project's link failed or was lost; `reason` has the words ssh gave.
    case remoteLost(project: String, reason: String)
    /// The clock moved on, and (when the daemon read it) this is the set of local TCP ports in
    /// LISTEN state, and perhaps the local ports of ESTABLISHED connections (`connected`, read
    /// when `wantsConnectedPorts`). nil `listening`: the kernel could not be read this time.
    /// `hosts` answers `ownershipQueries`: what each host's own process tree listens on.
    case probed(listening: Set<UInt16>?, connected: Set<UInt16>?, hosts: [String: HostListening] = [:])
    /// The daemon, asked to probe now, looked only at these hosts (sessions with a pid it had
    /// not yet seen listen), through a listing of their ports alone: those listening become
    /// ready and those that exited end; nothing is concluded about any other session, and the
    /// timer still comes (`.probed`).
    case lookedAt(hosts: [String: HostListening])
}

extension Broker {
    /// The one door: feeds one input to the broker and returns what the daemon must do, ending
    /// with `.reschedule` when the schedule is not the one Core said last (see `rescheduled`).
    public mutating func handle(_ input: BrokerInput, now: Instant) -> [BrokerAction] {
        var actions = dispatch(input, now: now)
        // A tick is the daemon's one-shot timer having fired (or a probe made now): the timer
        // follows Core again only if Core says the schedule again, even when it is unchanged.
        if case .probed = input { saidSchedule = nil }
        if let schedule = rescheduled() { actions.append(.reschedule(schedule)) }
        return actions
    }

    private mutating func dispatch(_ input: BrokerInput, now: Instant) -> [BrokerAction] {
        switch input {
        case .loadProjects(let configs):
            let (actions, skipped) = load(configs)
            return actions + skipped.map { .savedProjectSkipped($0) }
        case .call(let request, let token):
            let closing = remoteLinkClosing(for: request)
            return handle(request, token: token, now: now) + closing
        case .controlClosed(let connection):
            return controlConnectionClosed(connection)
        case .hostConnected(let connection, let project, let viaTCP):
            return rendezvousAccepted(connection, project: project, viaTCP: viaTCP)
        case .hostLine(let connection, let project, let line):
            return rendezvousLine(connection, project: project, line, now: now)
        case .hostClosed(let connection, let project, let receivedBytes):
            return rendezvousClosed(connection, project: project, receivedBytes: receivedBytes, now: now)
        case .processExited(let session):
            return processExited(session: session, now: now)
        case .ideConnected(let connection, let project, let peer):
            return ideConnected(connection, project: project, peer: peer, now: now)
        case .relayUp(let connection):
            return relayUp(connection)
        case .relayAdopted(let connection, let project, let peer):
            return relayAdopted(connection, project: project, peer: peer, now: now)
        case .relayFailed(let connection, let reason):
            return relayFailed(connection, reason: reason, now: now)
        case .relayEnded(let connection, let reason, let bytesToHost, let bytesToIDE):
            return relayEnded(connection, reason: reason, bytesToHost: bytesToHost, bytesToIDE: bytesToIDE)
        case .listenersOpened(let project, let error):
            return listenersOpened(project: project, error: error) + openRemoteIfNeeded(project)
        case .remoteConnected(let project, let version):
            return remoteConnected(project, version: version)
        case .remoteSessions(let project, let list):
            return remoteSessions(project, list, now: now)
        case .remoteSession(let project, let info):
            return remoteSession(project, info, now: now)
        case .remoteLost(let project, let reason):
            return remoteLost(project, reason: reason, now: now)
        case .probed(let listening, let connected, let hosts):
            return tick(now: now, listening: listening, connected: connected, hosts: hosts)
        case .lookedAt(let hosts):
            return lookedAt(hosts: hosts, now: now)
        }
    }
}
