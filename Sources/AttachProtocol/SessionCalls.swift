/// `ListSessions` parameters.
public struct ListSessionsParameters: Codable, Sendable, Equatable {
    public var project: String?
    public init(project: String? = nil) { self.project = project }
}

/// Reply of `ListSessions`.
public struct ListSessionsReply: Codable, Sendable, Equatable {
    public var sessions: [SessionInfo]
    public init(sessions: [SessionInfo]) { self.sessions = sessions }
}

/// `EndSession` parameters.
public struct EndSessionParameters: Codable, Sendable, Equatable {
    public var id: String
    public init(id: String) { self.id = id }
}

/// Reply of `EndSession`, `Announce` and `Wait`.
public struct SessionReply: Codable, Sendable, Equatable {
    public var session: SessionInfo
    public init(session: SessionInfo) { self.session = session }
}

/// `Announce` parameters.
public struct AnnounceParameters: Codable, Sendable, Equatable {
    public var project: String
    public var debugPort: Int?
    public var pid: Int?
    public var status: String?
    /// The id the host had before attachd went away: kept when no live session has it.
    public var session: String?

    public init(
        project: String, debugPort: Int? = nil, pid: Int? = nil, status: String? = nil,
        session: String? = nil
    ) {
        self.project = project
        self.debugPort = debugPort
        self.pid = pid
        self.status = status
        self.session = session
    }
}

/// `Wait` parameters.
public struct WaitParameters: Codable, Sendable, Equatable {
    public var project: String
    /// Seconds; nil means the project's ready timeout, 0 means check once.
    public var timeout: Double?
    public init(project: String, timeout: Double? = nil) {
        self.project = project
        self.timeout = timeout
    }
}

/// `Watch` parameters.
public struct WatchParameters: Codable, Sendable, Equatable {
    public var project: String?
    public init(project: String? = nil) { self.project = project }
}

/// One reply of the `Watch` stream. The first has no event.
public struct WatchReply: Codable, Sendable, Equatable {
    public var event: BrokerEvent?
    public init(event: BrokerEvent? = nil) { self.event = event }
}
