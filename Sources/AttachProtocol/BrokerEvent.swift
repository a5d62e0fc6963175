/// One change that `Watch` streams (`io.attachd.Broker.Event`).
public struct BrokerEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case projectAdded, projectRemoved, projectChanged, sessionStarted, sessionReady, sessionEnded
        /// A ready session whose debug port stopped listening while its host lives on.
        case sessionPending
        /// A client connected to a ready session's debug port (`sessionReady` again when it leaves).
        case sessionAttached
        /// An IDE connection on the attach port is relayed to a session (`relay`).
        case relayStarted
        /// A relay ended (`relay` has its byte counts and why).
        case relayEnded
    }

    public var kind: Kind
    public var project: ProjectInfo?
    public var session: SessionInfo?
    public var relay: RelayInfo?

    public init(kind: Kind, project: ProjectInfo? = nil, session: SessionInfo? = nil, relay: RelayInfo? = nil) {
        self.kind = kind
        self.relay = relay
        self.project = project
        self.session = session
    }

    /// The project this event is about.
    public var projectName: String? { project?.name ?? session?.project ?? relay?.project }
}
