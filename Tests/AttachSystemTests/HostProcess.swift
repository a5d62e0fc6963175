import Testing

@testable import AttachSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A child process with its stdin and stdout on socket pairs, in its own process group so that the
/// whole tree it starts is killed (SIGKILL to the group) and reaped when the value is dropped.
final class HostProcess {
    let pid: pid_t
    private let input: Int32
    private let output: Int32
    private var pending: [UInt8] = []
    private var reaped = false

    /// posix_spawn(3) `path` with `arguments`; our ends of the pairs are close-on-exec so that
    /// processes spawned by concurrent tests do not inherit them (the tree sees EOF on stdin
    /// when this value closes it).
    init(_ path: String, _ arguments: [String]) throws {
        // Socket pairs rather than pipes: created close-on-exec in one call (Socket.pair).
        let (inputOurs, inputTheirs) = try Socket.pair()
        let (outputOurs, outputTheirs) = try Socket.pair()
        let toChild = [inputTheirs.rawValue, inputOurs.rawValue]
        let fromChild = [outputOurs.rawValue, outputTheirs.rawValue]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var child: pid_t = 0
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let status = posix_spawn(&child, path, &actions, &attributes, argv, environ)
        close(toChild[0])
        close(fromChild[1])
        guard status == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw Errno(rawValue: status)
        }
        pid = child
        input = toChild[1]
        output = fromChild[0]
    }

    /// /usr/bin/python3 -c SCRIPT ARGS...
    static func python(_ script: String, _ arguments: [String] = []) throws -> HostProcess {
        try HostProcess(HostScripts.python, ["-c", script] + arguments)
    }

    /// The next line the tree writes on stdout, without its newline; fails after `seconds`.
    func readLine(within seconds: Double = 10) throws -> String {
        let deadline = Clock.monotonicSeconds() + seconds
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            let left = deadline - Clock.monotonicSeconds()
            guard left > 0 else { throw HostProcessError.timedOut("no line from pid \(pid)") }
            var entry = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(left * 1000) + 1) > 0 else { continue }
            let chunk = try FileDescriptor(rawValue: output).read(upTo: 4096)
            if chunk.isEmpty { throw HostProcessError.endOfFile("pid \(pid) closed stdout") }
            pending += chunk
        }
    }

    /// The port number the tree prints on its next line.
    func readPort() throws -> UInt16 {
        let line = try readLine()
        guard let port = UInt16(line) else { throw HostProcessError.unexpected(line) }
        return port
    }

    /// Writes `line` and a newline to the tree's stdin.
    func send(_ line: String) throws {
        try FileDescriptor(rawValue: input).writeAll(Array((line + "\n").utf8))
    }

    /// SIGKILL to the process group, then waitpid(2): after this the pid is gone.
    func kill() {
        guard !reaped else { return }
        reaped = true
        Glibc.kill(-pid, SIGKILL)
        reap(pid)
    }

    deinit {
        kill()
        close(input)
        close(output)
    }
}

enum HostProcessError: Error {
    case timedOut(String)
    case endOfFile(String)
    case unexpected(String)
}

/// The Python programs the host tests run.
enum HostScripts {
    static let python = "/usr/bin/python3"

    /// argv: HOST PORT. Listens, prints the port, waits for end of file on stdin.
    static let listen = """
        import socket, sys
        host, port = sys.argv[1], int(sys.argv[2])
        s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
        s.bind((host, port)); s.listen()
        print(s.getsockname()[1], flush=True)
        sys.stdin.read()
        """

    /// argv: HOST PORT. Prints "up", waits for a line on stdin, then does what `listen` does.
    static let gatedListen = """
        import socket, sys
        print('up', flush=True)
        sys.stdin.readline()
        host, port = sys.argv[1], int(sys.argv[2])
        s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
        s.bind((host, port)); s.listen()
        print(s.getsockname()[1], flush=True)
        sys.stdin.read()
        """

    /// argv: SCRIPT ARGS...: runs python SCRIPT ARGS... as its child and waits for it.
    static let parentOf = """
        import subprocess, sys
        subprocess.run([sys.executable, '-c'] + sys.argv[1:])
        """

    /// Prints "up" and waits for end of file on stdin; listens on nothing.
    static let idle = """
        import sys
        print('up', flush=True)
        sys.stdin.read()
        """
}

/// Polls `probe.verdict(pid:port:)` every 2 ms until `accept` takes it or `seconds` pass;
/// returns the last verdict.
func verdict(
    _ probe: HostListenProbe, pid: Int32, port: UInt16?, within seconds: Double = 10,
    until accept: (HostListenVerdict) -> Bool
) -> HostListenVerdict {
    let deadline = Clock.monotonicSeconds() + seconds
    var last = probe.verdict(pid: pid, port: port)
    while !accept(last) && Clock.monotonicSeconds() < deadline {
        var nothing = pollfd(fd: -1, events: 0, revents: 0)
        _ = poll(&nothing, 1, 2)  // the daemon's own probe interval
        last = probe.verdict(pid: pid, port: port)
    }
    return last
}
