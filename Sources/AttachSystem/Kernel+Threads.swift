import CLinux

#if canImport(Glibc)
    import Glibc
#endif

// Threads of our own: the relay loop's (detached, for the process's life) and the short-lived
// ones that enter another namespace (joined), made the same way.
extension Kernel {
    /// pthread_create(3) + pthread_join(3): runs `body` on a thread of its own and waits for
    /// it, so that whatever `body` does to its thread (setns) dies with that thread.
    static func onFreshThread(_ body: @escaping () -> Void) throws(Errno) {
        pthread_join(try createThread(detached: false, body), nil)
    }

    /// pthread_create(3) of a detached thread running `body`, named `name` with
    /// pthread_setname_np(3) (at most 15 bytes are kept; a refused name is no error).
    static func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        let short = String(name.utf8.prefix(15))!
        // Named from inside: a detached thread's handle is not to be used once it may have ended.
        _ = try createThread(detached: true) {
            _ = CLinux.pthread_setname_np(pthread_self(), short)
            body()
        }
    }

    /// pthread_self(3): the calling thread (cannot fail).
    static func currentThread() -> UInt { UInt(pthread_self()) }

    /// pthread_create(3) of a thread that runs `body` and ends with it.
    private static func createThread(detached: Bool, _ body: @escaping () -> Void) throws(Errno) -> pthread_t {
        final class Work {
            let body: () -> Void
            init(_ body: @escaping () -> Void) { self.body = body }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if detached { pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED)) }
        let work = Unmanaged.passRetained(Work(body))
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
        return thread
    }
}
