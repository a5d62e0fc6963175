import AttachCore
import AttachProtocol

/// A broker with a fake clock, and shorthands for what tests feed it.
struct Harness {
    var broker = Broker(firstSessionNumber: 1) { "/run/attachd/projects/\($0).sock" }
    var clock = 1000.0
    var nextSerial: UInt64 = 0

    var now: Instant { Instant(monotonic: clock, wall: 1_700_000_000 + clock) }

    mutating func advance(_ seconds: Double) { clock += seconds }

    mutating func token(connection: ConnectionID = 900) -> RequestToken {
        defer { nextSerial += 1 }
        return RequestToken(connection: connection, serial: nextSerial)
    }

    @discardableResult
    mutating func request(_ request: BrokerRequest, token: RequestToken? = nil) -> [BrokerAction] {
        let t = token ?? self.token()
        return broker.handle(request, token: t, now: now)
    }

    @discardableResult
    mutating func add(_ name: String, debugPort: Int, rendezvousPort: Int? = nil, timeout: Double? = nil) -> [BrokerAction] {
        request(.addProject(AddProjectParameters(name: name, debugPort: debugPort, rendezvousPort: rendezvousPort,
                                                 readyTimeout: timeout)))
    }

    mutating func line(_ connection: ConnectionID, _ project: String, _ text: String) -> [BrokerAction] {
        guard let parsed = RendezvousLine.parse(text) else { return [] }
        return broker.rendezvousLine(connection, project: project, parsed, now: now)
    }

    mutating func tick(_ listening: Set<UInt16>?) -> [BrokerAction] {
        broker.tick(now: now, listening: listening)
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
        compactMap { if case .sendLine(_, let l) = $0 { return l } else { return nil } }
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
