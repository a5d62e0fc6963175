import AttachSystem
import Dispatch

/// A non-blocking socket watched by a read source on the daemon's queue, with an output
/// buffer drained by a write source when the kernel's buffer is full. The descriptor is closed
/// only once every source on it has been cancelled, as Dispatch requires.
final class Connection {
    let id: UInt64
    let fd: FileDescriptor
    private let queue: DispatchQueue
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var output: [UInt8] = []
    private var outputStart = 0
    private(set) var isClosed = false
    /// Close once everything queued has been written.
    private var closeAfterFlush = false
    private var liveSources = 0
    /// The most bytes that may wait in `output` before the client is considered stuck.
    let outputLimit: Int
    var onClose: (() -> Void)?

    init(id: UInt64, fd: FileDescriptor, queue: DispatchQueue, outputLimit: Int) {
        self.id = id
        self.fd = fd
        self.queue = queue
        self.outputLimit = outputLimit
    }

    /// Starts reading: `onReadable` runs on the queue whenever bytes (or end-of-file) arrive.
    func start(onReadable: @escaping () -> Void) {
        let source = DispatchSource.makeReadSource(fileDescriptor: fd.rawValue, queue: queue)
        source.setEventHandler(handler: onReadable)
        source.setCancelHandler { [self] in sourceCancelled() }
        liveSources += 1
        readSource = source
        source.resume()
    }

    /// Reads what is there: bytes, `[]` at end of file, nil when nothing is ready.
    func read(max: Int = 65536) throws(Errno) -> [UInt8]? {
        do {
            return try fd.read(upTo: max)
        } catch .wouldBlock {
            return nil
        }
    }

    /// What a handler gets from `readAvailable`.
    enum Input {
        /// Nothing to handle (or the connection is closed now: end of file or an error).
        case nothing
        /// Bytes; when `peerClosed`, the peer's end-of-file came right after them, and the
        /// handler must close the connection once it has handled them.
        case bytes([UInt8], peerClosed: Bool)
    }

    /// Reads what is there for a handler, up to `max` bytes. End of file (the peer closed
    /// first, so any TIME_WAIT stays on its side) and errors close the connection; an
    /// end-of-file that arrived together with bytes is reported with them, since the read
    /// source does not fire again for it (a call sent and closed in one write). So is a
    /// hang-up (POLLRDHUP) behind more than `max` unread bytes: whatever is unread, a client
    /// that went away is dropped at once.
    func readAvailable(max: Int = 65536) -> Input {
        var bytes: [UInt8] = []
        while bytes.count < max {
            do {
                guard let chunk = try read(max: max - bytes.count) else { break }
                if chunk.isEmpty {
                    if bytes.isEmpty {
                        close()
                        return .nothing
                    }
                    return .bytes(bytes, peerClosed: true)
                }
                bytes += chunk
            } catch {
                if bytes.isEmpty {
                    close()
                    return .nothing
                }
                return .bytes(bytes, peerClosed: true)
            }
        }
        if bytes.count >= max, Socket.peerHasHungUp(fd) {
            // Stopped short with more unread: a peer that has hung up is dropped now, with what
            // was read, not after the rest. Dispatch reports a hang-up to the read source once,
            // as its last event, so the rest would never be read: the connection would stay
            // (with its calls and waiters) until something else closed it.
            return .bytes(bytes, peerClosed: true)
        }
        return bytes.isEmpty ? .nothing : .bytes(bytes, peerClosed: false)
    }

    /// Queues bytes and writes as much as the kernel takes now. Returns false when the client
    /// is not reading and its queue is over the limit (the connection is then closed).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard !isClosed else { return false }
        output.append(contentsOf: bytes)
        flush()
        if output.count - outputStart > outputLimit {
            close()
            return false
        }
        return true
    }

    /// Sends a last message to a peer we will not serve, then reads and drops whatever it still
    /// writes until it closes (or `seconds` pass) before closing: closing with its input
    /// unread would reset the connection and lose the message.
    func sendLastAndDrain(_ bytes: [UInt8], within seconds: Double = 1) {
        send(bytes)
        guard !isClosed else { return }
        Socket.shutdownWrite(fd)
        start { [self] in
            if case .bytes(_, true) = readAvailable() { close() }
        }
        queue.asyncConfined(after: seconds) { [self] in close() }
    }

    /// Closes once the queued output is written (or at once if there is none).
    func closeWhenFlushed() {
        closeAfterFlush = true
        if output.count == outputStart { close() }
    }

    private func flush() {
        while outputStart < output.count, !isClosed {
            do {
                let n = try fd.write(output[outputStart...])
                outputStart += n
            } catch .wouldBlock {
                armWriteSource()
                return
            } catch {
                close()
                return
            }
        }
        if outputStart == output.count {
            output.removeAll(keepingCapacity: output.capacity <= 65536)
            outputStart = 0
            disarmWriteSource()
            if closeAfterFlush { close() }
        }
    }

    private func armWriteSource() {
        guard writeSource == nil, !isClosed else { return }
        let source = DispatchSource.makeWriteSource(fileDescriptor: fd.rawValue, queue: queue)
        source.setEventHandler { [self] in flush() }
        source.setCancelHandler { [self] in sourceCancelled() }
        liveSources += 1
        writeSource = source
        source.resume()
    }

    private func disarmWriteSource() {
        writeSource?.cancel()
        writeSource = nil
    }

    /// Stops watching and closes the descriptor (after the sources are cancelled).
    func close() {
        guard !isClosed else { return }
        isClosed = true
        readSource?.cancel()
        readSource = nil
        disarmWriteSource()
        if liveSources == 0 { fd.close() }
        let handler = onClose
        onClose = nil
        handler?()
    }

    private func sourceCancelled() {
        liveSources -= 1
        if liveSources == 0, isClosed { fd.close() }
    }
}
