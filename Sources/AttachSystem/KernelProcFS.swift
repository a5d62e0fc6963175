#if canImport(Glibc)
    import Glibc
#endif

// The raw calls that look at other processes and enter their namespaces, behind the same
// funnel as Kernel.swift.
extension Kernel {
    /// readlink(2) into `buffer`: the number of bytes of the link text stored (not
    /// NUL-terminated; silently truncated to the buffer's size, which is fine for prefixes).
    static func readlink(_ path: String, _ buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try syscall {
            Glibc.readlink(path, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
        }
    }

    /// setns(2) (glibc's, looked up at run time: <sched.h> declares it only under _GNU_SOURCE).
    /// Moves the CALLING THREAD into the namespace `fd` refers to.
    static func setns(_ fd: Int32, _ type: Int32) throws(Errno) {
        guard let function = Namespaces.setns else { throw .notImplemented }
        _ = try syscall { function(fd, type) }
    }
}

private enum Namespaces {
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32

    /// `int setns(int fd, int nstype)`, glibc ≥ 2.14.
    static let setns: SetNS? = {
        guard let handle = dlopen(nil, RTLD_NOW | RTLD_NOLOAD) ?? dlopen(nil, RTLD_NOW),
            let symbol = dlsym(handle, "setns")
        else { return nil }
        return unsafeBitCast(symbol, to: SetNS.self)
    }()
}
