import AttachSystem
import Foundation

/// A real debugpy host on the remote side (bench/debugpy_host.py: attach_ready.start() on the
/// remote project's rendezvous, then debugpy.listen()), reached by a DAP client here through
/// the local attach port, through a plain `ssh -L` and directly: the attach handshake and
/// `evaluate` round trips, each path in turn.
struct RemoteDapResult: Codable {
    var skipped: String?
    var debugpy: String?
    /// Rounds of (attach port, forward, direct), one DAP connection each.
    var rounds: Int = 0
    var requests: Int = 0
    /// `evaluate` of `1+1` (no frame: debugpy evaluates it in the debuggee's globals), request
    /// written → response read.
    var relay: Summary?
    var forward: Summary?
    var direct: Summary?
    var relayOverForwardP50Micros: Double?
    /// connect → `initialize`, `attach`, `configurationDone` answered.
    var relayAttach: Summary?
    var forwardAttach: Summary?
    var directAttach: Summary?
}

enum RemoteDap {
    static func run(_ rig: RemoteRig, python: String, script: String, requests: Int,
                    progress: (String) -> Void) throws -> RemoteDapResult {
        guard requests > 0 else { return RemoteDapResult(skipped: "no DAP requests asked (--remote-dap-requests 0)") }
        let check = Processes.output(of: [python, "-c", "import debugpy; print(debugpy.__version__)"],
                                     environment: Processes.environment(), timeout: 30)
        guard let version = check?.split(separator: "\n").first else {
            return RemoteDapResult(skipped: "debugpy is not importable by \(python) (pip install debugpy)")
        }
        let project = "bench-remote-dap", attachPort = try AttachBench.freePort()
        _ = try rig.addProject(project, remoteParameters: ["attachPort": try AttachBench.freePort()], attachPort: attachPort)
        let toHost = try Sys.pipe(), fromHost = try Sys.pipe()
        var environment = rig.remoteSandbox.environment
        environment.append("PYDEVD_DISABLE_FILE_VALIDATION=1")
        let host = try Processes.spawn([python, "-u", script, rig.remoteSandbox.rendezvousSocket(project)], environment: environment,
                                       redirects: [.init(source: toHost.read.rawValue, target: 0),
                                                   .init(source: fromHost.write.rawValue, target: 1)],
                                       stderrPath: rig.remoteSandbox.root + "/debugpy-host.log", newProcessGroup: true)
        toHost.read.close()
        fromHost.write.close()
        defer {
            toHost.write.close()
            fromHost.read.close()
            if Processes.waitExit(host, pidfd: nil, timeout: 5) == nil { Sys.kill(group: host, Sys.sigkill) }
            Sys.kill(group: host, Sys.sigkill)  // debugpy's adapter, if it outlived the host
            _ = Processes.waitExit(host, pidfd: nil, timeout: 5)
        }
        let line = try LineReader(fd: fromHost.read).readLine(timeout: 30)
        let words = line.split(separator: " ")
        guard words.count >= 4, words[0] == "LISTENED", let port = Int(words[3]) else { throw BenchError("debugpy host: \(line)") }
        _ = try rig.local.call("Wait", ["project": project, "timeout": 30])
        let forward = try SSHForward(rig.sshd, to: port, log: rig.localSandbox.root + "/ssh-forward-dap.log")
        defer { forward.stop() }

        let rounds = requests >= 20 ? 2 : 1, perRound = max(1, requests / rounds)
        progress("  remote: debugpy \(version), \(rounds) × \(perRound) DAP evaluate requests through the attach port, ssh -L and directly")
        var result = RemoteDapResult(debugpy: String(version), rounds: rounds, requests: rounds * perRound)
        var times: [[Double]] = [[], [], []], attaches: [[Double]] = [[], [], []]
        for _ in 0..<rounds {
            for (index, (path, target)) in [("the attach port", attachPort), ("ssh -L", forward.localPort), ("directly", port)].enumerated() {
                do {
                    let started = Clock.monotonicSeconds()
                    let client = try DapClient(port: target)
                    try client.attach()
                    attaches[index].append(Clock.monotonicSeconds() - started)
                    for _ in 0..<3 { _ = try client.evaluate("1+1") }
                    for _ in 0..<perRound { times[index].append(try client.evaluate("1+1")) }
                    client.disconnect()
                } catch {
                    let local = (try? rig.local.call("ListSessions", ["project": project])) ?? [:]
                    let remote = (try? rig.remote.call("ListSessions", ["project": project])) ?? [:]
                    throw BenchError("DAP \(path): \(error)\ndebugpy host:\n\(Sandbox.tail(rig.remoteSandbox.root + "/debugpy-host.log"))\nlocal: \(local)\nremote: \(remote)\nport \(port)\n\(rig.localSandbox.logTail())")
                }
            }
        }
        result.relay = Summary(seconds: times[0])
        result.forward = Summary(seconds: times[1])
        result.direct = Summary(seconds: times[2])
        result.relayAttach = Summary(seconds: attaches[0])
        result.forwardAttach = Summary(seconds: attaches[1])
        result.directAttach = Summary(seconds: attaches[2])
        if let r = result.relay, let f = result.forward { result.relayOverForwardP50Micros = (r.p50Ms - f.p50Ms) * 1000 }
        return result
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
    static let timeout = 15.0

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
                      let length = Int(field.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else {
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
                guard message["type"] as? String == "response", let answered = intValue(message["request_seq"]) else { continue }
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
        let initialize = try send("initialize", ["clientID": "attachbench", "adapterID": "python", "pathFormat": "path",
                                                 "linesStartAt1": true, "columnsStartAt1": true])
        let attach = try send("attach", ["name": "attachbench", "type": "python", "request": "attach", "justMyCode": false])
        var configurationDone: Int?
        let onEvent: (String) throws -> Void = { name in
            if name == "initialized", configurationDone == nil { configurationDone = try self.send("configurationDone") }
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
        guard let body = reply["body"] as? [String: Any], body["result"] is String else { throw BenchError("DAP evaluate: no result in \(reply)") }
        return seconds
    }

    func disconnect() {
        if let request = try? send("disconnect", ["restart": false, "terminateDebuggee": false]) { _ = try? response(to: request) }
    }
}
