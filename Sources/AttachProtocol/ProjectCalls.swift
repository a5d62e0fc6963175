/// `AddProject` parameters.
public struct AddProjectParameters: Codable, Sendable, Equatable {
    public var name: String
    /// Optional only with `attachPort`: then each host says its own.
    public var debugPort: Int?
    public var debugHost: String?
    public var rendezvousPort: Int?
    public var readyTimeout: Double?
    public var allowRemote: Bool?
    public var attachPort: Int?
    /// The ssh destination of a remote project (needs `attachPort`).
    public var remote: String?
    /// The project's name on the remote machine (default: `name`).
    public var remoteProject: String?
    /// The remote attachd's control socket (default: the remote user's).
    public var remoteSocket: String?
    /// The ssh command for this project (default: `$ATTACHD_SSH_COMMAND`, else `ssh`).
    public var sshCommand: String?
    /// With `attachPort`: false turns following the hosts off (default on).
    public var follow: Bool?

    public init(
        name: String, debugPort: Int?, debugHost: String? = nil, rendezvousPort: Int? = nil,
        readyTimeout: Double? = nil, allowRemote: Bool? = nil, attachPort: Int? = nil,
        remote: String? = nil, remoteProject: String? = nil, remoteSocket: String? = nil,
        sshCommand: String? = nil, follow: Bool? = nil
    ) {
        self.follow = follow
        self.attachPort = attachPort
        self.remote = remote
        self.remoteProject = remoteProject
        self.remoteSocket = remoteSocket
        self.sshCommand = sshCommand
        self.name = name
        self.debugPort = debugPort
        self.debugHost = debugHost
        self.rendezvousPort = rendezvousPort
        self.readyTimeout = readyTimeout
        self.allowRemote = allowRemote
    }
}

/// Parameters of the calls that name one project: `RemoveProject`, `GetProject`.
public struct ProjectNameParameters: Codable, Sendable, Equatable {
    public var name: String
    public init(name: String) { self.name = name }
}

/// `SetFollow` parameters: whether a project's IDE sessions follow its hosts.
public struct SetFollowParameters: Codable, Sendable, Equatable {
    public var name: String
    public var follow: Bool
    public init(name: String, follow: Bool) {
        self.name = name
        self.follow = follow
    }
}

/// Reply of `AddProject` and `GetProject`.
public struct ProjectReply: Codable, Sendable, Equatable {
    public var project: ProjectInfo
    public init(project: ProjectInfo) { self.project = project }
}

/// Reply of `ListProjects`.
public struct ListProjectsReply: Codable, Sendable, Equatable {
    public var projects: [ProjectInfo]
    public init(projects: [ProjectInfo]) { self.projects = projects }
}

/// A reply with no fields, such as `RemoveProject`'s.
public struct EmptyReply: Codable, Sendable, Equatable {
    public init() {}
}
