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

    /// What is known of one host's tree.
    private struct Host {
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

    private let probe: ListenProbe
    private let ownNamespace: NetworkNamespace?
    private var hosts: [Int32: Host] = [:]
    private var holders: [UInt64: SocketHolder?] = [:]
    /// What the holders of sockets outside a host's tree carry as the host's mark.
    private var marks = HostMarks()
    private var counters = Statistics()
    private var namespaceProbes: [NetworkNamespace: ListenProbe] = [:]
    private var namespaceListings: [NetworkNamespace: (time: Double, listeners: [ListeningSocket])] = [:]

    /// How long (seconds) a `/proc/PID/net/tcp{,6}` listing of another namespace is reused:
    /// the price of the /proc path is that a listener there is seen up to this much later.
    public let namespaceReadInterval: Double

    /// Why setns(2) into other network namespaces was given up (EPERM for a daemon without
    /// CAP_SYS_ADMIN), nil while it works or has not been tried; then /proc is used.
    public private(set) var namespaceRefusal: Errno?

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
        var listings: [NetworkNamespace?: [ListeningSocket]] = [:]
        return verdict(pid: pid, port: port, mark: nil, listings: &listings)
    }

    /// The verdicts of several hosts at once, sharing one listing per network namespace.
    public func verdicts(_ queries: [(pid: Int32, port: UInt16?)]) -> [HostListenVerdict] {
        var listings: [NetworkNamespace?: [ListeningSocket]] = [:]
        return queries.map { verdict(pid: $0.pid, port: $0.port, mark: nil, listings: &listings) }
    }

    /// The same, where a LISTEN socket held outside the tree still counts as the host's when its
    /// holder carries the host's `mark` in its environment (`ATTACHD_HOST_PID=PID`): debugpy's
    /// adapter, which the host spawns but which detaches itself (its parent becomes init), so
    /// that no process tree leads to it. Looked at only when the socket is not the tree's, once
    /// per socket.
    public func verdicts(_ queries: [(pid: Int32, port: UInt16?, mark: String?)]) -> [HostListenVerdict] {
        var listings: [NetworkNamespace?: [ListeningSocket]] = [:]
        return queries.map { verdict(pid: $0.pid, port: $0.port, mark: $0.mark, listings: &listings) }
    }

    /// Drops what is cached about `pid` (call it when the session ends).
    public func forget(pid: Int32) {
        guard let host = hosts.removeValue(forKey: pid) else { return }
        if host.namespace != nil { dropUnusedNamespaces() }
    }

    // MARK: The decision

    private func verdict(
        pid: Int32, port: UInt16?, mark: String?,
        listings: inout [NetworkNamespace?: [ListeningSocket]]
    ) -> HostListenVerdict {
        let namespace: NetworkNamespace?
        do throws(Errno) {
            let found = try NetworkNamespace.of(pid: pid)
            namespace = found == ownNamespace ? nil : found
        } catch .permissionDenied, .notPermitted {
            namespace = nil  // cannot tell: assume ours
        } catch {
            forget(pid: pid)  // gone (ENOENT, ESRCH) or invalid
            return .notListening
        }
        var host = hosts[pid] ?? Host(namespace: namespace)
        if host.namespace != namespace {
            host = Host(namespace: namespace)  // it moved (unshare): start again
            hosts[pid] = host
            dropUnusedNamespaces()
        }
        guard let listeners = listing(for: pid, in: namespace, cache: &listings) else {
            hosts[pid] = host
            return .notListening
        }
        let answer: HostListenVerdict
        if let port {
            answer = decide(port: port, pid: pid, mark: mark, host: &host, listeners: listeners)
        } else {
            answer = discover(pid: pid, mark: mark, host: &host, listeners: listeners)
        }
        if !host.foreign.isEmpty {
            host.foreign.formIntersection(listeners.lazy.map(\.inode))
        }
        hosts[pid] = host
        return answer
    }

    private func decide(
        port: UInt16, pid: Int32, mark: String?, host: inout Host,
        listeners: [ListeningSocket]
    ) -> HostListenVerdict {
        let candidates = listeners.filter { $0.port == port }
        guard !candidates.isEmpty else { return .notListening }
        if classify(candidates, pid: pid, host: &host).contains(where: { host.inodes[$0.inode] != nil }) {
            return .listening(port: port)
        }
        let held = candidates.min { $0.inode < $1.inode }!
        let holder = holder(of: held.inode, excluding: host.members, listeners: listeners)
        if let mark, let holder, marks.carries(mark, holder: holder.pid, inode: held.inode) {
            return .listening(port: port)
        }
        return .heldByOther(port: port, pid: holder?.pid, command: holder?.command, uid: held.uid)
    }

    private func discover(pid: Int32, mark: String?, host: inout Host, listeners: [ListeningSocket])
        -> HostListenVerdict
    {
        let candidates = listeners.filter(\.isReachableFromLoopback)
        if mark == nil, let port = host.discovered,
            candidates.contains(where: { $0.port == port && host.inodes[$0.inode] != nil })
        {
            return .listening(port: port)
        }
        let classified = classify(candidates, pid: pid, host: &host)
        if let mark {
            // A listener the host handed to a process that left its tree, carrying its mark, is
            // its debug server rather than one of the tree's own: debugpy's host listens on an
            // internal port for its adapter, and the adapter (detached) on the public one.
            let marked = classified.filter { socket in
                guard host.inodes[socket.inode] == nil,
                    let holder = holder(of: socket.inode, excluding: host.members, listeners: listeners)
                else { return false }
                return marks.carries(mark, holder: holder.pid, inode: socket.inode)
            }
            if let first = marked.min(by: { $0.inode < $1.inode }) {
                host.discovered = first.port
                return .listening(port: first.port)
            }
            // A marked process outside the tree that does not listen yet (debugpy's adapter
            // starting up, while its host listens on an internal port for it): wait for it.
            let now = Clock.monotonicSeconds()
            if host.markedOutsider == nil || now - host.markedOutsider!.at >= Self.outsiderCheckInterval {
                // The tree as it is now: a child started since the last scan (gdbserver's
                // inferior) carries the mark too, and is no outsider.
                let members = Set(ProcessTree.members(of: pid))
                host.markedOutsider = (
                    ProcessTree.anyProcess(
                        carrying: HostMarks.variable, value: mark,
                        excluding: members), now
                )
            }
            if host.markedOutsider?.found == true {
                host.discovered = nil
                return .notListening
            }
        }
        let owned = classified.filter { host.inodes[$0.inode] != nil }
        // Socket inodes are handed out in increasing order: the smallest is the first created.
        host.discovered = owned.min { $0.inode < $1.inode }?.port
        return host.discovered.map { .listening(port: $0) } ?? .notListening
    }

    /// `candidates`, after rescanning the tree if any of them is neither the tree's nor known
    /// to be foreign; those still not the tree's are then remembered as foreign.
    private func classify(_ candidates: [ListeningSocket], pid: Int32, host: inout Host) -> [ListeningSocket] {
        let unknown = candidates.contains { host.inodes[$0.inode] == nil && !host.foreign.contains($0.inode) }
        guard unknown else { return candidates }
        scanTree(pid: pid, host: &host)
        for candidate in candidates where host.inodes[candidate.inode] == nil {
            host.foreign.insert(candidate.inode)
        }
        return candidates
    }

    // MARK: The kernel's answers

    private func scanTree(pid: Int32, host: inout Host) {
        counters.treeScans += 1
        var inodes: [UInt64: Int32] = [:]
        let members = ProcessTree.members(of: pid)
        for member in members {
            for inode in ProcessTree.socketInodes(of: member) { inodes[inode] = member }
        }
        host.inodes = inodes
        host.members = Set(members)
    }

    private func holder(
        of inode: UInt64, excluding members: Set<Int32>,
        listeners: [ListeningSocket]
    ) -> SocketHolder? {
        if let cached = holders[inode] { return cached }
        counters.holderScans += 1
        let found = ProcessTree.holder(of: inode, excluding: members)
        if holders.count >= 256 {
            // Only LISTEN sockets are ever asked about: keep those still listening.
            let live = Set(listeners.map(\.inode))
            holders = holders.filter { live.contains($0.key) }
        }
        holders[inode] = found
        return found
    }

    private func listing(
        for pid: Int32, in namespace: NetworkNamespace?,
        cache: inout [NetworkNamespace?: [ListeningSocket]]
    ) -> [ListeningSocket]? {
        if let cached = cache[namespace] { return cached }
        let listeners: [ListeningSocket]?
        if let namespace {
            listeners = otherNamespaceListing(for: pid, in: namespace)
        } else {
            listeners = try? probe.listeningSockets()
        }
        if let listeners { cache[namespace] = listeners }
        return listeners
    }

    /// The listeners of another namespace: through a sock_diag socket opened inside it, else
    /// from `/proc/PID/net`, reusing a listing younger than `namespaceReadInterval`.
    private func otherNamespaceListing(for pid: Int32, in namespace: NetworkNamespace) -> [ListeningSocket]? {
        if namespaceRefusal == nil {
            do throws(Errno) {
                let inside: ListenProbe
                if let known = namespaceProbes[namespace] {
                    inside = known
                } else {
                    inside = try NamespaceNetlink.probe(insideNetworkNamespaceOf: pid)
                    counters.namespaceSockets += 1
                    namespaceProbes[namespace] = inside
                }
                return try inside.listeningSockets()
            } catch .noSuchFile, .noSuchProcess {
                return nil  // the host is gone
            } catch {
                namespaceProbes[namespace] = nil
                if error == .notPermitted || error == .permissionDenied || error == .notImplemented {
                    namespaceRefusal = error
                }
            }
        }
        let now = Clock.monotonicSeconds()
        if let recent = namespaceListings[namespace], now - recent.time < namespaceReadInterval {
            return recent.listeners
        }
        counters.namespaceReads += 1
        guard let listeners = try? ProcNetTCP.listeningSockets(in: "/proc/\(pid)/net") else { return nil }
        namespaceListings[namespace] = (now, listeners)
        return listeners
    }

    /// Closes the sockets and drops the listings of namespaces no tracked host is in any more.
    private func dropUnusedNamespaces() {
        let used = Set(hosts.values.compactMap(\.namespace))
        namespaceProbes = namespaceProbes.filter { used.contains($0.key) }
        namespaceListings = namespaceListings.filter { used.contains($0.key) }
    }
}
