import AttachProtocol

extension Broker {
    /// The clock moved on, and (when the I/O layer read it) this is the set of local TCP ports
    /// in LISTEN state, and perhaps the local ports of ESTABLISHED connections (`connected`,
    /// asked for when `wantsConnectedPorts`). Readies sessions whose port listens, releases
    /// their waiters, marks sessions attached while a client is connected, ends sessions whose
    /// port went away, times out waiters and pending sessions, and takes back ports given up
    /// for a handoff once they are free.
    mutating func tick(
        now: Instant, listening: Set<UInt16>?, connected: Set<UInt16>? = nil,
        hosts: [String: HostListening] = [:]
    ) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        if let listening {
            actions += updateReadiness(listening: listening, hosts: hosts, now: now)
            if let connected { actions += updateAttachment(connected: connected) }
            actions += reclaimPorts(listening: listening)
        }
        // Without a reading (the kernel refused) the last one is the best there is.
        actions += answerFreshWaiters()
        actions += retryRefusedMirrors(now: now)
        actions += expire(now: now)
        return actions
    }

    /// A look at some hosts only (see `BrokerInput.lookedAt`): the pending ones among them that
    /// listen become ready, oldest first; those that exited end.
    mutating func lookedAt(hosts: [String: HostListening], now: Instant) -> [BrokerAction] {
        var actions = endExited(hosts, now: now)
        var readying: [(startedAt: Double, id: String)] = []
        for id in hosts.keys {
            guard let session = sessions[id], session.isPending, !session.isMirror else { continue }
            if listens(id, listening: [], hosts: hosts, now: now.monotonic) {
                readying.append((session.info.startedAt, id))
            }
        }
        for (_, id) in readying.sorted(by: { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }) {
            actions += makeReady(id, now: now)
        }
        return actions
    }

    /// The sessions whose host the probe found exited end.
    private mutating func endExited(_ hosts: [String: HostListening], now: Instant) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        for id in hosts.lazy.filter({ $0.value == .exited }).map(\.key).sorted() {
            guard let pid = sessions[id]?.info.pid else { continue }
            actions += end(id, reason: "process \(pid) exited", now: now)
        }
        return actions
    }

    /// A pending session whose port listens becomes ready (unless its host has not claimed
    /// readiness or a refusal's back-off still runs), and its project's waiters and held IDE
    /// connections go to it.
    private mutating func makeReady(_ id: String, now: Instant) -> [BrokerAction] {
        guard var session = sessions[id], session.readyClaimed, session.refusedUntil == nil,
            let ready = session.becomeReady(now: now)
        else { return [] }
        sessions[id] = session
        return [.emit(ready)] + releaseWaiters(of: session.info.project, with: session.info)
            + dispatchHeld(of: session.info.project)
    }

    private mutating func updateReadiness(listening: Set<UInt16>, hosts: [String: HostListening], now: Instant)
        -> [BrokerAction]
    {
        var actions = endExited(hosts, now: now)
        // One pass finds the sessions whose readiness changes; they are then taken oldest
        // first, so that waiters see sessions become ready in the order hosts came.
        var changing: [(startedAt: Double, id: String, listens: Bool)] = []
        for id in Array(sessions.keys) where sessions[id]?.isMirror == false {
            let listens = listens(id, listening: listening, hosts: hosts, now: now.monotonic)
            // Only a pending one can become ready, only a listening one can stop; the rest of
            // each condition is the second pass's.
            guard let session = sessions[id], listens ? session.isPending : session.info.state.isListening
            else { continue }
            changing.append((session.info.startedAt, id, listens))
        }
        changing.sort { $0.startedAt < $1.startedAt }
        for (_, id, listens) in changing {
            guard var session = sessions[id] else { continue }
            if listens {
                actions += makeReady(id, now: now)
            } else if session.info.state.isListening {
                if session.endsWithPort {
                    actions += end(
                        id, reason: "debug port \(Self.port(session.info.debugPort)) stopped listening", now: now)
                } else {
                    // The host lives on but its debug server is gone: no waiter may be sent to
                    // it, and it is ready again when the port listens again.
                    let pending = session.fallBack(
                        now: now, readyTimeout: projects[session.info.project]?.config.readyTimeout ?? 0)
                    sessions[id] = session
                    if let pending { actions.append(.emit(pending)) }
                }
            }
        }
        return actions
    }

    /// A ready session with a client on its debug port is attached; ready again once the
    /// client has gone.
    private mutating func updateAttachment(connected: Set<UInt16>) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        for id in sessions.keys.sorted() {
            guard var session = sessions[id], !session.isMirror, let port = session.port,
                let event = session.attached(connected.contains(port))
            else { continue }
            sessions[id] = session
            actions.append(.emit(event))
        }
        return actions
    }

    /// A session of `project` became ready: every `Wait` on the project is answered with it.
    mutating func releaseWaiters(of project: String, with session: SessionInfo) -> [BrokerAction] {
        let tokens = waiters.filter { $0.value.project == project }.keys
            .sorted { ($0.connection, $0.serial) < ($1.connection, $1.serial) }
        for token in tokens { waiters[token] = nil }
        return tokens.map { .respond($0, .success(.session(session))) }
    }

    /// Waits that came while a session was ready, now that LISTEN state was read again: the
    /// ready session still there answers them; otherwise they wait like any other.
    private mutating func answerFreshWaiters() -> [BrokerAction] {
        var actions: [BrokerAction] = []
        let tokens = waiters.filter(\.value.wantsFreshLook).keys
            .sorted { ($0.connection, $0.serial) < ($1.connection, $1.serial) }
        for token in tokens {
            guard let project = waiters[token]?.project else { continue }
            if let ready = readySession(of: project) {
                waiters[token] = nil
                actions.append(.respond(token, .success(.session(ready))))
            } else {
                waiters[token]?.wantsFreshLook = false
            }
        }
        return actions
    }

    private mutating func reclaimPorts(listening: Set<UInt16>) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        for name in projects.keys.sorted() {
            guard let record = projects[name], record.handoff.awaitsReclaim, let port = record.config.rendezvousPort,
                !listening.contains(UInt16(port))
            else { continue }
            projects[name]?.handoff = .holding
            actions.append(.reclaimTCPPort(project: name))
        }
        return actions
    }

    private mutating func expire(now: Instant) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        let expiredWaiters = waiters.filter { $0.value.deadline <= now.monotonic }
            .sorted { ($0.key.connection, $0.key.serial) < ($1.key.connection, $1.key.serial) }
        for (token, waiter) in expiredWaiters {
            waiters[token] = nil
            actions.append(.respond(token, .failure(.timeout(project: waiter.project, seconds: waiter.timeout))))
        }
        actions += expireHeld(now: now)
        let expiredSessions = sessions.values.filter { $0.isPending && $0.readyDeadline <= now.monotonic }
            .sorted { $0.info.startedAt < $1.info.startedAt }
        for session in expiredSessions {
            let timeout = projects[session.info.project]?.config.readyTimeout ?? 0
            let reason =
                session.readyClaimed
                ? "debug port \(Self.port(session.info.debugPort)) did not listen within \(Self.seconds(timeout))"
                : "host did not send READY=1 within \(Self.seconds(timeout))"
            actions += end(session.info.id, reason: reason, now: now)
        }
        return actions
    }

    /// A debug port for people: the number, or what it is while unknown.
    static func port(_ port: Int?) -> String {
        port.map(String.init) ?? "(not known yet)"
    }

    static func seconds(_ value: Double) -> String {
        value.rounded() == value ? "\(Int(value)) s" : "\(value) s"
    }
}
