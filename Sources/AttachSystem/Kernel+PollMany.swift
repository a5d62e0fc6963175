#if canImport(Glibc)
    import Glibc
#endif

extension Kernel {
    /// poll(2) on several descriptors at once, each for `POLLIN`; waits forever. Returns, for
    /// each, whether it is readable, hung up or in error. EINTR is retried.
    static func pollReadable(_ fds: [Int32]) throws(Errno) -> [Bool] {
        try pollReadable(fds, timeoutMilliseconds: -1)
    }

    /// `pollReadable` waiting at most `timeoutMilliseconds` (-1: for ever); all false when the
    /// time ran out. EINTR is retried with the same timeout (a forwarded signal may end it late).
    static func pollReadable(_ fds: [Int32], timeoutMilliseconds: Int32) throws(Errno) -> [Bool] {
        var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let count = nfds_t(entries.count)
        _ = try entries.withUnsafeMutableBufferPointer { (buffer) throws(Errno) -> Int32 in
            try syscall { Glibc.poll(buffer.baseAddress, count, timeoutMilliseconds) }
        }
        let ready = Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL)
        return entries.map { $0.revents & ready != 0 }
    }
}

/// Waiting on several descriptors at once (poll(2)).
public enum Poll {
    /// For each of `descriptors`, whether it became readable (or hung up, or failed) within
    /// `timeout` seconds (nil: waits for ever); all false when the time ran out.
    public static func readable(_ descriptors: [FileDescriptor], timeout: Double?) throws(Errno) -> [Bool] {
        let milliseconds = timeout.map { Int32(min(max($0, 0) * 1000, Double(Int32.max)).rounded(.up)) } ?? -1
        return try Kernel.pollReadable(descriptors.map(\.rawValue), timeoutMilliseconds: milliseconds)
    }
}
