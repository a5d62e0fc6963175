import AttachSystem

/// One direction of a relay: bytes read from `source` are written to `destination`, through a
/// kernel pipe with splice(2) (the bytes never enter user space) or, when the kernel refuses to
/// splice these descriptors, through a fixed buffer with read(2)/write(2). Either way at most one
/// pipe's or one buffer's worth of bytes is held: a full destination stops the reading (the
/// `Relay` suspends the source's read source), so the sender is held back by TCP itself.
///
/// Not thread-safe: used on the relay's queue only. Knows nothing of Dispatch: `pump()` does
/// what can be done now and says what to wait for.
final class RelayDirection {
    /// What `pump()` stopped on.
    enum Step: Equatable {
        /// The source has nothing to read now: wait for it to be readable.
        case waitSource
        /// The destination has no room for what is pending: wait for it to be writable.
        case waitDestination
        /// A fair share was moved and there may be more: pump again soon.
        case yield
        /// End of file from the source, everything written, shutdown(SHUT_WR) sent.
        case finished
        /// reading the source (`reading` true) or writing the destination failed.
        case failed(reading: Bool, Errno)
    }

    let source: FileDescriptor
    let destination: FileDescriptor
    /// The pipe of the splice path; kept after a fallback to copying until it is closed.
    private(set) var pipe: Pipe?
    private let pipeCapacity: Int
    /// True while bytes go through the pipe with splice(2); false after the kernel refused.
    private(set) var splicing: Bool
    /// Bytes in the pipe, not yet written.
    private var inPipe = 0
    /// The copy path's buffer (allocated at the first copy) and its unwritten part.
    private var buffer: UnsafeMutableRawBufferPointer?
    private var bufferStart = 0
    private var bufferEnd = 0
    private let bufferCapacity: Int
    /// Bytes written to the destination so far.
    private(set) var bytesMoved: UInt64 = 0
    /// End of file was read from the source.
    private(set) var sourceEnded = false
    /// The direction is over (its destination was shut down for writing).
    private(set) var isFinished = false

    /// At most this many bytes per `pump()` before yielding to the other direction and the
    /// rest of the daemon.
    static let fairShare = 4 << 20

    /// `pipe` nil means copy through a buffer of `bufferCapacity` bytes from the start.
    init(source: FileDescriptor, destination: FileDescriptor, pipe: Pipe?, bufferCapacity: Int) {
        self.source = source
        self.destination = destination
        self.pipe = pipe
        self.splicing = pipe != nil
        self.pipeCapacity = (try? pipe?.capacity()) ?? 65536
        self.bufferCapacity = bufferCapacity
    }

    /// Bytes read from the source and not yet written (in the pipe or the buffer).
    var pending: Int { inPipe + bufferEnd - bufferStart }

    /// Moves what can be moved now: first what is pending into the destination, then, only
    /// once nothing is pending, more from the source (so a splice into the pipe that would
    /// block means the socket is empty, never that the pipe is full).
    func pump() -> Step {
        guard !isFinished else { return .finished }
        let startedAt = bytesMoved
        // A read that got less than it asked for emptied the socket: once that is written,
        // the next read would only say EAGAIN (a syscall per message saved; should more have
        // come meanwhile, the socket is still readable and the relay comes back at once).
        var emptied = false
        while true {
            if pending > 0 {
                do throws(Errno) {
                    if try !drain() { return .waitDestination }
                } catch {
                    return .failed(reading: false, error)
                }
            }
            if sourceEnded {
                Socket.shutdownWrite(destination)
                isFinished = true
                return .finished
            }
            if emptied { return .waitSource }
            if bytesMoved - startedAt >= UInt64(Self.fairShare) { return .yield }
            do throws(Errno) {
                switch try fill() {
                case .moved(let count):
                    emptied = count < (splicing ? pipeCapacity : bufferCapacity)
                case .wouldBlock: return .waitSource
                case .endOfFile: sourceEnded = true
                }
            } catch {
                return .failed(reading: true, error)
            }
        }
    }

    /// Writes pending bytes until none are left (true) or the destination is full (false).
    private func drain() throws(Errno) -> Bool {
        while pending > 0 {
            if splicing, let pipe {
                do throws(Errno) {
                    switch try Splice.move(from: pipe.readEnd, to: destination, count: inPipe) {
                    case .moved(let count):
                        inPipe -= count
                        bytesMoved += UInt64(count)
                    case .wouldBlock:
                        return false
                    case .endOfFile:
                        // The pipe is empty after all: trust the kernel over the count.
                        inPipe = 0
                    }
                } catch let error where Splice.isRefusal(error) {
                    splicing = false
                }
                continue
            }
            if bufferStart == bufferEnd {
                // Copy path: what the pipe still holds (from before a fallback) goes first.
                guard let pipe, inPipe > 0 else { return true }
                let count = try readIntoBuffer(from: pipe.readEnd, max: inPipe)
                if count == 0 { inPipe = 0 } else { inPipe -= count }
                continue
            }
            guard let buffer else { return true }
            let written: Int
            do throws(Errno) {
                written = try Socket.sendNoSignal(
                    destination, UnsafeRawBufferPointer(rebasing: buffer[bufferStart..<bufferEnd]))
            } catch .wouldBlock {
                return false
            }
            bufferStart += written
            bytesMoved += UInt64(written)
            if bufferStart == bufferEnd {
                bufferStart = 0
                bufferEnd = 0
            }
        }
        return true
    }

    /// Reads once from the source into the (empty) pipe or buffer.
    private func fill() throws(Errno) -> SpliceResult {
        if splicing, let pipe {
            do throws(Errno) {
                let result = try Splice.move(from: source, to: pipe.writeEnd, count: pipeCapacity)
                if case .moved(let count) = result { inPipe += count }
                return result
            } catch let error where Splice.isRefusal(error) {
                splicing = false
            }
        }
        do throws(Errno) {
            let count = try readIntoBuffer(from: source, max: bufferCapacity)
            return count == 0 ? .endOfFile : .moved(count)
        } catch .wouldBlock {
            return .wouldBlock
        }
    }

    /// read(2) into the empty buffer; returns the count (0 at end of file).
    private func readIntoBuffer(from fd: FileDescriptor, max: Int) throws(Errno) -> Int {
        let buffer = self.buffer ?? UnsafeMutableRawBufferPointer.allocate(byteCount: bufferCapacity, alignment: 16)
        self.buffer = buffer
        let count = try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(max, bufferCapacity)]))
        bufferStart = 0
        bufferEnd = count
        return count
    }

    /// For a hand-over: writes what is pending, waiting with poll(2) for room until `deadline`
    /// (CLOCK_MONOTONIC seconds); passes on an end of file already read. Returns the bytes that
    /// could not be written (lost when the pipe is closed).
    func flush(until deadline: Double) -> Int {
        while pending > 0 {
            do throws(Errno) {
                if try drain() { break }
                let left = (deadline - Clock.monotonicSeconds()) * 1000
                guard left > 0, try destination.waitWritable(timeoutMilliseconds: Int32(left.rounded(.up)))
                else { break }
            } catch {
                break
            }
        }
        if pending == 0 && sourceEnded && !isFinished {
            Socket.shutdownWrite(destination)
            isFinished = true
        }
        return pending
    }

    deinit {
        buffer?.deallocate()
    }

    /// Closes the pipe (the sockets belong to the relay).
    func closePipe() {
        pipe?.close()
        pipe = nil
        inPipe = 0
    }
}
