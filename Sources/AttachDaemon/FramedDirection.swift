import AttachProtocol
import AttachSystem

/// One direction of a relay as `Relay` drives it: `pump()` moves what it can now and says
/// what to wait for.
protocol RelayPump: AnyObject {
    var source: FileDescriptor { get }
    var destination: FileDescriptor { get }
    /// Bytes written to the destination so far.
    var bytesMoved: UInt64 { get }
    /// The direction is over (its destination was shut down for writing).
    var isFinished: Bool { get }
    func pump() -> RelayDirection.Step
    /// For a hand-over: writes what is pending until `deadline`; returns the bytes left.
    func flush(until deadline: Double) -> Int
    /// Frees the direction's kernel pipe, if any (the sockets belong to the relay).
    func closePipe()
}

extension RelayDirection: RelayPump {}

/// What the two directions of a DAP relay share: the follow policy (`DAPFollow`) and whether
/// the stream turned out not to be DAP after all (then nothing is changed any more).
final class DAPRelayState {
    var follow: DAPFollow
    /// A framing error was seen: the rest is passed on byte for byte, nothing is added.
    var notDAP = false

    init(project: String) {
        follow = DAPFollow(project: project)
    }

    /// The farewell is due and allowed.
    func hostEnded() -> [UInt8]? {
        notDAP ? nil : follow.hostEnded()
    }
}

/// One direction of a DAP relay, copied through user space with read(2)/write(2) and framed:
/// the IDE's direction passes bytes on as they come and is framed only to see a `disconnect`
/// or `terminate`; the host's direction passes each message on once it is complete, so that a
/// `terminated` event can be rewritten (`DAPFollow`), except a body over `DAPFollow.scanLimit`
/// (never a `terminated` event): once its header and first bytes are seen, the rest of it goes
/// on straight from the read buffer, one write per read, never held whole. When the host's side
/// ends, or fails, the farewell goes to the IDE before its end of file (unless it ends in the
/// middle of such a body: half of it went on, nothing can follow). A framing error turns either
/// direction into a plain copy for the rest of the connection.
final class FramedDirection: RelayPump {
    let source: FileDescriptor
    let destination: FileDescriptor
    /// True for host → IDE.
    let fromHost: Bool
    let state: DAPRelayState
    private var framer = DAPFramer()
    /// Bytes to write, from `outStart` on.
    private var out: [UInt8] = []
    private var outStart = 0
    private let buffer: UnsafeMutableRawBufferPointer
    /// The host's direction: the rest of a large body, passed on unframed.
    private var passage: BodyPassage?
    private(set) var bytesMoved: UInt64 = 0
    private var sourceEnded = false
    private(set) var isFinished = false

    /// `sentAlready`: the IDE's bytes a `RelayTrial` passed on before: framed, not sent again.
    init(
        source: FileDescriptor, destination: FileDescriptor, fromHost: Bool, state: DAPRelayState, bufferCapacity: Int,
        sentAlready: [UInt8] = [], pipe: Pipe? = nil
    ) {
        self.source = source
        self.destination = destination
        self.fromHost = fromHost
        self.state = state
        // The host's direction carries the bulk (variables, sources): larger reads, fewer calls.
        let capacity = fromHost ? max(Self.hostBufferCapacity, bufferCapacity) : max(4096, bufferCapacity)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        if fromHost {
            passage = BodyPassage(source: source, destination: destination, buffer: buffer, pipe: pipe)
        } else {
            pipe?.close()
        }
        if !sentAlready.isEmpty {
            sentAlready.withUnsafeBytes { take($0) }
            out.removeAll()
        }
    }

    deinit {
        buffer.deallocate()
    }

    static let hostBufferCapacity = 256 << 10
    /// What is framed is copied (into the framer, then to be written): the host's reads stay
    /// small, as the rest of a large body goes on through `passage` without it.
    private var framedRead: Int { fromHost ? min(buffer.count, 16 << 10) : buffer.count }

    var pending: Int { (passage?.pending ?? 0) + out.count - outStart }

    /// In the middle of a large body passed through: nothing can go before its end.
    private var midBody: Bool { passage?.isActive ?? false }

    func pump() -> RelayDirection.Step {
        guard !isFinished else { return .finished }
        var moved = 0
        while true {
            do throws(Errno) {
                if try !drain() { return .waitDestination }
            } catch {
                return .failed(reading: false, error)
            }
            if sourceEnded || (fromHost && state.follow.farewellSaid) {
                Socket.shutdownWrite(destination)
                isFinished = true
                return .finished
            }
            if moved >= RelayDirection.fairShare { return .yield }
            if let passage, passage.isActive {
                do throws(Errno) {
                    switch try passage.fill() {
                    case .wouldBlock: return .waitSource
                    // Half a message went on already: no farewell can follow it.
                    case .endOfFile: sourceEnded = true
                    case .moved(let count):
                        moved += count
                        if !passage.isActive {
                            state.follow.passedOn(largeBodyHead: passage.head, tail: passage.tail)
                        }
                    }
                } catch {
                    return .failed(reading: true, error)
                }
                continue
            }
            let count: Int
            do throws(Errno) {
                count = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<framedRead]))
            } catch .wouldBlock {
                return .waitSource
            } catch {
                guard fromHost, let farewell = state.hostEnded() else { return .failed(reading: true, error) }
                // The host's side failed (a reset): the IDE still hears why, then the end.
                out += farewell
                sourceEnded = true
                continue
            }
            if count == 0 {
                sourceEnded = true
                // The IDE's bytes went on as they came; of the host's, an unfinished message goes
                // on only when no farewell follows it (never half of one before it).
                let rest = framer.takeBuffered()
                if fromHost { out += state.hostEnded() ?? rest }
                continue
            }
            moved += count
            take(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    /// Frames what was read and queues what is to be written.
    private func take(_ bytes: UnsafeRawBufferPointer) {
        if state.notDAP {
            out.append(contentsOf: bytes)
            return
        }
        if !fromHost { out.append(contentsOf: bytes) }
        framer.append(bytes)
        do throws(DAPFramingError) {
            while let message = try framer.next() {
                if fromHost {
                    if let replaced = state.follow.replacement(for: message) {
                        out += replaced
                    } else {
                        out += message.header
                        out += message.body
                    }
                } else {
                    state.follow.fromIDE(message.body)
                }
            }
            if let passage, !state.follow.farewellSaid,
                let start = framer.takeMessageStart(ifBodyOver: DAPFollow.scanLimit, into: &out)
            {
                passage.begin(bodyStart: out[start.bodyStart...], remaining: start.remaining)
            }
        } catch {
            state.notDAP = true
            let rest = framer.takeBuffered()
            if fromHost { out += rest }
        }
    }

    /// The farewell, written now if the host ended as Core saw it (its session ended): waits
    /// for room with poll(2) until `deadline` at most. False when there was none to say.
    func sayFarewell(until deadline: Double) -> Bool {
        // In the middle of a large body nothing can be said: it would land inside the body.
        guard fromHost, !isFinished, !midBody, let farewell = state.hostEnded() else { return false }
        _ = framer.takeBuffered()
        out += farewell
        _ = flush(until: deadline)
        return true
    }

    /// Writes pending bytes until none are left (true) or the destination is full (false).
    private func drain() throws(Errno) -> Bool {
        // Passed-through body bytes first: whatever is queued in `out` came after them.
        if let passage, passage.pending > 0 {
            let (written, done) = try passage.drain()
            bytesMoved += UInt64(written)
            if !done { return false }
        }
        while outStart < out.count {
            let written: Int
            do throws(Errno) {
                written = try out.withUnsafeBytes { raw -> Result<Int, Errno> in
                    Result { () throws(Errno) -> Int in
                        try Socket.sendNoSignal(destination, UnsafeRawBufferPointer(rebasing: raw[outStart...]))
                    }
                }.get()
            } catch .wouldBlock {
                return false
            }
            outStart += written
            bytesMoved += UInt64(written)
        }
        out.removeAll(keepingCapacity: out.capacity <= 1 << 20)
        outStart = 0
        return true
    }

    func flush(until deadline: Double) -> Int {
        // A hand-over: the host's unfinished message goes on as it came (the IDE's went already).
        let rest = framer.takeBuffered()
        if fromHost { out += rest }
        while pending > 0 {
            do throws(Errno) {
                if try drain() { break }
                let left = (deadline - Clock.monotonicSeconds()) * 1000
                guard left > 0, try destination.waitWritable(timeoutMilliseconds: Int32(left.rounded(.up))) else {
                    break
                }
            } catch {
                break
            }
        }
        return pending
    }

    func closePipe() {
        passage?.closePipe()
    }
}
