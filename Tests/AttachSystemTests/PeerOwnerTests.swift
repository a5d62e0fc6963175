import Testing

@testable import AttachSystem

@Suite struct PeerOwnerTests {
    @Test("the owner of a live local TCP peer is this process's user")
    func livePeerIsOurs() throws {
        let probe = ListenProbe()
        let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let client = try Socket.connectTCP(host: "127.0.0.1", port: try Socket.localPort(listener))
        defer { client.close() }
        #expect(try listener.waitReadable(timeoutMilliseconds: 5000))
        let accepted = try #require(try Socket.accept(listener))
        defer { accepted.close() }
        #expect(probe.peerOwner(of: accepted) == .user(ProcessHandle.currentUID))
    }

    @Test("a peer that already closed has no owner left to ask")
    func closedPeerIsUnknown() throws {
        let probe = ListenProbe()
        let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let client = try Socket.connectTCP(host: "127.0.0.1", port: try Socket.localPort(listener))
        #expect(try listener.waitReadable(timeoutMilliseconds: 5000))
        let accepted = try #require(try Socket.accept(listener))
        defer { accepted.close() }
        client.close()
        // End of file reached us, so the peer socket is closed (orphaned) in the kernel.
        #expect(try accepted.waitReadable(timeoutMilliseconds: 5000))
        #expect(probe.peerOwner(of: accepted) == .unknown)
    }

    @Test("a Unix socket is not a TCP peer")
    func unixSocketIsUnknown() throws {
        let (a, b) = try Socket.pair()
        defer {
            a.close()
            b.close()
        }
        #expect(ListenProbe().peerOwner(of: a) == .unknown)
    }
}
