import AttachProtocol
import AttachSystem

/// A typed client of `io.attachd.Broker` over one control connection.
///
/// Each method makes one call and waits for its reply. ``lastReply`` keeps the raw parameters
/// of the last reply, for callers that print what the API gave verbatim (`--json`).
public final class BrokerClient {
    public static let interface = InterfaceDescriptions.brokerName

    public let connection: VarlinkConnection
    /// The raw parameters of the last successful reply.
    public private(set) var lastReply: JSONValue = .object([:])

    /// Connects to attachd's control socket at `socketPath`.
    public init(socketPath: String) throws(ClientError) {
        connection = try VarlinkConnection(path: socketPath)
    }

    public init(connection: VarlinkConnection) {
        self.connection = connection
    }

    public var socketPath: String { connection.path }

    public func close() { connection.close() }

    private func call<P: Encodable, R: Decodable>(_ member: String, _ parameters: P, as type: R.Type,
                                                  deadline: Double? = nil, tickInterval: Double = 0.1,
                                                  tick: (() -> Void)? = nil) throws(ClientError) -> R {
        let result = try connection.call(Self.interface + "." + member, parameters, as: R.self,
                                         deadline: deadline, tickInterval: tickInterval, tick: tick)
        lastReply = result.json
        return result.reply
    }

    // MARK: - Projects

    /// `AddProject`: adds a project and opens its rendezvous listeners.
    public func addProject(_ parameters: AddProjectParameters) throws(ClientError) -> ProjectInfo {
        try call("AddProject", parameters, as: ProjectReply.self).project
    }

    /// `RemoveProject`.
    public func removeProject(_ name: String) throws(ClientError) {
        _ = try call("RemoveProject", ProjectNameParameters(name: name), as: EmptyReply.self)
    }

    /// `GetProject`.
    public func getProject(_ name: String) throws(ClientError) -> ProjectInfo {
        try call("GetProject", ProjectNameParameters(name: name), as: ProjectReply.self).project
    }

    /// `ListProjects`.
    public func listProjects() throws(ClientError) -> [ProjectInfo] {
        try call("ListProjects", EmptyReply(), as: ListProjectsReply.self).projects
    }

    // MARK: - Sessions

    /// `ListSessions` of one project, or of all when `project` is nil.
    public func listSessions(project: String? = nil) throws(ClientError) -> [SessionInfo] {
        try call("ListSessions", ListSessionsParameters(project: project), as: ListSessionsReply.self).sessions
    }

    /// `EndSession`.
    public func endSession(id: String) throws(ClientError) -> SessionInfo {
        try call("EndSession", EndSessionParameters(id: id), as: SessionReply.self).session
    }

    /// `Announce`: a host announces itself over the control socket.
    public func announce(_ parameters: AnnounceParameters) throws(ClientError) -> SessionInfo {
        try call("Announce", parameters, as: SessionReply.self).session
    }

    /// `Wait`: blocks until a session of `project` is ready.
    ///
    /// - Parameters:
    ///   - timeout: sent to the daemon; nil lets it use the project's ready timeout.
    ///   - grace: the client gives up on its own `grace` seconds after `timeout` (only when a
    ///     timeout is given), throwing ``ClientError/deadlineExceeded(seconds:)``.
    ///   - tick: called about every `tickInterval` seconds while waiting.
    public func wait(project: String, timeout: Double? = nil, grace: Double = 10,
                     tickInterval: Double = 0.1, tick: (() -> Void)? = nil) throws(ClientError) -> SessionInfo {
        let deadline = timeout.map { Clock.monotonicSeconds() + $0 + grace }
        return try call("Wait", WaitParameters(project: project, timeout: timeout), as: SessionReply.self,
                        deadline: deadline, tickInterval: tickInterval, tick: tick).session
    }

    /// `Watch` with `more: true`. The subscription acknowledgement (a reply without an event)
    /// calls `onAcknowledged`; each event calls `onEvent` with the event and its raw JSON.
    /// Returning false from `onEvent` stops the stream. Returns when the stream ends; a daemon
    /// that goes away throws ``ClientError/connectionLost``.
    public func watch(project: String? = nil, onAcknowledged: () -> Void = {},
                      onEvent: (BrokerEvent, JSONValue) -> Bool) throws(ClientError) {
        let method = Self.interface + ".Watch"
        let connection = self.connection
        try connection.callMore(method, parameters: connection.encode(WatchParameters(project: project))) {
            (json: JSONValue) throws(ClientError) -> Bool in
            let reply = try connection.decode(WatchReply.self, from: json, method: method)
            guard let event = reply.event else {
                onAcknowledged()
                return true
            }
            return onEvent(event, json["event"] ?? .null)
        }
    }

    // MARK: - Service

    /// `GetStatus`.
    public func status() throws(ClientError) -> StatusReply {
        try call("GetStatus", EmptyReply(), as: StatusReply.self)
    }

    /// `org.varlink.service.GetInfo`.
    public func getInfo() throws(ClientError) -> ServiceInfoReply {
        let result = try connection.call("org.varlink.service.GetInfo", EmptyReply(), as: ServiceInfoReply.self)
        lastReply = result.json
        return result.reply
    }
}
