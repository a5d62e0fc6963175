import AttachCore
import AttachProtocol
import AttachSystem
import AttachSystemd
import Dispatch

extension Daemon {
    /// Stops cleanly: waiters get an error, sockets close, projects are saved.
    func shutdown(signal: Int32) {
        guard !shuttingDown else { return }
        shuttingDown = true
        Systemd.notify("STOPPING=1")
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        // Replies queued here reach their clients, briefly, before the process exits.
        control.stop(
            answering: { [self] connection in broker.waitingTokens(connection: connection) },
            keepDescriptor: !ownsControlSocket)
        if ownsControlSocket { Files.unlink(options.paths.controlSocket, ifStill: controlSocketFile) }
        // No new host or IDE from here on; systemd keeps its copies of the listeners.
        listeners.stopAll()
        relays.handOverAll()
        // Relays handed to the fd store keep their ssh channels for the next attachd.
        remotes.shutdown(keepingChannels: fdStore.isEnabled)
        saveProjects()
        queue.asyncConfined(after: 0.05) {
            ProcessHandle.exit(0)
        }
    }
}
