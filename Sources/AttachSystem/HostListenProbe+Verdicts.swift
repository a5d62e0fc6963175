// How `HostListenProbe` reaches a verdict: the decision (the port asked for, or discovery), and
// the kernel's answers it rests on (the tree's sockets, a socket's holder, each namespace's
// listeners).

extension HostListenProbe {
    /// What one call of `verdicts` reads once and shares between its queries (many sessions
    /// of one process, each a query, cost one look at that process): each host's namespace,
    /// each namespace's listeners, indexed by port and by inode.
    struct Batch {
        /// Where a process was found, once per process and batch.
        enum Place: Equatable {
            case ours
            case other(NetworkNamespace)
            case gone
        }

        var places: [Int32: Place] = [:]
        var listings: [NetworkNamespace?: [ListeningSocket]] = [:]
        var byPort: [NetworkNamespace?: [UInt16: [ListeningSocket]]] = [:]
        var inodes: [NetworkNamespace?: Set<UInt64>] = [:]
        /// The own namespace's listing holds only some ports' sockets.
        var ownListingIsPartial = false

        /// Whether `namespace`'s listing is every LISTEN socket there.
        func isComplete(_ namespace: NetworkNamespace?) -> Bool { namespace != nil || !ownListingIsPartial }

        /// The listeners of `namespace` (listed already) on `port`.
        mutating func sockets(onPort port: UInt16, in namespace: NetworkNamespace?) -> [ListeningSocket] {
            if let index = byPort[namespace] { return index[port] ?? [] }
            let index = Dictionary(grouping: listings[namespace] ?? [], by: \.port)
            byPort[namespace] = index
            return index[port] ?? []
        }

        /// The inodes of the listeners of `namespace` (listed already).
        mutating func inodes(in namespace: NetworkNamespace?) -> Set<UInt64> {
            if let known = inodes[namespace] { return known }
            let all = Set((listings[namespace] ?? []).map(\.inode))
            inodes[namespace] = all
            return all
        }
    }

    // MARK: The decision

    func verdict(pid: Int32, port: UInt16?, mark: String?, batch: inout Batch) -> HostListenVerdict {
        let namespace: NetworkNamespace?
        switch batch.places[pid] {
        case .ours: namespace = nil
        case .other(let found): namespace = found
        case .gone: return .notListening
        case nil:
            do throws(Errno) {
                let found = try NetworkNamespace.of(pid: pid)
                namespace = found == ownNamespace ? nil : found
            } catch .permissionDenied, .notPermitted {
                namespace = nil  // cannot tell: assume ours
            } catch {
                forget(pid: pid)  // gone (ENOENT, ESRCH) or invalid
                batch.places[pid] = .gone
                return .notListening
            }
            batch.places[pid] = namespace.map { .other($0) } ?? .ours
        }
        var host = hosts[pid] ?? Host(namespace: namespace)
        if host.namespace != namespace {
            host = Host(namespace: namespace)  // it moved (unshare): start again
            hosts[pid] = host
            dropUnusedNamespaces()
        }
        guard let listeners = listing(for: pid, in: namespace, cache: &batch.listings) else {
            hosts[pid] = host
            return .notListening
        }
        let answer: HostListenVerdict
        if let port {
            answer = decide(
                port: port, candidates: batch.sockets(onPort: port, in: namespace), pid: pid, mark: mark,
                host: &host, listeners: batch.isComplete(namespace) ? listeners : nil)
        } else {
            answer = discover(pid: pid, mark: mark, host: &host, listeners: listeners)
        }
        // Sockets no longer listening are forgotten only when the listing shows all of them.
        if !host.foreign.isEmpty, batch.isComplete(namespace) {
            host.foreign.formIntersection(batch.inodes(in: namespace))
        }
        hosts[pid] = host
        return answer
    }

    /// `listeners`: every LISTEN socket of the namespace, nil when only some ports were listed.
    private func decide(
        port: UInt16, candidates: [ListeningSocket], pid: Int32, mark: String?, host: inout Host,
        listeners: [ListeningSocket]?
    ) -> HostListenVerdict {
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

    /// `listeners`: every LISTEN socket of the namespace, to prune the cache by; nil when not
    /// known (the cache then grows past its bound until the next full listing).
    private func holder(
        of inode: UInt64, excluding members: Set<Int32>,
        listeners: [ListeningSocket]?
    ) -> SocketHolder? {
        if let cached = holders[inode] { return cached }
        counters.holderScans += 1
        let found = ProcessTree.holder(of: inode, excluding: members)
        if holders.count >= 256, let listeners {
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
    func dropUnusedNamespaces() {
        let used = Set(hosts.values.compactMap(\.namespace))
        namespaceProbes = namespaceProbes.filter { used.contains($0.key) }
        namespaceListings = namespaceListings.filter { used.contains($0.key) }
    }
}
