import AttachCore

/// Following the host (DESIGN.md "Following the host"): relays of a following project look at
/// the IDE's first bytes and frame a DAP stream (`Relay+Recognition`, `FramedDirection`); when
/// the host ends on its own, the IDE is told to restart, by the relay itself (the adapter's
/// `terminated`, its connection's end) or here, when Core saw the session end first.
extension AttachRelays {
    /// Whether the project's new relays follow its hosts (relays running keep what they had).
    func setFollow(_ project: String, _ on: Bool) {
        if on { following.insert(project) } else { following.remove(project) }
    }

    /// The session behind a relay ended (Core closes the relay next): a following DAP relay
    /// tells the IDE now.
    func hostEnded(_ id: ConnectionID) {
        guard let (project, connection) = connections[id], case .relaying(let relay) = connection else { return }
        let logger = self.logger
        relay.sayHostEnded { said in
            if said { logger.info("told the IDE its host ended", metadata: ["project": "\(project)"]) }
        }
    }
}
