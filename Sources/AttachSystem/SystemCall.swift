#if canImport(Glibc)
    import Glibc
#endif

// The one place errno is read, and the one loop that retries EINTR.
//
// Every call into the kernel in this module goes through `syscall(_:)` (or its pointer-returning
// sibling), and the raw calls themselves live in the `Kernel` enum (Kernel*.swift), so that the
// public types never touch Glibc's error conventions directly. libsystemd's sd_* functions are not
// called here but in AttachSystemd, through its own funnel `systemdCall` (they return a negative
// errno instead), so that attachctl links no libsystemd.
//
// The only calls made around the funnel are those that cannot fail, or whose "failure" is an
// answer rather than an error: getpid(2), getuid(2), geteuid(2), getenv(3) (NULL: unset),
// getpwuid(3) (NULL: no entry), isatty(3) (0: not a terminal), exit(3), signal(2) with SIG_IGN
// on a valid signal, pthread_sigmask(3) with SIG_BLOCK (fails only for an invalid `how`); and
// the one write(2) made inside a signal handler (TerminalLine), where only async-signal-safe
// code may run and there is nobody to report an error to. They are called where they are used
// (DefaultPaths, Environment, ProcessHandle, ProcessExit, FileDescriptor.isTerminal,
// TerminalLine), each naming its C call.

extension Errno {
    /// The calling thread's `errno`. Read only by the funnels below.
    fileprivate static var current: Errno {
        Errno(rawValue: errno)
    }
}

/// Runs `body` (a raw C call returning -1 on failure) and turns -1 into a thrown `Errno`.
/// Retries EINTR unless `retryOnInterrupt` is false (close(2) must never be retried on Linux).
@inline(__always)
internal func syscall<I: FixedWidthInteger>(
    retryOnInterrupt: Bool = true,
    _ body: () -> I
) throws(Errno) -> I {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno.current
        if retryOnInterrupt && error == .interrupted { continue }
        throw error
    }
}

/// The same funnel for C calls that report failure by returning NULL (opendir(3) and friends).
@inline(__always)
internal func syscall<T>(
    retryOnInterrupt: Bool = true,
    _ body: () -> T?
) throws(Errno) -> T {
    while true {
        if let result = body() { return result }
        let error = Errno.current
        if retryOnInterrupt && error == .interrupted { continue }
        throw error
    }
}

/// Closes `fd` while unwinding from an earlier error; the earlier error is what the caller reports.
@inline(__always)
internal func closeQuietly(_ fd: Int32) {
    _ = try? Kernel.close(fd)
}
