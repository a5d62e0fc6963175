import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// A relay between two real connections, with the outer ends the test plays: `ide` is the IDE's
/// end, `host` the debug server's. Sockets are socketpairs or loopback TCP.
final class RelayRig: @unchecked Sendable {
    let queue = DispatchQueue(label: "relay-test")
    let ide: FileDescriptor
    let host: FileDescriptor
    let relay: Relay
    let ended = Recorder<String>()

    enum Kind: String, CaseIterable, Sendable { case socketpair, tcp }

    init(_ kind: Kind, splice: Bool, follow: String? = nil) throws {
        let (ideOuter, ideInner) = try Self.connection(kind)
        let (hostOuter, hostInner) = try Self.connection(kind)
        ide = ideOuter
        host = hostOuter
        let options = Relay.Options(splice: splice, pipeCapacity: 1 << 20, bufferCapacity: 64 << 10)
        relay = Relay(ide: ideInner, host: hostInner, queue: queue, options: options, follow: follow)
        let ended = self.ended
        queue.sync {
            relay.onEnd = { ended.record($0) }
            relay.start()
        }
    }

    /// Two connected ends: (outer, inner); the inner goes to the relay.
    static func connection(_ kind: Kind) throws -> (FileDescriptor, FileDescriptor) {
        switch kind {
        case .socketpair:
            return try Socket.pair()
        case .tcp:
            let listener = try Socket.listenTCP(host: "127.0.0.1", port: 0)
            defer { listener.close() }
            let outer = try Socket.connectTCP(host: "127.0.0.1", port: try Socket.localPort(listener))
            _ = try listener.waitReadable(timeoutMilliseconds: 5000)
            guard let inner = try Socket.accept(listener) else { throw Errno.wouldBlock }
            try inner.setNonBlocking(false)
            return (outer, inner)
        }
    }

    func onQueue<T>(_ body: () -> T) -> T { queue.sync(execute: body) }

    private var hostClosed = false

    /// Closes the host's end with SO_LINGER 0: the kernel sends a reset (TCP).
    func resetHost() {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(host.rawValue, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        host.close()
        hostClosed = true
    }

    deinit {
        ide.close()
        if !hostClosed { host.close() }
        queue.sync { relay.close(reason: "test over") }
    }
}

/// Exactly `count` bytes from `fd` (blocking end), or fewer when it ended or `seconds` passed.
func read(_ fd: FileDescriptor, count: Int, within seconds: Double = 10) -> [UInt8] {
    var got: [UInt8] = []
    let deadline = Clock.monotonicSeconds() + seconds
    while got.count < count {
        let left = Int32(max(1, (deadline - Clock.monotonicSeconds()) * 1000))
        guard (try? fd.waitReadable(timeoutMilliseconds: left)) == true,
            let chunk = try? fd.read(upTo: min(count - got.count, 1 << 20)), !chunk.isEmpty
        else { break }
        got += chunk
    }
    return got
}

/// True when `fd` reads end of file within `seconds` (after any bytes, which are dropped).
func readsEndOfFile(_ fd: FileDescriptor, within seconds: Double = 10) -> Bool {
    let deadline = Clock.monotonicSeconds() + seconds
    while Clock.monotonicSeconds() < deadline {
        let left = Int32(max(1, (deadline - Clock.monotonicSeconds()) * 1000))
        guard (try? fd.waitReadable(timeoutMilliseconds: left)) == true else { return false }
        do throws(Errno) {
            if try fd.read(upTo: 65536).isEmpty { return true }
        } catch {
            return true  // a reset ends it too
        }
    }
    return false
}

/// `count` bytes of a pattern that shows misplaced or lost bytes.
func pattern(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}
