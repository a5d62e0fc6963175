#if canImport(Glibc)
    import Glibc
#endif

/// The local time zone, for showing wall-clock times to people.
public enum LocalTime {
    /// localtime_r(3): how many seconds local time is ahead of UTC at `epochSeconds`
    /// (`tm_gmtoff`; negative west of Greenwich). Reads TZ and /etc/localtime as libc does;
    /// 0 when the time cannot be converted.
    public static func utcOffsetSeconds(at epochSeconds: Double) -> Int {
        var seconds = time_t(epochSeconds.rounded(.down))
        var parts = tm()
        guard localtime_r(&seconds, &parts) != nil else { return 0 }
        return Int(parts.tm_gmtoff)
    }
}
