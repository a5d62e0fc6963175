import Testing

@testable import AttachProtocol

/// The replies read by hand (`JSONReadable`) against their synthesized `Decodable`: the same
/// values from the same bytes, and a failure wherever Decodable fails, naming the same field.
@Suite("Replies read by hand agree with Decodable")
struct ReplyReadingTests {
    static let relay = RelayInfo(
        id: 3, project: "p", session: "p-1", peer: "127.0.0.1:40000", startedAt: 1796135140.25,
        bytesToHost: 12, bytesToIDE: 34, endReason: "ide closed")
    static let remote = RemoteInfo(
        destination: "me@render42:2222", project: "farm", socket: "/run/user/1000/attachd/control.sock",
        sshCommand: "ssh -F cfg", state: .unreachable, error: "Permission denied (publickey).", version: "0.2.0")

    static var fullSession: SessionInfo {
        var session = SessionInfo(
            id: "p-1", project: "p", state: .ready, origin: .lines, debugHost: "127.0.0.1", debugPort: 5678,
            attachPort: 15678, pid: 4242, status: "debugpy 1.8", startedAt: 1796135140.1141717,
            readyAt: 1796135140.1143868, endedAt: 1796135141.5, endReason: "host exited")
        session.problem = "port 5678 is held by pid 7 (nc), not by the host"
        session.relays = [relay, relay]
        session.remote = "render42"
        session.remoteId = "farm-9"
        session.executable = "/opt/blender/blender"
        session.python = "/usr/bin/python3.11"
        session.projectDebugPort = 5678
        return session
    }

    static let fullProject = ProjectInfo(
        name: "farm", debugHost: "127.0.0.1", debugPort: 5678, attachPort: 15678,
        selectedSession: "farm-9", rendezvousPort: 5679, rendezvousSocket: "/run/p.sock",
        readyTimeout: 120, allowRemote: true, error: "port in use", remote: remote, follow: true)
    static let status = StatusReply(
        version: "0.2.0", pid: 99, uptime: 12.5, projects: 2, sessions: 3, pending: 1, ready: 2,
        waiters: 4, connections: 5, probe: "sock_diag")

    /// Every optional of `value` is set, so that a member the hand reader forgets shows up.
    static func allSet(_ value: Any) -> Bool {
        Mirror(reflecting: value).children.allSatisfy { child in
            let mirror = Mirror(reflecting: child.value)
            return mirror.displayStyle != .optional || !mirror.children.isEmpty
        }
    }

    static func bytes<T: Encodable>(_ parameters: T) -> [UInt8] {
        Array(VarlinkCodec().frameReply(parameters).dropLast())
    }

    static func both<T: JSONReadable & Equatable>(_ type: T.Type, _ bytes: [UInt8]) -> (
        byHand: Result<T?, ReplyDecodingError>, decodable: Result<T?, ReplyDecodingError>
    ) {
        let byHand: Result<T?, ReplyDecodingError>
        do { byHand = .success(try T.readReply(bytes).parameters) } catch { byHand = .failure(error) }
        let decodable: Result<T?, ReplyDecodingError>
        do { decodable = .success(try VarlinkCodec().reply(T.self, from: bytes).parameters) } catch {
            decodable = .failure(error)
        }
        return (byHand, decodable)
    }

    @Test("the samples set every member")
    func samplesAreFull() {
        #expect(Self.allSet(Self.fullSession))
        #expect(Self.allSet(Self.relay))
        #expect(Self.allSet(Self.fullProject))
        #expect(Self.allSet(Self.remote))
        #expect(Self.allSet(Self.status))
    }

    @Test("full and minimal replies read the same both ways")
    func sameValues() throws {
        let minimal = SessionInfo(
            id: "p-2", project: "p", state: .pending, origin: .control, debugHost: "::1", debugPort: nil, startedAt: 1)
        for session in [Self.fullSession, minimal] {
            let reply = SessionReply(session: session)
            #expect(try SessionReply.readReply(Self.bytes(reply)).parameters == reply)
        }
        let projects = ListProjectsReply(projects: [
            Self.fullProject,
            ProjectInfo(
                name: "q", debugHost: "127.0.0.1", debugPort: nil,
                rendezvousPort: nil, rendezvousSocket: "/q.sock",
                readyTimeout: 0.5, allowRemote: false),
        ])
        #expect(try ListProjectsReply.readReply(Self.bytes(projects)).parameters == projects)
        #expect(try StatusReply.readReply(Self.bytes(Self.status)).parameters == Self.status)
        #expect(try ListProjectsReply.readReply(Self.bytes(ListProjectsReply(projects: []))).parameters?.projects == [])
    }

    @Test("error replies and the envelope read the same both ways")
    func envelopes() throws {
        let texts = [
            #"{"error":"io.attachd.Broker.NoSuchProject","parameters":{"name":"x"}}"#,
            #"{"error":"io.attachd.Broker.Timeout"}"#,
            #"{"parameters":{"projects":[]},"continues":true}"#,
            #"{"continues":"yes","parameters":{"projects":[]}}"#,
            #"{"projects":[]}"#, #"{"parameters":null}"#, #"{"parameters":5}"#, #"[]"#, #"not json"#, #"{"error":5}"#,
        ]
        for text in texts {
            let bytes = Array(text.utf8)
            let byHand = Result { () throws(ReplyDecodingError) in try ListProjectsReply.readReply(bytes) }
            let decodable = Result { () throws(ReplyDecodingError) in
                try VarlinkCodec().reply(ListProjectsReply.self, from: bytes)
            }
            switch (byHand, decodable) {
            case (.success(let a), .success(let b)):
                #expect(a.parameters == b.parameters && a.error == b.error && a.continues == b.continues, "\(text)")
            case (.failure(let a), .failure(let b)):
                if case .malformed = b { if case .malformed = a {} else { Issue.record("\(text): \(a) vs \(b)") } }
                if case .mismatch(let field?) = b { #expect(a == .mismatch(field: field), "\(text)") }
            default:
                Issue.record("\(text): by hand \(byHand), Decodable \(decodable)")
            }
        }
    }

    /// Every member of `value`, at every depth, removed or replaced by a value of another kind.
    static func mutations(of value: JSONValue) -> [JSONValue] {
        let others: [JSONValue] = [
            .null, .bool(true), .number(1.5), .number(-2), .string("bogus"), .array([]), .object([:]),
        ]
        switch value {
        case .object(let members):
            var result: [JSONValue] = []
            for (key, member) in members {
                var removed = members
                removed[key] = nil
                result.append(.object(removed))
                for other in others where other != member {
                    var changed = members
                    changed[key] = other
                    result.append(.object(changed))
                }
                for deeper in mutations(of: member) {
                    var changed = members
                    changed[key] = deeper
                    result.append(.object(changed))
                }
            }
            return result
        case .array(let elements) where !elements.isEmpty:
            return mutations(of: elements[0]).map { .array([$0] + elements.dropFirst()) }
        default:
            return []
        }
    }

    func agree<T: JSONReadable & Equatable & Encodable>(_ sample: T) throws {
        let parameters = try JSONValue.parse(Self.bytes(sample))["parameters"]!
        var checked = 0
        for mutated in Self.mutations(of: parameters) {
            let bytes = Array(JSONValue.object(["parameters": mutated]).compactText.utf8)
            let (byHand, decodable) = Self.both(T.self, bytes)
            switch (byHand, decodable) {
            case (.success(let a), .success(let b)):
                #expect(a == b, "\(mutated.compactText)")
            case (.failure(let a), .failure(let b)):
                // Decodable names no field for a number that does not fit an Int (Linux).
                if case .mismatch(let field?) = b { #expect(a == .mismatch(field: field), "\(mutated.compactText)") }
            default:
                Issue.record("\(mutated.compactText): by hand \(byHand), Decodable \(decodable)")
            }
            checked += 1
        }
        #expect(checked > 50)
    }

    @Test("every member removed or of the wrong kind: both fail, on the same field, or both read the same")
    func mutationsAgree() throws {
        try agree(SessionReply(session: Self.fullSession))
        try agree(ListProjectsReply(projects: [Self.fullProject]))
        try agree(Self.status)
    }
}
