import AttachSystem

/// Everything the daemon needs to know before it starts.
public struct DaemonOptions: Sendable {
    /// Where the control socket (bound when systemd passes none), the Unix rendezvous sockets
    /// and `projects.json` live: the same computation attachctl uses.
    public var paths: DefaultPaths
    public var version: String
    /// The most varlink bytes one message may have.
    public var maxMessageSize = 1 << 20
    /// The longest rendezvous line.
    public var maxLineLength = 4096
    /// Seconds a rendezvous connection may sit on a partial line.
    public var partialLineTimeout = 10.0
    /// Control connections open at once.
    public var maxControlConnections = 2048
    /// Rendezvous connections open at once, per project and in all.
    public var maxRendezvousPerProject = 64
    public var maxRendezvousConnections = 1024
    /// IDE connections on attach ports (held or relayed), per project and in all.
    public var maxAttachPerProject = 64
    public var maxAttachConnections = 1024
    /// Bytes queued for a client that does not read before it is dropped.
    public var maxPendingOutput = 8 << 20

    public init(paths: DefaultPaths, version: String) {
        self.paths = paths
        self.version = version
    }

    /// The defaults both binaries agree on, with the control socket overridden when given.
    public static func defaults(controlSocket: String? = nil, version: String) -> DaemonOptions {
        var paths = DefaultPaths.fromEnvironment()
        if let controlSocket { paths.controlSocket = controlSocket }
        return DaemonOptions(paths: paths, version: version)
    }
}
