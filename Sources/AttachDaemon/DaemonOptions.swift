import AttachSystem

/// Everything the daemon needs to know before it starts.
public struct DaemonOptions: Sendable {
    /// The control socket to bind when systemd passes none.
    public var controlSocket: String
    /// Holds `projects/` with the Unix rendezvous sockets.
    public var runtimeDirectory: String
    /// Holds `projects.json`.
    public var configDirectory: String
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
    /// Bytes queued for a client that does not read before it is dropped.
    public var maxPendingOutput = 8 << 20

    public init(controlSocket: String, runtimeDirectory: String, configDirectory: String, version: String) {
        self.controlSocket = controlSocket
        self.runtimeDirectory = runtimeDirectory
        self.configDirectory = configDirectory
        self.version = version
    }

    /// The defaults both binaries agree on, with `controlSocket` overridden when given.
    public static func defaults(controlSocket: String? = nil, version: String) -> DaemonOptions {
        let paths = DefaultPaths.fromEnvironment()
        return DaemonOptions(controlSocket: controlSocket ?? paths.controlSocket, runtimeDirectory: paths.runtimeDirectory,
                             configDirectory: paths.configDirectory, version: version)
    }

    public var projectsFile: String { configDirectory + "/projects.json" }
    public var rendezvousDirectory: String { runtimeDirectory + "/projects" }
    public func rendezvousSocket(for project: String) -> String { rendezvousDirectory + "/" + project + ".sock" }
}
