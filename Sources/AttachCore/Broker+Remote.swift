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
        return RemoteInfo(
            destination: remote.destination, project: remote.project, socket: remote.socket,
            sshCommand: remote.sshCommand, state: link.state, error: link.error, version: link.version)
    }
}

extension Broker {
    /// A remote project's listeners were tried for the first time: its link opens too.
    mutating func openRemoteIfNeeded(_ project: String) -> [BrokerAction] {
        guard var record = projects[project], let remote = record.config.remote, record.remoteLink == nil else {
            return []
        }
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
        // A new link: the remote attachd forgot the IDEs the last one told it of.
        return actions + remoteIDEsAgain(of: project)
    }

    /// One remote session as it is on its machine now: created, updated or ended here to match.
    mutating func remoteSession(_ project: String, _ remoteInfo: SessionInfo, now: Instant) -> [BrokerAction] {
        guard let config = projects[project]?.config, let remote = config.remote,
            remoteInfo.project == remote.project, remoteInfo.origin != .remote
        else { return [] }
        let id = Self.mirrorID(project: project, remote: remote, remoteID: remoteInfo.id)
        if remoteInfo.state == .ended {
            let why = remoteInfo.endReason.map { ": \($0)" } ?? ""
            return end(id, reason: "ended on \(remote.destination)\(why)", now: now)
        }
        var actions: [BrokerAction] = []
        let previous = sessions[id]
        // Never claimed here, never timed out here: the remote attachd decides.
        var record =
            previous
            ?? SessionRecord(
                id: id, project: config, origin: .remote, now: now, readyTimeout: Self.mirrorLifetime,
                debugHost: remoteInfo.debugHost, debugPort: nil, readyClaimed: false)
        record.info.remote = remote.destination
        record.info.remoteId = remoteInfo.id
        record.info.debugHost = remoteInfo.debugHost
        record.info.debugPort = remoteInfo.debugPort
        record.info.status = remoteInfo.status
        record.remoteSaid = (remoteInfo.state, remoteInfo.problem)
        record.info.executable = remoteInfo.executable
        record.info.python = remoteInfo.python
        let wasListening = previous?.info.state.isListening ?? false
        // A relay refused here waits out its back-off first, however ready its machine says it is.
        let refused = record.refusedUntil != nil && remoteInfo.state.isListening
        let changed = record.mirror(
            refused ? .pending : remoteInfo.state,
            problem: refused ? previous?.info.problem : remoteInfo.problem, now: now)
        sessions[id] = record
        if previous == nil { actions.append(.emit(BrokerEvent(kind: .sessionStarted, session: record.info))) }
        guard let changed else { return actions }
        if record.info.state.isListening {
            actions.append(.emit(changed))
            if !wasListening {
                actions += releaseWaiters(of: project, with: record.info)
                actions += dispatchHeld(of: project)
            }
        } else if previous != nil {
            actions.append(.emit(changed))
        }
        return actions
    }

    /// The link is down: the remote sessions are unreachable (not ended: they may well live on)
    /// and no wait is released by them; held IDE connections stay held.
    mutating func remoteLost(_ project: String, reason: String, now: Instant) -> [BrokerAction] {
        guard var record = projects[project], let destination = record.config.remote?.destination else { return [] }
        var actions: [BrokerAction] = []
        let link = RemoteLinkRecord(state: .unreachable, error: reason, version: record.remoteLink?.version)
        if record.remoteLink != link {
            record.remoteLink = link
            projects[project] = record
            actions.append(.emit(BrokerEvent(kind: .projectChanged, project: projectInfo(project))))
        }
        for id in sessions.keys.sorted() {
            guard var session = sessions[id], session.info.project == project,
                let unreachable = session.becomeUnreachable(problem: "\(destination) cannot be reached: \(reason)")
            else { continue }
            sessions[id] = session
            actions.append(.emit(unreachable))
        }
        return actions
    }

    /// Mirrors whose relay was refused here and whose back-off is over: ready again as their
    /// machine still says, so that held IDE connections are tried on them again (a refusal
    /// doubles the next back-off, up to `relayRetryMaxDelay`).
    mutating func retryRefusedMirrors(now: Instant) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        let due = sessions.filter { $0.value.isMirror && ($0.value.refusedUntil ?? .infinity) <= now.monotonic }.keys
            .sorted()
        for id in due {
            sessions[id]?.refusedUntil = nil
            guard var session = sessions[id], session.isPending, let said = session.remoteSaid, said.state.isListening,
                let ready = session.mirror(said.state, problem: session.info.problem, now: now)
            else { continue }
            sessions[id] = session
            actions.append(.emit(ready))
            actions += releaseWaiters(of: session.info.project, with: session.info)
            actions += dispatchHeld(of: session.info.project)
        }
        return actions
    }

    /// How long a remote session may stay pending here: as long as its machine says so (a
    /// finite year, so that the daemon's timer stays representable).
    static let mirrorLifetime = 365.0 * 86_400
}
