import AttachCore
import AttachSystem
import Dispatch

/// The shared ssh connections (ControlMaster with ControlPersist) outlive the ssh that started
/// them, by design: a reconnect or a relay costs no handshake. So attachd asks them to go itself
/// (`ssh -O exit` with the same command and ControlPath) when a remote project is removed and
/// at shutdown, so that none is left running after it.
extension RemoteLinks {
    /// How long the shutdown waits for the `ssh -O` requests, in all.
    static let shutdownRequestTimeout = 2.0
    /// How long an `ssh -O exit` after a removal may take before it is killed.
    static let removalRequestTimeout = 5.0

    /// Whether the shared connection of `remote` is attachd's: not when the user's command names
    /// a control socket of its own (`-S`, `-o ControlPath=`), which then wins over attachd's.
    func ownsMaster(_ remote: RemoteConfig) -> Bool {
        let words = command(for: remote).command.split(whereSeparator: \.isWhitespace)
        return !words.contains { $0.hasPrefix("-S") || $0.lowercased().contains("controlpath") }
    }

    /// After a project's link closed for good: its shared connection is asked to exit, unless
    /// another remote project goes to the same host (it may share the connection). Does not wait.
    func endMaster(of remote: RemoteConfig) {
        guard ownsMaster(remote), !links.values.contains(where: { $0.remote.host == remote.host }) else { return }
        let started: (SSHProcess, FileDescriptor)
        do {
            started = try SSHProcess.start(command(for: remote).control("exit", to: remote), queue: queue)
        } catch {
            return logger.warning(
                "cannot ask the ssh connection to exit",
                metadata: ["remote": "\(remote.destination)", "error": "\(error)"])
        }
        let (process, fd) = started
        fd.close()
        masterRequests[process.pid] = process
        let timer = QueueTimer(queue: queue) { process.terminate() }
        timer.once(after: Self.removalRequestTimeout)
        process.onExit = { [self] status, words in
            timer.cancel()
            masterRequests[process.pid] = nil
            logger.debug(
                "asked the ssh connection to exit",
                metadata: [
                    "remote": "\(remote.destination)", "status": "\(String(describing: status))", "words": "\(words)",
                ])
        }
    }

    /// At shutdown: every link stops, and every shared connection attachd opened is asked to go,
    /// waiting `within` seconds at most in all (a request still running then is killed).
    /// `keepingChannels`: relays were handed to systemd's fd store for the next attachd; their
    /// connections only stop listening (`-O stop`), and end with their last channel.
    func shutdown(keepingChannels: Bool, within seconds: Double = shutdownRequestTimeout) {
        let remotes = links.values.map(\.remote).sorted { $0.destination < $1.destination }
        for link in links.values { link.stop() }
        links.removeAll()
        guard !remotes.isEmpty else { return }
        let request = keepingChannels && !channels.isEmpty ? "stop" : "exit"
        var asked: Set<[String]> = []
        var running: [(pid: Int32, output: Pipe, destination: String)] = []
        for remote in remotes where ownsMaster(remote) {
            let arguments = command(for: remote).control(request, to: remote)
            guard asked.insert(arguments).inserted else { continue }
            do {
                let output = try Pipe.make()
                let input = try FileDescriptor.openNullDevice()
                defer {
                    input.close()
                    output.writeEnd.close()
                }
                let pid = try ChildProcess.spawn(
                    arguments, environment: ChildProcess.environment, standardInput: input,
                    standardOutput: output.writeEnd, standardError: output.writeEnd)
                running.append((pid, output, remote.destination))
            } catch {
                logger.warning(
                    "cannot ask the ssh connection to go",
                    metadata: ["remote": "\(remote.destination)", "error": "\(error)"])
            }
        }
        let deadline = Clock.monotonicSeconds() + seconds
        for (pid, output, destination) in running {
            let status = Self.wait(for: pid, until: deadline)
            let words = (try? output.readEnd.read(upTo: 4096)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            output.readEnd.close()
            logger.debug(
                "asked the ssh connection to \(request)",
                metadata: ["remote": "\(destination)", "status": "\(String(describing: status))", "words": "\(words)"])
        }
    }

    /// Waits for a child until `deadline` (CLOCK_MONOTONIC seconds), then kills it; reaps it.
    private static func wait(for pid: Int32, until deadline: Double) -> ChildProcess.Exit? {
        if let pidfd = try? ProcessHandle.pidfdOpen(pid) {
            let left = max(0, deadline - Clock.monotonicSeconds())
            _ = try? pidfd.waitReadable(timeoutMilliseconds: Int32((left * 1000).rounded(.up)))
            pidfd.close()
        }
        if let status = ChildProcess.reap(pid) { return status }
        ChildProcess.signal(pid, SignalNumber.kill)
        return try? ChildProcess.wait(pid)
    }
}

extension SSHCommand {
    /// `ssh … -O REQUEST DEST`: asks the shared connection to DEST (`exit`, `stop`, `check`).
    func control(_ request: String, to remote: RemoteConfig) -> [String] {
        wrap(options + ["-O", request, "--", Self.sshDestination(remote.destination)])
    }
}
