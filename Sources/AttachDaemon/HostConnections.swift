import AttachCore
import AttachProtocol
import AttachSystem
import Dispatch
import Logging

/// The hosts connected to rendezvous listeners: limits and the owner check at accept, reading
/// their lines, the partial-line timeout, replies, and closing. Core hears of each host as
/// `hostConnected`, `hostLine` and `hostClosed`.
final class HostConnections {
    private let queue: DispatchQueue
    private let logger: Logger
    private let options: DaemonOptions
    private let ids: ConnectionIDs
    /// The owner of a local TCP peer (sock_diag).
    private let peerOwner: (FileDescriptor) -> PeerOwner
    private let deliver: (BrokerInput) -> Void
    private var hosts: [ConnectionID: HostClient] = [:]

    init(
        queue: DispatchQueue, logger: Logger, options: DaemonOptions, ids: ConnectionIDs,
        peerOwner: @escaping (FileDescriptor) -> PeerOwner, deliver: @escaping (BrokerInput) -> Void
    ) {
        self.queue = queue
        self.logger = logger
        self.options = options
        self.ids = ids
        self.peerOwner = peerOwner
        self.deliver = deliver
    }

    var count: Int { hosts.count }

    /// A host connected to `project`'s rendezvous listener.
    func accept(_ fd: FileDescriptor, project: String, viaTCP: Bool) {
        let id = ids.next()
        if viaTCP { try? Socket.setNoDelay(fd) }
        let connection = Connection(id: id, fd: fd, queue: queue, outputLimit: 65536)
        let perProject = hosts.values.lazy.filter { $0.project == project }.count
        guard hosts.count < options.maxRendezvousConnections, perProject < options.maxRendezvousPerProject else {
            logger.warning("too many rendezvous connections; refusing one", metadata: ["project": "\(project)"])
            connection.sendLastAndDrain(RendezvousReply.tooManyConnections.bytes)
            return
        }
        if let stranger = foreignUser(fd, viaTCP: viaTCP) {
            logger.warning(
                "refused a rendezvous connection from another user",
                metadata: ["project": "\(project)", "uid": "\(stranger)"])
            connection.sendLastAndDrain(RendezvousReply.permissionDenied(uid: stranger).bytes)
            return
        }
        let host = HostClient(
            connection: connection, project: project, viaTCP: viaTCP, maxLineLength: options.maxLineLength)
        hosts[id] = host
        connection.onClose = { [self] in closed(host) }
        connection.start { [self] in readable(host) }
        deliver(.hostConnected(id, project: project, viaTCP: viaTCP))
    }

    /// The uid of a peer that is positively another user, nil otherwise. Unix peers are known
    /// from SO_PEERCRED; a local TCP peer from its socket's owner (sock_diag). A TCP peer that
    /// has already closed (the article's bare connect) has no owner left to ask and is let
    /// through: all it can do is start a session on the project's own debug port.
    private func foreignUser(_ fd: FileDescriptor, viaTCP: Bool) -> UInt32? {
        let me = ProcessHandle.currentUID
        if viaTCP {
            if case .user(let uid) = peerOwner(fd), uid != me { return uid }
            return nil
        }
        guard let credentials = try? Socket.peerCredentials(fd) else { return nil }
        return credentials.uid == me ? nil : credentials.uid
    }

    private func closed(_ host: HostClient) {
        host.stopIdleTimer()
        let id = host.connection.id
        guard hosts.removeValue(forKey: id) != nil, !host.closedByDaemon else { return }
        deliver(.hostClosed(id, project: host.project, receivedBytes: host.receivedBytes))
    }

    private func readable(_ host: HostClient) {
        let connection = host.connection
        // At end of file the host has closed first, so the TIME_WAIT is on its side, not on
        // the port its debug server binds next.
        guard case .bytes(let bytes, let peerClosed) = connection.readAvailable(max: 16384) else { return }
        // Lines that came with the host's end-of-file are taken first, then the session ends.
        defer { if peerClosed { connection.close() } }
        host.receivedBytes = true
        host.framer.append(bytes)
        while !connection.isClosed {
            let line: String
            do {
                guard let next = try host.framer.next() else { break }
                line = next
            } catch .invalidUTF8 {
                // The framer skips just that line; the host may go on.
                connection.send(RendezvousReply.notUTF8.bytes)
                continue
            } catch {
                connection.send(RendezvousReply.lineTooLong(limit: options.maxLineLength).bytes)
                logger.warning(
                    "bad rendezvous input; closing",
                    metadata: [
                        "project": "\(host.project)",
                        "reason": "line longer than \(options.maxLineLength) bytes",
                    ])
                drop(host)
                return
            }
            guard let parsed = RendezvousLine.parse(line) else { continue }
            deliver(.hostLine(connection.id, project: host.project, parsed))
        }
        // Only for a host still ours and open: a connection Core closed during this batch has
        // already run `closed` (its one chance to stop the timer), so a timer started now
        // would never be cancelled and would keep host and connection alive for good.
        if host.framer.hasPartialLine, !peerClosed, !connection.isClosed, !host.closedByDaemon {
            startIdleTimer(host)
        } else {
            host.stopIdleTimer()
        }
    }

    /// Writes one reply line.
    func send(_ reply: RendezvousReply, to id: ConnectionID) {
        hosts[id]?.connection.send(reply.bytes)
    }

    /// Closes a host connection Core is done with, after its last reply is written. Core is
    /// not told (it asked); `closed` then ignores the connection.
    func close(_ id: ConnectionID) {
        if let host = hosts[id] { close(host, flushFirst: true) }
    }

    /// Closes every host of a project at once (the project is going).
    func closeAll(of project: String) {
        for host in hosts.values where host.project == project {
            close(host, flushFirst: false)
        }
    }

    private func close(_ host: HostClient, flushFirst: Bool) {
        hosts[host.connection.id] = nil
        host.closedByDaemon = true
        host.stopIdleTimer()
        if flushFirst { host.connection.closeWhenFlushed() } else { host.connection.close() }
    }

    /// Closes a host connection for bad input, after its last reply is written.
    private func drop(_ host: HostClient) {
        close(host, flushFirst: true)
        deliver(.hostClosed(host.connection.id, project: host.project, receivedBytes: true))
    }

    private func startIdleTimer(_ host: HostClient) {
        guard host.idle == nil else { return }
        // Weak: the host holds its timer.
        let timer = QueueTimer(queue: queue) { [self, weak host] in
            guard let host else { return }
            host.stopIdleTimer()
            guard !host.connection.isClosed else { return }
            host.connection.send(RendezvousReply.incompleteLine(seconds: Int(options.partialLineTimeout)).bytes)
            drop(host)
        }
        host.idle = timer
        timer.once(after: options.partialLineTimeout)
    }
}

/// Hands out connection ids, control and rendezvous alike, so Core can tell them apart.
final class ConnectionIDs {
    private var nextID: ConnectionID = 1

    func next() -> ConnectionID {
        defer { nextID += 1 }
        return nextID
    }
}
