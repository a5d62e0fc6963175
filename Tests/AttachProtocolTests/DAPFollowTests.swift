import Testing

@testable import AttachProtocol

private func message(_ json: String) -> DAPMessage {
    DAPMessage(body: Array(json.utf8))
}

/// The messages in `bytes`, parsed.
private func parsed(_ bytes: [UInt8]) throws -> [JSONValue] {
    var framer = DAPFramer()
    framer.append(bytes)
    var out: [JSONValue] = []
    while let m = try framer.next() { out.append(try JSONValue.parse(m.body)) }
    #expect(framer.buffered == 0)
    return out
}

@Suite("DAPFollow")
struct DAPFollowTests {
    @Test("messages pass unchanged until the adapter's terminated, which becomes output + terminated{restart}")
    func rewritesTerminated() throws {
        var follow = DAPFollow(project: "blend")
        let stopped = message(#"{"seq":41,"type":"event","event":"stopped","body":{"reason":"breakpoint"}}"#)
        #expect(follow.fromHost(stopped) == stopped.bytes)
        #expect(
            follow.fromHost(
                message(#"{"seq": 42 ,"type":"response","request_seq":7,"command":"threads","success":true}"#)
            ).count > 0)
        let said = try parsed(
            follow.fromHost(message(#"{"seq":43,"type":"event","event":"terminated","body":{"extra":1}}"#)))
        #expect(said.count == 2)
        #expect(said[0]["event"]?.stringValue == "output" && said[0]["seq"]?.intValue == 44)
        #expect(
            said[0]["body"]?["output"]?.stringValue == "attachd: the host ended; waiting for the next host of blend\n")
        #expect(said[1]["event"]?.stringValue == "terminated" && said[1]["seq"]?.intValue == 45)
        #expect(said[1]["body"]?["restart"] == .bool(true) && said[1]["body"]?["extra"]?.intValue == 1)
        #expect(follow.farewellSaid)
        #expect(follow.fromHost(stopped).isEmpty)
        #expect(follow.hostEnded() == nil)
    }

    @Test("a host that ends before its terminated gets one added, above every seq the adapter used")
    func addsTerminated() throws {
        var follow = DAPFollow(project: "p")
        _ = follow.fromHost(
            message(#"{"seq":9,"type":"event","event":"custom","body":{"inner":{"seq" : 120},"text":"\"seq\": 999"}}"#))
        let farewell = follow.hostEnded()
        let said = try parsed(try #require(farewell))
        #expect(said.map { $0["event"]?.stringValue } == ["output", "terminated"])
        #expect(said[1]["seq"]?.intValue == 122 && said[1]["body"]?["restart"] == .bool(true))
        #expect(follow.hostEnded() == nil)
    }

    @Test("after the IDE's disconnect or terminate nothing is changed or added")
    func ideAsked() {
        for command in ["disconnect", "terminate"] {
            var follow = DAPFollow(project: "p")
            follow.fromIDE(
                Array(
                    #"{"seq":3,"type":"request","command":"evaluate","arguments":{"expression":"\"disconnect\""}}"#.utf8
                ))
            #expect(!follow.ideAskedToEnd)
            follow.fromIDE(
                Array(
                    #"{"seq":4,"type":"request","command":"\#(command)","arguments":{"terminateDebuggee":false}}"#.utf8)
            )
            #expect(follow.ideAskedToEnd)
            let terminated = message(#"{"seq":50,"type":"event","event":"terminated"}"#)
            #expect(follow.fromHost(terminated) == terminated.bytes)
            #expect(follow.hostEnded() == nil)
        }
    }

    @Test("an event that only mentions terminated passes unchanged")
    func mentions() {
        var follow = DAPFollow(project: "p")
        let output = message(#"{"seq":5,"type":"event","event":"output","body":{"output":"\"terminated\""}}"#)
        #expect(follow.fromHost(output) == output.bytes)
        #expect(!follow.farewellSaid)
    }
}
