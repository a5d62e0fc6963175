import AttachSystem

/// The long-lived Python host (bench/host_driver.py): launches on command, so that interpreter
/// start-up stays out of the measured window.
final class HostDriver {
    let pid: Int32
    private let input: FileDescriptor
    private let output: LineReader
    let pythonVersion: String

    /// What a launch reported: when the host began its handshake and when listen() returned.
    struct Launch {
        var handshakeStart: Double
        var listened: Double
        var extra: String
    }

    init(python: String, script: String, environment: [String]) throws {
        let toChild = try Sys.pipe()
        let fromChild = try Sys.pipe()
        pid = try Processes.spawn(
            [python, "-u", script], environment: environment,
            redirects: [
                .init(source: toChild.read.rawValue, target: 0),
                .init(source: fromChild.write.rawValue, target: 1),
            ],
            stderrPath: nil)
        toChild.read.close()
        fromChild.write.close()
        input = toChild.write
        output = LineReader(fd: fromChild.read)
        let hello = try output.readLine(timeout: 20)
        guard hello.hasPrefix("HELLO") else { throw BenchError("host driver said \(hello)") }
        pythonVersion =
            hello.split(separator: " ").first { $0.hasPrefix("python=") }.map { String($0.dropFirst(7)) } ?? "?"
    }

    /// Sends one command line without waiting for its answer.
    func send(_ command: String) throws {
        do {
            try input.writeAll(Array((command + "\n").utf8))
        } catch {
            throw BenchError("host driver is gone (\(error))")
        }
    }

    /// The answer to the last command.
    func answer(timeout: Double) throws -> String {
        try output.readLine(timeout: timeout)
    }

    /// Reads a `LISTENED T0 T EXTRA` answer.
    func launchAnswer(timeout: Double) throws -> Launch {
        let line = try answer(timeout: timeout)
        let words = line.split(separator: " ")
        guard words.count >= 3, words[0] == "LISTENED", let t0 = Double(words[1]), let t = Double(words[2]) else {
            throw BenchError("host: \(line)")
        }
        return Launch(handshakeStart: t0, listened: t, extra: words.count > 3 ? String(words[3]) : "")
    }

    func closeHost() throws {
        try send("close")
        let line = try answer(timeout: 10)
        guard line == "CLOSED" else { throw BenchError("host: \(line)") }
    }

    func quit() {
        try? send("quit")
        input.close()
        if Processes.waitExit(pid, pidfd: nil, timeout: 5) == nil { Processes.stop(pid, grace: 1) }
        output.fd.close()
    }
}
