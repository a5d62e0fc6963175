import AttachCore
import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

#if canImport(Glibc)
    import Glibc
#endif

@Suite("ProcessWatcher: a pidfd per host process")
struct ProcessWatcherTests {
    private let queue = DispatchQueue(label: "processes-test")
    private let recorder = InputRecorder()

    @Test("a spawned true that exits is delivered as .processExited and the watch is dropped")
    func exitIsDelivered() throws {
        let watcher = ProcessWatcher(queue: queue, deliver: recorder.deliver)
        let pid = spawn("/bin/true")
        // Not reaped until after: a zombie still has a pidfd, which is readable at once.
        defer { reap(pid) }
        queue.sync { watcher.watch(session: "s-1", pid: pid) }
        #expect(recorder.wait(for: 1) == [.processExited(session: "s-1")])
        #expect(queue.sync { watcher.count } == 0)
    }

    @Test("a pid that cannot be watched is reported exited, but not from inside the call")
    func missingProcess() throws {
        let watcher = ProcessWatcher(queue: queue, deliver: recorder.deliver)
        // Above any pid_max the kernel allows (2^22), so pidfd_open(2) fails.
        let deliveredDuringCall = queue.sync {
            watcher.watch(session: "s-2", pid: Int32.max)
            return recorder.inputs.count
        }
        #expect(deliveredDuringCall == 0)
        #expect(recorder.wait(for: 1) == [.processExited(session: "s-2")])
        #expect(queue.sync { watcher.count } == 0)
    }

    @Test("after unwatch a process's exit is not reported")
    func unwatchStopsTheReport() throws {
        let watcher = ProcessWatcher(queue: queue, deliver: recorder.deliver)
        let sleeper = spawn("/bin/sleep", ["60"])
        queue.sync {
            watcher.watch(session: "quiet", pid: sleeper)
            #expect(watcher.count == 1)
            watcher.unwatch(session: "quiet")
        }
        kill(sleeper, SIGKILL)
        reap(sleeper)
        // A second process's exit, watched after, is the one input that comes: the first
        // source was cancelled before its process died, so it cannot fire any more.
        let other = spawn("/bin/true")
        defer { reap(other) }
        queue.sync { watcher.watch(session: "loud", pid: other) }
        #expect(recorder.wait(for: 1) == [.processExited(session: "loud")])
        queue.sync {}
        #expect(recorder.inputs == [.processExited(session: "loud")])
    }

    @Test("watching a session again replaces its watch")
    func rewatchReplaces() throws {
        let watcher = ProcessWatcher(queue: queue, deliver: recorder.deliver)
        let sleeper = spawn("/bin/sleep", ["60"])
        defer {
            kill(sleeper, SIGKILL)
            reap(sleeper)
        }
        let quick = spawn("/bin/true")
        defer { reap(quick) }
        queue.sync {
            watcher.watch(session: "s", pid: sleeper)
            watcher.watch(session: "s", pid: quick)
            #expect(watcher.count == 1)
        }
        #expect(recorder.wait(for: 1) == [.processExited(session: "s")])
        #expect(queue.sync { watcher.count } == 0)
    }
}
