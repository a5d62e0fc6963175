import AttachSystem
import Dispatch

/// Why a connection to a host's debug endpoint could not be made.
public enum RelayConnectError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing listens there (ECONNREFUSED), on every address tried.
    case refused
    /// No answer within the timeout.
    case timedOut
    /// The host is not a numeric address or `localhost` (attachd relays on this machine only).
    case invalidHost(String)
    /// connect(2) or socket(2) failed otherwise (ENETUNREACH, EMFILE, ...).
    case failed(Errno)
    /// `cancel()` was called.
    case cancelled

    public var description: String {
        switch self {
        case .refused: "connection refused"
        case .timedOut: "timed out"
        case .invalidHost(let host): "not a local address: \(host)"
        case .failed(let error): "\(error)"
        case .cancelled: "cancelled"
        }
    }
}

/// A non-blocking TCP connect to a host's debug endpoint on the daemon's queue: socket(2) and
/// connect(2) with SOCK_NONBLOCK, a Dispatch write source for the handshake's end, SO_ERROR for
/// its outcome, a timer for the timeout. `localhost` tries 127.0.0.1, then ::1 when the first is
/// refused. `completion` runs once, on the queue, with the connected socket (now the caller's)
/// or the failure. Every method is for the queue only.
public final class RelayConnector: @unchecked Sendable {
    public let host: String
    public let port: UInt16
    public let timeoutSeconds: Double
    private let queue: DispatchQueue
    private var completion: ((Result<FileDescriptor, RelayConnectError>) -> Void)?
    private var addresses: [String] = []
    private var attempt: FileDescriptor?
    private var source: DispatchSourceWrite?
    // A timer source, not asyncAfter: a cancelled work item still wakes the queue when its
    // time comes, and a thousand relays set up would then wake an idle daemon a thousand times.
    private var timer: DispatchSourceTimer?
    private var sawRefusal = false

    public init(host: String, port: UInt16, timeoutSeconds: Double = 5, queue: DispatchQueue) {
        self.host = host
        self.port = port
        self.timeoutSeconds = timeoutSeconds
        self.queue = queue
    }

    /// Starts connecting. The completion may run before `start` returns (an immediate refusal).
    public func start(completion: @escaping (Result<FileDescriptor, RelayConnectError>) -> Void) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard self.completion == nil else { return }
        self.completion = completion
        addresses = Socket.numericHosts(for: host)
        guard !addresses.isEmpty else { return finish(.failure(.invalidHost(host))) }
        tryNext()
    }

    /// Gives up: the socket being connected is closed, the completion gets `.cancelled`.
    public func cancel() {
        dispatchPrecondition(condition: .onQueue(queue))
        finish(.failure(.cancelled))
    }

    private func tryNext() {
        guard completion != nil else { return }
        guard !addresses.isEmpty else { return finish(.failure(sawRefusal ? .refused : .timedOut)) }
        let address = addresses.removeFirst()
        do throws(Errno) {
            let started = try Socket.startConnectTCP(host: address, port: port)
            guard started.inProgress else { return finish(.success(started.fd)) }
            armTimeout()
            attempt = started.fd
            let source = DispatchSource.makeWriteSource(fileDescriptor: started.fd.rawValue, queue: queue)
            source.setEventHandler { [self] in handshakeEnded() }
            // The descriptor of a failed attempt is closed only here, once Dispatch let go of it.
            source.setCancelHandler { [self, fd = started.fd] in
                if attempt != fd { fd.close() }
            }
            self.source = source
            source.resume()
        } catch {
            failed(error)
        }
    }

    private func handshakeEnded() {
        guard let fd = attempt else { return }
        let outcome: Errno?
        do throws(Errno) {
            outcome = try Socket.connectError(fd)
        } catch {
            outcome = error
        }
        if let outcome {
            dropAttempt()
            failed(outcome)
        } else {
            finish(.success(fd))
        }
    }

    private func failed(_ error: Errno) {
        if error == .connectionRefused {
            sawRefusal = true
            tryNext()
        } else if error == .addressFamilyNotSupported || error == .addressNotAvailable, !addresses.isEmpty {
            tryNext()  // no IPv6 on this machine: the next address may still work
        } else {
            finish(.failure(error == .timedOut ? .timedOut : .failed(error)))
        }
    }

    /// The timeout, from the first connect that did not complete at once (loopback ones do).
    private func armTimeout() {
        guard timer == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + timeoutSeconds)
        timer.setEventHandler { [self] in finish(.failure(.timedOut)) }
        self.timer = timer
        timer.resume()
    }

    /// Stops watching the attempt in progress; its socket is closed by the cancel handler.
    private func dropAttempt() {
        attempt = nil
        source?.cancel()
        source = nil
    }

    private func finish(_ result: Result<FileDescriptor, RelayConnectError>) {
        guard let completion else { return }
        self.completion = nil
        timer?.cancel()
        timer = nil
        if case .success(let fd) = result, fd == attempt {
            // Keep the socket open: the cancel handler sees it is still `attempt`.
            source?.cancel()
            source = nil
        } else {
            dropAttempt()
        }
        completion(result)
    }
}
