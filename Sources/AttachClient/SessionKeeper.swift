import AttachProtocol
import AttachSystem

/// Keeps a session announced over the control socket (`attachctl run`, `attachctl announce
/// --pid`) for as long as its process lives.
///
/// It holds the control connection the session was announced on. attachd says nothing unasked
/// on it, so the connection becoming readable is its end of file: attachd went away (a crash,
/// `kill -9`, a restart without the fd store, a new attachd started by hand). Then the keeper
/// connects again, `firstRetry` later and backing off to `maxRetry`, and announces the same
/// facts, asking for the same session id (a new attachd keeps it when free; one that still has
/// the session knows it by its pid and port). Connecting to the control socket is also what
/// starts a socket-activated attachd. The connection also watches the project (`Watch`): when
/// the project is removed, the keeper announces again until it is added back.
public final class SessionKeeper {
    /// The first wait after attachd went away, and the longest (so that a host is back within a
    /// second of attachd serving again).
    public static let firstRetry = 0.05
    public static let maxRetry = 0.5
    /// How long one announcement may wait for its reply.
    static let replyTimeout = 5.0

    public let socketPath: String
    /// What is announced, with the session id to ask for.
    public private(set) var parameters: AnnounceParameters
    /// The session as attachd last answered (nil while it never answered).
    public private(set) var session: SessionInfo?
    private var client: BrokerClient?
    /// Whether `client`'s connection is subscribed to the project's events.
    private var watched = true

    /// Announces `parameters` (the first announcement's error is the caller's to report).
    public init(socketPath: String, announcing parameters: AnnounceParameters) throws(ClientError) {
        self.socketPath = socketPath
        self.parameters = parameters
        let client = try BrokerClient(socketPath: socketPath)
        let session = try client.announce(parameters)
        took(session)
        // Watched from `keep` on: the command starts without waiting for the subscription.
        self.client = client
        watched = false
    }

    /// Keeps a session announced before (by another process): announces it again at once when
    /// attachd answers (the same session, found by its pid and port), else when it comes back.
    public init(socketPath: String, keeping parameters: AnnounceParameters) {
        self.socketPath = socketPath
        self.parameters = parameters
        _ = announceAgain()
    }

    private func took(_ session: SessionInfo) {
        self.session = session
        parameters.session = session.id
    }

    /// Blocks until `process` (a pidfd) is readable, i.e. the host exited, keeping the session
    /// meanwhile. `onAnnouncedAgain` is called after each announcement made again; `giveUp`,
    /// asked while attachd is away, ends the keeping early (e.g. attachd's runtime directory is
    /// gone).
    public func keep(
        until process: FileDescriptor, onAnnouncedAgain: (SessionInfo) -> Void = { _ in },
        giveUp: () -> Bool = { false }
    ) {
        var delay = Self.firstRetry
        if !watched, let client {
            watched = true
            self.client = try? watching(client)
        }
        while true {
            if let client, let connection = client.connection.fileDescriptor {
                guard let ready = try? Poll.readable([process, connection], timeout: nil), !ready[0] else { return }
                if stillServed(by: client) { continue }
                client.close()
                self.client = nil
                delay = Self.firstRetry
                continue
            }
            guard let ready = try? Poll.readable([process], timeout: delay), !ready[0] else { return }
            delay = min(delay * 2, Self.maxRetry)
            if giveUp() { return }
            if let session = announceAgain() { onAnnouncedAgain(session) }
        }
    }

    /// Connects and announces; the session, or nil while attachd is not there.
    private func announceAgain() -> SessionInfo? {
        do throws(ClientError) {
            let client = try BrokerClient(socketPath: socketPath)
            let session = try client.announce(parameters, deadline: Clock.monotonicSeconds() + Self.replyTimeout)
            took(session)
            self.client = try watching(client)
            return session
        } catch {
            return nil
        }
    }

    /// Subscribes `client`'s connection to the project's events (the acknowledgement read).
    private func watching(_ client: BrokerClient) throws(ClientError) -> BrokerClient {
        try client.connection.send(.watch, parameters: WatchParameters(project: parameters.project), more: true)
        _ = try client.connection.receive(
            WatchReply.self, method: VarlinkMethod.watch.name,
            deadline: Clock.monotonicSeconds() + Self.replyTimeout)
        return client
    }

    /// Reads what made the connection readable: an event (true, unless it is the end of this
    /// session because the project was removed) or the end of file (false).
    private func stillServed(by client: BrokerClient) -> Bool {
        let method = BrokerClient.interface + ".Watch"
        let reply: WatchReply
        do throws(ClientError) {
            let (message, continues) = try client.connection.receive(
                WatchReply.self, method: method, deadline: Clock.monotonicSeconds() + Self.replyTimeout)
            guard continues else { return false }
            reply = message
        } catch .connectionLost {
            return false
        } catch {
            // An event this attachctl cannot read (a newer attachd) says attachd is there.
            return true
        }
        guard let event = reply.event, event.kind == .sessionEnded || event.kind == .projectRemoved else { return true }
        if event.kind == .projectRemoved { return false }
        return event.session?.id != parameters.session || event.session?.endReason != "project removed"
    }

    /// Closes the control connection (the session then lives on in attachd as announced).
    public func close() {
        client?.close()
        client = nil
    }
}
