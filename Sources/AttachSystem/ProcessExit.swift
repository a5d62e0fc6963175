#if canImport(Glibc)
import Glibc
#endif

/// Signal numbers the daemon handles, so callers need not import Glibc.
public enum SignalNumber {
    public static let terminate = SIGTERM
    public static let interrupt = SIGINT
    public static let hangUp = SIGHUP
}

extension ProcessHandle {
    /// exit(3): flushes stdio and ends the process.
    public static func exit(_ code: Int32) -> Never {
        Glibc.exit(code)
    }
}
