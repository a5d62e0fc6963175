// The replies of every F5 (`Wait`, `GetStatus`, `ListProjects`), read by hand, and `Wait`'s
// parameters, written by hand; see `JSONReadable` for why. Each reads (writes) the same members,
// with the same optionality, as the type's synthesized `Decodable` (`Encodable`).

extension VarlinkCall {
    /// The call's bytes, ended by the NUL that frames it, written by hand: the same members as
    /// `Encodable` writes (absent ones left out), in compact JSON with sorted keys.
    public var framedByHand: [UInt8] {
        var members: [String: JSONValue] = ["method": .string(method)]
        if let parameters { members["parameters"] = parameters }
        if let oneway { members["oneway"] = .bool(oneway) }
        if let more { members["more"] = .bool(more) }
        if let upgrade { members["upgrade"] = .bool(upgrade) }
        return Array(JSONValue.object(members).compactText.utf8) + [0]
    }
}

extension WaitParameters {
    /// The parameters as JSON members, as `Encodable` writes them (no `timeout` when nil).
    public var members: [String: JSONValue] {
        var members: [String: JSONValue] = ["project": .string(project)]
        if let timeout { members["timeout"] = .number(timeout) }
        return members
    }
}

extension SessionReply: JSONReadable {
    public init(reading object: JSONObjectReader) throws(ReplyDecodingError) {
        self.init(session: try object.object("session", SessionInfo.self))
    }
}

extension SessionInfo: JSONReadable {
    public init(reading o: JSONObjectReader) throws(ReplyDecodingError) {
        self.init(
            id: try o.string("id"), project: try o.string("project"), state: try o.case("state", SessionState.self),
            origin: try o.case("origin", SessionOrigin.self), debugHost: try o.string("debugHost"),
            debugPort: try o.optionalInt("debugPort"), attachPort: try o.optionalInt("attachPort"),
            pid: try o.optionalInt("pid"), status: try o.optionalString("status"),
            startedAt: try o.double("startedAt"), readyAt: try o.optionalDouble("readyAt"),
            endedAt: try o.optionalDouble("endedAt"), endReason: try o.optionalString("endReason"))
        problem = try o.optionalString("problem")
        projectDebugPort = try o.optionalInt("projectDebugPort")
        relays = try o.optionalArray("relays", of: RelayInfo.self)
        remote = try o.optionalString("remote")
        remoteId = try o.optionalString("remoteId")
        executable = try o.optionalString("executable")
        python = try o.optionalString("python")
    }
}

extension RelayInfo: JSONReadable {
    public init(reading o: JSONObjectReader) throws(ReplyDecodingError) {
        self.init(
            id: try o.int("id"), project: try o.string("project"), session: try o.optionalString("session"),
            peer: try o.string("peer"), startedAt: try o.double("startedAt"), bytesToHost: try o.int("bytesToHost"),
            bytesToIDE: try o.int("bytesToIDE"), endReason: try o.optionalString("endReason"))
    }
}

extension StatusReply: JSONReadable {
    public init(reading o: JSONObjectReader) throws(ReplyDecodingError) {
        self.init(
            version: try o.string("version"), pid: try o.int("pid"), uptime: try o.double("uptime"),
            projects: try o.int("projects"), sessions: try o.int("sessions"), pending: try o.int("pending"),
            ready: try o.int("ready"), waiters: try o.int("waiters"), connections: try o.int("connections"),
            probe: try o.string("probe"))
    }
}

extension ListProjectsReply: JSONReadable {
    public init(reading object: JSONObjectReader) throws(ReplyDecodingError) {
        self.init(projects: try object.array("projects", of: ProjectInfo.self))
    }
}

extension ProjectInfo: JSONReadable {
    public init(reading o: JSONObjectReader) throws(ReplyDecodingError) {
        self.init(
            name: try o.string("name"), debugHost: try o.string("debugHost"), debugPort: try o.optionalInt("debugPort"),
            attachPort: try o.optionalInt("attachPort"), selectedSession: try o.optionalString("selectedSession"),
            rendezvousPort: try o.optionalInt("rendezvousPort"), rendezvousSocket: try o.string("rendezvousSocket"),
            readyTimeout: try o.double("readyTimeout"), allowRemote: try o.bool("allowRemote"),
            error: try o.optionalString("error"), remote: try o.optionalObject("remote", RemoteInfo.self),
            follow: try o.optionalBool("follow"))
    }
}

extension RemoteInfo: JSONReadable {
    public init(reading o: JSONObjectReader) throws(ReplyDecodingError) {
        self.init(
            destination: try o.string("destination"), project: try o.string("project"),
            socket: try o.optionalString("socket"), sshCommand: try o.optionalString("sshCommand"),
            state: try o.case("state", RemoteLinkState.self), error: try o.optionalString("error"),
            version: try o.optionalString("version"))
    }
}

/// One reply read by hand (see `JSONReadable`): what `VarlinkTypedReply` holds, as a tuple,
/// since instantiating the generic `VarlinkTypedReply<P>` at run time costs a conformance scan.
public typealias VarlinkReadReply<P> = (parameters: P?, continues: Bool?, error: VarlinkError?)

extension JSONReadable {
    /// Reads one reply message (without its NUL) as `VarlinkCodec.reply(_:from:)` decodes it,
    /// by hand: not JSON or not an object is `.malformed`; parameters that do not fit are
    /// `.mismatch`; a successful reply without `parameters` is read as `{}`.
    public static func readReply(_ bytes: [UInt8]) throws(ReplyDecodingError) -> VarlinkReadReply<Self> {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw .malformed("\(error)")
        }
        guard case .object(let members) = value else { throw .malformed("the reply is not a JSON object") }
        let envelope = try JSONObjectReader(value)
        var continues: Bool?
        if let flag = members["continues"], flag != .null {
            guard case .bool(let more) = flag else { throw .mismatch(field: "continues") }
            continues = more
        }
        // An absent or null `parameters` is the same to Decodable.
        let parameters = members["parameters"].flatMap { $0 == .null ? nil : $0 }
        if let name = try envelope.optionalString("error") {
            return (nil, continues, VarlinkError(name: name, parameters: parameters))
        }
        do {
            return (try Self(reading: JSONObjectReader(parameters ?? .object([:]))), continues, nil)
        } catch .mismatch(nil) {
            throw .mismatch(field: "parameters")
        }
    }
}
