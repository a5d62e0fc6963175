import AttachProtocol
import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

private func dap(_ json: String) -> [UInt8] { DAPMessage(body: Array(json.utf8)).bytes }

/// The messages in `bytes`, parsed (all of them complete).
private func messages(_ bytes: [UInt8]) throws -> [JSONValue] {
    var framer = DAPFramer()
    framer.append(bytes)
    var out: [JSONValue] = []
    while let m = try framer.next() { out.append(try JSONValue.parse(m.body)) }
    #expect(framer.buffered == 0)
    return out
}

/// Reads from `fd` until end of file (or `seconds`): everything that came.
private func readToEnd(_ fd: FileDescriptor, within seconds: Double = 10) -> [UInt8] {
    var got: [UInt8] = []
    let deadline = Clock.monotonicSeconds() + seconds
    while Clock.monotonicSeconds() < deadline {
        let left = Int32(max(1, (deadline - Clock.monotonicSeconds()) * 1000))
        guard (try? fd.waitReadable(timeoutMilliseconds: left)) == true,
            let chunk = try? fd.read(upTo: 65536), !chunk.isEmpty
        else { break }
        got += chunk
    }
    return got
}

private let initialize = dap(#"{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"python"}}"#)
private let initialized =
    dap(#"{"seq":1,"type":"response","request_seq":1,"command":"initialize","success":true}"#)
    + dap(#"{"seq":2,"type":"event","event":"initialized"}"#)

/// A relay of a following project: DAP recognised from the IDE's first bytes and framed;
/// everything else byte for byte.
@Suite("Relay following the host")
struct FollowRelayTests {
    @Test(
        "the adapter's terminated becomes output + terminated{restart}, then the IDE's connection ends",
        arguments: RelayRig.Kind.allCases)
    func rewritten(kind: RelayRig.Kind) throws {
        let rig = try RelayRig(kind, splice: true, follow: "blend")
        try rig.ide.writeAll(initialize)
        #expect(read(rig.host, count: initialize.count) == initialize)
        try rig.host.writeAll(initialized)
        #expect(read(rig.ide, count: initialized.count) == initialized)
        #expect(rig.onLoop { rig.relay.isDAP })
        try rig.host.writeAll(dap(#"{"seq":3,"type":"event","event":"terminated"}"#))
        let said = try messages(readToEnd(rig.ide))
        #expect(said.map { $0["event"]?.stringValue } == ["output", "terminated"])
        #expect(
            said[0]["body"]?["output"]?.stringValue == "attachd: the host ended; waiting for the next host of blend\n")
        #expect(said[1]["body"]?["restart"] == .bool(true) && said[1]["seq"]?.intValue == 5)
        #expect(rig.ended.wait(for: 1) == ["the host ended; the IDE was told to restart"])
    }

    @Test("a host that closes (or resets) before its terminated: one is added; after the IDE's disconnect nothing is")
    func added() throws {
        for reset in [false, true] {
            let rig = try RelayRig(.tcp, splice: true, follow: "p")
            try rig.ide.writeAll(initialize)
            #expect(read(rig.host, count: initialize.count) == initialize)
            try rig.host.writeAll(initialized)
            #expect(read(rig.ide, count: initialized.count) == initialized)
            if reset { rig.resetHost() } else { Socket.shutdownWrite(rig.host) }
            let said = try messages(readToEnd(rig.ide))
            #expect(said.map { $0["event"]?.stringValue } == ["output", "terminated"], "reset \(reset)")
            #expect(said.last?["seq"]?.intValue == 4)
        }
        let rig = try RelayRig(.tcp, splice: true, follow: "p")
        let disconnect = dap(#"{"seq":2,"type":"request","command":"disconnect","arguments":{"restart":false}}"#)
        try rig.ide.writeAll(initialize + disconnect)
        #expect(read(rig.host, count: initialize.count + disconnect.count) == initialize + disconnect)
        let terminated = dap(#"{"seq":2,"type":"event","event":"terminated"}"#)
        try rig.host.writeAll(terminated)
        Socket.shutdownWrite(rig.host)
        #expect(readToEnd(rig.ide) == terminated)
    }

    @Test("Core's word that the host ended (sayHostEnded) reaches the IDE before the relay closes")
    func sayHostEnded() throws {
        let rig = try RelayRig(.socketpair, splice: true, follow: "p")
        try rig.ide.writeAll(initialize)
        #expect(read(rig.host, count: initialize.count) == initialize)
        try rig.host.writeAll(Array(initialized.dropLast(3)))  // half a message: never passed on before the farewell
        #expect(eventually(on: rig.loop) { rig.relay.bytesFromHost > 0 })
        #expect(rig.onLoop { rig.relay.sayHostEnded() })
        rig.onLoop { rig.relay.close(reason: "session ended") }
        let said = try messages(readToEnd(rig.ide))
        #expect(said.first?["command"]?.stringValue == "initialize")
        #expect(said.dropFirst().map { $0["event"]?.stringValue } == ["output", "terminated"])
    }

    @Test(
        "large bodies go on byte for byte, both copy paths; their seq counts; messages after them are framed",
        arguments: [true, false])
    func largeBodies(splice: Bool) throws {
        let rig = try RelayRig(.tcp, splice: splice, follow: "p")
        try rig.ide.writeAll(initialize)
        #expect(read(rig.host, count: initialize.count) == initialize)
        let filler = String(repeating: "x", count: 300_000)
        let big = dap(#"{"type":"response","command":"source","body":{"content":"\#(filler)"},"seq":41}"#)
        let stopped = dap(#"{"seq":7,"type":"event","event":"stopped"}"#)
        for message in [big, stopped, big, Array(big[0..<(big.count - 3)])] {
            try rig.host.writeAll(message)
            #expect(read(rig.ide, count: message.count) == message)
        }
        try rig.host.writeAll(Array(big[(big.count - 3)...]) + stopped)
        #expect(read(rig.ide, count: 3 + stopped.count) == Array(big[(big.count - 3)...]) + stopped)
        Socket.shutdownWrite(rig.host)
        let said = try messages(readToEnd(rig.ide))
        #expect(said.map { $0["event"]?.stringValue } == ["output", "terminated"])
        #expect(said.last?["seq"]?.intValue == 43)
    }

    @Test("DAP is recognised when its header comes in pieces")
    func pieces() throws {
        let rig = try RelayRig(.socketpair, splice: true, follow: "p")
        try rig.ide.writeAll(Array(initialize[0..<4]))
        #expect(rig.onLoop { !rig.relay.isDAP })
        try rig.ide.writeAll(Array(initialize[4...]))
        #expect(read(rig.host, count: initialize.count) == initialize)
        #expect(rig.onLoop { rig.relay.isDAP })
    }

    @Test(
        "other protocols pass byte for byte, both copy paths, whoever speaks first",
        arguments: [(true, true), (true, false), (false, true), (false, false)])
    func otherProtocols(splice: Bool, ideFirst: Bool) throws {
        let rig = try RelayRig(.tcp, splice: splice, follow: "p")
        let gdb = Array("+$qSupported:multiprocess+;swbreak+#c9".utf8) + pattern(200_000, seed: 9)
        let server = Array("+$PacketSize=47ff;QPassSignals+#d2".utf8) + pattern(300_000, seed: 8)
        if ideFirst {
            try rig.ide.writeAll(gdb)
            #expect(read(rig.host, count: gdb.count) == gdb)
            try rig.host.writeAll(server)
        } else {
            try rig.host.writeAll(server)
            #expect(read(rig.ide, count: server.count) == server)
            try rig.ide.writeAll(gdb)
            #expect(read(rig.host, count: gdb.count) == gdb)
        }
        if ideFirst { #expect(read(rig.ide, count: server.count) == server) }
        #expect(rig.onLoop { !rig.relay.isDAP })
        Socket.shutdownWrite(rig.host)
        #expect(readToEnd(rig.ide).isEmpty)
    }
}
