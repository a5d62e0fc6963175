import AttachProtocol

/// Following the host: an IDE's DAP session on a project's attach port outlives its host. When
/// a session ends, each IDE relayed to it is told to restart (the relay's `DAPFollow`) before
/// its connection closes; the IDE's new connection is held like any other until the project's
/// next host is ready.
extension Broker {
    /// The relays to a session that just ended, to be told so (`hostEnded`) before they close.
    func hostEnded(_ session: String, project: String) -> [BrokerAction] {
        guard projects[project]?.config.isFollowing == true else { return [] }
        return attaches.keys.sorted().compactMap { connection in
            guard case .relaying(let id)? = attaches[connection]?.phase, id == session else { return nil }
            return .hostEnded(connection)
        }
    }

    /// `SetFollow`: turns following on or off for a project with an attach port.
    mutating func setFollow(_ p: SetFollowParameters, token: RequestToken) throws(VarlinkError) -> [BrokerAction] {
        try requireProject(p.name)
        guard projects[p.name]?.config.attachPort != nil else { throw .invalidParameter("follow") }
        projects[p.name]?.config.follow = p.follow
        let info = projectInfo(p.name)!
        return [
            .followHosts(project: p.name, p.follow), .persistProjects,
            .emit(BrokerEvent(kind: .projectChanged, project: info)), .respond(token, .success(.project(info))),
        ]
    }
}
