import AttachSystem

/// The funnel for libsystemd: sd_* functions return a negative errno instead of setting errno.
/// Returns the non-negative result; EINTR is retried.
@inline(__always)
internal func systemdCall(_ body: () -> Int32) throws(Errno) -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let error = Errno(rawValue: -result)
        if error == .interrupted { continue }
        throw error
    }
}
