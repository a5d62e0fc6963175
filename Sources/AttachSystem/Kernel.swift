#if canImport(Glibc)
    import Glibc
#endif

/// Every raw system call AttachSystem makes, each behind the EINTR/errno funnel.
///
/// Raw Int32 descriptors and C types in, Swift values or `Errno` out. The public types
/// (`FileDescriptor`, `Socket`, `Files`, ...) are thin documented layers over these.
internal enum Kernel {
    // MARK: Descriptors

    /// close(2). Never retried: on Linux the descriptor is gone even when close reports EINTR.
    static func close(_ fd: Int32) throws(Errno) {
        _ = try syscall(retryOnInterrupt: false) { Glibc.close(fd) }
    }

    /// read(2)
    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try syscall { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// write(2)
    static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try syscall { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    /// fcntl(2) without an argument (F_GETFL, F_GETFD).
    static func fcntl(_ fd: Int32, _ command: Int32) throws(Errno) -> Int32 {
        try syscall { Glibc.fcntl(fd, command) }
    }

    /// fcntl(2) with an int argument (F_SETFL, F_SETFD).
    static func fcntl(_ fd: Int32, _ command: Int32, _ value: Int32) throws(Errno) -> Int32 {
        try syscall { Glibc.fcntl(fd, command, value) }
    }

    /// poll(2) on one descriptor. Not retried here: the caller recomputes the remaining timeout.
    static func poll(_ fd: Int32, events: Int16, timeoutMilliseconds: Int32) throws(Errno) -> Int16? {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        let ready = try syscall(retryOnInterrupt: false) { Glibc.poll(&entry, 1, timeoutMilliseconds) }
        return ready == 0 ? nil : entry.revents
    }

    /// fsync(2)
    static func fsync(_ fd: Int32) throws(Errno) {
        _ = try syscall { Glibc.fsync(fd) }
    }

    /// fstat(2)
    static func fstat(_ fd: Int32) throws(Errno) -> Glibc.stat {
        var info = Glibc.stat()
        _ = try syscall { Glibc.fstat(fd, &info) }
        return info
    }

    /// fchmod(2)
    static func fchmod(_ fd: Int32, _ mode: UInt32) throws(Errno) {
        _ = try syscall { Glibc.fchmod(fd, mode_t(mode)) }
    }

    // MARK: Sockets

    /// socket(2)
    static func socket(_ domain: Int32, _ type: Int32, _ protocol: Int32) throws(Errno) -> Int32 {
        try syscall { Glibc.socket(domain, type, `protocol`) }
    }

    /// socketpair(2)
    static func socketpair(_ domain: Int32, _ type: Int32) throws(Errno) -> (Int32, Int32) {
        var fds: (Int32, Int32) = (-1, -1)
        _ = try withUnsafeMutableBytes(of: &fds) { (raw) throws(Errno) -> Int32 in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: Int32.self)
            return try syscall { () -> Int32 in Glibc.socketpair(domain, type, 0, pointer) }
        }
        return fds
    }

    /// bind(2)
    static func bind(_ fd: Int32, _ address: SocketAddress) throws(Errno) {
        _ = try address.withSockaddr { (pointer, length) throws(Errno) -> Int32 in
            try syscall { Glibc.bind(fd, pointer, length) }
        }
    }

    /// listen(2)
    static func listen(_ fd: Int32, _ backlog: Int32) throws(Errno) {
        _ = try syscall { Glibc.listen(fd, backlog) }
    }

    /// accept4(2) (glibc's, looked up at run time) without asking for the peer address.
    static func accept4(_ fd: Int32, flags: Int32) throws(Errno) -> Int32 {
        try syscall { GNU.accept4(fd, nil, nil, flags) }
    }

    /// connect(2). Not retried on EINTR: the connection continues in the background, so the
    /// caller waits for writability instead (see `Socket.connect`).
    static func connect(_ fd: Int32, _ address: SocketAddress) throws(Errno) {
        _ = try address.withSockaddr { (pointer, length) throws(Errno) -> Int32 in
            try syscall(retryOnInterrupt: false) { Glibc.connect(fd, pointer, length) }
        }
    }

    /// shutdown(2)
    static func shutdown(_ fd: Int32, _ how: Int32) throws(Errno) {
        _ = try syscall { Glibc.shutdown(fd, how) }
    }

    /// getsockopt(2) into the raw bytes of `value`.
    static func getsockopt<T>(_ fd: Int32, _ level: Int32, _ name: Int32, into value: inout T) throws(Errno) {
        var length = socklen_t(MemoryLayout<T>.size)
        _ = try withUnsafeMutableBytes(of: &value) { (raw) throws(Errno) -> Int32 in
            try syscall { Glibc.getsockopt(fd, level, name, raw.baseAddress, &length) }
        }
    }

    /// setsockopt(2) from the raw bytes of `value`.
    static func setsockopt<T>(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: T) throws(Errno) {
        var value = value
        _ = try withUnsafeBytes(of: &value) { (raw) throws(Errno) -> Int32 in
            try syscall { Glibc.setsockopt(fd, level, name, raw.baseAddress, socklen_t(raw.count)) }
        }
    }

    /// getsockname(2)
    static func getsockname(_ fd: Int32) throws(Errno) -> sockaddr_storage {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutableBytes(of: &storage) { (raw) throws(Errno) -> Int32 in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: sockaddr.self)
            return try syscall { Glibc.getsockname(fd, pointer, &length) }
        }
        return storage
    }

    /// getpeername(2)
    static func getpeername(_ fd: Int32) throws(Errno) -> sockaddr_storage {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutableBytes(of: &storage) { (raw) throws(Errno) -> Int32 in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: sockaddr.self)
            return try syscall { Glibc.getpeername(fd, pointer, &length) }
        }
        return storage
    }

    /// send(2)
    static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, flags: Int32) throws(Errno) -> Int {
        try syscall { Glibc.send(fd, buffer.baseAddress, buffer.count, flags) }
    }

    /// recv(2)
    static func recv(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, flags: Int32) throws(Errno) -> Int {
        try syscall { Glibc.recv(fd, buffer.baseAddress, buffer.count, flags) }
    }

    // MARK: Paths

    /// open(2) with a creation mode.
    static func open(_ path: String, _ flags: Int32, _ mode: UInt32 = 0) throws(Errno) -> Int32 {
        try syscall { Glibc.open(path, flags, mode_t(mode)) }
    }

    /// lstat(2)
    static func lstat(_ path: String) throws(Errno) -> Glibc.stat {
        var info = Glibc.stat()
        _ = try syscall { Glibc.lstat(path, &info) }
        return info
    }

    /// stat(2)
    static func stat(_ path: String) throws(Errno) -> Glibc.stat {
        var info = Glibc.stat()
        _ = try syscall { statFunction(path, &info) }
        return info
    }

    /// chmod(2)
    static func chmod(_ path: String, _ mode: UInt32) throws(Errno) {
        _ = try syscall { Glibc.chmod(path, mode_t(mode)) }
    }

    /// mkdir(2)
    static func mkdir(_ path: String, _ mode: UInt32) throws(Errno) {
        _ = try syscall { Glibc.mkdir(path, mode_t(mode)) }
    }

    /// unlink(2)
    static func unlink(_ path: String) throws(Errno) {
        _ = try syscall { Glibc.unlink(path) }
    }

    /// rename(2)
    static func rename(_ from: String, _ to: String) throws(Errno) {
        _ = try syscall { Glibc.rename(from, to) }
    }

    /// umask(2); cannot fail.
    static func umask(_ mask: UInt32) -> UInt32 {
        UInt32(Glibc.umask(mode_t(mask)))
    }

    /// opendir(3) + readdir(3) + closedir(3): the names in a directory, without "." and "..".
    static func directoryEntries(_ path: String) throws(Errno) -> [String] {
        let directory = try syscall { Glibc.opendir(path) }
        defer { Glibc.closedir(directory) }
        var names: [String] = []
        // readdir returns NULL both at the end and on error; errors cannot happen for a
        // directory we just opened short of EBADF, so the end is taken as the end.
        while let entry = Glibc.readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    // MARK: Processes

    /// kill(2)
    static func kill(_ pid: Int32, _ signal: Int32) throws(Errno) {
        _ = try syscall { Glibc.kill(pid, signal) }
    }

    /// pidfd_open(2) (glibc ≥ 2.36, looked up at run time).
    static func pidfdOpen(_ pid: Int32) throws(Errno) -> Int32 {
        guard let function = GNU.pidfdOpen else { throw .notImplemented }
        return try syscall { function(pid, 0) }
    }

    /// getrlimit(2)
    static func getrlimit(_ resource: __rlimit_resource) throws(Errno) -> rlimit {
        var limit = rlimit()
        _ = try syscall { Glibc.getrlimit(__rlimit_resource_t(resource.rawValue), &limit) }
        return limit
    }

    /// setrlimit(2)
    static func setrlimit(_ resource: __rlimit_resource, _ limit: rlimit) throws(Errno) {
        var limit = limit
        _ = try syscall { Glibc.setrlimit(__rlimit_resource_t(resource.rawValue), &limit) }
    }

    /// clock_gettime(2); cannot fail for the clocks used here.
    static func clockSeconds(_ clock: clockid_t) -> Double {
        var time = timespec()
        _ = Glibc.clock_gettime(clock, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// getrusage(2) for this process; cannot fail for RUSAGE_SELF.
    static func resourceUsage() -> rusage {
        var usage = rusage()
        _ = Glibc.getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage
    }
}

/// stat(2) under another name: inside `Kernel`, `stat` is the wrapper and `Glibc.stat` the struct.
private func statFunction(_ path: String, _ info: inout Glibc.stat) -> Int32 {
    stat(path, &info)
}
