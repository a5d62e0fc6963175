import Dispatch

/// A value confined to one serial queue (the daemon's), which may cross into a `@Sendable`
/// closure because it is only ever used on that queue: every access checks it
/// (`dispatchPrecondition`), in the spirit of swift-nio's `NIOLoopBound`. This is how the
/// rooms, which are plain classes, get work back onto their queue.
struct LoopBound<Value>: @unchecked Sendable {
    // Sendable: the wrapper is immutable, and `value`, the only way to the wrapped value,
    // traps unless it runs on `queue`, a serial queue; so no two threads ever touch it.
    private let wrapped: Value
    let queue: DispatchQueue

    init(_ value: Value, queue: DispatchQueue) {
        wrapped = value
        self.queue = queue
    }

    /// The value; only on `queue`.
    var value: Value {
        dispatchPrecondition(condition: .onQueue(queue))
        return wrapped
    }
}

extension DispatchQueue {
    /// Runs `work` on this (serial) queue later, on a fresh turn; `work` and what it captures
    /// stay confined to the queue.
    func asyncConfined(_ work: @escaping () -> Void) {
        let bound = LoopBound(work, queue: self)
        async { bound.value() }
    }

    /// Runs `work` on this (serial) queue `seconds` from now.
    func asyncConfined(after seconds: Double, _ work: @escaping () -> Void) {
        let bound = LoopBound(work, queue: self)
        asyncAfter(deadline: .now() + seconds) { bound.value() }
    }
}
