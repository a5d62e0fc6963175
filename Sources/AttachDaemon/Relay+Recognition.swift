import AttachProtocol
import AttachSystem
import Dispatch

/// A relay that follows its project's hosts first learns what it carries: the IDE speaks
/// first in DAP (`Content-Length:`), in gdb's remote protocol and in node's inspector (an HTTP
/// upgrade), so its first bytes are looked at (MSG_PEEK, left in the socket) before anything
/// moves. A host that speaks first is no DAP adapter. Until then nothing is read.
extension Relay {
    /// How long a beginning of `Content-Length:` may stay unfinished before the relay goes on
    /// byte for byte: tries, `recognitionRetry` apart.
    static let recognitionTries = 500
    static let recognitionRetry = DispatchTimeInterval.milliseconds(2)

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

    /// Read sources on both sockets, only to hear of the first bytes (they are not read here).
    private func watchFirstBytes() {
        guard recognitionSources.isEmpty else { return }
        for fd in [ide, host] {
            let source = DispatchSource.makeReadSource(fileDescriptor: fd.rawValue, queue: queue)
            source.setEventHandler { [self] in recognize() }
            source.setCancelHandler { [self] in sourceCancelled() }
            liveSources += 1
            recognitionSources.append(source)
            source.resume()
        }
    }

    /// A part of `Content-Length:` came: its rest follows at once in practice, but a read source
    /// would fire without pause meanwhile, so a short timer looks again.
    private func retrySoon() {
        cancelRecognitionSources()
        recognitionTries += 1
        guard recognitionTries < Self.recognitionTries else { return decided(dap: false) }
        let timer =
            recognitionTimer
            ?? {
                let timer = DispatchSource.makeTimerSource(queue: queue)
                timer.setEventHandler { [self] in recognize() }
                recognitionTimer = timer
                timer.schedule(deadline: .now() + Self.recognitionRetry)
                timer.resume()
                return timer
            }()
        timer.schedule(deadline: .now() + Self.recognitionRetry)
    }

    private func cancelRecognitionSources() {
        for source in recognitionSources { source.cancel() }
        recognitionSources = []
    }

    /// Stops watching for the first bytes (decided, ended, or handed over).
    func stopRecognizing() {
        cancelRecognitionSources()
        recognitionTimer?.cancel()
        recognitionTimer = nil
    }
}
