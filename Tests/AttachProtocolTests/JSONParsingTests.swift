import FoundationEssentials
import Testing

@testable import AttachProtocol

/// `JSONValue.parse` and `compactText`, the hand-written JSON of attachctl's fast path, against
/// FoundationEssentials' JSONDecoder on the same bytes.
@Suite("JSONValue.parse and compactText")
struct JSONParsingTests {
    static func foundation(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test(
        "valid documents read as JSONDecoder reads them",
        arguments: [
            #"{}"#, #"[]"#, #"null"#, #"true"#, #"false"#, #"0"#, #"-0"#, #"12"#, #"-3.25"#, #"1e3"#, #"2.5E-2"#,
            #" { "a" : [ 1 , 2 , { "b" : null } ] , "c" : "d" } "#,
            #"{"s":"quote \" backslash \\ slash \/ controls \b\f\n\r\t"}"#,
            #"{"u":"\u00e9\u20AC\ud83d\ude00 raw é€😀"}"#,
            #"{"parameters":{"session":{"debugHost":"127.0.0.1","debugPort":47111,"readyAt":1796135140.1143868}}}"#,
            #"[[[[[[[[[[1]]]]]]]]]]"#, #"{"dup":1,"dup":2}"#,
        ])
    func valid(_ text: String) throws {
        let parsed = try JSONValue.parse(Array(text.utf8))
        #expect(parsed == Self.foundation(text))
    }

    @Test(
        "invalid documents are errors, not values",
        arguments: [
            "", " ", "{", "}", "[1,]", "[,1]", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, #"{a:1}"#, "01", "1.", ".5", "+1",
            "-",
            "1e", "1e+", "NaN", "Infinity", "tru", "nul", "true false", "{}x", #""abc"#, "\"a\u{01}b\"", #""\x""#,
            #""\u12""#, #""\ud83d""#, #""\ude00""#, #""\ud83d\u0041""#, "1e400",
            String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
        ])
    func invalid(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Array(text.utf8)) }
    }

    @Test("a string that is not UTF-8 is an error")
    func notUTF8() {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test("64 levels deep is allowed")
    func depth() throws {
        let text = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(try JSONValue.parse(Array(text.utf8)) == Self.foundation(text))
    }

    @Test("compactText reads back as the same value, and as JSONDecoder reads it")
    func roundTrip() throws {
        let values: [JSONValue] = [
            .object([
                "method": .string("io.attachd.Broker.Wait"),
                "parameters": .object(["project": .string("p"), "timeout": .number(0.5)]),
            ]),
            .object([
                "z": .array([.null, .bool(true), .bool(false), .number(-12), .number(1e-7), .number(123_456_789_012)]),
                "a": .string("\"\\/\n\r\t\u{01}\u{1F} é😀"),
            ]),
        ]
        for value in values {
            let text = value.compactText
            #expect(try JSONValue.parse(Array(text.utf8)) == value)
            #expect(Self.foundation(text) == value)
        }
    }

    @Test("a Wait call written by hand is what JSONEncoder writes")
    func waitCallBytes() {
        let parameters = WaitParameters(project: "maxtools", timeout: 30)
        let byHand = JSONValue.object([
            "method": .string("io.attachd.Broker.Wait"), "parameters": .object(parameters.members),
        ]).compactText
        struct Call: Encodable {
            var method: String
            var parameters: WaitParameters
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let byFoundation = String(
            decoding: try! encoder.encode(Call(method: "io.attachd.Broker.Wait", parameters: parameters)), as: UTF8.self
        )
        #expect(byHand == byFoundation)
        #expect(WaitParameters(project: "p").members == ["project": .string("p")])
    }
}

@Suite("VarlinkCall.framedByHand")
struct HandFramedCallTests {
    @Test("reads back as the call Encodable frames, for every combination of members")
    func sameAsCodable() throws {
        let calls = [
            VarlinkCall(method: "io.attachd.Broker.GetStatus"),
            VarlinkCall(
                method: "io.attachd.Broker.Wait",
                parameters: .object(WaitParameters(project: "p", timeout: 0.5).members)),
            VarlinkCall(
                method: "io.attachd.Broker.Watch", parameters: .object([:]), oneway: false, more: true, upgrade: false),
        ]
        for call in calls {
            let bytes = call.framedByHand
            #expect(bytes.last == 0)
            let byHand = try JSONValue.parse(Array(bytes.dropLast()))
            let byCodec = try JSONValue.parse(Array(VarlinkCodec().frame(call).dropLast()))
            #expect(byHand == byCodec)
            #expect(try VarlinkCodec().decode(VarlinkCall.self, from: Array(bytes.dropLast())) == call)
        }
    }
}
