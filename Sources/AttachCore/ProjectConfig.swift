import AttachProtocol

/// What a project is, as it is saved in `projects.json`.
public struct ProjectConfig: Codable, Sendable, Equatable {
    public static let defaultReadyTimeout = 120.0
    public static let defaultDebugHost = "127.0.0.1"

    public var name: String
    public var debugHost: String
    /// nil when each host says its own (only with `attachPort`).
    public var debugPort: Int?
    /// Where the IDE connects, relayed to a ready session; nil: the IDE connects to the debug port.
    public var attachPort: Int?
    /// The loopback TCP port hosts may connect to; nil for the Unix socket only.
    public var rendezvousPort: Int?
    /// Seconds a pending session may take to become ready.
    public var readyTimeout: Double
    /// The TCP rendezvous listens on every address instead of loopback only.
    public var allowRemote: Bool
    /// Set when the hosts run on another machine, reached through OpenSSH.
    public var remote: RemoteConfig?
    /// false: an IDE's DAP session does not follow the project's hosts. nil (files written
    /// before there was a choice, and the default) is on.
    public var follow: Bool?

    public init(
        name: String, debugHost: String = ProjectConfig.defaultDebugHost, debugPort: Int?,
        attachPort: Int? = nil, rendezvousPort: Int? = nil, readyTimeout: Double = ProjectConfig.defaultReadyTimeout,
        allowRemote: Bool = false, remote: RemoteConfig? = nil, follow: Bool? = nil
    ) {
        self.name = name
        self.follow = follow
        self.remote = remote
        self.attachPort = attachPort
        self.debugHost = debugHost
        self.debugPort = debugPort
        self.rendezvousPort = rendezvousPort
        self.readyTimeout = readyTimeout
        self.allowRemote = allowRemote
    }

    /// The article's set-up: hosts connect to the very port their debug server will bind, so
    /// the daemon must give the port up while a host starts ("handoff").
    public var isHandoff: Bool { debugPort != nil && rendezvousPort == debugPort }

    /// An IDE's DAP session on the attach port follows the project's hosts.
    public var isFollowing: Bool { attachPort != nil && follow != false }

    /// Without an attach port, the debug port the IDE is told to attach to (launch.json, `wait`).
    var portTheIDEIsTold: Int? { attachPort == nil ? debugPort : nil }

    /// The TCP ports attachd itself listens on for this project.
    var ownPorts: [Int] { [rendezvousPort, attachPort].compactMap { $0 } }

    /// Checks and normalises `AddProject` parameters into a configuration.
    public static func validated(_ p: AddProjectParameters) throws(VarlinkError) -> ProjectConfig {
        if let reason = ProjectName.problem(with: p.name) {
            throw .invalidProjectName(p.name, reason: reason)
        }
        if let port = p.debugPort, !(1...65535).contains(port) { throw .invalidPort(port) }
        if p.debugPort == nil && p.attachPort == nil { throw .invalidParameter("debugPort") }
        if let port = p.rendezvousPort, !(1...65535).contains(port) { throw .invalidPort(port) }
        if let port = p.attachPort {
            guard (1...65535).contains(port) else { throw .invalidPort(port) }
            // attachd listens there itself: neither a host nor the rendezvous can have it.
            if port == p.debugPort { throw .portInUse(port, project: p.name, role: "attach", option: "--debug-port") }
            if port == p.rendezvousPort {
                throw .portInUse(port, project: p.name, role: "attach", option: "--rendezvous-port")
            }
        }
        var host = p.debugHost ?? defaultDebugHost
        if host == "localhost" { host = defaultDebugHost }
        guard isNumericAddress(host) else { throw .invalidParameter("debugHost") }
        let remote = try RemoteConfig.validated(p)
        let timeout = p.readyTimeout ?? defaultReadyTimeout
        guard timeout > 0, timeout <= 86_400, timeout.isFinite else { throw .invalidParameter("readyTimeout") }
        return ProjectConfig(
            name: p.name, debugHost: host, debugPort: p.debugPort, attachPort: p.attachPort,
            rendezvousPort: p.rendezvousPort,
            readyTimeout: timeout, allowRemote: p.allowRemote ?? false, remote: remote,
            follow: p.follow == false ? false : nil)
    }

    /// A dotted IPv4 address or something shaped like an IPv6 one; host names are refused
    /// because resolving them would block the daemon.
    static func isNumericAddress(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4,
            parts.allSatisfy({ part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber)
                    && Int(part)! <= 255
            })
        {
            return true
        }
        return host.contains(":") && host.count <= 45
            && host.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." }
    }
}

/// The contents of `projects.json`.
public struct ProjectsFile: Codable, Sendable, Equatable {
    public var version: Int
    public var projects: [ProjectConfig]

    public init(projects: [ProjectConfig]) {
        self.version = 1
        self.projects = projects
    }
}
