import AttachSystem
import Dispatch

/// Relays one IDE connection to a host's debug server, byte for byte, both ways, on the
/// daemon's serial queue: no thread per connection. Each direction moves socket → pipe →
/// socket with splice(2) (falling back to read(2)/write(2) when the kernel refuses, chosen per
/// direction), at most one pipe's worth in flight: when a destination is full its source's read
/// source is suspended until the destination drains, so the sender is held back by TCP.
///
/// End of file from one side is passed on as shutdown(SHUT_WR) to the other once everything
/// pending was written; the relay ends when both directions are done, or at once on an error or
/// reset of either side. Then both sockets are closed (after the Dispatch sources' cancel
/// handlers ran) and `onEnd` is called once with the reason.
///
/// Every method and property is for the relay's queue only.
public final class Relay: @unchecked Sendable {
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
    /// Called once, on the queue, when the relay ends for any reason but a hand-over, with the
    /// reason ("IDE closed", "host reset the connection", or the one given to `close(reason:)`).
    public var onEnd: ((String) -> Void)?
    /// The reason the relay ended, nil while it runs.
    public private(set) var endReason: String?

    let queue: DispatchQueue
    let options: Options
    /// The project whose next host a DAP relay follows (`DAPFollow`); nil: bytes as they are.
    let follow: String?
    /// The IDE's first bytes, sent on already (by a `RelayTrial`): what the protocol is told by.
    let ideSent: [UInt8]
    /// [0] IDE → host, [1] host → IDE; empty until the protocol is known (`recognize`).
    var directions: [any RelayPump] = []
    /// Set for a relay recognised as DAP and framed.
    private(set) var dapState: DAPRelayState?
    /// Watching for the first bytes, while the protocol is not known yet.
    var recognitionSources: [any DispatchSourceProtocol] = []
    var recognitionTimer: DispatchSourceTimer?
    var recognitionTries = 0
    private let carried: (fromIDE: UInt64, fromHost: UInt64)
    private var readSources: [DispatchSourceRead?] = [nil, nil]
    private var readArmed = [false, false]
    private var writeSources: [DispatchSourceWrite?] = [nil, nil]
    private var writeArmed = [false, false]
    private var pumpScheduled = [false, false]
    var liveSources = 0
    /// Sockets are closed when the last source is cancelled, unless they were handed over.
    private var closeSocketsWhenCancelled = false
    private var started = false
    /// The side whose end of file came first, for the reason.
    private var firstToClose: Side?
    private(set) var isHandedOver = false

    /// Takes ownership of two connected stream sockets (made non-blocking here); `start()`
    /// begins moving bytes, through a pipe per direction (F_SETPIPE_SZ `pipeCapacity`; a pipe
    /// that cannot be made, EMFILE, leaves that direction copying). With `follow` (a project's
    /// name) the IDE's first bytes are looked at first: a DAP stream is framed and follows the
    /// project's hosts (`FramedDirection`), anything else is relayed byte for byte as without.
    /// `bytesSoFar` and `startedAt` carry the counters and start time of a relay that was handed
    /// over. TCP_NODELAY is set on TCP sockets, so small debugger messages leave as soon as they
    /// arrived. SIGPIPE is ignored for the process.
    public init(
        ide: FileDescriptor, host: FileDescriptor, queue: DispatchQueue, options: Options = Options(),
        follow: String? = nil, ideSent: [UInt8] = [], bytesSoFar: (fromIDE: UInt64, fromHost: UInt64) = (0, 0),
        startedAt: Double? = nil
    ) {
        ProcessHandle.ignoreSIGPIPE()
        self.ide = ide
        self.host = host
        self.queue = queue
        self.options = options
        self.follow = follow
        self.ideSent = ideSent
        self.carried = bytesSoFar
        self.startedAt = startedAt ?? Clock.wallSeconds()
        for fd in [ide, host] {
            try? fd.setNonBlocking(true)
            try? Socket.setNoDelay(fd)
        }
    }

    /// Makes the two directions, once the protocol is known.
    func begin(dap: Bool) {
        guard directions.isEmpty else { return }
        if dap, let follow {
            let state = DAPRelayState(project: follow)
            dapState = state
            directions = [
                FramedDirection(
                    source: ide, destination: host, fromHost: false, state: state,
                    bufferCapacity: options.bufferCapacity,
                    sentAlready: ideSent),
                FramedDirection(
                    source: host, destination: ide, fromHost: true, state: state,
                    bufferCapacity: options.bufferCapacity,
                    pipe: options.splice ? try? Pipe.make(capacity: options.pipeCapacity) : nil),
            ]
            return
        }
        func pipe() -> Pipe? {
            options.splice ? try? Pipe.make(capacity: options.pipeCapacity) : nil
        }
        directions = [
            RelayDirection(source: ide, destination: host, pipe: pipe(), bufferCapacity: options.bufferCapacity),
            RelayDirection(source: host, destination: ide, pipe: pipe(), bufferCapacity: options.bufferCapacity),
        ]
    }

    /// Adopts the sockets of a relay handed over by `handOver(timeoutMilliseconds:)` (in this
    /// process or, through systemd's fd store, in the next one), with its counters and start time.
    public convenience init(adopting handed: RelayHandOver, queue: DispatchQueue, options: Options = Options()) {
        self.init(
            ide: handed.ide, host: handed.host, queue: queue, options: options, follow: nil,
            bytesSoFar: (handed.bytesFromIDE, handed.bytesFromHost), startedAt: handed.startedAt)
    }

    /// Bytes relayed from the IDE to the host (written to the host's socket).
    public var bytesFromIDE: UInt64 { carried.fromIDE + (directions.first?.bytesMoved ?? 0) }
    /// Bytes relayed from the host to the IDE.
    public var bytesFromHost: UInt64 { carried.fromHost + (directions.count > 1 ? directions[1].bytesMoved : 0) }
    /// True once the relay ended or was handed over.
    public var isEnded: Bool { endReason != nil || isHandedOver }
    /// True for a relay recognised as DAP (framed, following its project's hosts).
    public var isDAP: Bool { dapState != nil }

    /// Begins relaying: moves what is there already, then waits on Dispatch sources.
    public func start() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !started, !isEnded else { return }
        started = true
        if follow == nil {
            begin(dap: false)
            runBoth()
        } else {
            recognize()
        }
    }

    func runBoth() {
        run(0)
        run(1)
    }

    /// The host ended as Core saw it (its session ended): a DAP relay that follows tells the IDE
    /// now (`DAPFollow`), waiting at most `timeoutMilliseconds` for room; the caller closes the
    /// relay next. False when nothing was said (not DAP, the IDE asked for the end, said already).
    @discardableResult
    public func sayHostEnded(timeoutMilliseconds: Int32 = 200) -> Bool {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !isEnded, directions.count > 1, let framed = directions[1] as? FramedDirection else { return false }
        return framed.sayFarewell(until: Clock.monotonicSeconds() + Double(timeoutMilliseconds) / 1000)
    }

    /// Ends the relay from the outside (the session ended): cancels the sources, closes both
    /// sockets once their cancel handlers ran, closes the pipes. Bytes still in flight are
    /// dropped. Calls `onEnd` with `reason`. Does nothing once ended.
    public func close(reason: String = "closed") {
        dispatchPrecondition(condition: .onQueue(queue))
        end(reason)
    }

    // MARK: Moving bytes

    private func run(_ index: Int) {
        pumpScheduled[index] = false
        guard !isEnded, index < directions.count else { return }
        let direction = directions[index]
        switch direction.pump() {
        case .waitSource:
            setWriteArmed(index, false)
            setReadArmed(index, true)
        case .waitDestination:
            setReadArmed(index, false)
            setWriteArmed(index, true)
        case .yield:
            setReadArmed(index, false)
            setWriteArmed(index, false)
            if !pumpScheduled[index] {
                pumpScheduled[index] = true
                queue.async { [self] in run(index) }
            }
        case .finished:
            if firstToClose == nil { firstToClose = index == 0 ? .ide : .host }
            cancelSources(of: index)
            if index == 1, dapState?.follow.farewellSaid == true {
                return end("the host ended; the IDE was told to restart")
            }
            if directions.allSatisfy(\.isFinished) {
                end("\((firstToClose ?? .ide).rawValue) closed")
            }
        case .failed(let reading, let error):
            let source: Side = index == 0 ? .ide : .host
            let side: Side = reading ? source : (source == .ide ? .host : .ide)
            end(Self.reason(side: side, error: error))
        }
    }

    /// The words for an error on one side's socket.
    static func reason(side: Side, error: Errno) -> String {
        switch error {
        case .connectionReset, .brokenPipe: "\(side.rawValue) reset the connection"
        case .timedOut: "\(side.rawValue) connection timed out"
        default: "\(side.rawValue) connection failed: \(error)"
        }
    }

    private func setReadArmed(_ index: Int, _ on: Bool) {
        guard readArmed[index] != on else { return }
        readArmed[index] = on
        if let source = readSources[index] {
            if on { source.resume() } else { source.suspend() }
            return
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: directions[index].source.rawValue, queue: queue)
        source.setEventHandler { [self] in run(index) }
        source.setCancelHandler { [self] in sourceCancelled() }
        liveSources += 1
        readSources[index] = source
        source.resume()
    }

    private func setWriteArmed(_ index: Int, _ on: Bool) {
        guard writeArmed[index] != on else { return }
        writeArmed[index] = on
        if let source = writeSources[index] {
            if on { source.resume() } else { source.suspend() }
            return
        }
        let source = DispatchSource.makeWriteSource(
            fileDescriptor: directions[index].destination.rawValue, queue: queue)
        source.setEventHandler { [self] in run(index) }
        source.setCancelHandler { [self] in sourceCancelled() }
        liveSources += 1
        writeSources[index] = source
        source.resume()
    }

    // MARK: Ending

    /// Cancels a direction's sources; a suspended source is resumed after cancel() so that its
    /// cancel handler runs (its event handler no longer does).
    func cancelSources(of index: Int) {
        if let source = readSources[index] {
            source.cancel()
            if !readArmed[index] { source.resume() }
        }
        if let source = writeSources[index] {
            source.cancel()
            if !writeArmed[index] { source.resume() }
        }
        readSources[index] = nil
        writeSources[index] = nil
        readArmed[index] = false
        writeArmed[index] = false
    }

    /// Stops everything; the sockets are closed once no source is left, unless `handOver`.
    func stop(closingSockets: Bool) {
        closeSocketsWhenCancelled = closingSockets
        stopRecognizing()
        cancelSources(of: 0)
        cancelSources(of: 1)
        if closingSockets && liveSources == 0 { closeSockets() }
    }

    private func end(_ reason: String) {
        guard !isEnded else { return }
        endReason = reason
        stop(closingSockets: true)
        directions.forEach { $0.closePipe() }
        let handler = onEnd
        onEnd = nil
        handler?(reason)
    }

    func sourceCancelled() {
        liveSources -= 1
        if liveSources == 0 && closeSocketsWhenCancelled { closeSockets() }
    }

    private func closeSockets() {
        closeSocketsWhenCancelled = false
        ide.close()
        host.close()
    }

    func markHandedOver() {
        isHandedOver = true
        onEnd = nil
    }
}
