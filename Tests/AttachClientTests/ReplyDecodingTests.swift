import AttachProtocol
import Testing

@Suite("replies decoded once, into their type")
struct ReplyDecodingTests {
    let codec = VarlinkCodec()

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("a successful reply's parameters decode straight into the reply type")
    func typed() throws {
        let reply = try codec.reply(
            ProjectNameParameters.self, from: bytes(#"{"parameters":{"name":"p"},"continues":true}"#))
        #expect(reply.parameters == ProjectNameParameters(name: "p"))
        #expect(reply.continues == true)
        #expect(reply.error == nil)
    }

    @Test("a reply without parameters is {}")
    func empty() throws {
        let reply = try codec.reply(EmptyReply.self, from: bytes(#"{}"#))
        #expect(reply.parameters == EmptyReply())
    }

    @Test("an error reply keeps its parameters as JSON, whatever the reply type")
    func error() throws {
        let reply = try codec.reply(
            ProjectReply.self,
            from: bytes(#"{"error":"io.attachd.Broker.TooManyConnections","parameters":{"limit":2048}}"#))
        #expect(reply.parameters == nil)
        #expect(reply.error == .tooManyConnections(limit: 2048))
        #expect(reply.error?.knownName == .tooManyConnections)
    }

    @Test("a mismatch names the field; bad JSON is malformed")
    func failures() {
        #expect(throws: ReplyDecodingError.mismatch(field: "name")) {
            try codec.reply(ProjectNameParameters.self, from: bytes(#"{"parameters":{"name":5}}"#))
        }
        #expect(throws: ReplyDecodingError.mismatch(field: "name")) {
            try codec.reply(ProjectNameParameters.self, from: bytes(#"{"parameters":{}}"#))
        }
        #expect {
            try codec.reply(EmptyReply.self, from: bytes(#"{"parameters":"#))
        } throws: { error in
            if case .malformed = error as? ReplyDecodingError { return true }
            return false
        }
    }
}
