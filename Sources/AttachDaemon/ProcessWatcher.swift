import AttachCore
import AttachSystem
import Dispatch

/// Watches host processes through pidfds (pidfd_open(2)): a pidfd becomes readable when its
/// process exits, and a read source on the daemon's queue reports it as `processExited`.
final class ProcessWatcher {
    private let queue: DispatchQueue
    private let deliver: (BrokerInput) -> Void
    private var watches: [String: DispatchSourceRead] = [:]

    /// - Parameter deliver: the daemon's door into Core.
    init(queue: DispatchQueue, deliver: @escaping (BrokerInput) -> Void) {
        self.queue = queue
        self.deliver = deliver
    }

    var count: Int { watches.count }

    /// Reports `processExited(session)` once `pid` exits.
    func watch(session: String, pid: Int32) {
        unwatch(session: session)
        let fd: FileDescriptor
        do {
            fd = try ProcessHandle.pidfdOpen(pid)
        } catch .notImplemented {
            // A kernel or libc without pidfds: the process cannot be followed, and that says
            // nothing about whether it lives; the session ends as it otherwise would.
            return
        } catch {
            // Already gone (or not ours to see): the session ends, but not from inside this batch.
            queue.asyncConfined { [deliver] in deliver(.processExited(session: session)) }
            return
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: fd.rawValue, queue: queue)
        source.setEventHandler { [self] in
            unwatch(session: session)
            deliver(.processExited(session: session))
        }
        source.setCancelHandler { fd.close() }
        watches[session] = source
        source.resume()
    }

    /// Stops watching; the pidfd closes once its source is cancelled.
    func unwatch(session: String) {
        watches.removeValue(forKey: session)?.cancel()
    }
}
