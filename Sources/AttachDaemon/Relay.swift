import AttachSystem

/// Relays one IDE connection to a host's debug server, byte for byte, both ways, on the relay
/// loop's thread (`RelayLoop`): no thread per connection, and never on the daemon's queue. Each
/// direction moves socket → pipe → socket with splice(2) (falling back to read(2)/write(2) when
/// the kernel refuses, chosen per direction), at most one pipe's worth in flight: when a
/// destination is full its source is no longer watched until the destination drains, so the
/// sender is held back by TCP.
///
/// End of file from one side is passed on as shutdown(SHUT_WR) to the other once everything
/// pending was written; the relay ends when both directions are done, or at once on an error or
/// reset of either side. Then both sockets are unwatched and closed and `onEnd` is called once
/// with the reason.
///
/// Made anywhere, then given to the loop (`RelayHandle`); from `start(in:)` on, every method
/// and property is for the loop's thread only, except `counters`.
public final class Relay {
    /// The two ends of a relay.
    public enum Side: String, Sendable {
        case ide = "IDE"
        case host = "host"
    }

    /// How the relay moves bytes. The defaults suit the daemon; tests choose each copy path.
    public struct Options: Sendable {
        /// splice(2) through a pipe when the kernel allows; false copies through a buffer.
        public var splice: Bool
        /// F_SETPIPE_SZ asked for each direction's pipe (the kernel may give less).
        public var pipeCapacity: Int
        /// The copy path's buffer per direction.
        public var bufferCapacity: Int

        public init(splice: Bool = true, pipeCapacity: Int = 1 << 20, bufferCapacity: Int = 64 << 10) {
            self.splice = splice
            self.pipeCapacity = pipeCapacity
            self.bufferCapacity = bufferCapacity
        }
    }

    /// The IDE's connection (accepted on the attach port).
    public let ide: FileDescriptor
    /// The connection to the host's debug server.
    public let host: FileDescriptor
    /// When the relay started (CLOCK_REALTIME seconds), kept across a hand-over.
    public let startedAt: Double
    /// Bytes moved so far each way, readable from any thread.
    let counters: RelayCounters
    /// Called once, on the loop, when the relay ends for any reason but a hand-over, with the
    /// reason ("IDE closed", "host reset the connection", or the one given to `close(reason:)`).
    public var onEnd: ((String) -> Void)?
    /// The reason the relay ended, nil while it runs.
    public private(set) var endReason: String?

    let options: Options
    /// The project whose next host a DAP relay follows (`DAPFollow`); nil: bytes as they are.
    let follow: String?
    /// The IDE's first bytes, sent on already (by a `RelayTrial`): what the protocol is told by.
    let ideSent: [UInt8]
    /// [0] IDE → host, [1] host → IDE; empty until the protocol is known (`recognize`).
    var directions: [any RelayPump] = []
    /// Set for a relay recognised as DAP and framed.
    private(set) var dapState: DAPRelayState?
    /// The loop, from `start(in:)` on.
    var context: RelayLoopContext?
    /// While the protocol is not known yet: both sockets watched for their first bytes, or a
    /// timer to look again.
    var watchingFirstBytes = false
    var recognitionTimer: RelayLoopContext.TimerID?
    var recognitionTries = 0
    let carried: (fromIDE: UInt64, fromHost: UInt64)
    /// Per direction: waiting for its source to be readable, for its destination to be writable.
    var waitingSource = [false, false]
    var waitingDestination = [false, false]
    var pumpScheduled = [false, false]
    /// The side whose end of file came first, for the reason.
    var firstToClose: Side?
    private(set) var isHandedOver = false

    /// Takes ownership of two connected stream sockets (made non-blocking here); `start(in:)`
    /// begins moving bytes, through a pipe per direction (F_SETPIPE_SZ `pipeCapacity`; a pipe
    /// that cannot be made, EMFILE, leaves that direction copying). With `follow` (a project's
    /// name) the IDE's first bytes are looked at first: a DAP stream is framed and follows the
    /// project's hosts (`FramedDirection`), anything else is relayed byte for byte as without.
    /// `bytesSoFar` and `startedAt` carry the counters and start time of a relay that was handed
    /// over. TCP_NODELAY is set on TCP sockets, so small debugger messages leave as soon as they
    /// arrived. SIGPIPE is ignored for the process.
    public init(
        ide: FileDescriptor, host: FileDescriptor, options: Options = Options(), follow: String? = nil,
        ideSent: [UInt8] = [], bytesSoFar: (fromIDE: UInt64, fromHost: UInt64) = (0, 0), startedAt: Double? = nil
    ) {
        ProcessHandle.ignoreSIGPIPE()
        self.ide = ide
        self.host = host
        self.options = options
        self.follow = follow
        self.ideSent = ideSent
        self.carried = bytesSoFar
        self.counters = RelayCounters(fromIDE: bytesSoFar.fromIDE, fromHost: bytesSoFar.fromHost)
        self.startedAt = startedAt ?? Clock.wallSeconds()
        for fd in [ide, host] {
            try? fd.setNonBlocking(true)
            try? Socket.setNoDelay(fd)
        }
    }

    /// Adopts the sockets of a relay handed over by `handOver(timeoutMilliseconds:)` (in this
    /// process or, through systemd's fd store, in the next one), with its counters and start time.
    public convenience init(adopting handed: RelayHandOver, options: Options = Options()) {
        self.init(
            ide: handed.ide, host: handed.host, options: options, follow: nil,
            bytesSoFar: (handed.bytesFromIDE, handed.bytesFromHost), startedAt: handed.startedAt)
    }

    /// Makes the two directions, once the protocol is known.
    func begin(dap: Bool) {
        guard directions.isEmpty else { return }
        func pipe() -> Pipe? {
            options.splice ? try? Pipe.make(capacity: options.pipeCapacity) : nil
        }
        if dap, let follow {
            let state = DAPRelayState(project: follow)
            dapState = state
            directions = [
                FramedDirection(
                    source: ide, destination: host, fromHost: false, state: state,
                    bufferCapacity: options.bufferCapacity, sentAlready: ideSent),
                FramedDirection(
                    source: host, destination: ide, fromHost: true, state: state,
                    bufferCapacity: options.bufferCapacity, pipe: pipe()),
            ]
            return
        }
        directions = [
            RelayDirection(source: ide, destination: host, pipe: pipe(), bufferCapacity: options.bufferCapacity),
            RelayDirection(source: host, destination: ide, pipe: pipe(), bufferCapacity: options.bufferCapacity),
        ]
    }

    /// Bytes relayed from the IDE to the host (written to the host's socket).
    public var bytesFromIDE: UInt64 { counters.fromIDE }
    /// Bytes relayed from the host to the IDE.
    public var bytesFromHost: UInt64 { counters.fromHost }
    /// True once the relay ended or was handed over.
    public var isEnded: Bool { endReason != nil || isHandedOver }
    /// True for a relay recognised as DAP (framed, following its project's hosts).
    public var isDAP: Bool { dapState != nil }

    /// Begins relaying on the loop: moves what is there already, then watches the sockets.
    func start(in context: RelayLoopContext) {
        guard self.context == nil, !isEnded else { return }
        self.context = context
        if follow == nil {
            begin(dap: false)
            runBoth()
        } else {
            recognize()
        }
    }

    /// The host ended as Core saw it (its session ended): a DAP relay that follows tells the IDE
    /// now (`DAPFollow`), waiting at most `timeoutMilliseconds` for room; the caller closes the
    /// relay next. False when nothing was said (not DAP, the IDE asked for the end, said already).
    @discardableResult
    public func sayHostEnded(timeoutMilliseconds: Int32 = 200) -> Bool {
        guard !isEnded, directions.count > 1, let framed = directions[1] as? FramedDirection else { return false }
        return framed.sayFarewell(until: Clock.monotonicSeconds() + Double(timeoutMilliseconds) / 1000)
    }

    /// Ends the relay from the outside (the session ended): unwatches and closes both sockets
    /// and the pipes. Bytes still in flight are dropped. Calls `onEnd` with `reason`. Does
    /// nothing once ended.
    public func close(reason: String = "closed") {
        end(reason)
    }

    /// The words for an error on one side's socket.
    static func reason(side: Side, error: Errno) -> String {
        switch error {
        case .connectionReset, .brokenPipe: "\(side.rawValue) reset the connection"
        case .timedOut: "\(side.rawValue) connection timed out"
        default: "\(side.rawValue) connection failed: \(error)"
        }
    }

    /// Stops watching and timing; the sockets stay open.
    func stopWatching() {
        stopRecognizing()
        context?.unwatch(ide)
        context?.unwatch(host)
        waitingSource = [false, false]
        waitingDestination = [false, false]
    }

    func end(_ reason: String) {
        guard !isEnded else { return }
        endReason = reason
        stopWatching()
        ide.close()
        host.close()
        directions.forEach { $0.closePipe() }
        let handler = onEnd
        onEnd = nil
        handler?(reason)
    }

    func markHandedOver() {
        isHandedOver = true
        onEnd = nil
    }
}
