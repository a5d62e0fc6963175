import AttachProtocol

extension Broker {
    /// A host connected to a project's rendezvous listener.
    mutating func rendezvousAccepted(_ connection: ConnectionID, project: String, viaTCP: Bool) -> [BrokerAction] {
        guard var record = projects[project] else { return [.closeConnection(connection)] }
        guard viaTCP, record.config.isHandoff, !record.handoff.isReleased else { return [] }
        // The debug server is about to bind this very port: give it up now, not after the host closes.
        record.handoff.release(for: connection)
        projects[project] = record
        return [.releaseTCPPort(project: project)]
    }

    /// A complete line arrived on a rendezvous connection (already parsed).
    mutating func rendezvousLine(
        _ connection: ConnectionID, project: String,
        _ line: Result<RendezvousAssignment, RendezvousLineError>,
        now: Instant
    ) -> [BrokerAction] {
        guard let config = projects[project]?.config else {
            return [.sendLine(connection, .projectRemoved(project)), .closeConnection(connection)]
        }
        let assignment: RendezvousAssignment
        switch line {
        case .failure(let error): return [.sendLine(connection, .invalidLine(error))]
        case .success(let a): assignment = a
        }
        var actions: [BrokerAction] = []
        let id: String
        if let existing = sessionByConnection[connection] {
            id = existing
        } else if case .session(let joined) = assignment {
            // A host started by `attachctl run`: its lines are about the session that exists.
            guard let session = sessions[joined], session.info.project == project, session.connection == nil else {
                return [.sendLine(connection, .sessionGone(joined))]
            }
            sessions[joined]?.connection = connection
            sessionByConnection[connection] = joined
            return [.sendLine(connection, .ok(session: joined))]
        } else {
            id = makeSessionID(project: project)
            let record = SessionRecord(
                id: id, project: config, origin: .lines, now: now, readyTimeout: config.readyTimeout,
                debugPort: config.debugPort, connection: connection, readyClaimed: false)
            sessions[id] = record
            sessionByConnection[connection] = id
            projects[project]?.handoff.sessionStarted(id, on: connection)
            actions.append(.emit(BrokerEvent(kind: .sessionStarted, session: record.info)))
            actions += handOffIfNeeded(project: project, session: id, port: config.debugPort)
        }
        guard var session = sessions[id] else { return [.sendLine(connection, .sessionGone(id))] }
        switch assignment {
        case .session:
            return actions + [.sendLine(connection, .sessionJoinTooLate(session: id))]
        case .debugPort(let port):
            guard session.isPending || session.info.debugPort == port else {
                return actions + [.sendLine(connection, .debugPortFixed(session: id))]
            }
            session.info.debugPort = port
            sessions[id] = session
            actions += handOffIfNeeded(project: project, session: id, port: port)
        case .mainPID(let pid):
            if let old = session.info.pid, old != Int(pid) { actions.append(.unwatchProcess(session: id)) }
            session.info.pid = Int(pid)
            actions.append(.watchProcess(session: id, pid: pid))
        case .status(let text):
            session.info.status = text
        case .executable(let text):
            session.info.executable = text
        case .python(let text):
            session.info.python = text
        case .notifyAttach:
            session.notifyAttach = true
        case .ready:
            session.readyClaimed = true
            if session.isPending { actions.append(.probeNow) }
        case .stopping:
            sessions[id] = session
            return actions + [.sendLine(connection, .ok(session: id))]
                + end(id, reason: "host sent STOPPING=1", now: now)
        }
        sessions[id] = session
        actions.append(.sendLine(connection, .ok(session: id)))
        if case .notifyAttach = assignment, relayedIDEs(to: id) > 0 {
            // Asked while an IDE is already relayed to it: the host hears so at once, after the OK.
            actions.append(.sendLine(connection, .ideAttached))
        }
        return actions
    }

    /// A rendezvous connection reached end-of-file, failed, or was dropped for bad input.
    /// `receivedBytes` tells a bare connect (the article's bootstrap: nothing said) from a
    /// host that spoke.
    mutating func rendezvousClosed(
        _ connection: ConnectionID, project: String, receivedBytes: Bool,
        now: Instant
    ) -> [BrokerAction] {
        let talked = receivedBytes
        var actions: [BrokerAction] = []
        if let id = sessionByConnection.removeValue(forKey: connection) {
            sessions[id]?.connection = nil
            if sessions[id] != nil {
                actions += end(id, reason: "host closed the rendezvous connection", now: now)
            }
        } else if !talked, let config = projects[project]?.config {
            // A bare connect: the article's bootstrap. Its debug server listens on the project's port next.
            let id = makeSessionID(project: project)
            let record = SessionRecord(
                id: id, project: config, origin: .connect, now: now, readyTimeout: config.readyTimeout,
                debugPort: config.debugPort, readyClaimed: true)
            sessions[id] = record
            projects[project]?.handoff.sessionStarted(id, on: connection)
            actions.append(.emit(BrokerEvent(kind: .sessionStarted, session: record.info)))
            actions += handOffIfNeeded(project: project, session: id, port: config.debugPort)
            actions.append(.probeNow)
        }
        if projects[project]?.handoff.connectionClosed(connection) == true {
            actions.append(.probeNow)
        }
        return actions
    }

    /// A session whose debug port is the project's own TCP rendezvous port: the daemon must
    /// give the port up, whichever way the host announced itself, or the debug server could
    /// not bind it.
    mutating func handOffIfNeeded(project: String, session id: String, port: Int?) -> [BrokerAction] {
        guard let port, var record = projects[project], record.config.rendezvousPort == port else { return [] }
        let release = record.handoff.hold(for: id)
        projects[project] = record
        return release ? [.releaseTCPPort(project: project)] : []
    }

    /// A watched process exited.
    mutating func processExited(session id: String, now: Instant) -> [BrokerAction] {
        guard let session = sessions[id] else { return [] }
        return end(id, reason: "process \(session.info.pid.map(String.init) ?? "?") exited", now: now)
    }

    /// Ends a live session: tells watchers, closes what belonged to it.
    /// `tellIDE`: a following relay's IDE is told to restart (not when the project goes).
    mutating func end(_ id: String, reason: String, now: Instant, tellIDE: Bool = true) -> [BrokerAction] {
        guard let session = sessions.removeValue(forKey: id) else { return [] }
        let info = session.ended(reason: reason, now: now)
        ended.append(info)
        if ended.count > Self.endedSessionsKept { ended.removeFirst(ended.count - Self.endedSessionsKept) }
        var actions: [BrokerAction] = [.emit(BrokerEvent(kind: .sessionEnded, session: info))]
        if tellIDE { actions += hostEnded(id, project: info.project) }
        actions += closeRelays(of: id, reason: "session \(id) ended: \(reason)")
        if projects[session.info.project]?.selected == id {
            projects[session.info.project]?.selected = nil
            actions.append(.emit(BrokerEvent(kind: .projectChanged, project: projectInfo(session.info.project))))
        }
        if session.info.pid != nil { actions.append(.unwatchProcess(session: id)) }
        if let connection = session.connection {
            sessionByConnection[connection] = nil
            _ = projects[session.info.project]?.handoff.connectionClosed(connection)
            actions.append(.sendLine(connection, .sessionEnded(session: id, reason: reason)))
            actions.append(.closeConnection(connection))
        }
        if projects[session.info.project]?.handoff.sessionEnded(id) == true {
            actions.append(.probeNow)
        }
        return actions
    }
}
