import AttachProtocol

/// The host hears of its IDE: a host that said `NOTIFY_ATTACH=1` gets `ATTACHED=1` when the
/// first IDE relay to it starts (at once when it asks while one runs) and `DETACHED=1` when the
/// last one ends (attach_ready's `wait_for_ide` and `on_attach`). Hosts that did not ask hear
/// nothing.
///
/// A remote project's IDE relays go from the workstation's attachd straight to the debug
/// server (`ssh -W`), past the host's own attachd: the workstation tells that attachd over its
/// link (`IDEAttached`, on the first relay to a mirror and after the last), which counts them
/// with its own relays, per control connection, so a lost link detaches them.
extension Broker {
    /// What a relay to `session` starting (`attached`) or ending means: a notice to its host,
    /// or, for a mirror, to its remote attachd; only on the first relay and after the last.
    func ideNotice(_ session: String, attached: Bool) -> [BrokerAction] {
        guard let record = sessions[session] else { return [] }
        if record.isMirror {
            guard localRelays(to: session) == (attached ? 1 : 0), let remoteID = record.info.remoteId else {
                return []
            }
            return [.tellRemoteIDE(project: record.info.project, session: remoteID, attached: attached)]
        }
        guard relayedIDEs(to: session) == (attached ? 1 : 0) else { return [] }
        return hostHears(record, attached: attached)
    }

    /// IDE relays to a session here, and from other machines' attachds.
    func relayedIDEs(to session: String) -> Int {
        localRelays(to: session) + (sessions[session]?.remoteIDEs.count ?? 0)
    }

    /// `IDEAttached`: another machine's attachd relays IDEs to one of this machine's sessions
    /// (or no longer does).
    mutating func remoteIDE(_ p: IDEAttachedParameters, token: RequestToken) throws(VarlinkError) -> [BrokerAction] {
        guard var record = sessions[p.session] else { throw .sessionNotFound(p.session) }
        let before = relayedIDEs(to: p.session)
        if p.attached {
            record.remoteIDEs.insert(token.connection)
        } else {
            record.remoteIDEs.remove(token.connection)
        }
        sessions[p.session] = record
        let after = relayedIDEs(to: p.session)
        var actions: [BrokerAction] = [.respond(token, .success(.empty))]
        if (before == 0) != (after == 0) { actions += hostHears(record, attached: after > 0) }
        return actions
    }

    /// A control connection closed: the IDEs it said it relayed are gone with it.
    mutating func remoteIDEsGone(with connection: ConnectionID) -> [BrokerAction] {
        var actions: [BrokerAction] = []
        for id in sessions.keys.sorted() {
            guard var record = sessions[id], record.remoteIDEs.remove(connection) != nil else { continue }
            sessions[id] = record
            if relayedIDEs(to: id) == 0 { actions += hostHears(record, attached: false) }
        }
        return actions
    }

    /// The mirrors of a project with IDEs relayed to them, told again to a new link.
    func remoteIDEsAgain(of project: String) -> [BrokerAction] {
        sessions.keys.sorted().compactMap { id in
            guard let record = sessions[id], record.isMirror, record.info.project == project,
                let remoteID = record.info.remoteId, localRelays(to: id) > 0
            else { return nil }
            return .tellRemoteIDE(project: project, session: remoteID, attached: true)
        }
    }

    private func localRelays(to session: String) -> Int {
        attaches.values.filter { $0.phase == .relaying(session: session) }.count
    }

    private func hostHears(_ record: SessionRecord, attached: Bool) -> [BrokerAction] {
        guard record.notifyAttach, let connection = record.connection else { return [] }
        return [.sendLine(connection, attached ? .ideAttached : .ideDetached)]
    }
}
