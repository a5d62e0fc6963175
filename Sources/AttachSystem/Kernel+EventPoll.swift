import CLinux

#if canImport(Glibc)
    import Glibc
#endif

// epoll(7), eventfd(2) and the loop's own thread, behind the same funnel as Kernel.swift.
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

    /// pthread_create(3) of a detached thread running `body`, named `name` with
    /// pthread_setname_np(3) (at most 15 bytes are kept; a refused name is no error).
    static func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        final class Work: Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let work = Unmanaged.passRetained(Work(body))
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let status = pthread_create(
            &thread, &attributes,
            { raw in
                Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, work.toOpaque())
        guard status == 0 else {
            work.release()
            throw Errno(rawValue: status)
        }
        _ = CLinux.pthread_setname_np(thread, String(name.utf8.prefix(15))!)
    }

    /// pthread_self(3): the calling thread (cannot fail).
    static func currentThread() -> UInt { UInt(pthread_self()) }
}
