import AttachProtocol
import AttachSystem

/// A typed client of `io.attachd.Broker` over one control connection.
///
/// Each method makes one call and waits for its reply, whose bytes are decoded once, straight
/// into the method's reply type. ``lastReply`` gives the last reply's parameters as the API
/// sent them, for callers that print them verbatim (`--json`).
public final class BrokerClient {
    public static let interface = InterfaceDescriptions.brokerName

    public let connection: VarlinkConnection

    /// Connects to attachd's control socket at `socketPath` (socket(2), connect(2)).
    public init(socketPath: String) throws(ClientError) {
        connection = try VarlinkConnection(path: socketPath)
    }

    public init(connection: VarlinkConnection) {
        self.connection = connection
    }

    public var socketPath: String { connection.path }

    public func close() { connection.close() }

    /// The parameters of the last reply received, as sent (`{}` before the first, or when the
    /// bytes are not JSON). Decoded from the reply's bytes when asked for, not on every call.
    public var lastReply: JSONValue {
        let message = connection.lastMessage
        guard !message.isEmpty, let reply = try? VarlinkCodec().decode(VarlinkReply.self, from: message) else {
            return .object([:])
        }
        return reply.parameters ?? .object([:])
    }

    private func call<P: Encodable, R: Decodable>(
        _ method: VarlinkMethod, _ parameters: P?, as type: R.Type,
        deadline: Double? = nil, tickInterval: Double = 0.1,
        tick: (() -> Void)? = nil
    ) throws(ClientError) -> R {
        try connection.call(
            method, parameters, as: R.self,
            deadline: deadline, tickInterval: tickInterval, tick: tick)
    }

    private static let none: EmptyReply? = nil

    // MARK: - Projects

    /// `AddProject`: adds a project and opens its rendezvous listeners.
    public func addProject(_ parameters: AddProjectParameters) throws(ClientError) -> ProjectInfo {
        try call(.addProject, parameters, as: ProjectReply.self).project
    }

    /// `RemoveProject`.
    public func removeProject(_ name: String) throws(ClientError) {
        _ = try call(.removeProject, ProjectNameParameters(name: name), as: EmptyReply.self)
    }

    /// `GetProject`.
    public func getProject(_ name: String) throws(ClientError) -> ProjectInfo {
        try call(.getProject, ProjectNameParameters(name: name), as: ProjectReply.self).project
    }

    /// `ListProjects`.
    public func listProjects() throws(ClientError) -> [ProjectInfo] {
        try connection.call(.listProjects, nil, reading: ListProjectsReply.self).projects
    }

    // MARK: - Sessions

    /// `ListSessions` of one project, or of all when `project` is nil.
    public func listSessions(project: String? = nil) throws(ClientError) -> [SessionInfo] {
        try call(.listSessions, ListSessionsParameters(project: project), as: ListSessionsReply.self).sessions
    }

    /// `EndSession`.
    public func endSession(id: String) throws(ClientError) -> SessionInfo {
        try call(.endSession, EndSessionParameters(id: id), as: SessionReply.self).session
    }

    /// `SetFollow`: whether the project's IDE sessions follow its hosts.
    public func setFollow(project: String, _ follow: Bool) throws(ClientError) -> ProjectInfo {
        try call(.setFollow, SetFollowParameters(name: project, follow: follow), as: ProjectReply.self).project
    }

    /// `SelectSession`: pins a project's new IDE connections to `session` (nil: clears the pin).
    public func selectSession(project: String, session: String?) throws(ClientError) -> ProjectInfo {
        try call(.selectSession, SelectSessionParameters(project: project, session: session), as: ProjectReply.self)
            .project
    }

    /// `Announce`: a host announces itself over the control socket. `deadline`: a
    /// `Clock.monotonicSeconds()` instant after which the reply is no longer waited for.
    public func announce(_ parameters: AnnounceParameters, deadline: Double? = nil) throws(ClientError) -> SessionInfo {
        try call(.announce, parameters, as: SessionReply.self, deadline: deadline).session
    }

    /// `Wait`: blocks until a session of `project` is ready.
    ///
    /// - Parameters:
    ///   - timeout: sent to the daemon; nil lets it use the project's ready timeout.
    ///   - grace: the client gives up on its own `grace` seconds after `timeout` (only when a
    ///     timeout is given), throwing ``ClientError/deadlineExceeded(seconds:)``.
    ///   - tick: called about every `tickInterval` seconds while waiting.
    public func wait(
        project: String, timeout: Double? = nil, grace: Double = 10,
        tickInterval: Double = 0.1, tick: (() -> Void)? = nil
    ) throws(ClientError) -> SessionInfo {
        let deadline = timeout.map { Clock.monotonicSeconds() + $0 + grace }
        return try connection.call(
            .wait, WaitParameters(project: project, timeout: timeout).members,
            reading: SessionReply.self,
            deadline: deadline, tickInterval: tickInterval, tick: tick
        ).session
    }

    /// `Watch` with `more: true`. The subscription acknowledgement (a reply without an event)
    /// calls `onAcknowledged`; each event calls `onEvent` (its JSON as sent is
    /// `lastReply["event"]`). Returning false from `onEvent` stops the stream. Returns when the
    /// stream ends; a daemon that goes away throws ``ClientError/connectionLost``. `tick`, when
    /// given, is called about every `tickInterval` seconds between events.
    public func watch(
        project: String? = nil, tickInterval: Double = 0.1, tick: (() -> Void)? = nil,
        onAcknowledged: () -> Void = {},
        onEvent: (BrokerEvent) -> Bool
    ) throws(ClientError) {
        try connection.callMore(
            .watch, WatchParameters(project: project),
            as: WatchReply.self, tickInterval: tickInterval,
            tick: tick
        ) { (reply: WatchReply) throws(ClientError) -> Bool in
            guard let event = reply.event else {
                onAcknowledged()
                return true
            }
            return onEvent(event)
        }
    }

    // MARK: - Service

    /// `GetStatus`.
    public func status() throws(ClientError) -> StatusReply {
        try connection.call(.getStatus, nil, reading: StatusReply.self)
    }
}
