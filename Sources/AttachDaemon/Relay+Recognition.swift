import AttachProtocol
import AttachSystem

/// A relay that follows its project's hosts first learns what it carries: the IDE speaks
/// first in DAP (`Content-Length:`), in gdb's remote protocol and in node's inspector (an HTTP
/// upgrade), so its first bytes are looked at (MSG_PEEK, left in the socket) before anything
/// moves. A host that speaks first is no DAP adapter. Until then nothing is read.
extension Relay {
    /// How long a beginning of `Content-Length:` may stay unfinished before the relay goes on
    /// byte for byte: tries, `recognitionRetry` seconds apart.
    static let recognitionTries = 500
    static let recognitionRetry = 0.002

    /// Looks at what the IDE sent so far; decides, or waits for more.
    func recognize() {
        guard !isEnded, directions.isEmpty else { return }
        if !ideSent.isEmpty {
            // A trial sent the IDE's first bytes on already: they tell.
            return decided(dap: DAP.recognize(ideSent) == .dap)
        }
        switch Socket.peek(ide, count: DAP.recognitionLength) {
        case .bytes(let first):
            switch DAP.recognize(first) {
            case .dap: decided(dap: true)
            case .other: decided(dap: false)
            case .undecided: retrySoon()
            }
        case .nothing:
            if case .nothing = Socket.unread(host) { return watchFirstBytes() }
            decided(dap: false)  // the host spoke first (or ended): relayed as it is
        case .endOfFile, .failed:
            decided(dap: false)  // the plain relay passes the end on as always
        }
    }

    private func decided(dap: Bool) {
        stopRecognizing()
        begin(dap: dap)
        runBoth()
    }

    /// Both sockets watched, only to hear of the first bytes (they are not read here).
    private func watchFirstBytes() {
        guard let context, !watchingFirstBytes else { return }
        watchingFirstBytes = true
        do throws(Errno) {
            for fd in [ide, host] {
                try context.watch(fd, for: .readable) { [unowned self] _ in recognize() }
            }
        } catch {
            end("the relay could not watch its sockets: \(error)")
        }
    }

    /// A part of `Content-Length:` came: its rest follows at once in practice, but a watched
    /// socket would be ready without pause meanwhile, so a short timer looks again.
    private func retrySoon() {
        stopWatchingFirstBytes()
        recognitionTries += 1
        guard recognitionTries < Self.recognitionTries else { return decided(dap: false) }
        guard let context, recognitionTimer == nil else { return }
        recognitionTimer = context.after(Self.recognitionRetry) { [unowned self] in
            recognitionTimer = nil
            recognize()
        }
    }

    private func stopWatchingFirstBytes() {
        guard watchingFirstBytes else { return }
        watchingFirstBytes = false
        context?.unwatch(ide)
        context?.unwatch(host)
    }

    /// Stops watching for the first bytes (decided, ended, or handed over).
    func stopRecognizing() {
        stopWatchingFirstBytes()
        if let recognitionTimer { context?.cancel(recognitionTimer) }
        recognitionTimer = nil
    }
}
