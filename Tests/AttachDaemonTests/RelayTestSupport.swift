import AttachSystem
import Dispatch
import Testing

@testable import AttachDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// One relay loop for every relay test: like the daemon's, it lives as long as the process.
let testRelayLoop: RelayLoop = {
    do {
        return try RelayLoop(name: "relay-tests")
    } catch {
        fatalError("the relay tests' loop did not start: \(error)")
    }
}()

/// A relay between two real connections, with the outer ends the test plays: `ide` is the IDE's
/// end, `host` the debug server's. Sockets are socketpairs or loopback TCP. The relay runs on
/// `loop`; the test reaches it there (`onLoop`).
final class RelayRig: @unchecked Sendable {
    let loop = testRelayLoop
    let ide: FileDescriptor
    let host: FileDescriptor
    private let bound: RelayLoop.Bound<Relay>
    let ended = Recorder<String>()

    enum Kind: String, CaseIterable, Sendable { case socketpair, tcp }

    init(_ kind: Kind, splice: Bool, follow: String? = nil) throws {
        let (ideOuter, ideInner) = try Self.connection(kind)
        let (hostOuter, hostInner) = try Self.connection(kind)
        ide = ideOuter
        host = hostOuter
        let options = Relay.Options(splice: splice, pipeCapacity: 1 << 20, bufferCapacity: 64 << 10)
        let bound = RelayLoop.Bound(
            Relay(ide: ideInner, host: hostInner, options: options, follow: follow), loop: loop)
        self.bound = bound
        let ended = self.ended
        loop.sync { context in
            bound.value.onEnd = { ended.record($0) }
            bound.value.start(in: context)
        }
    }

    /// The relay; on the loop only.
    var relay: Relay { bound.value }

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

    /// Runs `body` on the relay's loop and waits for it.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T { loop.sync { _ in body() } }

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
        // The last reference may go in a closure that ran on the loop.
        if loop.inLoop { return relay.close(reason: "test over") }
        let bound = self.bound
        loop.sync { _ in bound.value.close(reason: "test over") }
    }
}

/// Polls `condition` on `loop` until it holds or `seconds` pass; true when it held.
func eventually(on loop: RelayLoop, within seconds: Double = 5, _ condition: @escaping @Sendable () -> Bool) -> Bool {
    eventually(within: seconds) { loop.sync { _ in condition() } }
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
