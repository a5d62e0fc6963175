import AttachProtocol

/// One host instance as the broker tracks it. `info.state` is written only by the transitions
/// in `SessionRecord+Transitions.swift`, each of which checks the state it leaves and returns
/// the event to emit; the rest of `info` is what the host said.
struct SessionRecord: Sendable {
    /// What the host said, and the state; kept in a box of its own so that copying a record,
    /// which every pass over the sessions does once per session, costs one reference count, not
    /// one per string of it (with a thousand sessions those copies were half of Core's time).
    private var box: InfoBox

    var info: SessionInfo {
        _read { yield box.info }
        _modify {
            var info = box.info
            defer { box = InfoBox(info) }
            yield &info
        }
    }

    /// An immutable box: a change makes a new one (changes are rare next to reads).
    final class InfoBox: Sendable {
        let info: SessionInfo
        init(_ info: SessionInfo) { self.info = info }
    }

    /// The rendezvous connection it came from, for `lines` sessions still connected.
    var connection: ConnectionID?
    /// The host said `READY=1` (lines), or readiness needs no claim (connect, control).
    var readyClaimed: Bool
    /// Monotonic time after which a still-pending session fails.
    var readyDeadline: Double
    /// A port found in the host's process tree (no port was said), and since when it has been
    /// seen: it becomes the session's once it has held for `Broker.discoverySettle`, since a
    /// host may listen on a short-lived internal port first (debugpy's, for its adapter).
    var discovered: (port: UInt16, since: Double)?
    /// The session's port was discovered, not said: while pending again, it is looked for anew.
    var portWasDiscovered = false
    /// A mirror's state and problem as its remote attachd last told them; what it shows here
    /// differs while a relay refused here waits out its back-off (pending, with that problem).
    var remoteSaid: (state: SessionState, problem: String?)?
    /// Its debug server refused a relay: not ready again before this (monotonic) time.
    var refusedUntil: Double?
    /// The waits after refusals, kept (growing) until a relay goes through.
    var refusals = Backoff.relayRefused

    /// The one way a session comes to be: pending, started now, its host and ports from the
    /// project unless the host said others.
    init(
        id: String, project: ProjectConfig, origin: SessionOrigin, now: Instant, readyTimeout: Double,
        debugHost: String? = nil, debugPort: Int?, pid: Int? = nil, status: String? = nil,
        connection: ConnectionID? = nil, readyClaimed: Bool
    ) {
        var info = SessionInfo(
            id: id, project: project.name, state: .pending, origin: origin,
            debugHost: debugHost ?? project.debugHost, debugPort: debugPort,
            attachPort: project.attachPort, pid: pid, status: status, startedAt: now.wall)
        info.projectDebugPort = project.portTheIDEIsTold
        box = InfoBox(info)
        self.connection = connection
        self.readyClaimed = readyClaimed
        readyDeadline = now.monotonic + readyTimeout
    }

    /// The host said `NOTIFY_ATTACH=1`: it hears `ATTACHED=1` / `DETACHED=1`.
    var notifyAttach = false
    /// The control connections (other machines' attachds) that relay IDEs to it (`IDEAttached`).
    var remoteIDEs: Set<ConnectionID> = []

    /// The port is to be found in the host's tree now (none said, or a discovered one lost).
    var isDiscovering: Bool {
        info.debugPort == nil || discovered != nil || (portWasDiscovered && isPending)
    }

    var isPending: Bool { info.state == .pending }
    /// The debug port, once known.
    var port: UInt16? { info.debugPort.map { UInt16(truncatingIfNeeded: $0) } }

    /// Whether the session ends once the debug port stops listening: hosts that gave the
    /// broker nothing else to follow (no connection, no pid).
    var endsWithPort: Bool {
        switch info.origin {
        case .connect: return true
        case .control: return info.pid == nil
        case .lines, .remote: return false
        }
    }

    /// Mirrored from a remote attachd, which alone decides its state.
    var isMirror: Bool { info.origin == .remote }
}

/// A blocked `Wait`.
struct Waiter: Sendable {
    var project: String
    var deadline: Double
    var timeout: Double
    /// Asked while a session was ready: answered by the next reading of LISTEN state, which
    /// tells whether that session's debug server is still there.
    var wantsFreshLook = false
}
