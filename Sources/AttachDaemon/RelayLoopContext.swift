import AttachSystem

/// The relay loop's side, on its thread only: which descriptors are watched for what (one
/// handler each), timers, and work for the end of the current turn. Level-triggered: a handler
/// is called on every turn its descriptor is ready for what it is watched for (hang-ups and
/// errors are always reported), so a descriptor nobody waits on must be unwatched, not left
/// watched for nothing.
final class RelayLoopContext {
    typealias Handler = (EventPoll.Events) -> Void

    /// The token of the loop's eventfd; descriptors get tokens from 1 on.
    static let wakeupToken: UInt64 = 0

    private struct Watch {
        var token: UInt64
        var events: EventPoll.Events
    }

    /// A timer set with `after`, to cancel it.
    struct TimerID: Hashable {
        fileprivate let number: UInt64
    }

    private let poll: EventPoll
    private var watches: [Int32: Watch] = [:]
    private var handlers: [UInt64: Handler] = [:]
    private var nextToken: UInt64 = 1
    private var timers: [UInt64: (deadline: Double, work: () -> Void)] = [:]
    private var nextTimer: UInt64 = 1
    private var soonWork: [() -> Void] = []
    /// After a turn in which a relay passed on a message and waits for the next, the loop looks
    /// again without sleeping until this time (CLOCK_MONOTONIC seconds): see `spinSeconds`.
    private var spinUntil = 0.0
    private var spinAsked = false

    /// How long the loop keeps looking, without sleeping, after a relay passed on a message
    /// (`spinAfterTurn`). A debugger's answer usually follows its request within tens of
    /// microseconds; a loop still awake when it comes saves a thread wake-up per message (on an
    /// idle machine as long as a direct round trip), which is what lets a relayed round trip
    /// cost no more than a direct one. It costs at most this much CPU per message, and nothing
    /// during a bulk transfer (a full destination asks for no spin) or while idle.
    static let spinSeconds = 0.000_2

    init(poll: EventPoll) {
        self.poll = poll
    }

    /// Watches `fd` for `events` (replacing what it was watched for, and its handler); empty
    /// `events` unwatch it. Fails only when the kernel refuses (EBADF, ENOMEM): the caller ends
    /// what used the descriptor.
    func watch(_ fd: FileDescriptor, for events: EventPoll.Events, _ handler: @escaping Handler) throws(Errno) {
        guard !events.isEmpty else { return unwatch(fd) }
        if var existing = watches[fd.rawValue] {
            handlers[existing.token] = handler
            guard existing.events != events else { return }
            try poll.modify(fd, events, token: existing.token)
            existing.events = events
            watches[fd.rawValue] = existing
            return
        }
        let token = nextToken
        nextToken += 1
        try poll.add(fd, events, token: token)
        watches[fd.rawValue] = Watch(token: token, events: events)
        handlers[token] = handler
    }

    /// What `fd` is watched for now (empty when it is not).
    func watched(_ fd: FileDescriptor) -> EventPoll.Events {
        watches[fd.rawValue]?.events ?? []
    }

    /// No longer watches `fd`; do it before closing `fd`. Events of this turn for it are dropped.
    func unwatch(_ fd: FileDescriptor) {
        guard let watch = watches.removeValue(forKey: fd.rawValue) else { return }
        handlers[watch.token] = nil
        try? poll.remove(fd)
    }

    /// Runs `work` once, `seconds` from now (the loop's timers are exact to about a millisecond).
    @discardableResult
    func after(_ seconds: Double, _ work: @escaping () -> Void) -> TimerID {
        let number = nextTimer
        nextTimer += 1
        timers[number] = (Clock.monotonicSeconds() + seconds, work)
        return TimerID(number: number)
    }

    /// Cancels a timer that has not run.
    func cancel(_ timer: TimerID) {
        timers[timer.number] = nil
    }

    /// Runs `work` at the end of this turn, after the ready descriptors' handlers (and before
    /// waiting again): a fair turn for everyone else before more of the same.
    func soon(_ work: @escaping () -> Void) {
        soonWork.append(work)
    }

    /// Asks the loop not to sleep for `spinSeconds` after this turn: a message was passed on
    /// and its answer is likely to come soon.
    func spinAfterTurn() {
        spinAsked = true
    }

    /// The loop itself: waits, then runs the jobs, the ready descriptors' handlers, due timers
    /// and `soon` work, for ever.
    func run(takeJobs: () -> [RelayLoop.Job]) -> Never {
        while true {
            let ready: [EventPoll.Ready]
            do throws(Errno) {
                ready = try poll.wait(timeoutMilliseconds: waitMilliseconds())
            } catch {
                // EBADF/EINVAL cannot happen to a descriptor only this loop closes; should
                // the kernel say otherwise, a pause keeps the loop from spinning.
                _ = try? Poll.readable([], timeout: 0.01)
                continue
            }
            for event in ready {
                if event.token == Self.wakeupToken {
                    for job in takeJobs() { job(self) }
                } else {
                    handlers[event.token]?(event.events)
                }
            }
            runDueTimers()
            let work = soonWork
            soonWork = []
            for item in work { item() }
            if spinAsked {
                spinAsked = false
                spinUntil = Clock.monotonicSeconds() + Self.spinSeconds
            }
        }
    }

    /// 0 with work waiting or while spinning, else until the next timer, else for ever.
    private func waitMilliseconds() -> Int32 {
        guard soonWork.isEmpty, spinUntil == 0 || Clock.monotonicSeconds() >= spinUntil else { return 0 }
        spinUntil = 0
        guard let next = timers.values.lazy.map(\.deadline).min() else { return -1 }
        let left = (next - Clock.monotonicSeconds()) * 1000
        return left <= 0 ? 0 : Int32(min(left.rounded(.up), 60_000))
    }

    private func runDueTimers() {
        guard !timers.isEmpty else { return }
        let now = Clock.monotonicSeconds()
        for (number, timer) in timers.sorted(by: { $0.value.deadline < $1.value.deadline }) where timer.deadline <= now
        {
            // A timer cancelled by one that ran before it this turn does not run.
            guard timers.removeValue(forKey: number) != nil else { continue }
            timer.work()
        }
    }
}
