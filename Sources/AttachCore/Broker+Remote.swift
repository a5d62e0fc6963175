import AttachProtocol

/// What the broker knows of a remote project's link to its machine.
struct RemoteLinkRecord: Sendable, Equatable {
    var state: RemoteLinkState = .connecting
    var error: String?
    var version: String?
}

extension ProjectRecord {
    /// The remote part of the project as the API shows it.
    var remoteInfo: RemoteInfo? {
        guard let remote = config.remote else { return nil }
        let link = remoteLink ?? RemoteLinkRecord()
        return RemoteInfo(destination: remote.destination, project: remote.project, socket: remote.socket,
                          sshCommand: remote.sshCommand, state: link.state, error: link.error, version: link.version)
    }
}

extension Broker {
    /// A remote project's listeners were tried for the first time: its link opens too.
    mutating func openRemoteIfNeeded(_ project: String) -> [BrokerAction] {
        guard var record = projects[project], let remote = record.config.remote, record.remoteLink == nil else { return [] }
        record.remoteLink = RemoteLinkRecord()
        projects[project] = record
        return [.openRemote(project: project, remote)]
    }

    /// `RemoveProject` of a remote project also closes its link (asked before the call is
    /// handled, while the project is still there to ask about).
    func remoteLinkClosing(for request: BrokerRequest) -> [BrokerAction] {
        guard case .removeProject(let name) = request, projects[name]?.remoteLink != nil else { return [] }
        return [.closeRemote(project: name)]
    }

    /// The local id of a remote session: `farm@render42:farm-123`.
    static func mirrorID(project: String, remote: RemoteConfig, remoteID: String) -> String {
        "\(project)@\(remote.host):\(remoteID)"
    }

    mutating func remoteConnected(_ project: String, version: String) -> [BrokerAction] {
        guard var record = projects[project], record.config.remote != nil else { return [] }
        let link = RemoteLinkRecord(state: .connected, error: nil, version: version)
        guard record.remoteLink != link else { return [] }
        record.remoteLink = link
        projects[project] = record
        return [.emit(BrokerEvent(kind: .projectChanged, project: projectInfo(project)))]
    }

    /// A snapshot of the remote project's sessions: mirrors them all, and ends the mirrors of
    /// sessions the remote no longer has.
    mutating func remoteSessions(_ project: String, _ list: [SessionInfo], now: Instant) -> [BrokerAction] {
        guard let remote = projects[project]?.config.remote else { return [] }
        var actions: [BrokerAction] = []
        var seen = Set<String>()
        for info in list.sorted(by: { $0.startedAt < $1.startedAt }) where info.state != .ended {
            seen.insert(Self.mirrorID(project: project, remote: remote, remoteID: info.id))
            actions += remoteSession(project, info, now: now)
        }
        let gone = sessions.values.filter { $0.isMirror && $0.info.project == project && !seen.contains($0.info.id) }
            .map(\.info.id).sorted()
        for id in gone {
            actions += end(id, reason: "ended on \(remote.destination)", now: now)
        }
        return actions
    }

    /// One remote session as it is on its machine now: created, updated or ended here to match.
    mutating func remoteSession(_ project: String, _ remoteInfo: SessionInfo, now: Instant) -> [BrokerAction] {
        guard let config = projects[project]?.config, let remote = config.remote,
              remoteInfo.project == remote.project, remoteInfo.origin != .remote else { return [] }
        let id = Self.mirrorID(project: project, remote: remote, remoteID: remoteInfo.id)
        if remoteInfo.state == .ended {
            let why = remoteInfo.endReason.map { ": \($0)" } ?? ""
            return end(id, reason: "ended on \(remote.destination)\(why)", now: now)
        }
        var actions: [BrokerAction] = []
        let previous = sessions[id]
        var record = previous ?? SessionRecord(
            info: SessionInfo(id: id, project: project, state: .pending, origin: .remote, debugHost: remoteInfo.debugHost,
                              debugPort: nil, attachPort: config.attachPort, startedAt: now.wall),
            // Never claimed here, never timed out here: the remote attachd decides.
            connection: nil, readyClaimed: false, readyDeadline: now.monotonic + Self.mirrorLifetime)
        record.info.remote = remote.destination
        record.info.remoteId = remoteInfo.id
        record.info.debugHost = remoteInfo.debugHost
        record.info.debugPort = remoteInfo.debugPort
        record.info.status = remoteInfo.status
        record.remoteSaid = (remoteInfo.state, remoteInfo.problem)
        record.info.executable = remoteInfo.executable
        record.info.python = remoteInfo.python
        let wasListening = previous?.info.state.isListening ?? false
        let oldState = previous?.info.state
        // A relay refused here waits out its back-off first, however ready its machine says it is.
        let refused = relayBackoffUntil[id] != nil && remoteInfo.state.isListening
        record.info.state = refused ? .pending : remoteInfo.state
        record.info.problem = refused ? previous?.info.problem : remoteInfo.problem
        if record.info.state.isListening, !wasListening { record.info.readyAt = now.wall }
        if !record.info.state.isListening { record.info.readyAt = nil }
        sessions[id] = record
        if previous == nil { actions.append(.emit(BrokerEvent(kind: .sessionStarted, session: record.info))) }
        guard oldState != record.info.state else { return actions }
        switch record.info.state {
        case .ready, .attached:
            let kind: BrokerEvent.Kind = record.info.state == .attached ? .sessionAttached : .sessionReady
            actions.append(.emit(BrokerEvent(kind: kind, session: record.info)))
            if !wasListening {
                actions += releaseWaiters(ofRemote: project, with: record.info)
                actions += dispatchHeld(of: project)
            }
        case .pending, .unreachable:
            if previous != nil { actions.append(.emit(BrokerEvent(kind: .sessionPending, session: record.info))) }
        case .ended:
            break
        }
        return actions
    }

    /// The link is down: the remote sessions are unreachable (not ended: they may well live on)
    /// and no wait is released by them; held IDE connections stay held.
    mutating func remoteLost(_ project: String, reason: String, now: Instant) -> [BrokerAction] {
        guard var record = projects[project], record.config.remote != nil else { return [] }
        var actions: [BrokerAction] = []
        let link = RemoteLinkRecord(state: .unreachable, error: reason, version: record.remoteLink?.version)
        if record.remoteLink != link {
            record.remoteLink = link
            projects[project] = record
            actions.append(.emit(BrokerEvent(kind: .projectChanged, project: projectInfo(project))))
        }
        for id in sessions.keys.sorted() {
            guard var session = sessions[id], session.isMirror, session.info.project == project,
                  session.info.state != .unreachable else { continue }
            session.info.state = .unreachable
            session.info.readyAt = nil
            session.info.problem = "\(record.config.remote!.destination) cannot be reached: \(reason)"
            sessions[id] = session
            actions.append(.emit(BrokerEvent(kind: .sessionPending, session: session.info)))
        }
        return actions
    }

    /// Mirrors whose relay was refused here and whose back-off is over: ready again as their
    /// machine still says, so that held IDE connections are tried on them again (a refusal
    /// doubles the next back-off, up to `relayRetryMaxDelay`).
    mutating func retryRefusedMirrors(now: Instant) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        let due = relayBackoffUntil.filter { $0.value <= now.monotonic && sessions[$0.key]?.isMirror == true }.keys.sorted()
        for id in due {
            relayBackoffUntil[id] = nil
            guard var session = sessions[id], session.info.state == .pending, let said = session.remoteSaid,
                  said.state.isListening else { continue }
            session.info.state = said.state
            session.info.readyAt = now.wall
            sessions[id] = session
            let kind: BrokerEvent.Kind = said.state == .attached ? .sessionAttached : .sessionReady
            actions.append(.emit(BrokerEvent(kind: kind, session: session.info)))
            actions += releaseWaiters(ofRemote: session.info.project, with: session.info)
            actions += dispatchHeld(of: session.info.project)
        }
        return actions
    }

    /// How long a remote session may stay pending here: as long as its machine says so (a
    /// finite year, so that the daemon's timer stays representable).
    static let mirrorLifetime = 365.0 * 86_400

    private mutating func releaseWaiters(ofRemote project: String, with session: SessionInfo) -> [BrokerAction] {
        let tokens = waiters.filter { $0.value.project == project }.keys
            .sorted { ($0.connection, $0.serial) < ($1.connection, $1.serial) }
        for token in tokens { waiters[token] = nil }
        return tokens.map { .respond($0, .success(.session(session))) }
    }
}
