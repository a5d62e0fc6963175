import CLinux

#if canImport(Glibc)
    import Glibc
#endif

// epoll(7) and eventfd(2), behind the same funnel as Kernel.swift.
extension Kernel {
    /// epoll_create1(2) with EPOLL_CLOEXEC.
    static func epollCreate() throws(Errno) -> Int32 {
        try syscall { CLinux.epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    /// epoll_ctl(2): `operation` (EPOLL_CTL_ADD, _MOD, _DEL) of `fd` in `epoll`, for `events`,
    /// with `token` handed back by `epollWait`.
    static func epollControl(_ epoll: Int32, _ operation: Int32, _ fd: Int32, events: UInt32, token: UInt64)
        throws(Errno)
    {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        _ = try syscall { CLinux.epoll_ctl(epoll, operation, fd, &event) }
    }

    /// epoll_wait(2) into `buffer`; returns how many entries were filled. EINTR is not retried
    /// (the caller's loop waits again with a timeout it computes afresh).
    static func epollWait(_ epoll: Int32, _ buffer: UnsafeMutableBufferPointer<epoll_event>, timeoutMilliseconds: Int32)
        throws(Errno) -> Int
    {
        Int(
            try syscall(retryOnInterrupt: false) {
                CLinux.epoll_wait(epoll, buffer.baseAddress, Int32(buffer.count), timeoutMilliseconds)
            })
    }

    /// eventfd(2) with EFD_NONBLOCK|EFD_CLOEXEC, counting from 0.
    static func eventfd() throws(Errno) -> Int32 {
        try syscall { CLinux.eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
    }
}
