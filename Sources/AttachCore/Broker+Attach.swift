import AttachProtocol

extension Broker {
    /// An IDE connected to a project's attach port: relayed at once to a ready session, or held
    /// (not read) until one is ready or the project's ready timeout passes.
    mutating func ideConnected(_ connection: ConnectionID, project: String, peer: String, now: Instant)
        -> [BrokerAction]
    {
        guard let config = projects[project]?.config else {
            return [.closeAttach(connection, reason: "project \(project) was removed")]
        }
        let info = RelayInfo(id: Int(connection), project: project, session: nil, peer: peer, startedAt: now.wall)
        attaches[connection] = AttachRecord(info: info, phase: .held(deadline: now.monotonic + config.readyTimeout))
        return dispatchHeld(of: project)
    }

    /// A relay from before a restart runs again: tracked like any other IDE connection (and
    /// closed with its project), with no session.
    mutating func relayAdopted(_ connection: ConnectionID, project: String, peer: String, now: Instant)
        -> [BrokerAction]
    {
        let info = RelayInfo(id: Int(connection), project: project, session: nil, peer: peer, startedAt: now.wall)
        attaches[connection] = AttachRecord(info: info, phase: .adopted)
        return []
    }

    /// The relay's connection to the session's debug server is up: bytes move.
    mutating func relayUp(_ connection: ConnectionID) -> [BrokerAction] {
        guard var record = attaches[connection], case .connecting(let session) = record.phase else { return [] }
        sessions[session]?.relayed()
        record.phase = .relaying(session: session)
        record.info.session = session
        attaches[connection] = record
        // A mirror's refusal is over: it shows the problem its machine says again (none, mostly).
        if let said = sessions[session]?.remoteSaid { sessions[session]?.info.problem = said.problem }
        return [.emit(BrokerEvent(kind: .relayStarted, relay: record.info))] + ideNotice(session, attached: true)
    }

    /// The session's debug server refused the relay (or did not answer): it is not ready after
    /// all. The session goes back to pending and the IDE connection is held again; the session
    /// is tried again after a back-off (a local one once its port listens, a remote one as its
    /// machine still says it is ready: `retryRefusedMirrors`).
    mutating func relayFailed(_ connection: ConnectionID, reason: String, now: Instant) -> [BrokerAction] {
        guard var record = attaches[connection], case .connecting(let id) = record.phase,
            let config = projects[record.info.project]?.config
        else { return [] }
        record.phase = .held(deadline: now.monotonic + config.readyTimeout)
        attaches[connection] = record
        var actions: [BrokerAction] = []
        sessions[id]?.refused(now: now)
        if var session = sessions[id] {
            let pending: BrokerEvent?
            if let remote = config.remote, session.isMirror {
                // Its machine alone decides when it ends: no ready timeout here.
                pending = session.fallBack(
                    now: now, readyTimeout: nil,
                    problem: "the debug server on \(remote.destination) refused the relay: \(reason)")
            } else {
                pending = session.fallBack(
                    now: now, readyTimeout: config.readyTimeout,
                    problem: "the debug server refused the relay: \(reason)")
            }
            sessions[id] = session
            if let pending { actions.append(.emit(pending)) }
        }
        return actions + dispatchHeld(of: record.info.project)
    }

    /// A relay (or a held connection) ended: the IDE or the debug server closed, or the daemon
    /// closed it as asked.
    mutating func relayEnded(_ connection: ConnectionID, reason: String, bytesToHost: Int, bytesToIDE: Int)
        -> [BrokerAction]
    {
        guard var record = attaches.removeValue(forKey: connection) else { return [] }
        record.info.bytesToHost = bytesToHost
        record.info.bytesToIDE = bytesToIDE
        record.info.endReason = reason
        var actions: [BrokerAction] = [.emit(BrokerEvent(kind: .relayEnded, relay: record.info))]
        if let session = record.info.session { actions += ideNotice(session, attached: false) }
        return actions
    }

    /// Sends held IDE connections of a project to its chosen session, oldest first.
    mutating func dispatchHeld(of project: String) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        let held = attaches.filter { $0.value.info.project == project && $0.value.isHeld }
            .sorted { $0.value.info.id < $1.value.info.id }
        for (connection, _) in held {
            guard let session = chosenSession(of: project), let port = session.info.debugPort else { break }
            attaches[connection]?.phase = .connecting(session: session.info.id)
            if session.isMirror {
                actions.append(
                    .connectRemoteRelay(
                        connection, session: session.info.id, project: project,
                        host: session.info.debugHost, port: port))
            } else {
                actions.append(
                    .connectRelay(connection, session: session.info.id, host: session.info.debugHost, port: port))
            }
        }
        return actions
    }

    /// Where a new IDE connection goes: the pinned session while it is ready; else the newest
    /// ready session no IDE is connected to yet; else the newest ready session.
    func chosenSession(of project: String) -> SessionRecord? {
        // A session whose debug server just refused a relay waits out its back-off first.
        let ready = sessions.values.filter {
            $0.info.project == project && $0.info.state.isListening && $0.port != nil && $0.refusedUntil == nil
        }
        if let pinned = projects[project]?.selected { return ready.first { $0.info.id == pinned } }
        let busy = Set(attaches.values.compactMap(\.phase.session))
        let newestFirst = ready.sorted { ($0.info.readyAt ?? 0, $0.info.id) > ($1.info.readyAt ?? 0, $1.info.id) }
        return newestFirst.first { !busy.contains($0.info.id) } ?? newestFirst.first
    }

    /// Closes every IDE connection that reaches `session` (it ended).
    mutating func closeRelays(of session: String, reason: String) -> [BrokerAction] {
        closeAttaches(where: { $0.phase.session == session }, reason: reason)
    }

    /// Closes the attaches that match, once each.
    mutating func closeAttaches(where matches: (AttachRecord) -> Bool, reason: String) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        for connection in attaches.keys.sorted() {
            guard let record = attaches[connection], record.phase != .closing, matches(record) else { continue }
            attaches[connection]?.phase = .closing
            actions.append(.closeAttach(connection, reason: reason))
        }
        return actions
    }

    /// Held IDE connections whose project's ready timeout passed.
    mutating func expireHeld(now: Instant) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        // A refusing session's wait is over: it may become ready again on the next look.
        for (id, session) in sessions where (session.refusedUntil ?? .infinity) <= now.monotonic {
            sessions[id]?.refusedUntil = nil
        }
        for connection in attaches.keys.sorted() {
            guard let record = attaches[connection], case .held(let deadline) = record.phase, deadline <= now.monotonic
            else { continue }
            let timeout = projects[record.info.project]?.config.readyTimeout ?? 0
            attaches[connection]?.phase = .closing
            actions.append(
                .closeAttach(
                    connection,
                    reason: "no session of \(record.info.project) became ready within \(Self.seconds(timeout))"))
        }
        return actions
    }

    /// `SelectSession`: pins (or, with no session, unpins) a project's new IDE connections.
    mutating func select(_ p: SelectSessionParameters, token: RequestToken) throws(VarlinkError) -> [BrokerAction] {
        try requireProject(p.project)
        if let id = p.session {
            guard let session = sessions[id], session.info.project == p.project else { throw .sessionNotFound(id) }
        }
        projects[p.project]?.selected = p.session
        let info = projectInfo(p.project)!
        return [.emit(BrokerEvent(kind: .projectChanged, project: info)), .respond(token, .success(.project(info)))]
            + dispatchHeld(of: p.project)
    }

    /// The relays of a session, as `ListSessions` shows them.
    func relayInfos(of session: String) -> [RelayInfo] {
        attaches.values.filter { $0.phase.session == session }.map(\.info).sorted { $0.id < $1.id }
    }

    /// The earliest deadline of a held IDE connection.
    var nextHeldDeadline: Double? {
        attaches.values.compactMap { if case .held(let d) = $0.phase { return d } else { return nil } }.min()
    }
}

extension AttachRecord {
    var isHeld: Bool {
        if case .held = phase { return true }
        return false
    }
}
