#if canImport(Glibc)
    import Glibc
#endif

extension Socket {
    /// What `peek` found on a stream socket.
    public enum Peeked: Sendable, Equatable {
        /// These bytes (at least one) wait to be read; they are still there.
        case bytes([UInt8])
        /// The peer closed its writing side.
        case endOfFile
        /// Nothing to read yet.
        case nothing
        /// The connection failed (ECONNRESET, ...).
        case failed(Errno)
    }

    /// recv(2) of at most `count` bytes with MSG_PEEK | MSG_DONTWAIT: the first bytes waiting,
    /// left for the next read.
    public static func peek(_ fd: FileDescriptor, count: Int) -> Peeked {
        var bytes = [UInt8](repeating: 0, count: max(1, count))
        do throws(Errno) {
            let got = try bytes.withUnsafeMutableBytes { buffer -> Result<Int, Errno> in
                Result { () throws(Errno) -> Int in
                    try Kernel.recv(fd.rawValue, buffer, flags: Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
                }
            }.get()
            guard got > 0 else { return .endOfFile }
            return .bytes(Array(bytes[0..<got]))
        } catch .wouldBlock {
            return .nothing
        } catch {
            return .failed(error)
        }
    }
}
