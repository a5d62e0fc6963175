import AttachProtocol
import AttachSystem
import Foundation

/// Real debugpy hosts on the remote side (bench/debugpy_host.py: attach_ready.start() on a
/// remote project's rendezvous, then debugpy.listen()), one per path so that no debug server is
/// attached twice: a DAP client here attaches to the first through the local attach port, to
/// the second through a plain `ssh -L` and to the third directly, then times `evaluate` round
/// trips on the three in turn.
struct RemoteDapResult: Codable {
    var skipped: String?
    var debugpy: String?
    /// Per path, in blocks of 10 taken in turn.
    var requests: Int = 0
    /// `evaluate` of `1+1` (no frame: debugpy evaluates it in the debuggee's globals), request
    /// written → response read.
    var relay: Summary?
    var forward: Summary?
    var direct: Summary?
    var relayOverForwardP50Micros: Double?
    /// connect → `initialize`, `attach`, `configurationDone` answered, once per path.
    var relayAttachMs: Double?
    var forwardAttachMs: Double?
    var directAttachMs: Double?
}

enum RemoteDap {
    static func run(
        _ rig: RemoteRig, python: String, script: String, requests: Int,
        progress: (String) -> Void
    ) throws -> RemoteDapResult {
        guard requests > 0 else { return RemoteDapResult(skipped: "no DAP requests asked (--remote-dap-requests 0)") }
        let check = Processes.output(
            of: [python, "-c", "import debugpy; print(debugpy.__version__)"],
            environment: Processes.environment(), timeout: 30)
        guard let version = check?.split(separator: "\n").first else {
            return RemoteDapResult(skipped: "debugpy is not importable by \(python) (pip install debugpy)")
        }
        // The attach port's host on a mirrored project; the other two on a remote-only one.
        let project = "bench-remote-dap"
        let other = "bench-remote-dap-plain"
        let attachPort = try AttachBench.freePort()
        _ = try rig.addProject(
            project, remoteParameters: ["attachPort": try AttachBench.freePort()], attachPort: attachPort)
        _ = try rig.remote.call(.addProject, ["name": other, "attachPort": try AttachBench.freePort()])
        var hosts: [DebugpyHost] = []
        defer { for host in hosts { host.stop() } }
        for (index, name) in [project, other, other].enumerated() {
            hosts.append(
                try DebugpyHost(
                    python: python, script: script, rendezvous: rig.remoteSandbox.rendezvousSocket(name),
                    environment: rig.remoteSandbox.environment + ["PYDEVD_DISABLE_FILE_VALIDATION=1"],
                    log: rig.remoteSandbox.root + "/debugpy-host-\(index).log"))
        }
        let ports = try hosts.map { try $0.port() }
        _ = try rig.local.control.call(.wait, ["project": project, "timeout": 30], timeout: 35)
        let forward = try SSHForward(rig.sshd, to: ports[1], log: rig.localSandbox.root + "/ssh-forward-dap.log")
        defer { forward.stop() }

        progress(
            "  remote: debugpy \(version), \(requests) DAP evaluate requests each through the attach port, ssh -L and directly"
        )
        var result = RemoteDapResult(debugpy: String(version), requests: requests)
        let paths = [("the attach port", attachPort), ("ssh -L", forward.localPort), ("directly", ports[2])]
        var clients: [DapClient] = []
        var attaches: [Double] = []
        var times: [[Double]] = paths.map { _ in [] }
        do {
            for (_, port) in paths {
                let started = Clock.monotonicSeconds()
                let client = try DapClient(port: port)
                try client.attach()
                attaches.append(Clock.monotonicSeconds() - started)
                for _ in 0..<3 { _ = try client.evaluate("1+1") }
                clients.append(client)
            }
            var done = 0
            while done < requests {
                let n = min(10, requests - done)
                for (index, client) in clients.enumerated() {
                    for _ in 0..<n { times[index].append(try client.evaluate("1+1")) }
                }
                done += n
            }
        } catch {
            let path = paths[min(clients.count, paths.count - 1)].0
            throw BenchError("DAP (\(clients.count == paths.count ? "evaluate" : "attach \(path)")): \(error)")
        }
        for client in clients { client.disconnect() }
        result.relay = Summary(seconds: times[0])
        result.forward = Summary(seconds: times[1])
        result.direct = Summary(seconds: times[2])
        (result.relayAttachMs, result.forwardAttachMs, result.directAttachMs) = (
            attaches[0] * 1000, attaches[1] * 1000, attaches[2] * 1000
        )
        if let r = result.relay, let f = result.forward {
            result.relayOverForwardP50Micros = (r.p50Ms - f.p50Ms) * 1000
        }
        return result
    }
}

/// One bench/debugpy_host.py in a process group of its own (debugpy's adapter is in it too),
/// stdin and stdout pipes; it exits at end of file on stdin.
final class DebugpyHost {
    let pid: Int32
    private let input: FileDescriptor
    private let output: LineReader
    private let logPath: String

    init(python: String, script: String, rendezvous: String, environment: [String], log: String) throws {
        let toHost = try Sys.pipe()
        let fromHost = try Sys.pipe()
        defer {
            toHost.read.close()
            fromHost.write.close()
        }
        do {
            pid = try Processes.spawn(
                [python, "-u", script, rendezvous], environment: environment,
                redirects: [
                    .init(source: toHost.read.rawValue, target: 0),
                    .init(source: fromHost.write.rawValue, target: 1),
                ],
                stderrPath: log, newProcessGroup: true)
        } catch {
            toHost.write.close()
            fromHost.read.close()
            throw error
        }
        input = toHost.write
        output = LineReader(fd: fromHost.read)
        logPath = log
    }

    /// The debug port from the host's `LISTENED T_CALL T_RETURN PORT` (30 s at most).
    func port() throws -> Int {
        let line = try output.readLine(timeout: 30)
        let words = line.split(separator: " ")
        guard words.count >= 4, words[0] == "LISTENED", let port = Int(words[3]) else {
            throw BenchError("debugpy host: \(line)\n\(Sandbox.tail(logPath))")
        }
        return port
    }

    func stop() {
        input.close()
        if Processes.waitExit(pid, pidfd: nil, timeout: 5) == nil { Sys.kill(group: pid, Sys.sigkill) }
        Sys.kill(group: pid, Sys.sigkill)  // debugpy's adapter, if it outlived the host
        _ = Processes.waitExit(pid, pidfd: nil, timeout: 5)
        output.fd.close()
    }
}

/// The least of a Debug Adapter Protocol client (`Content-Length: N\r\n\r\n{json}` frames),
/// as tests/dap_client.py does it: every read bounded, events kept only for the handshake.
final class DapClient {
    private let fd: FileDescriptor
    private var buffer: [UInt8] = []
    private var sequence = 0
    /// Responses read while waiting for another one, by request.
    private var early: [Int: [String: Any]] = [:]
    static let timeout = 30.0

    init(port: Int) throws { fd = try RelayBench.connect(port) }

    deinit { fd.close() }

    @discardableResult
    func send(_ command: String, _ arguments: [String: Any]? = nil) throws -> Int {
        sequence += 1
        var message: [String: Any] = ["seq": sequence, "type": "request", "command": command]
        if let arguments { message["arguments"] = arguments }
        let body = [UInt8](try JSONSerialization.data(withJSONObject: message))
        try fd.writeAll(Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body)
        return sequence
    }

    /// The next message, waiting at most until `deadline` (monotonic seconds).
    func next(deadline: Double) throws -> [String: Any] {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let end = buffer.indices.dropLast(3).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) {
                let header = String(decoding: buffer[..<end], as: UTF8.self).lowercased()
                guard let field = header.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                    let length = Int(field.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                else {
                    throw BenchError("DAP frame without Content-Length: \(header)")
                }
                if buffer.count >= end + 4 + length {
                    let body = Data(buffer[(end + 4)..<(end + 4 + length)])
                    buffer.removeFirst(end + 4 + length)
                    guard let message = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                        throw BenchError("DAP message is not an object")
                    }
                    return message
                }
            }
            let left = deadline - Clock.monotonicSeconds()
            guard left > 0 else { throw BenchError("no DAP message within \(Self.timeout) s") }
            guard try fd.waitReadable(timeoutMilliseconds: Int32((left * 1000).rounded(.up))) else { continue }
            let chunk = try fd.read(upTo: 65536)
            if chunk.isEmpty { throw BenchError("the debug server closed the DAP connection") }
            buffer += chunk
        }
    }

    /// Reads until the response to `request`; throws if it failed.
    func response(to request: Int, onEvent: (String) throws -> Void = { _ in }) throws -> [String: Any] {
        let deadline = Clock.monotonicSeconds() + Self.timeout
        while true {
            let message: [String: Any]
            if let kept = early.removeValue(forKey: request) {
                message = kept
            } else {
                message = try next(deadline: deadline)
                if message["type"] as? String == "event", let name = message["event"] as? String { try onEvent(name) }
                guard message["type"] as? String == "response", let answered = intValue(message["request_seq"]) else {
                    continue
                }
                guard answered == request else {
                    early[answered] = message
                    continue
                }
            }
            guard message["success"] as? Bool == true else {
                throw BenchError("DAP \(message["command"] ?? "?") failed: \(message["message"] ?? "?")")
            }
            return message
        }
    }

    /// initialize and attach at once; `configurationDone` on the `initialized` event (debugpy
    /// answers attach only after it).
    func attach() throws {
        let initialize = try send(
            "initialize",
            [
                "clientID": "attachbench", "adapterID": "python", "pathFormat": "path",
                "linesStartAt1": true, "columnsStartAt1": true,
            ])
        let attach = try send(
            "attach", ["name": "attachbench", "type": "python", "request": "attach", "justMyCode": false])
        var configurationDone: Int?
        let onEvent: (String) throws -> Void = { name in
            if name == "initialized", configurationDone == nil {
                configurationDone = try self.send("configurationDone")
            }
        }
        _ = try response(to: initialize, onEvent: onEvent)
        _ = try response(to: attach, onEvent: onEvent)
        guard let configurationDone else { throw BenchError("debugpy answered attach before configurationDone") }
        _ = try response(to: configurationDone)
    }

    /// One `evaluate` round trip in seconds; throws unless the result is "2" for `1+1`.
    func evaluate(_ expression: String) throws -> Double {
        let started = Clock.monotonicSeconds()
        let reply = try response(to: try send("evaluate", ["expression": expression, "context": "repl"]))
        let seconds = Clock.monotonicSeconds() - started
        guard let body = reply["body"] as? [String: Any], body["result"] is String else {
            throw BenchError("DAP evaluate: no result in \(reply)")
        }
        return seconds
    }

    func disconnect() {
        if let request = try? send("disconnect", ["restart": false, "terminateDebuggee": false]) {
            _ = try? response(to: request)
        }
    }
}
