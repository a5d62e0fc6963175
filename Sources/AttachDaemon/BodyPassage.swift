import AttachProtocol
import AttachSystem

/// The rest of one large DAP message from the host (a body over `DAPFollow.scanLimit`: never a
/// `terminated` event), passed on as it comes once its header and first bytes were framed: its
/// middle with splice(2) through a kernel pipe (the bytes never enter user space), its last
/// `scanLimit` bytes (and everything, when the kernel refuses to splice) with one read(2) and
/// one write(2) from the direction's buffer. Only the body's first and last `scanLimit` bytes are
/// kept, for their `seq` (`DAPFollow.passedOn(largeBodyHead:tail:)`).
///
/// Like `FramedDirection`, used on the relay's queue only; reads only when nothing is pending.
final class BodyPassage {
    private let source: FileDescriptor
    private let destination: FileDescriptor
    /// The direction's read buffer: used here only while the direction has nothing else in it.
    private let buffer: UnsafeMutableRawBufferPointer
    private var pipe: Pipe?
    private let pipeCapacity: Int
    private var splicing: Bool
    private var inPipe = 0
    /// Body bytes still to come from the source.
    private(set) var remaining = 0
    /// The part of `buffer` read and not yet written.
    private var bufferStart = 0
    private var bufferEnd = 0
    /// The body's first and (so far) last `DAPFollow.scanLimit` bytes.
    private(set) var head: [UInt8] = []
    private(set) var tail: [UInt8] = []

    init(source: FileDescriptor, destination: FileDescriptor, buffer: UnsafeMutableRawBufferPointer, pipe: Pipe?) {
        self.source = source
        self.destination = destination
        self.buffer = buffer
        self.pipe = pipe
        splicing = pipe != nil
        pipeCapacity = (try? pipe?.capacity()) ?? 65536
    }

    /// A body is on its way: bytes remain to come from the source.
    var isActive: Bool { remaining > 0 }

    /// Bytes read and not yet written.
    var pending: Int { inPipe + bufferEnd - bufferStart }

    /// A large body starts: `bodyStart` (at least `DAPFollow.scanLimit` bytes) was framed and
    /// goes on with the header; `remaining` bytes of it are still to come.
    func begin(bodyStart: ArraySlice<UInt8>, remaining: Int) {
        head = Array(bodyStart.prefix(DAPFollow.scanLimit))
        tail.removeAll(keepingCapacity: true)
        tail += bodyStart.suffix(DAPFollow.scanLimit)
        self.remaining = remaining
    }

    /// Reads once from the source (nothing must be pending): spliced into the pipe while more
    /// than the tail is to come, else read into the buffer.
    func fill() throws(Errno) -> SpliceResult {
        let beforeTail = remaining - DAPFollow.scanLimit
        if splicing, let pipe, beforeTail > 0 {
            do throws(Errno) {
                let result = try Splice.move(from: source, to: pipe.writeEnd, count: min(beforeTail, pipeCapacity))
                if case .moved(let count) = result {
                    inPipe += count
                    remaining -= count
                }
                return result
            } catch let error where Splice.isRefusal(error) {
                splicing = false
            }
        }
        let count: Int
        do throws(Errno) {
            count = try source.read(
                into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(remaining, buffer.count)]))
        } catch .wouldBlock {
            return .wouldBlock
        }
        guard count > 0 else { return .endOfFile }
        remaining -= count
        bufferStart = 0
        bufferEnd = count
        keepTail(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        return .moved(count)
    }

    /// Writes what is pending; returns the bytes written, and whether nothing is left pending.
    func drain() throws(Errno) -> (written: Int, done: Bool) {
        var written = 0
        while pending > 0 {
            if inPipe > 0, splicing, let pipe {
                do throws(Errno) {
                    switch try Splice.move(from: pipe.readEnd, to: destination, count: inPipe) {
                    case .moved(let count):
                        inPipe -= count
                        written += count
                    case .wouldBlock:
                        return (written, false)
                    case .endOfFile:
                        inPipe = 0
                    }
                } catch let error where Splice.isRefusal(error) {
                    splicing = false
                }
                continue
            }
            if bufferStart == bufferEnd {
                // After a refusal: what the pipe holds goes through the buffer.
                guard let pipe, inPipe > 0 else { break }
                let count = try pipe.readEnd.read(
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(inPipe, buffer.count)]))
                inPipe = count == 0 ? 0 : inPipe - count
                bufferStart = 0
                bufferEnd = count
                continue
            }
            do throws(Errno) {
                let count = try Socket.sendNoSignal(
                    destination, UnsafeRawBufferPointer(rebasing: buffer[bufferStart..<bufferEnd]))
                bufferStart += count
                written += count
            } catch .wouldBlock {
                return (written, false)
            }
        }
        bufferStart = 0
        bufferEnd = 0
        return (written, true)
    }

    /// Keeps the last `DAPFollow.scanLimit` bytes of the body seen so far (the spliced middle
    /// is never among them: the last `scanLimit` bytes are always read).
    private func keepTail(_ chunk: UnsafeRawBufferPointer) {
        if chunk.count >= DAPFollow.scanLimit {
            tail.removeAll(keepingCapacity: true)
            tail += chunk[(chunk.count - DAPFollow.scanLimit)...]
        } else {
            tail += chunk
            if tail.count > DAPFollow.scanLimit { tail.removeFirst(tail.count - DAPFollow.scanLimit) }
        }
    }

    /// Closes the pipe (the sockets belong to the relay).
    func closePipe() {
        pipe?.close()
        pipe = nil
        inPipe = 0
        splicing = false
    }
}
