import AttachSystem

/// The reference relay (bench/c_relay.c: one epoll thread, splice through 1 MiB pipes), built
/// here with `cc -O2` and run as a child of the bench, so that the relay phase measures any
/// relay's cost beside attachd's in the same run. Started with `--spin 200`, the same wake-up
/// saving attachd's relay loop uses, so that the two do the same work.
final class CRelay {
    /// What attachd's relay loop stays awake after passing on a message (RelayLoopContext).
    static let spinMicroseconds = 200

    let pid: Int32
    /// The port it listens on (127.0.0.1).
    let port: Int
    private let output: LineReader
    private var stopped = false

    /// Compiles `source` into `directory` the way the client phase builds its C program.
    /// Returns the executable, or why there is none ("no C compiler", a build failure).
    static func build(source: String, into directory: String) -> (binary: String?, skipped: String?) {
        guard Files.exists(source) else { return (nil, "\(source) not found") }
        guard let cc = ColdStart.which("cc") ?? ColdStart.which("gcc") else { return (nil, "no C compiler") }
        let binary = directory + "/c_relay"
        guard
            Processes.output(of: [cc, "-O2", "-o", binary, source], environment: Processes.environment(), timeout: 60)
                != nil, Sys.isExecutable(binary)
        else {
            return (nil, "\(source) did not build with \(cc) -O2")
        }
        return (binary, nil)
    }

    /// Starts `binary` relaying a free port to 127.0.0.1:`target` and reads the port it says.
    /// The child is registered like every other (killed on an error, a signal, --max-seconds).
    init(binary: String, target: Int, logPath: String) throws {
        let fromChild = try Sys.pipe()
        do {
            pid = try Processes.spawn(
                [binary, "--spin", "\(Self.spinMicroseconds)", "0", "\(target)"],
                environment: Processes.environment(), redirects: [.init(source: fromChild.write.rawValue, target: 1)],
                stderrPath: logPath)
        } catch {
            fromChild.read.close()
            fromChild.write.close()
            throw error
        }
        fromChild.write.close()
        output = LineReader(fd: fromChild.read)
        do {
            let line = try output.readLine(timeout: 10)
            let words = line.split(separator: " ")
            guard words.count == 2, words[0] == "PORT", let port = Int(words[1]) else {
                throw BenchError("c_relay said \(line)")
            }
            self.port = port
        } catch {
            Processes.stop(pid, grace: 1)
            output.fd.close()
            throw BenchError("c_relay did not start: \(error)")
        }
    }

    /// SIGTERM (it has no clean-up to do), reaped. Idempotent.
    func stop() {
        guard !stopped else { return }
        stopped = true
        Processes.stop(pid, grace: 2)
        output.fd.close()
    }
}
