import AttachProtocol

/// The whole of attachd's state: projects, sessions, waiters. A plain value: every method takes
/// one event and returns the actions the I/O layer must carry out, so it needs no sockets and
/// no clock to be tested.
public struct Broker: Sendable {
    /// How often LISTEN state is read while a session is pending.
    public static let fastProbeInterval = 0.002
    /// How often a ready session that ends with its port is re-checked.
    public static let slowProbeInterval = 1.0
    /// How often a released port is checked while a handoff waits to take it back.
    public static let handoffProbeInterval = 0.1
    /// How long a port found in a host's process tree (none was said) must stay before it is
    /// the session's: a host may first listen on an internal port that goes away.
    public static let discoverySettle = 0.3
    /// How many ended sessions `ListSessions` still shows.
    public static let endedSessionsKept = 200

    var projects: [String: ProjectRecord] = [:]
    var sessions: [String: SessionRecord] = [:]
    /// Ended sessions, oldest first.
    var ended: [SessionInfo] = []
    var waiters: [RequestToken: Waiter] = [:]
    var sessionByConnection: [ConnectionID: String] = [:]
    /// IDE connections on attach ports: held, connecting or relaying.
    var attaches: [ConnectionID: AttachRecord] = [:]
    /// The first wait after a refusal of a relay, and the longest (`SessionRecord.refused`): a
    /// debug server that keeps refusing is not hammered.
    public static let relayRetryDelay = 0.25
    public static let relayRetryMaxDelay = 8.0
    var nextSessionNumber: UInt64
    /// The schedule of the last `.reschedule` returned; nil before the first batch and after a
    /// tick (`handle`).
    var saidSchedule: ProbeSchedule?
    /// The rendezvous socket path for each project name, supplied by the daemon.
    let rendezvousPath: @Sendable (String) -> String

    /// - Parameters:
    ///   - firstSessionNumber: where session ids start; the daemon seeds it from the clock so
    ///     that ids stay unique across restarts.
    ///   - rendezvousPath: the Unix rendezvous socket of a project.
    public init(firstSessionNumber: UInt64 = 1, rendezvousPath: @escaping @Sendable (String) -> String) {
        self.nextSessionNumber = firstSessionNumber
        self.rendezvousPath = rendezvousPath
    }

    // MARK: Queries

    /// The configurations to save in `projects.json`, sorted by name.
    public var projectConfigs: [ProjectConfig] {
        projects.values.map(\.config).sorted { $0.name < $1.name }
    }

    /// A project as the API shows it.
    public func projectInfo(_ name: String) -> ProjectInfo? {
        guard let record = projects[name] else { return nil }
        let c = record.config
        return ProjectInfo(
            name: c.name, debugHost: c.debugHost, debugPort: c.debugPort, attachPort: c.attachPort,
            selectedSession: record.selected, rendezvousPort: c.rendezvousPort,
            rendezvousSocket: rendezvousPath(c.name), readyTimeout: c.readyTimeout,
            allowRemote: c.allowRemote, error: record.listenerError, remote: record.remoteInfo,
            follow: c.attachPort == nil ? nil : c.isFollowing)
    }

    public var projectNames: [String] { projects.keys.sorted() }

    /// Live sessions first (oldest first), then ended ones (most recent first).
    public func sessionInfos(project: String? = nil) -> [SessionInfo] {
        let live = sessions.values.map(\.info).sorted { $0.startedAt < $1.startedAt }.map(withRelays)
        let all = live + ended.reversed()
        guard let project else { return all }
        return all.filter { $0.project == project }
    }

    public func session(_ id: String) -> SessionInfo? {
        sessions[id].map { withRelays($0.info) } ?? ended.last { $0.id == id }
    }

    /// A live session with the IDE connections relayed to it.
    func withRelays(_ info: SessionInfo) -> SessionInfo {
        let relays = relayInfos(of: info.id)
        guard !relays.isEmpty else { return info }
        var info = info
        info.relays = relays
        return info
    }

    /// Counts for `GetStatus` and the systemd status line. An IDE connection held on an attach
    /// port waits for a ready session as a `Wait` does: both are waiters.
    public var counts: (projects: Int, pending: Int, ready: Int, waiters: Int) {
        var pending = 0
        for session in sessions.values where session.isPending { pending += 1 }
        var held = 0
        for attach in attaches.values { if case .held = attach.phase { held += 1 } }
        return (projects.count, pending, sessions.count - pending, waiters.count + held)
    }

    /// How soon the I/O layer should read LISTEN state again; nil when nothing needs it.
    public var probeInterval: Double? { schedule.interval }

    /// Whether the next probe should also read the ESTABLISHED connections (see `tick`).
    public var wantsConnectedPorts: Bool { schedule.connectedInterval != nil }

    /// Whether a ready session must be looked at now and then: one that ends with its port,
    /// or whose IDE connects to the debug port directly (attachment is read from the kernel).
    /// A session of an attach-port project with a pid needs nothing: its relays say who is
    /// attached, its pid says when it ends, a Wait looks afresh, and a relay its server refuses
    /// sends it back to pending — so 1,000 idle relays cost no wakeup.
    func needsWatching(_ session: SessionRecord) -> Bool {
        !session.isMirror
            && (session.endsWithPort || session.info.pid == nil
                || projects[session.info.project]?.config.attachPort == nil)
    }

    /// The earliest monotonic time at which a waiter or a pending session times out.
    public var nextDeadline: Double? { schedule.deadline }

    // MARK: Start-up

    /// Takes the projects read from `projects.json`; invalid entries are skipped and named.
    /// Through the door only (`BrokerInput.loadProjects`).
    mutating func load(_ configs: [ProjectConfig]) -> (actions: [BrokerAction], skipped: [String]) {
        var actions: [BrokerAction] = []
        var skipped: [String] = []
        // The ports taken so far, so that loading N projects is not N² (`conflict(for:)`).
        var taken: Set<Int> = []
        for config in configs {
            let params = AddProjectParameters(
                name: config.name, debugPort: config.debugPort, debugHost: config.debugHost,
                rendezvousPort: config.rendezvousPort, readyTimeout: config.readyTimeout,
                allowRemote: config.allowRemote, attachPort: config.attachPort,
                remote: config.remote?.destination, remoteProject: config.remote?.project,
                remoteSocket: config.remote?.socket, sshCommand: config.remote?.sshCommand,
                follow: config.follow)
            guard let valid = try? ProjectConfig.validated(params), projects[valid.name] == nil,
                taken.isDisjoint(with: valid.ownPorts)
            else {
                skipped.append(config.name)
                continue
            }
            taken.formUnion(valid.ownPorts)
            projects[valid.name] = ProjectRecord(config: valid)
            actions.append(.openListeners(project: valid.name))
        }
        return (actions, skipped)
    }

    /// A port of `config` that another project already uses: one attachd listens on for it
    /// (attach, rendezvous), or its debug port where `config` would have attachd listen. Which
    /// port, that project, the port's role there and the option of `config` to change.
    func conflict(for config: ProjectConfig) -> (port: Int, project: String, role: String, option: String)? {
        let mine: [(port: Int?, option: String, attachdListens: Bool)] = [
            (config.attachPort, "--attach-port", true),
            (config.rendezvousPort, "--rendezvous-port", true),
            // A handoff port is the debug server's once a host starts: as a debug port it is.
            (config.debugPort, "--debug-port", false),
        ]
        for other in projects.values.sorted(by: { $0.config.name < $1.config.name })
        where other.config.name != config.name {
            let theirs: [(port: Int?, role: String, attachdListens: Bool)] = [
                (other.config.attachPort, "attach", true),
                (other.config.isHandoff ? nil : other.config.rendezvousPort, "rendezvous", true),
                (other.config.debugPort, "debug", false),
            ]
            for (port, option, listens) in mine {
                guard let port else { continue }
                // Two projects may share a debug port (their hosts take turns); attachd's own
                // listeners are one project's alone.
                if let hit = theirs.first(where: { $0.port == port && ($0.attachdListens || listens) }) {
                    return (port, other.config.name, hit.role, option)
                }
            }
        }
        return nil
    }

    mutating func makeSessionID(project: String) -> String {
        defer { nextSessionNumber += 1 }
        return "\(project)-\(nextSessionNumber)"
    }
}
