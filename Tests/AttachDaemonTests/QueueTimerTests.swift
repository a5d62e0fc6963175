import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

@Suite("QueueTimer: the one way the rooms make a timer")
struct QueueTimerTests {
    private let queue = DispatchQueue(label: "timer-test")

    @Test("once fires once, on the queue, and is no longer armed after")
    func once() {
        let fired = Recorder<Bool>()
        let timer = queue.sync {
            let timer = QueueTimer(queue: queue) { [queue] in
                dispatchPrecondition(condition: .onQueue(queue))
                fired.record(true)
            }
            timer.once(after: 0.01)
            return timer
        }
        #expect(fired.wait(for: 1).count == 1)
        #expect(eventually(on: queue) { !timer.isArmed })
        #expect(fired.wait(for: 2, within: 0.1).count == 1, "fired again")
    }

    @Test("every repeats until cancelled; a cancelled timer never fires again")
    func every() {
        let fired = Recorder<Bool>()
        let timer = queue.sync {
            let timer = QueueTimer(queue: queue) { fired.record(true) }
            timer.every(0.005)
            return timer
        }
        #expect(fired.wait(for: 3).count >= 3)
        let count = queue.sync {
            timer.cancel()
            return fired.all.count
        }
        #expect(fired.wait(for: count + 1, within: 0.05).count == count)
        #expect(queue.sync { !timer.isArmed })
    }

    @Test("arming again replaces the earlier deadline: only the new one fires")
    func rearming() {
        let fired = Recorder<Double>()
        let started = Clock.monotonicSeconds()
        let timer = queue.sync {
            let timer = QueueTimer(queue: queue) { fired.record(Clock.monotonicSeconds() - started) }
            timer.once(after: 0.01)
            timer.once(after: 0.2)
            return timer
        }
        let times = fired.wait(for: 2, within: 1)
        #expect(times.count == 1)
        #expect((times.first ?? 0) >= 0.19)
        withExtendedLifetime(timer) {}
    }
}
