import AttachSystem
import Dispatch

/// The start of a relay through an ssh channel (`ssh -W`), before the remote debug server is
/// known to be there. ssh takes the channel's bytes whether or not anything listens on the other
/// side; a refusal shows only as the channel closing before any byte came back, and ssh exiting
/// with a failure. So until the server has said something, the IDE's bytes are read, sent on,
/// and kept: a refusal gives them back, the IDE connection is held again as if it had not been
/// read, and the next attempt sends them first.
///
/// It ends with `open` (a byte came back, or ssh ended with status 0: the channel was open, and
/// the debug server closed it; a `Relay` takes the two sockets on), or `refused` (the channel is
/// closed; ssh's words say why). Every method is for the queue only.
final class RelayTrial: @unchecked Sendable {
    enum Outcome {
        /// The debug server is there: relay `ide` and the channel; `sent` of the IDE's bytes
        /// went to it already.
        case open(sent: Int)
        /// Refused before any byte came back: the channel is closed; `unanswered` are the
        /// IDE's bytes read so far, for the next attempt.
        case refused(reason: String, unanswered: [UInt8])
    }

    let ide: FileDescriptor
    let channel: RemoteChannel
    private let queue: DispatchQueue
    /// The IDE's bytes read so far (some perhaps in earlier attempts), all kept.
    private var unanswered: [UInt8]
    /// How many of them were written to the channel.
    private(set) var sent = 0
    /// The IDE's bytes written to the channel so far (a relay that follows frames them first).
    var sentBytes: [UInt8] { Array(unanswered[0..<sent]) }
    private var ideSource: DispatchSourceRead?
    private var channelSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var exitTimer: DispatchSourceTimer?
    private var liveSources = 0
    private var completion: ((Outcome) -> Void)?
    private var state = State.running
    private var closed = false
    /// A byte came back from the debug server.
    private var answered = false
    /// End of file (or an error) from the IDE.
    private var ideDone = false

    private enum State {
        case running
        /// Decided; waiting for Dispatch to let go of both descriptors.
        case finishing(Outcome)
        /// The outcome is on its way to `completion`.
        case done(Outcome)
        /// `cancel()`: both sockets are closed (or will be once Dispatch let go of them).
        case cancelled
    }

    /// The most of the IDE's bytes kept; past it the relay goes on with no way back.
    static let keptLimit = 64 << 10
    /// How long ssh may take to exit once its channel has closed.
    static let exitGrace = 5.0

    init(ide: FileDescriptor, channel: RemoteChannel, unanswered: [UInt8], queue: DispatchQueue) {
        self.ide = ide
        self.channel = channel
        self.unanswered = unanswered
        self.queue = queue
        try? ide.setNonBlocking(true)
    }

    /// Sends what the IDE sent before, then watches both sides. `completion` runs once, on a
    /// later turn of the queue.
    func start(completion: @escaping (Outcome) -> Void) {
        self.completion = completion
        channel.onEnd = { [self] in sshEnded() }
        channelSource = readSource(channel.fd) { [self] in channelReadable() }
        send()
    }

    /// Gives up (the IDE connection is closed): both sockets are closed, no outcome is given.
    func cancel() {
        switch state {
        case .running:
            state = .cancelled
            stopWatching()
            closeIfQuiet()
        case .finishing:
            state = .cancelled
            closeIfQuiet()
        case .done(let result):
            state = .cancelled
            if case .open = result { channel.fd.close() }
            ide.close()
        case .cancelled:
            break
        }
    }

    // MARK: Moving the IDE's bytes

    /// Writes what is not sent yet; once all is, reads the IDE again.
    private func send() {
        while sent < unanswered.count {
            do throws(Errno) {
                let from = sent
                let written = try unanswered.withUnsafeBytes { raw -> Result<Int, Errno> in
                    Result { () throws(Errno) -> Int in
                        try Socket.sendNoSignal(channel.fd, UnsafeRawBufferPointer(rebasing: raw[from...]))
                    }
                }.get()
                sent += written
            } catch .wouldBlock {
                ideSource?.cancel()
                ideSource = nil
                if writeSource == nil {
                    let source = DispatchSource.makeWriteSource(fileDescriptor: channel.fd.rawValue, queue: queue)
                    watch(source) { [self] in send() }
                    writeSource = source
                }
                return
            } catch {
                return channelClosed()
            }
        }
        writeSource?.cancel()
        writeSource = nil
        if answered || unanswered.count >= Self.keptLimit { return finish(.open(sent: sent)) }
        if ideSource == nil, !ideDone { ideSource = readSource(ide) { [self] in ideReadable() } }
    }

    private func ideReadable() {
        do throws(Errno) {
            let bytes = try ide.read(upTo: 64 << 10)
            guard !bytes.isEmpty else { return ideEnded() }
            unanswered += bytes
            send()
        } catch .wouldBlock {
            return
        } catch {
            ideEnded()
        }
    }

    /// The IDE is done sending, or gone: the end goes on to the debug server (as a relay would
    /// pass it), and the outcome is awaited as before. Refused, the connection is held and the
    /// sweep of held connections sees that its IDE left.
    private func ideEnded() {
        ideSource?.cancel()
        ideSource = nil
        ideDone = true
        Socket.shutdownWrite(channel.fd)
    }

    // MARK: The channel's side

    private func channelReadable() {
        switch Socket.unread(channel.fd) {
        case .bytes:
            // The server spoke: once the IDE's bytes are all written, a relay moves the rest.
            answered = true
            channelSource?.cancel()
            channelSource = nil
            if sent == unanswered.count { finish(.open(sent: sent)) }
        case .nothing: break
        case .endOfFile, .failed: channelClosed()
        }
    }

    /// The channel closed with nothing said: how ssh ends tells a refusal from a server that
    /// accepted and closed.
    private func channelClosed() {
        channelSource?.cancel()
        channelSource = nil
        writeSource?.cancel()
        writeSource = nil
        ideSource?.cancel()
        ideSource = nil
        guard channel.ended == nil else { return sshEnded() }
        guard exitTimer == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + Self.exitGrace)
        timer.setEventHandler { [self] in channel.terminate() }
        exitTimer = timer
        timer.resume()
    }

    private func sshEnded() {
        guard case .running = state, let ended = channel.ended else { return }
        if channel.endedCleanly || Socket.unread(channel.fd) == .bytes {
            finish(.open(sent: sent))
        } else {
            finish(.refused(reason: ended.reason, unanswered: unanswered))
        }
    }

    // MARK: Sources

    private func readSource(_ fd: FileDescriptor, _ handler: @escaping () -> Void) -> DispatchSourceRead {
        let source = DispatchSource.makeReadSource(fileDescriptor: fd.rawValue, queue: queue)
        watch(source, handler)
        return source
    }

    private func watch(_ source: any DispatchSourceProtocol, _ handler: @escaping () -> Void) {
        source.setEventHandler(handler: handler)
        source.setCancelHandler { [self] in
            liveSources -= 1
            deliverIfQuiet()
        }
        liveSources += 1
        source.resume()
    }

    private func stopWatching() {
        channel.onEnd = nil
        exitTimer?.cancel()
        exitTimer = nil
        channelSource?.cancel()
        channelSource = nil
        writeSource?.cancel()
        writeSource = nil
        ideSource?.cancel()
        ideSource = nil
    }

    /// Stops watching; the outcome goes out once every cancel handler ran, so that the sockets
    /// are never closed or watched anew while Dispatch still holds them.
    private func finish(_ result: Outcome) {
        guard case .running = state else { return }
        state = .finishing(result)
        stopWatching()
        deliverIfQuiet()
    }

    private func deliverIfQuiet() {
        if case .cancelled = state { return closeIfQuiet() }
        guard liveSources == 0, case .finishing(let result) = state else { return }
        state = .done(result)
        if case .refused = result { channel.fd.close() }
        // From a fresh turn of the queue (never inside `start`); not once cancelled.
        queue.async { [self] in
            guard case .done = state, let handler = completion else { return }
            completion = nil
            handler(result)
        }
    }

    private func closeIfQuiet() {
        guard liveSources == 0, !closed else { return }
        closed = true
        channel.fd.close()
        ide.close()
    }
}
