#if canImport(Glibc)
    import Glibc
#endif

/// The raw calls behind `Pipe`, `Splice` and the non-blocking connect: pipe2(2), splice(2),
/// fcntl(2) F_SETPIPE_SZ/F_GETPIPE_SZ and ioctl(2) FIONREAD, each behind the errno funnel.
extension Kernel {
    /// fcntl(2) commands from <fcntl.h> that Swift's Glibc leaves out (they need _GNU_SOURCE).
    static let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ
    static let getPipeSize: Int32 = 1032  // F_GETPIPE_SZ
    /// splice(2) flags (<fcntl.h>, _GNU_SOURCE).
    static let spliceMove: UInt32 = 1  // SPLICE_F_MOVE
    static let spliceNonBlock: UInt32 = 2  // SPLICE_F_NONBLOCK

    /// pipe2(2): a new pipe, (read end, write end).
    static func pipe2(flags: Int32) throws(Errno) -> (Int32, Int32) {
        var fds: (Int32, Int32) = (-1, -1)
        _ = try withUnsafeMutableBytes(of: &fds) { (raw) throws(Errno) -> Int32 in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: Int32.self)
            return try syscall { SpliceFunctions.pipe2(pointer, flags) }
        }
        return fds
    }

    /// splice(2) between two descriptors at their current offsets (sockets and pipes have none).
    /// Returns the bytes moved; 0 means end of file on `from`.
    static func splice(from: Int32, to: Int32, count: Int, flags: UInt32) throws(Errno) -> Int {
        try syscall { SpliceFunctions.splice(from, nil, to, nil, count, flags) }
    }

    /// ioctl(2) FIONREAD: bytes waiting to be read (on a pipe: what sits in it).
    static func bytesReadable(_ fd: Int32) throws(Errno) -> Int {
        var count: Int32 = 0
        _ = try syscall { Glibc.ioctl(fd, UInt(FIONREAD), &count) }
        return Int(count)
    }
}

/// pipe2 and splice are declared only under _GNU_SOURCE, so Swift's Glibc does not import them;
/// each is resolved once with dlsym(3) and called through its exact C prototype.
private enum SpliceFunctions {
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    typealias Splice =
        @convention(c) (
            Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32
        ) -> Int

    /// `int pipe2(int pipefd[2], int flags)` (glibc ≥ 2.9).
    static let pipe2: Pipe2 = lookup("pipe2")
    /// `ssize_t splice(int fd_in, off64_t *off_in, int fd_out, off64_t *off_out, size_t len,
    /// unsigned int flags)` (glibc ≥ 2.5).
    static let splice: Splice = lookup("splice")

    private static func lookup<F>(_ name: String) -> F {
        guard let handle = dlopen(nil, RTLD_NOW | RTLD_NOLOAD) ?? dlopen(nil, RTLD_NOW),
            let symbol = dlsym(handle, name)
        else { fatalError("glibc does not export \(name)") }
        return unsafeBitCast(symbol, to: F.self)
    }
}
