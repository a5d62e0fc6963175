#if canImport(Glibc)
    import Glibc
#endif

extension Kernel {
    /// flock(2)
    static func flock(_ fd: Int32, _ operation: Int32) throws(Errno) {
        _ = try syscall { flockFunction(fd, operation) }
    }

    /// ftruncate(2)
    static func ftruncate(_ fd: Int32, _ length: Int) throws(Errno) {
        _ = try syscall { Glibc.ftruncate(fd, off_t(length)) }
    }
}

/// flock(2) under another name: `Glibc.flock` is also the name of fcntl's lock struct.
private func flockFunction(_ fd: Int32, _ operation: Int32) -> Int32 {
    flock(fd, operation)
}
