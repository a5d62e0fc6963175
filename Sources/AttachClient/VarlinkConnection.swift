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
    private let codec = VarlinkCodec()

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

    /// Closes the connection. Later calls fail with ``ClientError/connectionLost``.
    public func close() {
        if let descriptor { _ = descriptor.close() }
        descriptor = nil
    }

    // MARK: - Sending

    /// Sends one call (framed with its NUL). Does not wait for the reply.
    public func send(_ call: VarlinkCall) throws(ClientError) {
        guard let descriptor else { throw .connectionLost }
        let bytes = codec.frame(call)
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

    /// Reads the next reply.
    ///
    /// - Parameters:
    ///   - deadline: a `Clock.monotonicSeconds()` instant after which ``ClientError/deadlineExceeded(seconds:)``
    ///     is thrown; nil waits for ever.
    ///   - tickInterval: how often `tick` is called while no reply has arrived, in seconds.
    ///   - tick: called about every `tickInterval` seconds while waiting (for a progress line).
    public func receive(deadline: Double? = nil, tickInterval: Double = 0.1,
                        tick: (() -> Void)? = nil) throws(ClientError) -> VarlinkReply {
        let started = Clock.monotonicSeconds()
        while true {
            if let message = try nextBufferedMessage() {
                do {
                    return try codec.decode(VarlinkReply.self, from: message)
                } catch {
                    throw .protocolViolation("attachd sent a reply that is not a varlink message: \(error)")
                }
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

    private func nextBufferedMessage() throws(ClientError) -> [UInt8]? {
        do {
            return try framer.next()
        } catch {
            throw .protocolViolation("attachd sent an unframed or oversized message (\(error))")
        }
    }

    // MARK: - Calls

    /// Calls `method` and returns the reply's parameters (`{}` when the reply has none).
    /// A varlink error reply becomes ``ClientError/remote(_:)``.
    public func call(_ method: String, parameters: JSONValue? = nil, deadline: Double? = nil,
                     tickInterval: Double = 0.1, tick: (() -> Void)? = nil) throws(ClientError) -> JSONValue {
        try send(VarlinkCall(method: method, parameters: parameters))
        let reply = try receive(deadline: deadline, tickInterval: tickInterval, tick: tick)
        return try Self.checked(reply)
    }

    /// Calls `method` with `more: true`; `onReply` gets each reply's parameters and returns
    /// false to stop reading (the connection should then be closed). Returns when the daemon
    /// sends a reply without `continues`, or when `onReply` returns false.
    public func callMore(_ method: String, parameters: JSONValue? = nil,
                         onReply: (JSONValue) throws(ClientError) -> Bool) throws(ClientError) {
        try send(VarlinkCall(method: method, parameters: parameters, more: true))
        while true {
            let reply = try receive()
            let parameters = try Self.checked(reply)
            if try !onReply(parameters) { return }
            if reply.continues != true { return }
        }
    }

    /// The typed form of ``call(_:parameters:deadline:tickInterval:tick:)``: encodes `parameters`,
    /// decodes the reply into `R`. Returns the decoded reply and the raw JSON it came from.
    public func call<P: Encodable, R: Decodable>(
        _ method: String, _ parameters: P, as type: R.Type, deadline: Double? = nil,
        tickInterval: Double = 0.1, tick: (() -> Void)? = nil
    ) throws(ClientError) -> (reply: R, json: JSONValue) {
        let json = try call(method, parameters: encode(parameters), deadline: deadline,
                            tickInterval: tickInterval, tick: tick)
        return (try decode(R.self, from: json, method: method), json)
    }

    /// Parameters as JSON; an empty object is sent as no `parameters` at all.
    public func encode<P: Encodable>(_ parameters: P) -> JSONValue? {
        let value = codec.value(parameters)
        if case .object(let members) = value, members.isEmpty { return nil }
        return value
    }

    /// Decodes a reply's parameters into `R`.
    public func decode<R: Decodable>(_ type: R.Type, from json: JSONValue, method: String) throws(ClientError) -> R {
        do {
            let call = VarlinkCall(method: method, parameters: json)
            return try codec.parameters(R.self, of: call)
        } catch {
            throw .protocolViolation("attachd's reply to \(method) does not match the interface (field '\(error.parameters["parameter"]?.stringValue ?? "?")'); are attachd and attachctl the same version?")
        }
    }

    private static func checked(_ reply: VarlinkReply) throws(ClientError) -> JSONValue {
        if let error = reply.error {
            throw .remote(VarlinkError(name: error, parameters: reply.parameters))
        }
        return reply.parameters ?? .object([:])
    }
}
