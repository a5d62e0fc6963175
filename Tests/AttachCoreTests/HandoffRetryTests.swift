import AttachCore
import AttachProtocol
import Testing

@Suite("A listener retry during a handoff")
struct HandoffRetryTests {
    @Test(
        "another listener coming up while the TCP port is given up does not forget the handoff: the port is still taken back"
    )
    func retryKeepsTheHandoff() {
        var h = Harness()
        h.add("maxtools", debugPort: 5678, rendezvousPort: 5678)
        #expect(h.send(.hostConnected(1, project: "maxtools", viaTCP: true)) == [.releaseTCPPort(project: "maxtools")])
        _ = h.send(.hostClosed(1, project: "maxtools", receivedBytes: false))
        _ = h.tick([5678])
        // ProjectListeners bound the attach port (or the socket) on a retry meanwhile.
        _ = h.send(.listenersOpened(project: "maxtools", error: nil))
        let ended = h.tick([])
        #expect(ended.eventKinds == [.sessionEnded])
        #expect(ended.contains(.reclaimTCPPort(project: "maxtools")))
    }
}
