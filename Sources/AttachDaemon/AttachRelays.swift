import AttachCore
import AttachProtocol
import AttachSystem
import AttachSystemd
import Dispatch
import Logging

/// The IDE connections on every project's attach port (`ProjectListeners` accepts them) —
/// held (accepted, not read) until Core names a session, then relayed byte for byte to that
/// session's debug server (`Relay`, splice(2), on the relay loop's thread). Only the daemon's own
/// user may connect.
final class AttachRelays {
    /// One IDE connection, in the room's hands.
    enum IDEConnection {
        /// Accepted and not read; `unanswered`: bytes of it read for a relay its remote debug
        /// server refused, sent first by the next one (`RelayTrial`).
        case held(FileDescriptor, unanswered: [UInt8] = [])
        case connecting(FileDescriptor, RelayConnector)
        /// Through an ssh channel, until the remote debug server is known to be there.
        case trying(RelayTrial)
        case relaying(RelayHandle)
    }

    let queue: DispatchQueue
    let logger: Logger
    let options: DaemonOptions
    let fdStore: FDStore
    /// Where relays move their bytes, off the daemon's queue.
    let loop: RelayLoop
    private let ids: ConnectionIDs
    private let peerOwner: (FileDescriptor) -> PeerOwner
    let deliver: (BrokerInput) -> Void
    var connections = IDEConnectionTable()
    /// Projects whose new relays follow their hosts (`AttachRelays+Follow`).
    var following: Set<String> = []
    /// Seconds to wait for a debug server's accept before the relay counts as refused.
    static let connectTimeout = 5.0
    /// How often held connections are looked at for an IDE that left (only while there are any).
    static let heldSweepInterval = 1.0
    private lazy var sweepTimer = QueueTimer(queue: queue, leeway: .milliseconds(100)) { [weak self] in
        self?.sweepHeld()
    }

    init(
        queue: DispatchQueue, logger: Logger, options: DaemonOptions, fdStore: FDStore,
        ids: ConnectionIDs, loop: RelayLoop, peerOwner: @escaping (FileDescriptor) -> PeerOwner,
        deliver: @escaping (BrokerInput) -> Void
    ) {
        self.loop = loop
        self.queue = queue
        self.logger = logger
        self.options = options
        self.fdStore = fdStore
        self.ids = ids
        self.peerOwner = peerOwner
        self.deliver = deliver
    }

    /// IDE connections in the room (relays adopted after a restart among them).
    var count: Int { connections.count }

    func nextID() -> ConnectionID { ids.next() }

    /// An IDE connected to the project's attach port (`ProjectListeners` accepted it): held
    /// when its owner and the limits allow, closed otherwise.
    func accept(_ fd: FileDescriptor, project: String, remoteAllowed: Bool) {
        let peer = Socket.peerAddress(fd) ?? "unknown peer"
        let me = ProcessHandle.currentUID
        switch peerOwner(fd) {
        case .user(let uid) where uid != me:
            logger.warning(
                "refused an attach connection from another user",
                metadata: ["project": "\(project)", "uid": "\(uid)", "peer": "\(peer)"])
            fd.close()
            return
        case .unknown where !remoteAllowed:
            logger.warning(
                "refused an attach connection whose owner cannot be known",
                metadata: ["project": "\(project)", "peer": "\(peer)"])
            fd.close()
            return
        default:
            break
        }
        var perProject = connections.count(of: project)
        if connections.count >= options.maxAttachConnections || perProject >= options.maxAttachPerProject {
            // Held IDEs that left count no more: look now, not at the next sweep.
            sweepHeld()
            perProject = connections.count(of: project)
        }
        guard connections.count < options.maxAttachConnections, perProject < options.maxAttachPerProject else {
            logger.warning(
                "too many attach connections; closing one",
                metadata: [
                    "project": "\(project)", "peer": "\(peer)",
                    "limit":
                        "\(perProject >= options.maxAttachPerProject ? options.maxAttachPerProject : options.maxAttachConnections)",
                ])
            fd.close()
            return
        }
        let id = ids.next()
        connections[id] = (project, .held(fd))
        logger.debug("IDE connected to the attach port", metadata: ["project": "\(project)", "peer": "\(peer)"])
        startSweeping()
        deliver(.ideConnected(id, project: project, peer: peer))
    }

    /// A held connection is not read (its bytes wait for the debug server), so its IDE's
    /// leaving shows only as POLLRDHUP: looked at once a second while any is held, so that
    /// IDEs that gave up free their place at once rather than at the ready timeout.
    func startSweeping() {
        guard !sweepTimer.isArmed else { return }
        sweepTimer.every(Self.heldSweepInterval)
    }

    func sweepHeld() {
        var anyHeld = false
        for (id, entry) in connections {
            guard case .held(let fd, _) = entry.connection else { continue }
            guard Socket.peerHasHungUp(fd) else {
                anyHeld = true
                continue
            }
            if let input = close(id, reason: "the IDE closed its connection while it was held") { deliver(input) }
        }
        if !anyHeld {
            sweepTimer.cancel()
        }
    }

    /// Connects a held IDE connection to the session's debug server and relays it.
    /// Returns what Core must hear at once when the connection is not held here after all.
    func connect(_ id: ConnectionID, session: String, host: String, port: Int) -> BrokerInput? {
        guard let (project, connection) = connections[id], case .held(let ide, _) = connection else {
            return notHeld(id)
        }
        let connector = RelayConnector(
            host: host, port: UInt16(truncatingIfNeeded: port),
            timeoutSeconds: Self.connectTimeout, queue: queue)
        connections[id] = (project, .connecting(ide, connector))
        connector.start { [self] result in
            // The completion may run inside `start`: report from a fresh turn of the queue.
            queue.asyncConfined { [self] in connected(id, session: session, result) }
        }
        return nil
    }

    /// Core asked to relay a connection this room does not hold (Core and the room disagree):
    /// said, and Core hears that it ended, so that it does not wait for it.
    func notHeld(_ id: ConnectionID) -> BrokerInput {
        logger.warning("asked to relay an IDE connection that is not held", metadata: ["connection": "\(id)"])
        return .relayEnded(id, reason: "the IDE connection was no longer held", bytesToHost: 0, bytesToIDE: 0)
    }

    private func connected(_ id: ConnectionID, session: String, _ result: Result<FileDescriptor, RelayConnectError>) {
        guard let (project, connection) = connections[id], case .connecting(let ide, _) = connection else {
            if case .success(let fd) = result { fd.close() }
            return
        }
        switch result {
        case .success(let hostFD):
            relay(id, project: project, session: session, ide: ide, host: hostFD)
        case .failure(let error):
            connections[id] = (project, .held(ide))
            startSweeping()
            logger.warning(
                "debug server refused the relay; holding the IDE",
                metadata: ["project": "\(project)", "session": "\(session)", "error": "\(error)"])
            deliver(.relayFailed(id, reason: error.description))
        }
    }

    /// Starts relaying an IDE connection to its debug server; Core hears `relayUp`.
    func relay(
        _ id: ConnectionID, project: String, session: String, ide: FileDescriptor, host: FileDescriptor,
        sentSoFar: Int = 0, ideSent: [UInt8] = []
    ) {
        let relay = Relay(
            ide: ide, host: host, follow: following.contains(project) ? project : nil, ideSent: ideSent,
            bytesSoFar: (UInt64(sentSoFar), 0))
        start(RelayHandle(relay, loop: loop), id: id, project: project)
        logger.info("relaying", metadata: ["project": "\(project)", "session": "\(session)"])
        deliver(.relayUp(id))
    }

    /// Keeps a relay as the connection `id` and starts it; when it ends by itself, Core hears
    /// `relayEnded` (from the daemon's queue).
    func start(_ relay: RelayHandle, id: ConnectionID, project: String, adopted: Bool = false) {
        connections[id] = (project, .relaying(relay))
        let room = LoopBound(self, queue: queue)
        relay.start { reason in
            room.queue.async { room.value.relayEnded(id, relay, reason: reason, adopted: adopted) }
        }
    }

    private func relayEnded(_ id: ConnectionID, _ relay: RelayHandle, reason: String, adopted: Bool) {
        // Closed by the daemon meanwhile (`close` told Core already), or another connection.
        guard case .relaying(let kept)? = connections[id]?.connection, kept === relay,
            let (project, _) = connections.removeValue(forKey: id)
        else { return }
        if adopted {
            logger.info("an adopted relay ended", metadata: ["project": "\(project)", "reason": "\(reason)"])
        }
        deliver(
            .relayEnded(id, reason: reason, bytesToHost: Int(relay.bytesFromIDE), bytesToIDE: Int(relay.bytesFromHost)))
    }

    /// Closes an IDE connection, held or relayed; returns what Core must hear of it.
    func close(_ id: ConnectionID, reason: String) -> BrokerInput? {
        guard let (project, connection) = connections.removeValue(forKey: id) else { return nil }
        logger.info("closing an attach connection", metadata: ["project": "\(project)", "reason": "\(reason)"])
        switch connection {
        case .held(let fd, _):
            fd.close()
            return .relayEnded(id, reason: reason, bytesToHost: 0, bytesToIDE: 0)
        case .connecting(let fd, let connector):
            connector.cancel()
            fd.close()
            return .relayEnded(id, reason: reason, bytesToHost: 0, bytesToIDE: 0)
        case .trying(let trial):
            trial.cancel()
            return .relayEnded(id, reason: reason, bytesToHost: trial.sent, bytesToIDE: 0)
        case .relaying(let relay):
            relay.close(reason: reason)
            return .relayEnded(
                id, reason: reason, bytesToHost: Int(relay.bytesFromIDE), bytesToIDE: Int(relay.bytesFromHost))
        }
    }

    /// Bytes moved so far by the relay of an IDE connection (to the host, to the IDE).
    func counts(_ id: ConnectionID) -> (toHost: Int, toIDE: Int)? {
        guard case .relaying(let relay)? = connections[id]?.connection else { return nil }
        return (Int(relay.bytesFromIDE), Int(relay.bytesFromHost))
    }
}
