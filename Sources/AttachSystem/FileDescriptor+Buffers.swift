#if canImport(Glibc)
    import Glibc
#endif

/// Reads and writes into caller-owned memory, for loops that must not allocate per call (the
/// relay's copy path), and the wait for writability.
extension FileDescriptor {
    /// read(2) into `buffer`; returns the count, 0 at end of file. Throws `.wouldBlock` on a
    /// non-blocking descriptor with nothing to read. Retries EINTR.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard buffer.count > 0 else { return 0 }
        return try Kernel.read(rawValue, buffer)
    }

    /// poll(2) for writability: true if the descriptor can take bytes (or is hung up or in
    /// error) before the timeout, false on timeout. -1 waits forever. Resumed after EINTR with
    /// the time that is left.
    public func waitWritable(timeoutMilliseconds: Int32) throws(Errno) -> Bool {
        try poll(events: Int16(POLLOUT), timeoutMilliseconds: timeoutMilliseconds)
    }
}

extension Socket {
    /// send(2) with MSG_NOSIGNAL: a peer that is gone gives EPIPE, never SIGPIPE, whatever the
    /// process's signal disposition. Returns the count written (may be fewer than given);
    /// throws `.wouldBlock` when a non-blocking socket's buffer is full. Retries EINTR.
    public static func sendNoSignal(_ fd: FileDescriptor, _ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        guard buffer.count > 0 else { return 0 }
        return try Kernel.send(fd.rawValue, buffer, flags: Int32(MSG_NOSIGNAL))
    }
}
