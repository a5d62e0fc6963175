import AttachCore
import AttachProtocol

/// What a room may read of the daemon as a whole, and never change: the figures of
/// `GetStatus`, whether a project exists (for `Watch`), and the bytes a relay has moved so far
/// (they live where the bytes move, in `AttachRelays`; Core knows the rest of a relay).
protocol DaemonReadings: AnyObject {
    func status() -> StatusReply
    func projectExists(_ name: String) -> Bool
    /// Bytes moved so far by the relay of an IDE connection (to the host, to the IDE).
    func relayCounts(_ id: Int) -> (toHost: Int, toIDE: Int)?
}

/// The way from the rooms back into the daemon: made before the rooms, so that each gets it at
/// init (and all are constants), and opened once the daemon exists. Weak: when start() fails,
/// run() throws and the daemon is released while its queue may still run a source armed during
/// start; its input is then dropped instead of reaching a destroyed object.
final class DaemonDoor: DaemonReadings {
    weak var daemon: Daemon?

    /// Every input of every room goes through here into `Daemon.handle`.
    func deliver(_ input: BrokerInput) {
        daemon?.handle(input)
    }

    func status() -> StatusReply {
        daemon?.status()
            ?? StatusReply(
                version: "", pid: 0, uptime: 0, projects: 0, sessions: 0, pending: 0, ready: 0,
                waiters: 0, connections: 0, probe: "")
    }

    func projectExists(_ name: String) -> Bool {
        daemon?.broker.projectInfo(name) != nil
    }

    func relayCounts(_ id: Int) -> (toHost: Int, toIDE: Int)? {
        daemon?.relays.counts(ConnectionID(id))
    }
}

/// Ports of our own TCP listeners given up for a handoff and not yet closed by Dispatch: they
/// still LISTEN for a moment and must not pass for a host's debug server. Written by
/// `ProjectListeners`, read by `ReadinessProbe`.
final class ClosingPorts {
    private var counts: [UInt16: Int] = [:]

    var ports: Set<UInt16> { Set(counts.keys) }

    func add(_ port: UInt16) { counts[port, default: 0] += 1 }

    func remove(_ port: UInt16) {
        counts[port, default: 1] -= 1
        if counts[port] == 0 { counts[port] = nil }
    }
}
