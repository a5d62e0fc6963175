import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// An epoll(7) instance: descriptors, each with the events it is watched for and a token, waited
/// on together by one thread. Level-triggered. The descriptor is closed by `close()`.
public struct EventPoll: Sendable {
    /// What a descriptor is watched for, and what it reported.
    public struct Events: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// EPOLLIN: readable (or at end of file).
        public static let readable = Events(rawValue: EPOLLIN.rawValue)
        /// EPOLLOUT: room to write.
        public static let writable = Events(rawValue: EPOLLOUT.rawValue)
        /// EPOLLHUP: both directions hung up (always reported, never asked for).
        public static let hangUp = Events(rawValue: EPOLLHUP.rawValue)
        /// EPOLLERR: an error is pending (always reported, never asked for).
        public static let error = Events(rawValue: EPOLLERR.rawValue)
    }

    /// One ready descriptor, as `wait` reports it.
    public struct Ready: Sendable, Equatable {
        /// The token given with `add` or `modify`.
        public let token: UInt64
        public let events: Events
    }

    /// The epoll descriptor.
    public let descriptor: FileDescriptor

    /// epoll_create1(2).
    public init() throws(Errno) {
        descriptor = FileDescriptor(rawValue: try Kernel.epollCreate())
    }

    /// epoll_ctl(2) EPOLL_CTL_ADD: watches `fd` for `events`, reporting `token`.
    public func add(_ fd: FileDescriptor, _ events: Events, token: UInt64) throws(Errno) {
        try Kernel.epollControl(descriptor.rawValue, EPOLL_CTL_ADD, fd.rawValue, events: events.rawValue, token: token)
    }

    /// epoll_ctl(2) EPOLL_CTL_MOD: watches `fd`, added before, for `events` instead.
    public func modify(_ fd: FileDescriptor, _ events: Events, token: UInt64) throws(Errno) {
        try Kernel.epollControl(descriptor.rawValue, EPOLL_CTL_MOD, fd.rawValue, events: events.rawValue, token: token)
    }

    /// epoll_ctl(2) EPOLL_CTL_DEL: no longer watches `fd` (do it before closing `fd`: a
    /// descriptor duplicated elsewhere would otherwise stay watched).
    public func remove(_ fd: FileDescriptor) throws(Errno) {
        try Kernel.epollControl(descriptor.rawValue, EPOLL_CTL_DEL, fd.rawValue, events: 0, token: 0)
    }

    /// epoll_wait(2): waits at most `timeoutMilliseconds` (-1: for ever) for at most `maximum`
    /// ready descriptors. An interrupted wait returns nothing.
    public func wait(maximum: Int = 64, timeoutMilliseconds: Int32) throws(Errno) -> [Ready] {
        let epoll = descriptor.rawValue
        let result: Result<[Ready], Errno> = withUnsafeTemporaryAllocation(
            of: epoll_event.self, capacity: max(1, maximum)
        ) {
            (buffer) -> Result<[Ready], Errno> in
            do throws(Errno) {
                let count = try Kernel.epollWait(epoll, buffer, timeoutMilliseconds: timeoutMilliseconds)
                return .success(
                    (0..<count).map { Ready(token: buffer[$0].data.u64, events: Events(rawValue: buffer[$0].events)) })
            } catch .interrupted {
                return .success([])
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// close(2).
    public func close() { descriptor.close() }
}

/// An eventfd(2): a counter one thread adds to (`signal`) to wake another that watches it
/// (readable while not 0), which empties it (`drain`). Non-blocking, close-on-exec.
public struct EventCounter: Sendable {
    public let descriptor: FileDescriptor

    /// eventfd(2).
    public init() throws(Errno) {
        descriptor = FileDescriptor(rawValue: try Kernel.eventfd())
    }

    /// write(2) of 1: makes the counter readable. A full counter (EAGAIN) is readable already.
    public func signal() {
        _ = try? descriptor.write([1, 0, 0, 0, 0, 0, 0, 0][...])  // 1 as a host-order (little-endian) UInt64
    }

    /// read(2) of the counter: back to 0 (not readable).
    public func drain() {
        _ = try? descriptor.read(upTo: 8)
    }

    /// close(2).
    public func close() { descriptor.close() }
}

/// Threads of the daemon's own, beside Dispatch's.
public enum Threads {
    /// Starts a detached thread named `name` (pthread_create(3), pthread_setname_np(3)) that
    /// runs `body` and ends with it.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        try Kernel.startThread(name: name, body)
    }

    /// pthread_self(3) of the calling thread, to compare.
    public static var current: UInt { Kernel.currentThread() }
}
