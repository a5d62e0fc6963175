/// Readiness that is the host's own: is a LISTEN socket on the debug port held by the host's
/// process or one of its descendants, in the host's own network namespace?
///
/// Each verdict costs one stat(2) of `/proc/PID/ns/net` plus one listing of the LISTEN sockets
/// of that namespace: a sock_diag dump (~0.07 ms) for the daemon's own namespace, and for
/// another one a sock_diag socket opened inside it with setns(2) (`NamespaceNetlink`, needs
/// CAP_SYS_ADMIN), else `/proc/PID/net/tcp{,6}`, which costs milliseconds whatever the
/// namespace holds (the kernel walks its whole established hash) and is therefore read at most
/// once per `namespaceReadInterval` and reused in between.
///
/// The expensive part, readlink(2) of every `/proc/P/fd/*` of the host's tree, is done only
/// when a LISTEN socket of interest has an inode this probe has not classified yet (on the port
/// asked for, or for discovery any loopback-reachable one); the holder of a socket that is not
/// the tree's is looked for across /proc once per inode and cached.
///
/// The tree is judged in the namespace of its root `pid`: a descendant that entered yet another
/// network namespace is not looked at there.
///
/// Not thread-safe: use it from one serial queue (hence `@unchecked Sendable`). Call
/// `forget(pid:)` when a session ends, so that a recycled pid starts from nothing.
public final class HostListenProbe: @unchecked Sendable {

    // Not private, like the state below: the verdicts are reached in HostListenProbe+Verdicts.

    /// What is known of one host's tree.
    struct Host {
        /// nil: the probe's own network namespace.
        var namespace: NetworkNamespace?
        /// Socket inode -> the tree member holding it, as of the last tree scan.
        var inodes: [UInt64: Int32] = [:]
        /// The tree's members as of the last scan.
        var members: Set<Int32> = []
        /// LISTEN inodes of interest found not to be the tree's at the last scan.
        var foreign: Set<UInt64> = []
        /// The port discovery settled on, kept while the tree still listens on it.
        var discovered: UInt16?
        /// Whether a process that left the tree carries the host's mark, and when that was
        /// looked at (monotonic): then the tree's own listeners are internal, not its server.
        var markedOutsider: (found: Bool, at: Double)?
    }

    /// How long the answer to "does a marked process outside the tree exist" is kept.
    static let outsiderCheckInterval = 0.1

    let probe: ListenProbe
    let ownNamespace: NetworkNamespace?
    var hosts: [Int32: Host] = [:]
    var holders: [UInt64: SocketHolder?] = [:]
    /// What the holders of sockets outside a host's tree carry as the host's mark.
    var marks = HostMarks()
    var counters = Statistics()
    var namespaceProbes: [NetworkNamespace: ListenProbe] = [:]
    var namespaceListings: [NetworkNamespace: (time: Double, listeners: [ListeningSocket])] = [:]

    /// How long (seconds) a `/proc/PID/net/tcp{,6}` listing of another namespace is reused:
    /// the price of the /proc path is that a listener there is seen up to this much later.
    public let namespaceReadInterval: Double

    /// Why setns(2) into other network namespaces was given up (EPERM for a daemon without
    /// CAP_SYS_ADMIN), nil while it works or has not been tried; then /proc is used.
    public internal(set) var namespaceRefusal: Errno?

    /// A probe that lists its own namespace's listeners through `listenProbe` (pass the
    /// daemon's, to share its netlink socket; both must then be used from the same queue).
    /// With `entersNamespaces` false, hosts in other network namespaces are always read from
    /// `/proc/PID/net/tcp{,6}` (at most once per `namespaceReadInterval` seconds).
    public init(
        listenProbe: ListenProbe = ListenProbe(), entersNamespaces: Bool = true,
        namespaceReadInterval: Double = 0.05
    ) {
        probe = listenProbe
        ownNamespace = NetworkNamespace.current
        self.namespaceReadInterval = namespaceReadInterval
        if !entersNamespaces { namespaceRefusal = .notPermitted }
    }

    /// The work done so far, and the number of hosts tracked.
    public var statistics: Statistics {
        var statistics = counters
        statistics.trackedHosts = hosts.count
        statistics.trackedNamespaces = Set(namespaceProbes.keys).union(namespaceListings.keys).count
        return statistics
    }

    /// Whether the process tree rooted at `pid` listens on `port` or, when `port` is nil,
    /// which port it listens on (discovery: the first loopback-reachable LISTEN socket of the
    /// tree, by socket creation order, kept for as long as the tree listens on it).
    /// `.notListening` when `pid` is gone; its cached state is then dropped.
    public func verdict(pid: Int32, port: UInt16?) -> HostListenVerdict {
        var batch = Batch()
        return verdict(pid: pid, port: port, mark: nil, batch: &batch)
    }

    /// The verdicts of several hosts at once, sharing one listing per network namespace.
    public func verdicts(_ queries: [(pid: Int32, port: UInt16?)]) -> [HostListenVerdict] {
        var batch = Batch()
        return queries.map { verdict(pid: $0.pid, port: $0.port, mark: nil, batch: &batch) }
    }

    /// The same, where a LISTEN socket held outside the tree still counts as the host's when its
    /// holder carries the host's `mark` in its environment (`ATTACHD_HOST_PID=PID`): debugpy's
    /// adapter, which the host spawns but which detaches itself (its parent becomes init), so
    /// that no process tree leads to it. Looked at only when the socket is not the tree's, once
    /// per socket.
    /// `ownListing`, when given, is the probe's own namespace's LISTEN sockets as just read by
    /// the caller (`ListenProbe.listeningSockets()`), used instead of reading them again.
    /// `exited`: the pids found to have exited (their verdicts say `.notListening`): no such
    /// process, or a zombie, whose `/proc/PID/ns/net` went with its namespaces.
    /// `ownListingIsPartial`: `ownListing` holds only the sockets on the queries' ports
    /// (`ListenProbe.listeningSockets(onPorts:)`), so what is not in it is not taken as gone.
    public func verdicts(
        _ queries: [(pid: Int32, port: UInt16?, mark: String?)], ownListing: [ListeningSocket]? = nil,
        ownListingIsPartial: Bool = false
    ) -> (verdicts: [HostListenVerdict], exited: Set<Int32>) {
        var batch = Batch()
        if let ownListing {
            batch.listings[nil] = ownListing
            batch.ownListingIsPartial = ownListingIsPartial
        }
        let verdicts = queries.map { verdict(pid: $0.pid, port: $0.port, mark: $0.mark, batch: &batch) }
        return (verdicts, Set(batch.places.lazy.filter { $0.value == .gone }.map(\.key)))
    }

    /// Drops what is cached about `pid` (call it when the session ends).
    public func forget(pid: Int32) {
        guard let host = hosts.removeValue(forKey: pid) else { return }
        if host.namespace != nil { dropUnusedNamespaces() }
    }
}
