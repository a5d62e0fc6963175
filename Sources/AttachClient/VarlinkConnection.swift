import AttachProtocol
import AttachSystem

/// A blocking varlink client connection over a Unix stream socket.
///
/// Replies are read through a ``VarlinkFramer``, so several messages arriving in one read (or
/// one message in many reads) are handled. Not thread-safe: one caller at a time.
public final class VarlinkConnection {
    /// The socket path this connection was made to.
    public let path: String
    private var descriptor: FileDescriptor?
    private var framer = VarlinkFramer()
    // Lazy: the calls read by hand never need JSONEncoder and JSONDecoder.
    private lazy var codec = VarlinkCodec()

    /// How much to read at once.
    private static let readSize = 64 * 1024

    /// Connects to the varlink service listening on `path`.
    /// Throws ``ClientError/unreachable(path:_:)`` when nothing listens there.
    public init(path: String) throws(ClientError) {
        self.path = path
        ProcessHandle.ignoreSIGPIPE()
        do {
            descriptor = try Socket.connectUnix(path: path)
        } catch {
            throw .unreachable(path: path, error)
        }
    }

    deinit {
        _ = descriptor?.close()
    }

    /// The connected socket, for waiting on it beside other descriptors (nil once closed).
    public var fileDescriptor: FileDescriptor? { descriptor }

    /// Closes the connection. Later calls fail with ``ClientError/connectionLost``.
    public func close() {
        if let descriptor { _ = descriptor.close() }
        descriptor = nil
    }

    // MARK: - Sending

    /// Sends one call (framed with its NUL). Does not wait for the reply.
    public func send(_ call: VarlinkCall) throws(ClientError) {
        try write(codec.frame(call))
    }

    /// Sends a call whose parameters are encoded straight from `parameters` (nil: the call
    /// carries no `parameters`, as varlink has it for methods without arguments).
    public func send<P: Encodable>(_ method: VarlinkMethod, parameters: P?, more: Bool = false) throws(ClientError) {
        try write(codec.frameCall(method, parameters, more: more))
    }

    private func write(_ bytes: [UInt8]) throws(ClientError) {
        guard let descriptor else { throw .connectionLost }
        do {
            try descriptor.writeAll(bytes)
        } catch {
            if error == .brokenPipe || error == .connectionReset || error == .notConnected {
                throw .connectionLost
            }
            throw .protocolViolation("cannot send to attachd at \(path): \(error)")
        }
    }

    // MARK: - Receiving

    /// The bytes of the last message received (without its NUL), e.g. for printing a reply
    /// verbatim; empty before the first.
    public private(set) var lastMessage: [UInt8] = []

    /// Reads the next message, unparsed (without its NUL).
    ///
    /// - Parameters:
    ///   - deadline: a `Clock.monotonicSeconds()` instant after which ``ClientError/deadlineExceeded(seconds:)``
    ///     is thrown; nil waits for ever.
    ///   - tickInterval: how often `tick` is called while no reply has arrived, in seconds.
    ///   - tick: called about every `tickInterval` seconds while waiting (for a progress line).
    public func receiveMessage(
        deadline: Double? = nil, tickInterval: Double = 0.1,
        tick: (() -> Void)? = nil
    ) throws(ClientError) -> [UInt8] {
        let started = Clock.monotonicSeconds()
        while true {
            if let message = try nextBufferedMessage() {
                lastMessage = message
                return message
            }
            guard let descriptor else { throw .connectionLost }
            if deadline != nil || tick != nil {
                var slice = tick != nil ? tickInterval : 1.0
                if let deadline {
                    let left = deadline - Clock.monotonicSeconds()
                    if left <= 0 { throw .deadlineExceeded(seconds: deadline - started) }
                    slice = min(slice, left)
                }
                let milliseconds = Int32(max(1, min(slice * 1000, 60_000)).rounded(.up))
                let readable: Bool
                do {
                    readable = try descriptor.waitReadable(timeoutMilliseconds: milliseconds)
                } catch {
                    if error == .interrupted { continue }
                    throw .protocolViolation("cannot wait for attachd's reply: \(error)")
                }
                if !readable {
                    tick?()
                    continue
                }
            }
            let chunk: [UInt8]
            do {
                chunk = try descriptor.read(upTo: Self.readSize)
            } catch {
                if error == .interrupted || error == .wouldBlock { continue }
                if error == .connectionReset || error == .notConnected || error == .brokenPipe {
                    throw .connectionLost
                }
                throw .protocolViolation("cannot read from attachd at \(path): \(error)")
            }
            if chunk.isEmpty { throw .connectionLost }
            framer.append(chunk)
        }
    }

    /// Reads the next reply and decodes it, once, into `R`; an error reply becomes
    /// ``ClientError/remote(_:)``. Returns the parameters and whether more replies follow.
    public func receive<R: Decodable>(
        _ type: R.Type, method: String, deadline: Double? = nil,
        tickInterval: Double = 0.1,
        tick: (() -> Void)? = nil
    ) throws(ClientError) -> (reply: R, continues: Bool) {
        let message = try receiveMessage(deadline: deadline, tickInterval: tickInterval, tick: tick)
        return try Self.unwrap(method: method) { () throws(ReplyDecodingError) in
            let reply = try codec.reply(R.self, from: message)
            return (reply.parameters, reply.continues, reply.error)
        }
    }

    /// `receive`, for a reply type read by hand (`JSONReadable`).
    public func receive<R: JSONReadable>(
        reading type: R.Type, method: String, deadline: Double? = nil,
        tickInterval: Double = 0.1,
        tick: (() -> Void)? = nil
    ) throws(ClientError) -> (reply: R, continues: Bool) {
        let message = try receiveMessage(deadline: deadline, tickInterval: tickInterval, tick: tick)
        return try Self.unwrap(method: method) { () throws(ReplyDecodingError) in try R.readReply(message) }
    }

    /// The parameters of the reply `decode` reads; an error reply becomes
    /// ``ClientError/remote(_:)``, an unreadable one ``ClientError/protocolViolation(_:)``.
    private static func unwrap<R>(
        method: String,
        _ decode: () throws(ReplyDecodingError) -> VarlinkReadReply<R>
    ) throws(ClientError) -> (reply: R, continues: Bool) {
        let reply: VarlinkReadReply<R>
        do {
            reply = try decode()
        } catch {
            switch error {
            case .malformed:
                throw .protocolViolation("attachd sent a reply that is not a varlink message: \(error)")
            case .mismatch(let field):
                throw .protocolViolation(
                    "attachd's reply to \(method) does not match the interface (field '\(field ?? "?")'); are attachd and attachctl the same version?"
                )
            }
        }
        if let error = reply.error { throw .remote(error) }
        guard let parameters = reply.parameters else {
            throw .protocolViolation("attachd's reply to \(method) has no parameters")
        }
        return (parameters, reply.continues == true)
    }

    private func nextBufferedMessage() throws(ClientError) -> [UInt8]? {
        do {
            return try framer.next()
        } catch {
            throw .protocolViolation("attachd sent an unframed or oversized message (\(error))")
        }
    }

    // MARK: - Calls

    /// Calls `method` with `parameters` (nil: none), both written by hand, and reads the reply
    /// by hand into `R` (see `JSONReadable`): the calls of every F5.
    public func call<R: JSONReadable>(
        _ method: VarlinkMethod, _ parameters: [String: JSONValue]?, reading type: R.Type, deadline: Double? = nil,
        tickInterval: Double = 0.1, tick: (() -> Void)? = nil
    ) throws(ClientError) -> R {
        let call = VarlinkCall(method: method.name, parameters: parameters.map(JSONValue.object))
        return try exchange(call.framedByHand, deadline: deadline, tickInterval: tickInterval, tick: tick) {
            (deadline, tickInterval, tick) throws(ClientError) in
            try receive(
                reading: R.self, method: method.name, deadline: deadline, tickInterval: tickInterval, tick: tick
            ).reply
        }
    }

    /// Calls `method` with `parameters` (nil: none) and decodes the reply into `R`.
    public func call<P: Encodable, R: Decodable>(
        _ method: VarlinkMethod, _ parameters: P?, as type: R.Type, deadline: Double? = nil,
        tickInterval: Double = 0.1, tick: (() -> Void)? = nil
    ) throws(ClientError) -> R {
        let call = codec.frameCall(method, parameters)
        return try exchange(call, deadline: deadline, tickInterval: tickInterval, tick: tick) {
            (deadline, tickInterval, tick) throws(ClientError) in
            try receive(R.self, method: method.name, deadline: deadline, tickInterval: tickInterval, tick: tick).reply
        }
    }

    /// Writes `call` and returns what `receive` reads of its reply.
    private func exchange<R>(
        _ call: [UInt8], deadline: Double?, tickInterval: Double, tick: (() -> Void)?,
        _ receive: (Double?, Double, (() -> Void)?) throws(ClientError) -> R
    ) throws(ClientError) -> R {
        do {
            try write(call)
        } catch .connectionLost {
            // The daemon may have turned the connection away (TooManyConnections,
            // PermissionDenied) and closed it before the call was written: its reason is
            // still in the socket, and reading it cannot block on a closed peer.
            _ = try receive(nil, tickInterval, nil)
            throw .connectionLost
        }
        return try receive(deadline, tickInterval, tick)
    }

    /// Calls `method` with `more: true`; `onReply` gets each reply, decoded into `R`, and
    /// returns false to stop reading (the connection should then be closed). Returns when the
    /// daemon sends a reply without `continues`, or when `onReply` returns false.
    /// `tick`, when given, is called about every `tickInterval` seconds while no reply arrives.
    public func callMore<P: Encodable, R: Decodable>(
        _ method: VarlinkMethod, _ parameters: P?, as type: R.Type,
        tickInterval: Double = 0.1, tick: (() -> Void)? = nil,
        onReply: (R) throws(ClientError) -> Bool
    ) throws(ClientError) {
        try send(method, parameters: parameters, more: true)
        while true {
            let (reply, continues) = try receive(R.self, method: method.name, tickInterval: tickInterval, tick: tick)
            if try !onReply(reply) { return }
            if !continues { return }
        }
    }
}
