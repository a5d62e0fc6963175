import AttachSystem
import Dispatch

/// A listening socket watched by a read source. Accepts until the kernel has nothing more;
/// when descriptors run out (EMFILE, ENFILE) it stops watching for a while instead of
/// spinning on a readiness it cannot serve, then tries again.
final class Listener {
    let fd: FileDescriptor
    /// What this listener is, for logs and the fd store: `control`, `tcp.NAME`, `unix.NAME`.
    let name: String
    private let queue: DispatchQueue
    private var source: DispatchSourceRead?
    private var suspended = false
    private lazy var backoff = QueueTimer(queue: queue) { [weak self] in self?.resumeAfterPause() }
    private(set) var isClosed = false
    private let onAccept: (FileDescriptor) -> Void
    private let onExhausted: (Errno) -> Void
    /// How long to stop accepting after running out of descriptors.
    static let exhaustionPause = 0.25

    init(
        fd: FileDescriptor, name: String, queue: DispatchQueue, reserve: ReserveDescriptor,
        onAccept: @escaping (FileDescriptor) -> Void, onExhausted: @escaping (Errno) -> Void
    ) {
        self.fd = fd
        self.reserve = reserve
        self.name = name
        self.queue = queue
        self.onAccept = onAccept
        self.onExhausted = onExhausted
    }

    func start() {
        let source = DispatchSource.makeReadSource(fileDescriptor: fd.rawValue, queue: queue)
        source.setEventHandler { [self] in acceptAll() }
        let fd = self.fd
        // Whoever closes the listener decides whether the descriptor goes too (see `close`).
        source.setCancelHandler { [self] in
            if closesDescriptor { fd.close() }
            onClosed?()
            onClosed = nil
        }
        self.source = source
        source.resume()
    }

    private var closesDescriptor = true
    /// One descriptor kept for when the process runs out, shared by every listener.
    private let reserve: ReserveDescriptor
    /// Descriptors ran out and have not been seen back yet (logged once per episode).
    private var exhausted = false
    /// Runs once the descriptor is really closed (Dispatch closes it after cancellation).
    var onClosed: (() -> Void)?

    private func acceptAll() {
        // Bounded, so one busy listener cannot starve the others on the queue.
        for _ in 0..<64 {
            guard !isClosed else { return }
            do {
                guard let client = try Socket.accept(fd) else { return }
                exhausted = false
                onAccept(client)
            } catch .tooManyOpenFiles {
                if !shedOne(.tooManyOpenFiles) { pause(.tooManyOpenFiles) }
                return
            } catch .fileTableFull {
                if !shedOne(.fileTableFull) { pause(.fileTableFull) }
                return
            } catch .noBufferSpace {
                pause(.noBufferSpace)
                return
            } catch .noMemory {
                pause(.noMemory)
                return
            } catch {
                onExhausted(error)
                return
            }
        }
    }

    /// Out of descriptors: gives back the reserve one, accepts the waiting client and closes
    /// it at once (it sees end-of-file rather than hanging in the backlog), and takes the
    /// reserve again. Nothing needs a timer, so this works even when no timer can be made.
    private func shedOne(_ error: Errno) -> Bool {
        guard let spare = reserve.take() else { return false }
        spare.close()
        let client = try? Socket.accept(fd)
        client?.close()
        reserve.refill()
        if !exhausted {
            exhausted = true
            onExhausted(error)
        }
        // The kernel reports the listener readable again while clients wait: each is shed in
        // its turn, so the CPU stays idle between them.
        return client != nil || reserve.isHeld
    }

    private func pause(_ error: Errno) {
        guard !suspended, let source else { return }
        onExhausted(error)
        suspended = true
        source.suspend()
        backoff.once(after: Self.exhaustionPause)
    }

    private func resumeAfterPause() {
        guard suspended, !isClosed else { return }
        suspended = false
        source?.resume()
    }

    /// Stops accepting. With `keepDescriptor` the socket stays open (it was handed to the fd
    /// store, or the daemon is restarting); otherwise it is closed.
    func close(keepDescriptor: Bool = false) {
        guard !isClosed else { return }
        isClosed = true
        closesDescriptor = !keepDescriptor
        backoff.cancel()
        if suspended {
            suspended = false
            source?.resume()
        }
        source?.cancel()
        source = nil
    }
}

/// A descriptor on /dev/null held in reserve for the moment the process runs out of them.
final class ReserveDescriptor {
    private var held: FileDescriptor?

    init() { refill() }

    var isHeld: Bool { held != nil }

    func take() -> FileDescriptor? {
        defer { held = nil }
        return held
    }

    func refill() {
        guard held == nil else { return }
        held = try? FileDescriptor.openNullDevice()
    }
}
