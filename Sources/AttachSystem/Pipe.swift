#if canImport(Glibc)
    import Glibc
#endif

/// A kernel pipe used as the in-kernel buffer between two sockets: splice(2) moves bytes from a
/// socket into `writeEnd` and from `readEnd` into another socket without copying them through
/// user space. Both ends are non-blocking and close-on-exec. A plain value: the caller closes.
public struct Pipe: Sendable, Hashable {
    /// The end bytes are read (or spliced) from.
    public let readEnd: FileDescriptor
    /// The end bytes are written (or spliced) into.
    public let writeEnd: FileDescriptor

    /// pipe2(2) with O_NONBLOCK|O_CLOEXEC, then, when `capacity` is given, fcntl(2)
    /// F_SETPIPE_SZ. A capacity the kernel refuses (EPERM above /proc/sys/fs/pipe-max-size for an
    /// unprivileged process, EBUSY) leaves the default (64 KiB); `capacity()` tells what it is.
    public static func make(capacity: Int? = nil) throws(Errno) -> Pipe {
        let (read, write) = try Kernel.pipe2(flags: O_NONBLOCK | O_CLOEXEC)
        let pipe = Pipe(readEnd: FileDescriptor(rawValue: read), writeEnd: FileDescriptor(rawValue: write))
        if let capacity, capacity > 0 {
            _ = try? Kernel.fcntl(write, Kernel.setPipeSize, Int32(clamping: capacity))
        }
        return pipe
    }

    /// fcntl(2) F_GETPIPE_SZ: how many bytes the pipe holds at most.
    public func capacity() throws(Errno) -> Int {
        Int(try Kernel.fcntl(readEnd.rawValue, Kernel.getPipeSize))
    }

    /// ioctl(2) FIONREAD on the read end: how many bytes sit in the pipe now.
    public func bytesPending() throws(Errno) -> Int {
        try Kernel.bytesReadable(readEnd.rawValue)
    }

    /// close(2) of both ends.
    public func close() {
        readEnd.close()
        writeEnd.close()
    }
}

/// What one splice(2) did.
public enum SpliceResult: Sendable, Equatable, CustomStringConvertible {
    /// This many bytes (more than 0) moved.
    case moved(Int)
    /// Nothing moved: the source had nothing to give or the destination had no room (EAGAIN).
    case wouldBlock
    /// The source is at end of file (splice returned 0).
    case endOfFile

    public var description: String {
        switch self {
        case .moved(let count): "moved \(count)"
        case .wouldBlock: "would block"
        case .endOfFile: "end of file"
        }
    }
}

/// splice(2): moving bytes between a socket and a pipe inside the kernel.
public enum Splice {
    /// splice(2) of at most `count` bytes from `source` to `destination` with
    /// SPLICE_F_NONBLOCK|SPLICE_F_MOVE. One of the two must be a pipe. EAGAIN becomes
    /// `.wouldBlock` (for a socket source it is ambiguous: the socket may be empty or the pipe
    /// full; a caller that splices only into an empty pipe knows which). Other errors are thrown:
    /// EINVAL when a descriptor does not support splicing (the caller then copies through
    /// read(2)/write(2) instead), ECONNRESET, EPIPE. EINTR is retried.
    public static func move(
        from source: FileDescriptor, to destination: FileDescriptor,
        count: Int
    ) throws(Errno) -> SpliceResult {
        guard count > 0 else { return .wouldBlock }
        do throws(Errno) {
            let moved = try Kernel.splice(
                from: source.rawValue, to: destination.rawValue, count: count,
                flags: Kernel.spliceMove | Kernel.spliceNonBlock)
            return moved == 0 ? .endOfFile : .moved(moved)
        } catch .wouldBlock {
            return .wouldBlock
        }
    }

    /// True for the errors with which splice(2) refuses a kind of descriptor rather than
    /// failing on this connection: EINVAL, ENOSYS, EOPNOTSUPP.
    public static func isRefusal(_ error: Errno) -> Bool {
        error == .invalidArgument || error == .notImplemented || error == .notSupported
    }
}
