import AttachCore
import AttachProtocol
import Dispatch
import Logging
import Synchronization
import Testing

@testable import AttachDaemon
@testable import AttachSystem

#if canImport(Glibc)
    import Glibc
#endif

// Shared by the room tests: a recorder for what a room delivers, a private directory, the
// peer's side of a socket, and a spawned process. Everything real: sockets, queues, pidfds.

/// Collects what a room hands on (its `BrokerInput`s, or accepted sockets), from whatever
/// thread, and lets a test wait for a number of them with a deadline.
final class Recorder<Element: Sendable>: Sendable {
    private let received = Mutex<[Element]>([])
    /// Signalled once per element, so a waiter wakes for each.
    private let arrived = DispatchSemaphore(value: 0)

    func record(_ element: Element) {
        received.withLock { $0.append(element) }
        arrived.signal()
    }

    /// Everything recorded so far, in order.
    var all: [Element] { received.withLock { $0 } }

    /// Waits until at least `count` elements have come or `seconds` have passed; returns what
    /// came (the test compares it, so a timeout shows as a short list).
    @discardableResult
    func wait(for count: Int, within seconds: Double = 5) -> [Element] {
        let deadline = DispatchTime.now() + seconds
        while all.count < count {
            if arrived.wait(timeout: deadline) == .timedOut { break }
        }
        return all
    }
}

/// What a room delivers to Core.
typealias InputRecorder = Recorder<BrokerInput>

extension Recorder where Element == BrokerInput {
    /// The closure to give the room.
    var deliver: @Sendable (BrokerInput) -> Void { { [self] input in record(input) } }

    var inputs: [BrokerInput] { all }
}

/// Polls `condition` on `queue` (where the room's state lives) every millisecond until it
/// holds or `seconds` pass; returns whether it held. For state that changes without an input.
func eventually(on queue: DispatchQueue, within seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    eventually(within: seconds) { queue.sync(execute: condition) }
}

/// Polls `condition` every millisecond until it holds or `seconds` pass; true when it held.
func eventually(within seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Clock.monotonicSeconds() + seconds
    let pause = DispatchSemaphore(value: 0)
    while Clock.monotonicSeconds() < deadline {
        if condition() { return true }
        _ = pause.wait(timeout: .now() + .milliseconds(1))
    }
    return condition()
}

/// A logger that drops everything: the rooms log refusals, the tests check behaviour.
let quietLogger = Logger(label: "room-test", factory: { _ in SwiftLogNoOpLogHandler() })

/// A fresh private directory under /tmp (mkdtemp(3)), removed with its contents on deinit.
final class RoomDirectory: Sendable {
    let path: String

    init() {
        var template = Array("/tmp/attachd-room-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Paths for a daemon living in this directory.
    var paths: DefaultPaths {
        DefaultPaths(
            runtimeDirectory: path + "/run", controlSocket: path + "/control.sock",
            configDirectory: path + "/config")
    }

    /// Daemon options on these paths, with the default limits.
    var options: DaemonOptions { DaemonOptions(paths: paths, version: "0.0-test") }

    deinit { Self.removeTree(path) }

    private static func removeTree(_ path: String) {
        if Files.isDirectory(path) {
            for name in (try? Kernel.directoryEntries(path)) ?? [] { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// A socketpair(2): the room's end (non-blocking, as accept4 gives it) and the test's end
/// (blocking, read with deadlines).
func roomPair() throws -> (room: FileDescriptor, peer: FileDescriptor) {
    let (room, peer) = try Socket.pair()
    try room.setNonBlocking(true)
    return (room, peer)
}

extension FileDescriptor {
    /// Reads until `terminator` (included) or end of file, failing the test when nothing more
    /// comes within `seconds`. Returns what was read.
    func read(
        through terminator: UInt8, within seconds: Double = 5,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.last != terminator {
            guard try waitReadable(timeoutMilliseconds: Int32(seconds * 1000)) else {
                Issue.record(
                    "nothing more to read within \(seconds) s after \(bytes.count) bytes",
                    sourceLocation: sourceLocation)
                break
            }
            // One byte at a time: what follows the terminator stays for the next read.
            let chunk = try read(upTo: 1)
            if chunk.isEmpty { break }
            bytes += chunk
        }
        return bytes
    }

    /// One rendezvous reply line, newline included.
    func readLine(within seconds: Double = 5, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        String(
            decoding: try read(through: UInt8(ascii: "\n"), within: seconds, sourceLocation: sourceLocation),
            as: UTF8.self)
    }

    /// One varlink message, decoded (its NUL dropped).
    func readReply(within seconds: Double = 5, sourceLocation: SourceLocation = #_sourceLocation) throws -> VarlinkReply
    {
        let bytes = try read(through: 0, within: seconds, sourceLocation: sourceLocation)
        return try VarlinkCodec().decode(VarlinkReply.self, from: Array(bytes.dropLast()))
    }

    /// Whether the peer has closed: end of file within `seconds`, nothing else before it.
    func seesEndOfFile(within seconds: Double = 5) throws -> Bool {
        guard try waitReadable(timeoutMilliseconds: Int32(seconds * 1000)) else { return false }
        do throws(Errno) {
            return try read(upTo: 1).isEmpty
        } catch .connectionReset {
            return true
        }
    }

    /// Whether anything at all is waiting to be read right now.
    var hasInput: Bool { (try? waitReadable(timeoutMilliseconds: 0)) ?? false }

    func send(_ text: String) throws { try writeAll(Array(text.utf8)) }
}

/// A varlink call as it goes on the wire, NUL included.
func varlinkCall(_ json: String) -> [UInt8] { Array(json.utf8) + [0] }

/// posix_spawn(3)s `path` with `arguments`; returns its pid (reap it with `reap`).
func spawn(_ path: String, _ arguments: [String] = []) -> pid_t {
    var pid: pid_t = 0
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let status = posix_spawn(&pid, path, nil, nil, argv, environ)
    precondition(status == 0, "posix_spawn \(path) failed: \(status)")
    return pid
}

/// waitpid(2), retrying EINTR.
func reap(_ pid: pid_t) {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
}
