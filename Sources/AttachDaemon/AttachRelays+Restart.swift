import AttachCore
import AttachProtocol
import AttachSystem

/// An orderly restart keeps the debugger attached: every relay's two sockets (after draining
/// its pipes) and every held IDE connection go to systemd's fd store, and the next process
/// adopts them. Names: `relay.PROJECT.N.ide` / `relay.PROJECT.N.host` pair a relay's ends,
/// `held.PROJECT.N` is a held IDE connection, and `relays.complete`, stored last, says the
/// hand-over finished; without it (a crash, a kill mid-way) what is found is closed.
extension AttachRelays {
    /// At shutdown: hands every IDE connection to the fd store when there is one, else closes it.
    func handOverAll() {
        guard fdStore.isEnabled else {
            for id in connections.keys.sorted() { _ = close(id, reason: "attachd is stopping") }
            return
        }
        var handed = 0
        for id in connections.keys.sorted() {
            guard let (project, connection) = connections.removeValue(forKey: id) else { continue }
            switch connection {
            case .held(let fd, let unanswered) where !unanswered.isEmpty:
                // Its first bytes were read for a relay that was refused: without them the next
                // process could only pass on the rest. Closed: the IDE connects again.
                fd.close()
            case .held(let fd, _):
                fdStore.store(fd, name: "held.\(project).\(id)")
                fd.close()
            case .trying(let trial):
                trial.cancel()
            case .connecting(let fd, let connector):
                connector.cancel()
                fdStore.store(fd, name: "held.\(project).\(id)")
                fd.close()
            case .relaying(let relay):
                guard let pair = relay.handOver(), delivered(pair, project: project) else { continue }
                fdStore.store(pair.ide, name: "relay.\(project).\(id).ide")
                fdStore.store(pair.host, name: "relay.\(project).\(id).host")
                pair.ide.close()
                pair.host.close()
                handed += 1
            }
        }
        if let marker = try? FileDescriptor.openNullDevice() {
            fdStore.store(marker, name: FDStore.relaysComplete)
            marker.close()
        }
        logger.info("handed the relays to systemd's fd store", metadata: ["relays": "\(handed)"])
    }

    /// A relay whose pipes could not be written out in time lost bytes from the middle of its
    /// streams: the next process could only pass on a broken protocol, so it is closed here
    /// (the IDE connects again) rather than handed over. True when nothing was lost.
    private func delivered(_ pair: RelayHandOver, project: String) -> Bool {
        guard pair.undeliveredBytes > 0 else { return true }
        logger.warning(
            "closing a relay whose peer did not take its last bytes in time",
            metadata: ["project": "\(project)", "bytes": "\(pair.undeliveredBytes)"])
        pair.ide.close()
        pair.host.close()
        return false
    }

    /// At start, once the projects are loaded: relays on again, and held IDE connections held
    /// again (Core hears of them as new); everything is taken out of the store.
    func adoptStored(projectExists: (String) -> Bool) {
        let complete = fdStore.adopt(FDStore.relaysComplete)
        if let complete {
            complete.close()
            fdStore.remove(FDStore.relaysComplete)
        }
        var pairs: [String: (ide: FileDescriptor?, host: FileDescriptor?)] = [:]
        var adopted = 0
        for name in fdStore.inheritedNames(prefix: "relay.") {
            guard let fd = fdStore.adopt(name) else { continue }
            fdStore.remove(name)
            let key = String(name.dropLast(name.hasSuffix(".ide") ? 4 : 5))
            if name.hasSuffix(".ide") {
                pairs[key, default: (nil, nil)].ide = fd
            } else {
                pairs[key, default: (nil, nil)].host = fd
            }
        }
        for (key, pair) in pairs.sorted(by: { $0.key < $1.key }) {
            guard complete != nil, let ide = pair.ide, let host = pair.host else {
                logger.warning("closing a relay left by an exit that was not orderly", metadata: ["name": "\(key)"])
                pair.ide?.close()
                pair.host?.close()
                continue
            }
            // `relay.PROJECT.N`: the project is all between the prefix and the last dot (an
            // older attachd wrote `-` for relays it had adopted itself).
            let project = String(
                key.dropFirst("relay.".count).split(separator: ".", omittingEmptySubsequences: false)
                    .dropLast().joined(separator: "."))
            let id = nextID()
            let peer = Socket.peerAddress(ide) ?? "unknown peer"
            let relay = Relay(adopting: RelayHandOver(ide: ide, host: host, startedAt: Clock.wallSeconds()))
            start(RelayHandle(relay, loop: loop), id: id, project: project, adopted: true)
            adopted += 1
            deliver(.relayAdopted(id, project: project, peer: peer))
        }
        for name in fdStore.inheritedNames(prefix: "held.") {
            guard let fd = fdStore.adopt(name) else { continue }
            fdStore.remove(name)
            let project = String(name.dropFirst("held.".count).split(separator: ".").dropLast().joined(separator: "."))
            guard complete != nil, projectExists(project) else {
                fd.close()
                continue
            }
            let id = nextID()
            connections[id] = (project, .held(fd))
            startSweeping()
            deliver(.ideConnected(id, project: project, peer: Socket.peerAddress(fd) ?? "unknown peer"))
        }
        if !pairs.isEmpty { logger.info("adopted relays from systemd's fd store", metadata: ["relays": "\(adopted)"]) }
    }
}
