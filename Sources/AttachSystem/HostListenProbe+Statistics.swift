extension HostListenProbe {
    /// How much work the probe has done so far; lets callers (and tests) see the caches work.
    public struct Statistics: Equatable, Sendable {
        /// Walks of a host's process tree and of its members' `/proc/P/fd`.
        public var treeScans = 0
        /// /proc-wide searches for the holder of a socket outside the tree.
        public var holderScans = 0
        /// Reads of `/proc/PID/net/tcp{,6}` for a host in another network namespace.
        public var namespaceReads = 0
        /// sock_diag sockets opened inside another network namespace with setns(2).
        public var namespaceSockets = 0
        /// Hosts with cached state (at most one per pid asked about and not yet gone or forgotten).
        public var trackedHosts = 0
        /// Other network namespaces with an open sock_diag socket or a kept /proc listing.
        public var trackedNamespaces = 0
    }
}
