#if canImport(Glibc)
    import Glibc
#endif

/// Clocks and this process's resource usage.
public enum Clock {
    /// clock_gettime(2) CLOCK_MONOTONIC, in seconds. For deadlines and durations.
    public static func monotonicSeconds() -> Double {
        Kernel.clockSeconds(CLOCK_MONOTONIC)
    }

    /// clock_gettime(2) CLOCK_REALTIME: seconds since the Unix epoch. For timestamps only.
    public static func wallSeconds() -> Double {
        Kernel.clockSeconds(CLOCK_REALTIME)
    }

    /// getrusage(2) RUSAGE_SELF: user plus system CPU time of this process, in seconds.
    public static func processCPUSeconds() -> Double {
        let usage = Kernel.resourceUsage()
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// getrusage(2) RUSAGE_SELF: voluntary context switches of this process so far
    /// (how often it blocked waiting for something).
    public static func voluntaryContextSwitches() -> Int {
        Int(Kernel.resourceUsage().ru_nvcsw)
    }

    private static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
    }
}
