import AttachProtocol

extension Broker {
    /// A control call. Every call is answered by a `respond` action, at once or (for `wait`)
    /// when a session becomes ready, the wait times out, or the project goes away.
    mutating func handle(_ request: BrokerRequest, token: RequestToken, now: Instant) -> [BrokerAction] {
        do {
            return try dispatch(request, token: token, now: now)
        } catch {
            return [.respond(token, .failure(error))]
        }
    }

    private mutating func dispatch(_ request: BrokerRequest, token: RequestToken, now: Instant) throws(VarlinkError)
        -> [BrokerAction]
    {
        switch request {
        case .addProject(let params):
            let config = try ProjectConfig.validated(params)
            guard projects[config.name] == nil else { throw .projectExists(config.name) }
            if let other = conflict(for: config) {
                throw .portInUse(other.port, project: other.project, role: other.role, option: other.option)
            }
            // Answered once the listeners were tried (`listenersOpened`), so the reply and the
            // event carry their error.
            projects[config.name] = ProjectRecord(config: config, addedBy: token)
            return [.openListeners(project: config.name)]

        case .removeProject(let name):
            try requireProject(name)
            return removeProject(name, now: now) + [.respond(token, .success(.empty))]

        case .getProject(let name):
            try requireProject(name)
            return [.respond(token, .success(.project(projectInfo(name)!)))]

        case .listProjects:
            return [.respond(token, .success(.projects(projectNames.compactMap(projectInfo))))]

        case .listSessions(let project):
            if let project { try requireProject(project) }
            return [.respond(token, .success(.sessions(sessionInfos(project: project))))]

        case .endSession(let id):
            guard sessions[id] != nil else {
                if let done = session(id) { return [.respond(token, .success(.session(done)))] }
                throw .sessionNotFound(id)
            }
            var actions = end(id, reason: "ended by EndSession", now: now)
            actions.append(.respond(token, .success(.session(session(id)!))))
            return actions

        case .announce(let params):
            return try announce(params, token: token, now: now)

        case .wait(let params):
            return try wait(params, token: token, now: now)

        case .selectSession(let params):
            return try select(params, token: token)

        case .ideAttached(let params):
            return try remoteIDE(params, token: token)

        case .setFollow(let params):
            return try setFollow(params, token: token)
        }
    }

    func requireProject(_ name: String) throws(VarlinkError) {
        guard projects[name] != nil else {
            if let reason = ProjectName.problem(with: name) { throw .invalidProjectName(name, reason: reason) }
            throw .projectNotFound(name)
        }
    }

    private mutating func announce(_ p: AnnounceParameters, token: RequestToken, now: Instant) throws(VarlinkError)
        -> [BrokerAction]
    {
        try requireProject(p.project)
        let config = projects[p.project]!.config
        let port = p.debugPort ?? config.debugPort
        if let port, !(1...65535).contains(port) { throw .invalidPort(port) }
        if let pid = p.pid, pid <= 0 || pid > Int(Int32.max) { throw .invalidParameter("pid") }
        // Without a port, the host's own process tree tells it: that needs its pid.
        if port == nil && p.pid == nil { throw .invalidParameter("debugPort") }
        if let again = announcedAgain(p, port: port) {
            // The same host (its keeper reconnected): the same session, readiness as it stands.
            if let status = p.status { sessions[again]?.info.status = status }
            return [.respond(token, .success(.session(withRelays(sessions[again]!.info))))]
        }
        let id = p.session.flatMap { keptSessionID($0, project: p.project) } ?? makeSessionID(project: p.project)
        let record = SessionRecord(
            id: id, project: config, origin: .control, now: now, readyTimeout: config.readyTimeout,
            debugPort: port, pid: p.pid, status: p.status, readyClaimed: true)
        sessions[id] = record
        var actions: [BrokerAction] = [.emit(BrokerEvent(kind: .sessionStarted, session: record.info))]
        actions += handOffIfNeeded(project: p.project, session: id, port: port)
        if let pid = p.pid { actions.append(.watchProcess(session: id, pid: Int32(pid))) }
        actions.append(.probeNow)
        actions.append(.respond(token, .success(.session(record.info))))
        return actions
    }

    /// The live session an announcement is about when it is the same host again: the one it
    /// names (`session`: its keeper announcing again, while the helper inside has made it its
    /// own, MAINPID and all), or one with the same project, live pid (it is watched) and port.
    private func announcedAgain(_ p: AnnounceParameters, port: Int?) -> String? {
        if let id = p.session, let named = sessions[id], named.info.project == p.project, !named.isMirror {
            return id
        }
        guard let pid = p.pid else { return nil }
        return sessions.values.first {
            !$0.isMirror && $0.info.project == p.project && $0.info.pid == pid && $0.info.debugPort == port
        }?.info.id
    }

    /// `requested` when it can be a session id of `project` again: one of its ids
    /// (`PROJECT-N`) that no live session has.
    private func keptSessionID(_ requested: String, project: String) -> String? {
        let prefix = project + "-"
        guard requested.hasPrefix(prefix), sessions[requested] == nil else { return nil }
        let number = requested.dropFirst(prefix.count)
        guard !number.isEmpty, number.count <= 20, number.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return requested
    }

    private mutating func wait(_ p: WaitParameters, token: RequestToken, now: Instant) throws(VarlinkError)
        -> [BrokerAction]
    {
        try requireProject(p.project)
        let config = projects[p.project]!.config
        let timeout = p.timeout ?? config.readyTimeout
        if readySession(of: p.project) != nil {
            // Never hand out a session whose debug server went away since the last look: the
            // answer waits for a fresh reading of LISTEN state (see `answerFreshWaiters`).
            let valid = timeout.isFinite && timeout >= 0
            waiters[token] = Waiter(
                project: p.project, deadline: now.monotonic + (valid ? timeout : 0),
                timeout: valid ? timeout : 0, wantsFreshLook: true)
            return [.probeNow]
        }
        guard timeout.isFinite, timeout >= 0 else { throw .invalidParameter("timeout") }
        if timeout == 0 { throw .timeout(project: p.project, seconds: 0) }
        waiters[token] = Waiter(project: p.project, deadline: now.monotonic + timeout, timeout: timeout)
        return []
    }

    /// The most recently readied live session of a project.
    func readySession(of project: String) -> SessionInfo? {
        sessions.values.filter { $0.info.project == project && $0.info.state.isListening }
            .max { ($0.info.readyAt ?? 0) < ($1.info.readyAt ?? 0) }?.info
    }

    /// A control connection closed: forget every waiter it had, and the IDEs it relayed.
    mutating func controlConnectionClosed(_ connection: ConnectionID) -> [BrokerAction] {
        waiters = waiters.filter { $0.key.connection != connection }
        return remoteIDEsGone(with: connection)
    }

    mutating func removeProject(_ name: String, now: Instant) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        for id in sessions.keys.sorted() where sessions[id]?.info.project == name {
            actions += end(id, reason: "project removed", now: now, tellIDE: false)
        }
        for (token, waiter) in waiters.sorted(by: { $0.key.serial < $1.key.serial }) where waiter.project == name {
            waiters[token] = nil
            actions.append(.respond(token, .failure(.projectRemoved(name))))
        }
        actions += closeAttaches(where: { $0.info.project == name }, reason: "project \(name) removed")
        let info = projectInfo(name)
        projects[name] = nil
        actions += [
            .closeListeners(project: name), .persistProjects,
            .emit(BrokerEvent(kind: .projectRemoved, project: info)),
        ]
        return actions
    }

    /// The I/O layer tried to open a project's listeners: nil when all are up.
    mutating func listenersOpened(project: String, error: String?) -> [BrokerAction] {
        guard var record = projects[project] else { return [] }
        let changed = record.listenerError != error
        record.listenerError = error
        // The handoff is not touched: a retry of another listener says nothing of the TCP port
        // given up (only `reclaimPorts` takes it back, and sets `.holding` itself).
        let addedBy = record.addedBy
        record.addedBy = nil
        projects[project] = record
        if let token = addedBy, let info = projectInfo(project) {
            return [
                .persistProjects, .emit(BrokerEvent(kind: .projectAdded, project: info)),
                .respond(token, .success(.project(info))),
            ]
        }
        return changed ? [.emit(BrokerEvent(kind: .projectChanged, project: projectInfo(project)))] : []
    }
}

extension Broker {
    /// The waiters a control connection has, oldest first.
    public func waitingTokens(connection: ConnectionID) -> [RequestToken] {
        waiters.keys.filter { $0.connection == connection }.sorted { $0.serial < $1.serial }
    }
}
