import AttachSystem

/// The daemon's cost while nothing happens: its threads' wakeups and CPU over a window.
struct IdleResult: Codable {
    var projects: Int
    var seconds: Double
    var voluntaryContextSwitches: Int
    var involuntaryContextSwitches: Int
    var wakeupsPerSecond: Double
    /// utime + stime from /proc/PID/stat (10 ms resolution).
    var cpuTickSeconds: Double
    /// Run time summed over threads from /proc/PID/task/*/schedstat.
    var cpuRunMilliseconds: Double
    var threads: Int
    var threadsGone: Int
    var threadsNew: Int
}

extension Scale {
    /// Seconds the daemon must have been still (no thread woke, none came or went) before an
    /// idle window opens: Dispatch ends a worker thread that has had no work for 5 s, and that
    /// one-time exit after a burst of work is the end of the burst, not a cost of being idle.
    static let settleSeconds = 5.5

    /// Waits (at most `settleSeconds` + 10 s) until the daemon has been still for `settleSeconds`.
    static func settle(_ daemon: DaemonUnderTest) {
        var last = daemon.taskCounters()
        var stillSince = Clock.monotonicSeconds()
        let deadline = stillSince + settleSeconds + 10
        while Clock.monotonicSeconds() < deadline, Clock.monotonicSeconds() - stillSince < settleSeconds {
            sleepSeconds(0.25)
            let now = daemon.taskCounters()
            let d = DaemonUnderTest.delta(last, now)
            if d.voluntary != 0 || d.threadsGone != 0 || d.threadsNew != 0 { stillSince = Clock.monotonicSeconds() }
            last = now
        }
    }

    /// The daemon's wakeups and CPU over `seconds`, once it has settled (`settle`).
    static func idle(_ daemon: DaemonUnderTest, projects: Int, seconds: Double) -> IdleResult {
        settle(daemon)
        let before = daemon.taskCounters()
        let ticksBefore = daemon.cpuTickSeconds
        let started = Clock.monotonicSeconds()
        sleepSeconds(seconds)
        let elapsed = Clock.monotonicSeconds() - started
        let after = daemon.taskCounters()
        let ticksAfter = daemon.cpuTickSeconds
        let d = DaemonUnderTest.delta(before, after)
        return IdleResult(
            projects: projects, seconds: elapsed, voluntaryContextSwitches: d.voluntary,
            involuntaryContextSwitches: d.involuntary, wakeupsPerSecond: Double(d.voluntary) / elapsed,
            cpuTickSeconds: ticksAfter - ticksBefore, cpuRunMilliseconds: d.runSeconds * 1000,
            threads: after.count, threadsGone: d.threadsGone, threadsNew: d.threadsNew)
    }
}
