import AttachCore
import AttachSystem

/// IDE connections to remote sessions: relayed through an ssh channel (`ssh -W`) once a
/// `RelayTrial` has shown the remote debug server is there. A refusal is what a refused connect
/// is for a local session: the IDE connection is held again (the bytes it sent kept for the next
/// attempt) and Core hears `relayFailed`, to try again after a back-off.
extension AttachRelays {
    /// Relays a held IDE connection through an ssh channel to a remote session's debug server
    /// (`RemoteLinks.openChannel`). Returns what Core must hear at once, like `connect`.
    func connect(_ id: ConnectionID, session: String, through channel: RemoteChannel) -> BrokerInput? {
        guard let (project, connection) = connections[id], case .held(let ide, let unanswered) = connection else {
            channel.fd.close()
            return notHeld(id)
        }
        let trial = RelayTrial(ide: ide, channel: channel, unanswered: unanswered, queue: queue)
        connections[id] = (project, .trying(trial))
        trial.start { [self] outcome in tried(id, session: session, trial, outcome) }
        return nil
    }

    private func tried(_ id: ConnectionID, session: String, _ trial: RelayTrial, _ outcome: RelayTrial.Outcome) {
        // Anything else: it was closed meanwhile, and `cancel` closed both sockets.
        guard let (project, connection) = connections[id], case .trying(let current) = connection, current === trial
        else { return }
        switch outcome {
        case .open(let sent):
            relay(
                id, project: project, session: session, ide: trial.ide, host: trial.channel.fd, sentSoFar: sent,
                ideSent: trial.sentBytes)
        case .refused(let reason, let kept):
            connections[id] = (project, .held(trial.ide, unanswered: kept))
            startSweeping()
            logger.warning(
                "the remote debug server refused the relay; holding the IDE",
                metadata: ["project": "\(project)", "session": "\(session)", "error": "\(reason)"])
            deliver(.relayFailed(id, reason: reason))
        }
    }
}
