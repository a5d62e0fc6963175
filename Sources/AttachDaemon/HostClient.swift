import AttachProtocol

/// One host on a rendezvous socket.
final class HostClient {
    let connection: Connection
    let project: String
    let viaTCP: Bool
    var framer: LineFramer
    var receivedBytes = false
    var closedByDaemon = false
    /// Armed while a partial line waits for its end (`HostConnections.startIdleTimer`).
    var idle: QueueTimer?

    init(connection: Connection, project: String, viaTCP: Bool, maxLineLength: Int) {
        self.connection = connection
        self.project = project
        self.viaTCP = viaTCP
        self.framer = LineFramer(maxLineLength: maxLineLength)
    }

    func stopIdleTimer() {
        idle?.cancel()
        idle = nil
    }
}
