import AttachSystem
import Dispatch
import Synchronization

/// The relays' own thread: one epoll(7) loop that moves every relayed byte, beside the daemon's
/// serial queue. A bulk transfer through one relay never waits behind the control socket, the
/// probe or a release, nor they behind it; and a relayed message costs one thread wake-up per
/// hop (epoll_wait returns on the loop's thread, which splices at once) where a Dispatch read
/// source costs two (Dispatch's manager thread, then a worker for the queue).
///
/// Work comes in as jobs (`execute`, `sync`), run in order on the loop's thread with its
/// `RelayLoopContext`, which is where descriptors are watched and timers set. The loop lives as
/// long as the process.
final class RelayLoop: Sendable {
    typealias Job = @Sendable (RelayLoopContext) -> Void

    private let poll: EventPoll
    private let wakeup: EventCounter
    private let jobs = Mutex<[Job]>([])
    /// pthread_self(3) of the loop's thread, 0 until it runs.
    private let thread = Atomic<UInt>(0)

    /// Starts the loop's thread, named `name`.
    init(name: String = "attachd-relays") throws(Errno) {
        poll = try EventPoll()
        do throws(Errno) {
            wakeup = try EventCounter()
            try poll.add(wakeup.descriptor, .readable, token: RelayLoopContext.wakeupToken)
        } catch {
            poll.close()
            throw error
        }
        let started = DispatchSemaphore(value: 0)
        try Threads.start(name: name) { [self] in
            thread.store(Threads.current, ordering: .releasing)
            started.signal()
            RelayLoopContext(poll: poll).run { takeJobs() }
        }
        started.wait()
    }

    /// True on the loop's thread.
    var inLoop: Bool { thread.load(ordering: .acquiring) == Threads.current }

    /// Runs `job` on the loop's thread, after the jobs given before it.
    func execute(_ job: @escaping Job) {
        let wasIdle = jobs.withLock { list in
            list.append(job)
            return list.count == 1
        }
        // With jobs already waiting, the loop was woken for them and takes this one too.
        if wasIdle { wakeup.signal() }
    }

    /// Runs `body` on the loop's thread and waits for its result. Never on the loop's thread.
    func sync<T: Sendable>(_ body: @escaping @Sendable (RelayLoopContext) -> T) -> T {
        precondition(!inLoop, "RelayLoop.sync on the loop's own thread would wait for ever")
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<T?>(nil)
        execute { context in
            let value = body(context)
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }

    /// The waiting jobs, taken all at once (the loop's side of `execute`).
    private func takeJobs() -> [Job] {
        wakeup.drain()
        return jobs.withLock { list in
            defer { list = [] }
            return list
        }
    }
}

extension RelayLoop {
    /// A value that lives on the loop's thread: given up by whoever made it (`sending`) and
    /// reached only on that thread. The relay loop's `LoopBound`.
    struct Bound<Value>: @unchecked Sendable {
        // Sendable: `wrapped` came in `sending` (nobody else holds it), the wrapper is
        // immutable, and `value`, the only way to it, traps off the loop's thread, where jobs
        // run one at a time; so no two threads ever touch it.
        private let wrapped: Value
        let loop: RelayLoop

        init(_ value: sending Value, loop: RelayLoop) {
            wrapped = value
            self.loop = loop
        }

        /// The value; only on the loop's thread.
        var value: Value {
            precondition(loop.inLoop, "a relay loop's value used off its thread")
            return wrapped
        }
    }
}
