/// The state of a remote project's link to the attachd on its other machine.
public enum RemoteLinkState: String, Codable, Sendable, CaseIterable {
    /// ssh is starting, or the remote attachd has not answered yet.
    case connecting
    /// The remote project is watched: its sessions are mirrored here.
    case connected
    /// The link failed or was lost (`error` says why); attachd tries again with backoff.
    case unreachable
}

/// The other machine of a remote project, as the control API shows it
/// (`io.attachd.Broker.Remote`).
public struct RemoteInfo: Codable, Sendable, Equatable {
    /// The ssh destination: `[user@]host[:port]` or a `Host` alias of the ssh config.
    public var destination: String
    /// The project's name on that machine.
    public var project: String
    /// The remote attachd's control socket; nil: the remote user's default.
    public var socket: String?
    /// The ssh command used instead of `$ATTACHD_SSH_COMMAND` or `ssh`.
    public var sshCommand: String?
    public var state: RemoteLinkState
    /// The words ssh (or the remote attachd) gave when the link failed.
    public var error: String?
    /// The remote attachd's version (`GetInfo`), once connected.
    public var version: String?

    public init(
        destination: String, project: String, socket: String? = nil, sshCommand: String? = nil,
        state: RemoteLinkState, error: String? = nil, version: String? = nil
    ) {
        self.destination = destination
        self.project = project
        self.socket = socket
        self.sshCommand = sshCommand
        self.state = state
        self.error = error
        self.version = version
    }
}
