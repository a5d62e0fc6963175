#if canImport(Glibc)
import Glibc
#endif

extension Kernel {
    /// poll(2) on several descriptors at once, each for `POLLIN`; waits forever. Returns, for
    /// each, whether it is readable, hung up or in error. EINTR is retried.
    static func pollReadable(_ fds: [Int32]) throws(Errno) -> [Bool] {
        var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let count = nfds_t(entries.count)
        _ = try entries.withUnsafeMutableBufferPointer { (buffer) throws(Errno) -> Int32 in
            try syscall { Glibc.poll(buffer.baseAddress, count, -1) }
        }
        let ready = Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL)
        return entries.map { $0.revents & ready != 0 }
    }
}
