import AttachProtocol

/// The control calls the broker itself answers.
public enum BrokerRequest: Sendable, Equatable {
    case addProject(AddProjectParameters)
    case removeProject(String)
    case getProject(String)
    case listProjects
    case listSessions(project: String?)
    case endSession(id: String)
    case announce(AnnounceParameters)
    case wait(WaitParameters)
    case selectSession(SelectSessionParameters)
    case setFollow(SetFollowParameters)
    /// `IDEAttached`: IDE relays from another machine's attachd (`remoteIDE`).
    case ideAttached(IDEAttachedParameters)
}
