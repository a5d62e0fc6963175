import AttachCore
import AttachProtocol

/// A broker with a fake clock, and shorthands for what tests feed it.
struct Harness {
    var broker = Broker(firstSessionNumber: 1) { "/run/attachd/projects/\($0).sock" }
    var clock = 1000.0
    var nextSerial: UInt64 = 0
    /// What the kernel says is listening, as of the last `tick`: what the daemon reads when an
    /// action asks for a probe now.
    var listening: Set<UInt16>?

    var now: Instant { Instant(monotonic: clock, wall: 1_700_000_000 + clock) }

    mutating func advance(_ seconds: Double) { clock += seconds }

    mutating func token(connection: ConnectionID = 900) -> RequestToken {
        defer { nextSerial += 1 }
        return RequestToken(connection: connection, serial: nextSerial)
    }

    @discardableResult
    mutating func request(_ request: BrokerRequest, token: RequestToken? = nil) -> [BrokerAction] {
        let t = token ?? self.token()
        let actions = door(.call(request, token: t))
        // As the daemon does: a probe asked for is made at once, in the same batch.
        guard actions.contains(.probeNow) else { return actions }
        return actions + send(.probed(listening: listening, connected: nil))
    }

    /// Feeds any input through the broker's one door, at the harness's clock.
    @discardableResult
    mutating func send(_ input: BrokerInput) -> [BrokerAction] {
        door(input)
    }

    /// The door at the harness's clock, without `.reschedule`: tests about anything else compare
    /// the rest (`RescheduleTests` look at it through `raw`).
    private mutating func door(_ input: BrokerInput) -> [BrokerAction] {
        broker.handle(input, now: now).filter { if case .reschedule = $0 { return false } else { return true } }
    }

    @discardableResult
    mutating func add(_ name: String, debugPort: Int, rendezvousPort: Int? = nil, timeout: Double? = nil)
        -> [BrokerAction]
    {
        // As the daemon does: the listeners are tried at once, and then the call is answered.
        let added = request(
            .addProject(
                AddProjectParameters(
                    name: name, debugPort: debugPort, rendezvousPort: rendezvousPort,
                    readyTimeout: timeout)))
        guard added == [.openListeners(project: name)] else { return added }
        return added + send(.listenersOpened(project: name, error: nil))
    }

    mutating func line(_ connection: ConnectionID, _ project: String, _ text: String) -> [BrokerAction] {
        guard let parsed = RendezvousLine.parse(text) else { return [] }
        return send(.hostLine(connection, project: project, parsed))
    }

    /// Loads saved projects through the door, as the daemon does at start: the actions, and the
    /// names it skipped.
    mutating func load(_ configs: [ProjectConfig]) -> (actions: [BrokerAction], skipped: [String]) {
        let all = send(.loadProjects(configs))
        let skipped = all.compactMap { if case .savedProjectSkipped(let name) = $0 { return name } else { return nil } }
        return (all.filter { if case .savedProjectSkipped = $0 { return false } else { return true } }, skipped)
    }

    mutating func tick(_ listening: Set<UInt16>?) -> [BrokerAction] {
        if let listening { self.listening = listening }
        return send(.probed(listening: listening, connected: nil))
    }
}

extension Array where Element == BrokerAction {
    /// The responses among the actions, by token.
    var responses: [RequestToken: Result<BrokerResponse, VarlinkError>] {
        var out: [RequestToken: Result<BrokerResponse, VarlinkError>] = [:]
        for case .respond(let token, let result) in self { out[token] = result }
        return out
    }

    /// The kinds of the events emitted, in order.
    var eventKinds: [BrokerEvent.Kind] {
        compactMap { if case .emit(let e) = $0 { return e.kind } else { return nil } }
    }

    var lines: [String] {
        compactMap { if case .sendLine(_, let l) = $0 { return l.description } else { return nil } }
    }

    /// Actions other than responses and events: what the I/O layer must do.
    var effects: [BrokerAction] {
        filter {
            switch $0 {
            case .respond, .emit: return false
            default: return true
            }
        }
    }
}

extension Result where Success == BrokerResponse, Failure == VarlinkError {
    var session: SessionInfo? {
        if case .success(.session(let s)) = self { return s }
        return nil
    }
    var errorName: String? {
        if case .failure(let e) = self { return e.name }
        return nil
    }
}
