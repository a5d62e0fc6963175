/// The interface descriptions this service serves verbatim through
/// `org.varlink.service.GetInterfaceDescription`. `brokerInterface` is a copy of
/// `io.attachd.Broker.varlink` beside this file; a test keeps the two identical.
public enum InterfaceDescriptions {
    public static let brokerName = "io.attachd.Broker"
    public static let serviceName = "org.varlink.service"

    /// `io.attachd.Broker`.
    public static let broker = #"""
        # attachd brokers readiness between a host application's debug server and the IDE.
        # A host announces itself on a project's rendezvous socket (or with Announce); the
        # session becomes ready the moment its debug port is in LISTEN state, and every
        # Wait on that project returns.
        interface io.attachd.Broker

        # A named configuration: where hosts announce themselves, where their debug server listens.
        type Project (
          name: string,
          debugHost: string,
          # The port hosts' debug servers listen on; null when each host says its own (with attachPort).
          debugPort: ?int,
          # Where the IDE connects: attachd relays each connection to a ready session.
          attachPort: ?int,
          # The session new IDE connections are pinned to (SelectSession), while it lives.
          selectedSession: ?string,
          rendezvousPort: ?int,
          rendezvousSocket: string,
          readyTimeout: float,
          allowRemote: bool,
          # Why a rendezvous listener is not up (for example the TCP port is in use), if it is not.
          error: ?string,
          # Set for a project whose hosts run on another machine, reached through OpenSSH.
          remote: ?Remote,
          # With an attach port: whether an IDE's DAP session follows the project's hosts (when its
          # host ends, the IDE is told to restart and is held for the next one); null without one.
          follow: ?bool
        )

        # The other machine of a remote project, and the state of the link to its attachd.
        type Remote (
          # The ssh destination: [user@]host[:port] or a Host alias of the ssh config.
          destination: string,
          # The project's name on that machine.
          project: string,
          # The remote attachd's control socket; null: the remote user's default.
          socket: ?string,
          # The ssh command used instead of $ATTACHD_SSH_COMMAND or ssh.
          sshCommand: ?string,
          state: (connecting, connected, unreachable),
          # The words ssh (or the remote attachd) gave when the link failed.
          error: ?string,
          # The remote attachd's version (GetInfo), once connected.
          version: ?string
        )

        # One host instance of a project.
        type Session (
          id: string,
          project: string,
          # unreachable: a remote session whose machine cannot be reached now.
          state: (pending, ready, attached, ended, unreachable),
          # How the host announced itself: bare connect, rendezvous lines, the Announce call, or
          # on the remote machine of a remote project (mirrored from its attachd).
          origin: (connect, lines, control, remote),
          debugHost: string,
          # null until the host says it or its process tree is seen listening.
          debugPort: ?int,
          # The project's attach port: where an IDE reaches this session through attachd.
          attachPort: ?int,
          # Without an attach port: the project's debug port, where the IDE is told to attach; a
          # session whose debugPort differs cannot be reached there.
          projectDebugPort: ?int,
          pid: ?int,
          status: ?string,
          # Why a pending session is not ready although something listens on its port.
          problem: ?string,
          # Set by the Python helper (attach_ready) when the host's sys.executable is not a Python
          # debugpy's adapter can run with (an embedded interpreter): that sys.executable ("" for
          # None), and the interpreter it ran the adapter with ("" when none was found).
          executable: ?string,
          python: ?string,
          # The IDE connections relayed to it through the attach port.
          relays: ?[]Relay,
          # For a remote session: the ssh destination it runs on, and its id there.
          remote: ?string,
          remoteId: ?string,
          # Seconds since the epoch.
          startedAt: float,
          readyAt: ?float,
          endedAt: ?float,
          endReason: ?string
        )

        # One IDE connection on a project's attach port, relayed to a session.
        type Relay (
          id: int,
          project: string,
          # null while the connection is held: no session is ready yet.
          session: ?string,
          peer: string,
          startedAt: float,
          bytesToHost: int,
          bytesToIDE: int,
          endReason: ?string
        )

        # What Watch streams: one project, session or relay change.
        type Event (
          kind: (projectAdded, projectRemoved, projectChanged, sessionStarted, sessionReady, sessionAttached, sessionPending, sessionEnded, relayStarted, relayEnded),
          project: ?Project,
          session: ?Session,
          relay: ?Relay
        )

        # Adds a project and opens its rendezvous listeners (and its attach port). debugPort may be
        # left out only with attachPort: then each host says its own. With remote (an ssh
        # destination; needs attachPort), the hosts run on that machine: its attachd is watched
        # through `ssh DESTINATION attachctl bridge`, and IDE connections are relayed over ssh.
        # follow: false turns following the hosts off (default on, for projects with attachPort).
        method AddProject(
          name: string,
          debugPort: ?int,
          debugHost: ?string,
          rendezvousPort: ?int,
          readyTimeout: ?float,
          allowRemote: ?bool,
          attachPort: ?int,
          remote: ?string,
          remoteProject: ?string,
          remoteSocket: ?string,
          sshCommand: ?string,
          follow: ?bool
        ) -> (project: Project)

        # Removes a project: closes its listeners, ends its sessions, fails its waiters.
        method RemoveProject(name: string) -> ()

        method GetProject(name: string) -> (project: Project)

        method ListProjects() -> (projects: []Project)

        # Sessions that are live or ended recently, of one project or of all.
        method ListSessions(project: ?string) -> (sessions: []Session)

        method EndSession(id: string) -> (session: Session)

        # Pins the project's new IDE connections to one live session until it ends; without session,
        # clears the pin (the newest ready session is chosen again).
        method SelectSession(project: string, session: ?string) -> (project: Project)

        # Turns following the hosts on or off for a project with an attach port: when the host behind
        # an IDE's DAP session ends on its own, the IDE gets an output event and terminated with
        # restart: true, and its new connection is held until the project's next host is ready.
        method SetFollow(name: string, follow: bool) -> (project: Project)

        # Another machine's attachd (a remote project's workstation) relays IDE connections straight
        # to this session's debug server: it says so when the first starts and the last ends, so that
        # a host that said NOTIFY_ATTACH=1 hears ATTACHED=1 / DETACHED=1. Sent with oneway.
        method IDEAttached(session: string, attached: bool) -> ()

        # A host announces itself over the control socket. With pid, the session ends when that
        # process exits; otherwise when the debug port stops listening after it was ready. A host
        # announcing itself again is returned as it is: the live session of the project that session
        # names, or one with the same pid and debug port. session: the id the host had (before attachd
        # went away), kept by a new attachd when well-formed for the project.
        method Announce(project: string, debugPort: ?int, pid: ?int, status: ?string, session: ?string) -> (session: Session)

        # Returns as soon as a session of the project is ready or attached (at once if one already is).
        # timeout defaults to the project's readyTimeout; 0 means check once.
        method Wait(project: string, timeout: ?float) -> (session: Session)

        # With more: a stream of events, of one project or of all. The first reply has no
        # event: it confirms the subscription is in place.
        method Watch(project: ?string) -> (event: ?Event)

        method GetStatus() -> (
          version: string,
          pid: int,
          uptime: float,
          projects: int,
          sessions: int,
          pending: int,
          ready: int,
          # Wait calls not answered yet, and IDE connections held on attach ports until a session is ready.
          waiters: int,
          connections: int,
          probe: string
        )

        error ProjectNotFound (name: string)
        error ProjectExists (name: string)
        error InvalidProjectName (name: string, reason: string)
        error InvalidPort (port: int)
        error SessionNotFound (id: string)
        error Timeout (project: string, seconds: float)
        # A port is taken. For AddProject, when another project (or the same one) already has it:
        # port, that project, its role there (attach, debug or rendezvous) and the option to change.
        error AddressInUse (address: string, port: ?int, project: ?string, role: ?string, option: ?string)
        error ProjectRemoved (name: string)
        error ShuttingDown ()
        error PermissionDenied (uid: int)
        error TooManyConnections (limit: int)
        error MessageTooLarge (limit: int)
        # The change was made and is in effect, but projects.json could not be written: it is lost
        # when attachd stops unless a later change is saved.
        error NotSaved (file: string, reason: string)

        """#

    /// `org.varlink.service`, as the varlink specification gives it.
    public static let service = #"""
        interface org.varlink.service

        # Get a list of all the interfaces a service provides and information
        # about the implementation.
        method GetInfo() -> (
          vendor: string,
          product: string,
          version: string,
          url: string,
          interfaces: []string
        )

        # Get the description of an interface that is implemented by this service.
        method GetInterfaceDescription(interface: string) -> (description: string)

        # The requested interface was not found.
        error InterfaceNotFound (interface: string)

        # The requested method was not found
        error MethodNotFound (method: string)

        # The interface defines the requested method, but the service does not
        # implement it.
        error MethodNotImplemented (method: string)

        # One of the passed parameters is invalid.
        error InvalidParameter (parameter: string)

        # Client is denied access
        error PermissionDenied ()

        # Method is expected to be called with 'more' set to true, but wasn't
        error ExpectedMore ()
        """#

    /// The description of `interface`, if this service implements it.
    public static func description(of interface: String) -> String? {
        switch interface {
        case brokerName: return broker
        case serviceName: return service
        default: return nil
        }
    }
}
