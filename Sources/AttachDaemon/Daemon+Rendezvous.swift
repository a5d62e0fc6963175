import AttachCore
import AttachProtocol
import AttachSystem
import Dispatch

extension Daemon {
    static func tcpName(_ project: String) -> String { "tcp." + project }
    static func unixName(_ project: String) -> String { "unix." + project }

    /// Opens (or adopts from systemd's fd store) a project's Unix and TCP rendezvous listeners.
    func openListeners(_ project: String) -> [BrokerAction] {
        guard let info = broker.projectInfo(project) else { return [] }
        var problems: [String] = []
        if unixListeners[project] == nil {
            do {
                let fd = try adoptOrBindUnix(project)
                unixListeners[project] = makeListener(fd, name: Self.unixName(project), project: project, viaTCP: false)
            } catch {
                problems.append("unix socket \(info.rendezvousSocket): \(error)")
            }
        }
        if let port = info.rendezvousPort, tcpListeners[project] == nil {
            do {
                let fd = try adoptOrBindTCP(project, port: port, allowRemote: info.allowRemote)
                tcpListeners[project] = makeListener(fd, name: Self.tcpName(project), project: project, viaTCP: true)
            } catch {
                problems.append("tcp port \(port): \(error)")
            }
        }
        let problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
        if let problem {
            logger.error("rendezvous listener not up; will retry", metadata: ["project": "\(project)", "error": "\(problem)"])
            scheduleRebind(project)
        } else {
            rebindDelays[project] = nil
        }
        return broker.listenersOpened(project: project, error: problem)
    }

    private func adoptOrBindUnix(_ project: String) throws(Errno) -> FileDescriptor {
        let path = options.paths.rendezvousSocket(for: project)
        if let fd = inheritedListeners.removeValue(forKey: Self.unixName(project)) {
            if Socket.isListeningUnixStream(fd, path: nil) && Files.isSocket(path) { return fd }
            fd.close()
        }
        try Files.createDirectories(options.paths.rendezvousDirectory, mode: 0o700)
        if Files.exists(path) { try Files.unlink(path) }
        let fd = try Socket.listenUnix(path: path, mode: 0o600)
        storeInSystemd(fd, name: Self.unixName(project))
        return fd
    }

    private func adoptOrBindTCP(_ project: String, port: Int, allowRemote: Bool) throws(Errno) -> FileDescriptor {
        if let fd = inheritedListeners.removeValue(forKey: Self.tcpName(project)) {
            if Socket.isListeningTCP(fd, port: UInt16(port)) { return fd }
            fd.close()
        }
        let fd = try Socket.listenTCP(host: allowRemote ? "0.0.0.0" : "127.0.0.1", port: UInt16(port))
        storeInSystemd(fd, name: Self.tcpName(project))
        return fd
    }

    private func makeListener(_ fd: FileDescriptor, name: String, project: String, viaTCP: Bool) -> Listener {
        let listener = Listener(fd: fd, name: name, queue: queue, reserve: reserve,
                                onAccept: { [self] client in acceptHost(client, project: project, viaTCP: viaTCP) },
                                onExhausted: { [self] error in
                                    logger.warning("accept failed; turning hosts away until descriptors are free", metadata: ["listener": "\(name)", "error": "\(error)"])
                                })
        listener.start()
        return listener
    }

    /// Tries a failed bind again later, waiting longer each time (1 s doubling to 30 s).
    func scheduleRebind(_ project: String) {
        guard rebindTimers[project] == nil, !shuttingDown else { return }
        let delay = rebindDelays[project] ?? 1
        rebindDelays[project] = min(delay * 2, 30)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + delay)
        timer.setEventHandler { [self] in
            rebindTimers.removeValue(forKey: project)?.cancel()
            guard broker.projectInfo(project) != nil, !shuttingDown else { return }
            perform(openListeners(project))
        }
        rebindTimers[project] = timer
        timer.resume()
    }

    func closeListeners(_ project: String) {
        rebindTimers.removeValue(forKey: project)?.cancel()
        rebindDelays[project] = nil
        if let listener = tcpListeners.removeValue(forKey: project) {
            removeFromSystemd(Self.tcpName(project))
            listener.close()
        }
        if let listener = unixListeners.removeValue(forKey: project) {
            removeFromSystemd(Self.unixName(project))
            listener.close()
            try? Files.unlink(options.paths.rendezvousSocket(for: project))
        }
        for host in hosts.values where host.project == project {
            closeHost(host, flushFirst: false)
        }
    }

    /// Handoff: gives the TCP port up so the host's debug server can bind it. systemd's copy in
    /// the fd store goes too, or the port would stay taken.
    func releaseTCPPort(_ project: String) {
        guard let listener = tcpListeners.removeValue(forKey: project) else { return }
        removeFromSystemd(Self.tcpName(project))
        // Until Dispatch has really closed it, our own socket still LISTENs on the port: it
        // must not pass for the host's debug server.
        if let port = broker.projectInfo(project)?.rendezvousPort.map(UInt16.init) {
            closingPorts[port, default: 0] += 1
            listener.onClosed = { [self] in
                closingPorts[port, default: 1] -= 1
                if closingPorts[port] == 0 { closingPorts[port] = nil }
            }
        }
        listener.close()
        logger.debug("rendezvous port handed to the host", metadata: ["project": "\(project)"])
    }

    func reclaimTCPPort(_ project: String) -> [BrokerAction] {
        logger.debug("taking the rendezvous port back", metadata: ["project": "\(project)"])
        return openListeners(project)
    }

    // MARK: Hosts

    private func acceptHost(_ fd: FileDescriptor, project: String, viaTCP: Bool) {
        let id = makeConnectionID()
        if viaTCP { try? Socket.setNoDelay(fd) }
        let connection = Connection(id: id, fd: fd, queue: queue, outputLimit: 65536)
        let perProject = hosts.values.lazy.filter { $0.project == project }.count
        guard hosts.count < options.maxRendezvousConnections, perProject < options.maxRendezvousPerProject else {
            logger.warning("too many rendezvous connections; refusing one", metadata: ["project": "\(project)"])
            connection.sendLastAndDrain(Array("ERROR too many connections\n".utf8))
            return
        }
        if let stranger = foreignUser(fd, viaTCP: viaTCP) {
            logger.warning("refused a rendezvous connection from another user", metadata: ["project": "\(project)", "uid": "\(stranger)"])
            connection.sendLastAndDrain(Array("ERROR permission denied: uid \(stranger) is not the user attachd serves\n".utf8))
            return
        }
        let host = HostClient(connection: connection, project: project, viaTCP: viaTCP, maxLineLength: options.maxLineLength)
        hosts[id] = host
        connection.onClose = { [self] in hostClosed(host) }
        connection.start { [self] in hostReadable(host) }
        apply { broker, _ in broker.rendezvousAccepted(id, project: project, viaTCP: viaTCP) }
    }

    /// The uid of a peer that is positively another user, nil otherwise. Unix peers are known
    /// from SO_PEERCRED; a local TCP peer from its socket's owner (sock_diag). A TCP peer that
    /// has already closed (the article's bare connect) has no owner left to ask and is let
    /// through: all it can do is start a session on the project's own debug port.
    private func foreignUser(_ fd: FileDescriptor, viaTCP: Bool) -> UInt32? {
        let me = ProcessHandle.currentUID
        if viaTCP {
            if case .user(let uid) = probe.peerOwner(of: fd), uid != me { return uid }
            return nil
        }
        guard let credentials = try? Socket.peerCredentials(fd) else { return nil }
        return credentials.uid == me ? nil : credentials.uid
    }

    private func hostClosed(_ host: HostClient) {
        host.stopIdleTimer()
        let id = host.connection.id
        guard hosts.removeValue(forKey: id) != nil, !host.closedByDaemon else { return }
        let received = host.receivedBytes
        apply { broker, now in broker.rendezvousClosed(id, project: host.project, receivedBytes: received, now: now) }
    }

    private func hostReadable(_ host: HostClient) {
        let connection = host.connection
        // At end of file the host has closed first, so the TIME_WAIT is on its side, not on
        // the port its debug server binds next.
        guard let bytes = connection.readOrClose(max: 16384) else { return }
        host.receivedBytes = true
        host.framer.append(bytes)
        while !connection.isClosed {
            let line: String
            do {
                guard let next = try host.framer.next() else { break }
                line = next
            } catch .invalidUTF8 {
                // The framer skips just that line; the host may go on.
                connection.send(Array("ERROR line is not valid UTF-8\n".utf8))
                continue
            } catch {
                let reason = "line longer than \(options.maxLineLength) bytes"
                connection.send(Array("ERROR \(reason)\n".utf8))
                logger.warning("bad rendezvous input; closing", metadata: ["project": "\(host.project)", "reason": "\(reason)"])
                dropHost(host)
                return
            }
            guard let parsed = RendezvousLine.parse(line) else { continue }
            let id = connection.id
            apply { broker, now in broker.rendezvousLine(id, project: host.project, parsed, now: now) }
        }
        if host.framer.hasPartialLine { startIdleTimer(host) } else { host.stopIdleTimer() }
    }

    /// Closes a host connection the daemon is done with. The broker is not told (it asked for
    /// the close, or the project is going); `hostClosed` then ignores the connection.
    func closeHost(_ host: HostClient, flushFirst: Bool) {
        hosts[host.connection.id] = nil
        host.closedByDaemon = true
        host.stopIdleTimer()
        if flushFirst { host.connection.closeWhenFlushed() } else { host.connection.close() }
    }

    /// Closes a host connection for bad input, after its last reply is written.
    private func dropHost(_ host: HostClient) {
        let id = host.connection.id
        closeHost(host, flushFirst: true)
        apply { broker, now in broker.rendezvousClosed(id, project: host.project, receivedBytes: true, now: now) }
    }

    private func startIdleTimer(_ host: HostClient) {
        guard host.cancelIdle == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + options.partialLineTimeout)
        timer.setEventHandler { [self] in
            guard !host.connection.isClosed else { return }
            host.connection.send(Array("ERROR incomplete line: no newline within \(Int(options.partialLineTimeout)) s\n".utf8))
            dropHost(host)
        }
        host.cancelIdle = { timer.cancel() }
        timer.resume()
    }

    // MARK: Processes

    func watchProcess(session: String, pid: Int32) {
        unwatchProcess(session: session)
        let fd: FileDescriptor
        do {
            fd = try ProcessHandle.pidfdOpen(pid)
        } catch {
            // Already gone (or not ours to see): the session ends, but not from inside this batch.
            queue.async { [self] in apply { broker, now in broker.processExited(session: session, now: now) } }
            return
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: fd.rawValue, queue: queue)
        source.setEventHandler { [self] in
            unwatchProcess(session: session)
            apply { broker, now in broker.processExited(session: session, now: now) }
        }
        source.setCancelHandler { fd.close() }
        processWatches[session] = (fd, source)
        source.resume()
    }

    func unwatchProcess(session: String) {
        processWatches.removeValue(forKey: session)?.source.cancel()
    }
}
