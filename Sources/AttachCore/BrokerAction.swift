import AttachProtocol

/// What the broker asks its I/O layer to do. The broker never does I/O itself.
public enum BrokerAction: Sendable, Equatable {
    /// Answer a control call.
    case respond(RequestToken, Result<BrokerResponse, VarlinkError>)
    /// Open the project's rendezvous listeners (Unix, and TCP when it has a port) and its attach
    /// listener, then report with `listenersOpened`.
    case openListeners(project: String)
    /// Close all of the project's listeners and remove its Unix socket file.
    case closeListeners(project: String)
    /// Close the TCP listener so the host's debug server can bind the port (handoff).
    case releaseTCPPort(project: String)
    /// Bind the TCP listener again after a handoff, then report with `listenersOpened`.
    case reclaimTCPPort(project: String)
    /// Write a reply line on a rendezvous connection.
    case sendLine(ConnectionID, RendezvousReply)
    /// Close a rendezvous connection.
    case closeConnection(ConnectionID)
    /// Report `processExited` when this process exits.
    case watchProcess(session: String, pid: Int32)
    case unwatchProcess(session: String)
    /// Connect an IDE connection held on an attach port to a session's debug endpoint and relay
    /// it; report `relayUp` or `relayFailed`, and `relayEnded` when it is over.
    case connectRelay(ConnectionID, session: String, host: String, port: Int)
    /// Like `connectRelay`, for a remote session: through an ssh channel of the project's remote
    /// link to `host:port` on the remote machine (`ssh -W`).
    case connectRemoteRelay(ConnectionID, session: String, project: String, host: String, port: Int)
    /// Open the link to a remote project's machine (ssh, `attachctl bridge` there) and report
    /// `remoteConnected`, `remoteSessions`, `remoteSession` and `remoteLost`; reconnect after a loss.
    case openRemote(project: String, RemoteConfig)
    /// Close a remote project's link (the project was removed).
    case closeRemote(project: String)
    /// The host behind this relay ended on its own (its session ended; `closeAttach` follows):
    /// a DAP relay of a following project tells the IDE to restart first (`DAPFollow`).
    case hostEnded(ConnectionID)
    /// Tell a remote project's attachd (`IDEAttached`, one-way, on its link) that the first IDE
    /// relay to its session `session` (its id there) started, or the last one ended.
    case tellRemoteIDE(project: String, session: String, attached: Bool)
    /// Whether new relays of the project follow its hosts (`SetFollow`).
    case followHosts(project: String, Bool)
    /// Close an IDE connection on an attach port (held or relayed); report `relayEnded`.
    case closeAttach(ConnectionID, reason: String)
    /// Read the LISTEN table now and report with `.probed`.
    case probeNow
    /// Move the daemon's one timer to follow this schedule: the next probe, the next deadline,
    /// what to ask the kernel. The last action of a batch whose schedule differs from the one
    /// Core said last (and of every tick: the timer is one-shot and has just fired).
    case reschedule(ProbeSchedule)
    /// Save `projectConfigs`.
    case persistProjects
    /// A project saved in `projects.json` is invalid (or clashes with one before it) and was
    /// not loaded: the daemon says so.
    case savedProjectSkipped(String)
    /// Tell watchers.
    case emit(BrokerEvent)
}
