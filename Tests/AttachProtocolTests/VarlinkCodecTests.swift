import AttachProtocol
import Foundation
import Testing

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

private let session = SessionInfo(
    id: "maxtools-1", project: "maxtools", state: .pending, origin: .connect,
    debugHost: "127.0.0.1", debugPort: 5678, startedAt: 1_700_000_000)

@Suite("VarlinkCodec")
struct VarlinkCodecTests {
    let codec = VarlinkCodec()

    @Test("a call without parameters (as the PyPI client sends it) decodes with nil parameters")
    func callWithoutParameters() throws {
        let call = try codec.decode(VarlinkCall.self, from: Array(#"{"method":"io.attachd.Broker.ListProjects"}"#.utf8))
        #expect(call == VarlinkCall(method: "io.attachd.Broker.ListProjects"))
        #expect(call.interface == "io.attachd.Broker")
        #expect(call.member == "ListProjects")
        #expect(try codec.parameters(EmptyReply.self, of: call) == EmptyReply())
        #expect(try codec.parameters(ListSessionsParameters.self, of: call) == ListSessionsParameters())
    }

    @Test("a call with more: true decodes its flag and parameters")
    func callWithMore() throws {
        let bytes = Array(#"{"method":"io.attachd.Broker.Watch","parameters":{"project":"maxtools"},"more":true}"#.utf8)
        let call = try codec.decode(VarlinkCall.self, from: bytes)
        #expect(call.more == true)
        #expect(call.oneway == nil)
        #expect(call.parameters == .object(["project": .string("maxtools")]))
        #expect(try codec.parameters(WatchParameters.self, of: call) == WatchParameters(project: "maxtools"))
    }

    @Test("parameters decode into the method's type, optional keys absent")
    func addProjectParameters() throws {
        let call = try codec.decode(
            VarlinkCall.self,
            from: Array(
                #"{"method":"io.attachd.Broker.AddProject","parameters":{"name":"maxtools","debugPort":5678,"readyTimeout":30}}"#
                    .utf8))
        #expect(
            try codec.parameters(AddProjectParameters.self, of: call)
                == AddProjectParameters(name: "maxtools", debugPort: 5678, readyTimeout: 30))
    }

    @Test("a missing required parameter throws InvalidParameter naming it")
    func missingParameter() {
        let call = VarlinkCall(
            method: "io.attachd.Broker.AddProject", parameters: .object(["name": .string("maxtools")]))
        #expect(throws: VarlinkError.invalidParameter("debugPort")) {
            try codec.parameters(RequiredPort.self, of: call)
        }
    }

    /// A method with a required integer (AddProject's debugPort became optional with attachPort).
    struct RequiredPort: Decodable {
        var name: String
        var debugPort: Int
    }

    @Test(
        "a parameter of the wrong type throws InvalidParameter naming the field",
        arguments: [
            JSONValue.string("5678"), .number(5678.5), .bool(true), .null, .array([]),
        ])
    func wrongType(debugPort: JSONValue) {
        let call = VarlinkCall(
            method: "io.attachd.Broker.AddProject",
            parameters: .object(["name": .string("maxtools"), "debugPort": debugPort]))
        #expect(throws: VarlinkError.invalidParameter("debugPort")) {
            try codec.parameters(RequiredPort.self, of: call)
        }
    }

    @Test(
        "a number that does not fit an integer field is blamed on a field holding one, wherever it sorts",
        arguments: [
            (["debugPort": JSONValue.number(1e30)], "debugPort"),
            (["debugPort": .number(5678), "rendezvousPort": .number(5.5)], "rendezvousPort"),
            (
                ["debugPort": .number(5678), "readyTimeout": .number(2.5), "rendezvousPort": .number(-0.5)],
                "rendezvousPort"
            ),
            (["debugPort": .number(0.5), "rendezvousPort": .number(5.5)], "rendezvousPort"),
        ])
    func numberNotFittingInt(members: [String: JSONValue], field: String) {
        var parameters = members
        parameters["name"] = .string("maxtools")
        let call = VarlinkCall(method: "io.attachd.Broker.AddProject", parameters: .object(parameters))
        #expect(throws: VarlinkError.invalidParameter(field)) {
            try codec.parameters(AddProjectParameters.self, of: call)
        }
    }

    @Test("parameters that are not an object throw InvalidParameter(parameters)")
    func parametersNotAnObject() {
        let call = VarlinkCall(method: "io.attachd.Broker.GetProject", parameters: .array([.string("maxtools")]))
        #expect(throws: VarlinkError.invalidParameter("parameters")) {
            try codec.parameters(ProjectNameParameters.self, of: call)
        }
    }

    @Test("a framed reply ends with exactly one NUL and decodes back to itself")
    func replyRoundTrip() throws {
        let reply = VarlinkReply(parameters: codec.value(SessionReply(session: session)), continues: true)
        let bytes = codec.frame(reply)
        #expect(bytes.last == 0)
        #expect(bytes.filter { $0 == 0 }.count == 1)
        let decoded = try codec.decode(VarlinkReply.self, from: Array(bytes.dropLast()))
        #expect(decoded == reply)
        #expect(
            try codec.decode(SessionReply.self, from: Array(codec.frame(decoded.parameters).dropLast()))
                == SessionReply(session: session))
    }

    @Test("a framed reply goes through VarlinkFramer as one message")
    func replyThroughFramer() throws {
        let first = codec.frame(VarlinkReply(parameters: codec.value(SessionReply(session: session))))
        let second = codec.frame(VarlinkReply(error: .timeout(project: "maxtools", seconds: 2.5)))
        var framer = VarlinkFramer()
        framer.append(first + second)
        #expect(try framer.next() == Array(first.dropLast()))
        let error = try codec.decode(VarlinkReply.self, from: #require(try framer.next()))
        #expect(error.error == "io.attachd.Broker.Timeout")
        #expect(error.parameters == .object(["project": .string("maxtools"), "seconds": .number(2.5)]))
    }

    @Test("nil optional fields are omitted from encoded replies, never null")
    func nilFieldsOmitted() throws {
        let bytes = codec.frame(VarlinkReply(parameters: codec.value(SessionReply(session: session))))
        let json = text(Array(bytes.dropLast()))
        #expect(!json.contains("null"))
        for key in ["pid", "status", "readyAt", "endedAt", "endReason", "continues", "error"] {
            #expect(!json.contains("\"\(key)\""), "\(key) should be absent")
        }
        #expect(json.contains(#""debugPort":5678"#))
        let watch = text(codec.frame(VarlinkReply(parameters: codec.value(WatchReply()), continues: true)))
        #expect(watch == #"{"continues":true,"parameters":{}}"# + "\0")
    }

    @Test("an error reply carries the error name and its parameters")
    func errorReply() {
        let bytes = codec.frame(VarlinkReply(error: .invalidParameter("debugPort")))
        #expect(
            text(bytes) == #"{"error":"org.varlink.service.InvalidParameter","parameters":{"parameter":"debugPort"}}"#
                + "\0")
    }

    @Test(
        "JSONValue integral numbers encode without .0, others keep their fraction",
        arguments: [
            (JSONValue.number(5678), "5678"), (.number(-1), "-1"), (.number(0), "0"),
            (.number(2.5), "2.5"), (.number(1_700_000_000), "1700000000"),
            (.object(["port": .number(65535)]), #"{"port":65535}"#),
        ])
    func integralNumbers(value: JSONValue, json: String) {
        #expect(text(Array(codec.frame(value).dropLast())) == json)
    }

    @Test("JSONValue tells numbers from booleans when decoding")
    func numbersAreNotBooleans() throws {
        let value = try codec.decode(
            JSONValue.self, from: Array(#"{"a":1,"b":0,"c":true,"d":false,"e":null,"f":[1.5,"x"]}"#.utf8))
        #expect(
            value
                == .object([
                    "a": .number(1), "b": .number(0), "c": .bool(true), "d": .bool(false), "e": .null,
                    "f": .array([.number(1.5), .string("x")]),
                ]))
    }

    @Test("a float parameter accepts an integral JSON number")
    func floatAcceptsInteger() throws {
        let call = try codec.decode(
            VarlinkCall.self,
            from: Array(
                #"{"method":"io.attachd.Broker.Wait","parameters":{"project":"maxtools","timeout":5}}"#.utf8))
        #expect(try codec.parameters(WaitParameters.self, of: call) == WaitParameters(project: "maxtools", timeout: 5))
    }

    @Test("VarlinkError description lists its parameters, integers without a fraction")
    func errorDescription() {
        #expect(VarlinkError.invalidPort(99999).description == "io.attachd.Broker.InvalidPort (port=99999)")
        #expect(VarlinkError.shuttingDown().description == "io.attachd.Broker.ShuttingDown")
    }
}
