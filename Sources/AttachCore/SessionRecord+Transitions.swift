import AttachProtocol

/// The session lifecycle, as transitions: each checks the state it leaves, changes the record,
/// and returns the event watchers must hear (nil when the transition does not apply, so that
/// nothing is emitted twice).
///
///     pending ──becomeReady──▶ ready ◀──attached(false)── attached
///        ▲                       │  └──────attached(true)──────▲
///        └──fallBack (port gone, relay refused)──┘
///     any live state ──becomeUnreachable──▶ unreachable (a mirror whose link is down)
///     any live state ──ended──▶ ended (the record leaves `Broker.sessions`)
extension SessionRecord {
    /// pending → ready: its debug server listens.
    mutating func becomeReady(now: Instant) -> BrokerEvent? {
        guard isPending else { return nil }
        info.state = .ready
        info.readyAt = now.wall
        return BrokerEvent(kind: .sessionReady, session: info)
    }

    /// ready or attached → pending: the debug server went away or refused a relay. A new ready
    /// deadline when `readyTimeout` is given (a mirror has none here); `problem` says why.
    mutating func fallBack(now: Instant, readyTimeout: Double?, problem: String?? = .none) -> BrokerEvent? {
        guard info.state.isListening else { return nil }
        info.state = .pending
        info.readyAt = nil
        if let readyTimeout { readyDeadline = now.monotonic + readyTimeout }
        if case .some(let problem) = problem { info.problem = problem }
        return BrokerEvent(kind: .sessionPending, session: info)
    }

    /// ready ⇄ attached: whether a client is connected to its debug port.
    mutating func attached(_ isAttached: Bool) -> BrokerEvent? {
        guard info.state.isListening else { return nil }
        let state: SessionState = isAttached ? .attached : .ready
        guard state != info.state else { return nil }
        info.state = state
        return BrokerEvent(kind: isAttached ? .sessionAttached : .sessionReady, session: info)
    }

    /// A mirror's state as its machine says (or pending while a refusal here waits out its
    /// back-off). Returns the event of the change, nil when the state stayed.
    mutating func mirror(_ state: SessionState, problem: String?, now: Instant) -> BrokerEvent? {
        let old = info.state
        info.state = state
        info.problem = problem
        if state.isListening, !old.isListening { info.readyAt = now.wall }
        if !state.isListening { info.readyAt = nil }
        guard old != state else { return nil }
        switch state {
        case .ready: return BrokerEvent(kind: .sessionReady, session: info)
        case .attached: return BrokerEvent(kind: .sessionAttached, session: info)
        case .pending, .unreachable: return BrokerEvent(kind: .sessionPending, session: info)
        case .ended: return nil
        }
    }

    /// A mirror whose link is down: unreachable (not ended; it may well live on there).
    mutating func becomeUnreachable(problem: String) -> BrokerEvent? {
        guard isMirror, info.state != .unreachable else { return nil }
        info.state = .unreachable
        info.readyAt = nil
        info.problem = problem
        return BrokerEvent(kind: .sessionPending, session: info)
    }

    /// Its debug server refused a relay: not ready again for a while, twice as long as after the
    /// refusal before (`Backoff.relayRefused`), until a relay goes through (`relayed`).
    mutating func refused(now: Instant) {
        refusedUntil = now.monotonic + refusals.next()
    }

    /// A relay reached its debug server: refusals are forgotten.
    mutating func relayed() {
        refusedUntil = nil
        refusals.reset()
    }

    /// live → ended: the info as `ListSessions` keeps showing it.
    func ended(reason: String, now: Instant) -> SessionInfo {
        var info = info
        info.state = .ended
        info.endedAt = now.wall
        info.endReason = reason
        return info
    }
}
