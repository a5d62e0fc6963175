import AttachSystem

/// A relay's two sockets, handed over for an orderly restart: still open, still connected,
/// nothing lost that had been read from either (the pipes were drained into their destinations
/// first), ready for systemd's fd store and `Relay(adopting:)`.
public struct RelayHandOver: Sendable, Equatable {
    /// The IDE's connection.
    public let ide: FileDescriptor
    /// The connection to the host's debug server.
    public let host: FileDescriptor
    /// Bytes relayed from the IDE so far.
    public let bytesFromIDE: UInt64
    /// Bytes relayed from the host so far.
    public let bytesFromHost: UInt64
    /// The relay's start (CLOCK_REALTIME seconds).
    public let startedAt: Double
    /// Bytes that had been read but could not be written before the timeout: lost. 0 unless a
    /// peer stopped reading.
    public let undeliveredBytes: Int

    public init(
        ide: FileDescriptor, host: FileDescriptor, bytesFromIDE: UInt64 = 0, bytesFromHost: UInt64 = 0,
        startedAt: Double, undeliveredBytes: Int = 0
    ) {
        self.ide = ide
        self.host = host
        self.bytesFromIDE = bytesFromIDE
        self.bytesFromHost = bytesFromHost
        self.startedAt = startedAt
        self.undeliveredBytes = undeliveredBytes
    }
}

extension Relay {
    /// Stops relaying without closing the connections, for an orderly restart: unwatches the
    /// sockets, writes what sits in the two pipes (or copy buffers) into their destination
    /// sockets, waiting for room with poll(2) for at most `timeoutMilliseconds` in all (this
    /// blocks the relay loop that long at worst), closes the pipes and returns the two sockets,
    /// open. Bytes not yet read stay in the sockets' kernel buffers for the next relay. `onEnd`
    /// is not called. Returns nil when the relay had already ended (its sockets are closed).
    /// The returned descriptors are the caller's; the relay never touches them again.
    public func handOver(timeoutMilliseconds: Int32 = 1000) -> RelayHandOver? {
        guard !isEnded else { return nil }
        markHandedOver()
        stopWatching()
        let deadline = Clock.monotonicSeconds() + Double(max(0, timeoutMilliseconds)) / 1000
        let undelivered = directions.reduce(0) { $0 + $1.flush(until: deadline) }
        publishCounts()
        let handed = RelayHandOver(
            ide: ide, host: host, bytesFromIDE: bytesFromIDE, bytesFromHost: bytesFromHost,
            startedAt: startedAt, undeliveredBytes: undelivered)
        directions.forEach { $0.closePipe() }
        return handed
    }
}
