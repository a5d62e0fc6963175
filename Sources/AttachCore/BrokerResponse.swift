import AttachProtocol

/// What a request is answered with.
public enum BrokerResponse: Sendable, Equatable {
    case project(ProjectInfo)
    case projects([ProjectInfo])
    case session(SessionInfo)
    case sessions([SessionInfo])
    case empty
}
