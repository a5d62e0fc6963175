#if canImport(Glibc)
    import Glibc
#endif

/// Signal numbers the daemon handles, so callers need not import Glibc.
public enum SignalNumber {
    public static let terminate = SIGTERM
    public static let interrupt = SIGINT
    public static let kill = SIGKILL
}

extension ProcessHandle {
    /// exit(3): flushes stdio and ends the process.
    public static func exit(_ code: Int32) -> Never {
        Glibc.exit(code)
    }
}

extension ProcessHandle {
    /// pthread_sigmask(3) SIG_BLOCK `sig` on the calling thread (threads it creates later inherit
    /// the mask). A DispatchSource on Linux reads signals through a signalfd, which only sees a
    /// signal while it is pending, i.e. blocked: a signal that arrives while the main thread still
    /// has it unblocked and ignored is discarded by the kernel.
    public static func blockSignal(_ sig: Int32) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, sig)
        _ = pthread_sigmask(SIG_BLOCK, &set, nil)
    }
}
