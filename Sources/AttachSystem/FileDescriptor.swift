#if canImport(Glibc)
    import Glibc
#endif

/// An owned-by-convention file descriptor (no automatic close; the caller closes).
///
/// A plain value: copying it does not duplicate the descriptor, and dropping it does not close it.
public struct FileDescriptor: Hashable, Sendable, CustomStringConvertible {
    /// The kernel's descriptor number.
    public let rawValue: Int32

    /// Wraps a descriptor number. Does not check that it is open.
    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// `"fd 7"`
    public var description: String { "fd \(rawValue)" }

    /// Descriptor 0.
    public static let standardInput = FileDescriptor(rawValue: STDIN_FILENO)
    /// Descriptor 1.
    public static let standardOutput = FileDescriptor(rawValue: STDOUT_FILENO)
    /// Descriptor 2.
    public static let standardError = FileDescriptor(rawValue: STDERR_FILENO)

    /// close(2); never retried on EINTR (Linux semantics: the descriptor is released even then).
    /// Returns the error instead of throwing, since there is nothing a caller can do but log it.
    @discardableResult
    public func close() -> Errno? {
        do throws(Errno) {
            try Kernel.close(rawValue)
            return nil
        } catch {
            return error
        }
    }

    /// read(2) into a fresh array of at most `count` bytes. Returns [] at end of file.
    /// Throws `.wouldBlock` on a non-blocking descriptor with nothing to read. Retries EINTR.
    public func read(upTo count: Int) throws(Errno) -> [UInt8] {
        guard count > 0 else { return [] }
        var failure: Errno?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(Errno) {
                initialized = try Kernel.read(rawValue, UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// write(2); returns the number of bytes written (may be fewer than given).
    /// Throws `.wouldBlock` when a non-blocking socket's buffer is full. Retries EINTR.
    public func write(_ bytes: ArraySlice<UInt8>) throws(Errno) -> Int {
        guard !bytes.isEmpty else { return 0 }
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(Errno) -> Int in try Kernel.write(rawValue, raw) }
        }
        return try result.get()
    }

    /// Blocking helper over write(2): writes everything, retrying partial writes. Meant for
    /// blocking descriptors (the client side); should the descriptor be non-blocking, it waits
    /// with poll(2) for room instead of spinning.
    public func writeAll(_ bytes: [UInt8]) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            do throws(Errno) {
                offset += try write(bytes[offset...])
            } catch .wouldBlock {
                _ = try poll(events: Int16(POLLOUT), timeoutMilliseconds: -1)
            }
        }
    }

    /// fcntl(2) F_GETFL/F_SETFL: turns O_NONBLOCK on or off.
    public func setNonBlocking(_ on: Bool) throws(Errno) {
        let flags = try Kernel.fcntl(rawValue, F_GETFL)
        let wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if wanted != flags {
            _ = try Kernel.fcntl(rawValue, F_SETFL, wanted)
        }
    }

    /// poll(2) for readability: true if the descriptor is readable, hung up or in error before
    /// the timeout, false on timeout. `timeoutMilliseconds` -1 waits forever. An interrupted
    /// poll is resumed with the time that is left. Throws `.badFileDescriptor` for a closed fd.
    public func waitReadable(timeoutMilliseconds: Int32) throws(Errno) -> Bool {
        try poll(events: Int16(POLLIN), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// isatty(3)
    public var isTerminal: Bool {
        Glibc.isatty(rawValue) == 1
    }

    /// poll(2) for `events` (plus hang-up and error), resuming after EINTR with the remaining time.
    internal func poll(events: Int16, timeoutMilliseconds: Int32) throws(Errno) -> Bool {
        let deadline =
            timeoutMilliseconds < 0
            ? nil : Clock.monotonicSeconds() + Double(timeoutMilliseconds) / 1000
        var timeout = timeoutMilliseconds
        while true {
            do throws(Errno) {
                guard let revents = try Kernel.poll(rawValue, events: events, timeoutMilliseconds: timeout)
                else { return false }
                if revents & Int16(POLLNVAL) != 0 { throw Errno.badFileDescriptor }
                return revents & (events | Int16(POLLHUP) | Int16(POLLERR)) != 0
            } catch .interrupted {
                if let deadline {
                    let left = (deadline - Clock.monotonicSeconds()) * 1000
                    timeout = left <= 0 ? 0 : Int32(min(left.rounded(.up), Double(Int32.max)))
                }
            }
        }
    }
}

extension FileDescriptor {
    /// open(2) of /dev/null, read-only and close-on-exec: a descriptor held in reserve, to be
    /// given back when the process runs out of them.
    public static func openNullDevice() throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try Kernel.open("/dev/null", O_RDONLY | O_CLOEXEC))
    }

    /// fstat(2): the device and inode the descriptor refers to (as JOURNAL_STREAM names them).
    public func deviceAndInode() throws(Errno) -> (device: UInt64, inode: UInt64) {
        let info = try Kernel.fstat(rawValue)
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}
