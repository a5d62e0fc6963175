import Dispatch

/// A timer on the daemon's queue, the one way the rooms make one: armed once (`once(after:)`)
/// or repeating (`every(_:)`), armed again by calling either, disarmed by `cancel()` or by
/// being released. Its handler runs on `queue` and never after `cancel()`.
final class QueueTimer {
    private let queue: DispatchQueue
    private let leeway: DispatchTimeInterval
    private let handler: () -> Void
    private var source: DispatchSourceTimer?
    /// Counts armings, so that a handler already queued for a timer since replaced does nothing.
    private var generation = 0

    init(queue: DispatchQueue, leeway: DispatchTimeInterval = .milliseconds(1), handler: @escaping () -> Void) {
        self.queue = queue
        self.leeway = leeway
        self.handler = handler
    }

    deinit { source?.cancel() }

    /// Whether it is armed (a one-shot timer stays armed until its handler has started).
    var isArmed: Bool { source != nil }

    /// Fires once, `seconds` from now; replaces whatever was armed.
    func once(after seconds: Double) {
        arm(repeating: false) { $0.schedule(deadline: .now() + seconds, leeway: leeway) }
    }

    /// Fires every `seconds`, the first time `seconds` from now; replaces whatever was armed.
    func every(_ seconds: Double) {
        arm(repeating: true) { $0.schedule(deadline: .now() + seconds, repeating: seconds, leeway: leeway) }
    }

    func cancel() {
        source?.cancel()
        source = nil
    }

    private func arm(repeating: Bool, _ schedule: (DispatchSourceTimer) -> Void) {
        cancel()
        generation &+= 1
        let armed = generation
        let timer = DispatchSource.makeTimerSource(queue: queue)
        schedule(timer)
        timer.setEventHandler { [weak self] in
            guard let self, self.generation == armed, self.source != nil else { return }
            if !repeating { self.cancel() }
            self.handler()
        }
        source = timer
        timer.resume()
    }
}
